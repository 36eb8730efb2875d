"""axe-core (from npm, injected by the test) on every page: no serious or critical WCAG 2.1 A/AA violation.

Each page is audited in the standard look and in the high-contrast, large-text settings; the editor
pages once per item type. The audit context bypasses the pages' CSP so the test may inject axe.
"""

from __future__ import annotations

import pytest

from .conftest import audit, login

ANONYMOUS = ["/login", "/login?logged_out=1", "/no/such/page", "/verify", "/verify/no-such-credential"]
INSTRUCTOR = ["/author/banks", "/author/banks/1", "/author/banks/1?type=match&q=the", "/author/banks/1/items/new",
              "/author/items/1", "/author/items/1/versions/1", "/settings", "/author/banks/999",
              "/author/exams", "/author/exams/new", "/author/exams/1", "/author/exams/1/grading", "/author/exams/1/results",
              "/monitor"] + [
    f"/author/banks/1/items/new?type={t}"
    for t in ("choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice")]
LEARNER = ["/learn", "/learn/credentials", "/learn/sessions/does-not-exist", "/learn/sessions/does-not-exist/result", "/settings", "/author/banks"]
EXAMINER = ["/monitor"]


def _audit_pages(page, live_server, paths):  # noqa: ANN001
    failures = {}
    for path in paths:
        page.goto(live_server(path))
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(150)  # let the modules render (preview, lists)
        violations = audit(page)
        if violations:
            failures[path] = violations
    return failures


@pytest.mark.parametrize("look", ["standard", "high-contrast"])
@pytest.mark.parametrize("who,paths", [(None, ANONYMOUS), ("instructor@example.org", INSTRUCTOR),
                                       ("learner@example.org", LEARNER), ("examiner@example.org", EXAMINER)],
                         ids=["anonymous", "instructor", "learner", "examiner"])
def test_axe_every_page(new_page, live_server, who, paths, look):
    page = new_page(bypass_csp=True)
    if who:
        login(page, live_server, who)
        if look == "high-contrast":
            page.goto(live_server("/settings"))
            page.get_by_label("Larger (150%)").check()
            page.get_by_label("High contrast (light text on black)").check()
            page.get_by_role("button", name="Save settings").click()
    failures = _audit_pages(page, live_server, paths)
    assert not failures, failures


def test_zoom_200_percent_keeps_everything_reachable(new_page, live_server):
    """WCAG 1.4.4/1.4.10: at 200% (a 640 px wide viewport for a 1280 px screen) nothing scrolls sideways."""
    page = new_page(viewport={"width": 640, "height": 800})
    login(page, live_server, "instructor@example.org")
    for path in ("/author/banks", "/author/banks/1", "/author/items/1", "/author/banks/1/items/new?type=match", "/settings"):
        page.goto(live_server(path))
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 200% zoom"
        assert page.get_by_role("button", name="Log out").is_visible()
