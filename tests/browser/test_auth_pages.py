"""Log in, log out, role-aware navigation, error pages and display settings, in Chromium."""

from __future__ import annotations

from .conftest import login, screenshot


def test_login_logout(page, live_server):
    page.goto(live_server("/"))
    assert page.url.endswith("/login")
    screenshot(page, "login")
    page.get_by_label("E-mail address").fill("instructor@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    assert "not right" in alert.inner_text()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"

    login(page, live_server, "instructor@example.org")
    assert page.url.endswith("/author/banks")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Item banks").get_attribute("aria-current") == "page"
    assert nav.get_by_role("link", name="My exams").count() == 0
    # The CSRF token for fetch() is in a meta tag.
    assert len(page.locator('meta[name="csrf-token"]').get_attribute("content")) > 20

    page.get_by_role("button", name="Log out").click()
    assert "/login" in page.url
    assert "logged out" in page.get_by_role("status").inner_text()
    page.goto(live_server("/author/banks"))
    assert "/login" in page.url and "next=" in page.url
    assert not page.console_errors, page.console_errors


def test_login_returns_to_the_page_asked_for(page, live_server):
    page.goto(live_server("/author/banks/1"))
    page.get_by_label("E-mail address").fill("instructor@example.org")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/author/banks/1")


def test_learner_navigation_and_forbidden_page(page, live_server):
    login(page, live_server, "learner@example.org")
    assert page.url.endswith("/learn")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="My exams").is_visible()
    assert nav.get_by_role("link", name="Item banks").count() == 0
    resp = page.goto(live_server("/author/banks"))
    assert resp.status == 403
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    screenshot(page, "error-403")


def test_not_found_page_is_html_and_api_stays_json(page, live_server):
    resp = page.goto(live_server("/no/such/page"))
    assert resp.status == 404 and "text/html" in resp.headers["content-type"]
    assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
    resp = page.goto(live_server("/api/v1/no-such-thing"))
    assert resp.status == 404 and resp.headers["content-type"].startswith("application/json")


def test_display_settings_apply_everywhere(page, live_server):
    login(page, live_server, "learner@example.org")
    page.goto(live_server("/settings"))
    page.get_by_label("Larger (150%)").check()
    page.get_by_label("High contrast (light text on black)").check()
    page.get_by_role("button", name="Save settings").click()
    assert "Saved" in page.get_by_role("status").inner_text()
    classes = page.locator("html").get_attribute("class")
    assert "text-larger" in classes and "contrast-high" in classes
    page.goto(live_server("/learn"))
    assert "contrast-high" in page.locator("html").get_attribute("class")
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"


def test_skip_link_is_first_and_moves_focus(page, live_server):
    login(page, live_server, "instructor@example.org")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
