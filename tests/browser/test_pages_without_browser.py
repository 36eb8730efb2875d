"""Page-level checks that need no browser: the pages still render when the npm packages are missing,
error pages are HTML for pages and JSON for the API, security headers, the login form's CSRF check."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD


@pytest.fixture
def login_as(client, make_user):  # noqa: ANN001
    def log_in(role: str):
        user = make_user(role)
        resp = client.post("/api/v1/auth/session", json={"email": user.email, "password": PASSWORD})
        assert resp.status_code == 200
        return user
    return log_in


def test_pages_say_when_vendor_files_are_missing(client, login_as, monkeypatch, tmp_path):
    from webclient import vendor

    monkeypatch.setattr(vendor, "NODE_MODULES", tmp_path / "node_modules")
    login_as("learner")
    resp = client.get("/learn/sessions/abc123")
    assert resp.status_code == 200
    assert "socket.io.esm.min.js are not installed" in resp.get_data(as_text=True)
    assert client.get("/assets/vendor/socket.io.esm.min.js").status_code == 404
    assert client.get("/assets/vendor/not-listed.js").status_code == 404


def test_vendor_files_are_served_from_node_modules_only_when_listed(client):
    from webclient.vendor import vendor_path

    if vendor_path("socket.io.esm.min.js") is None:
        pytest.skip("npm packages not installed (make js)")
    resp = client.get("/assets/vendor/socket.io.esm.min.js")
    resp.close()
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert client.get("/assets/vendor/..%2Fpackage.json").status_code == 404


def test_errors_html_for_pages_json_for_api(client, login_as):
    resp = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert resp.status_code == 404 and resp.mimetype == "text/html" and "Page not found" in resp.get_data(as_text=True)
    resp = client.get("/api/v1/no/such/thing")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.get("/no/such/thing", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    login_as("learner")
    resp = client.get("/author/banks")
    assert resp.status_code == 403 and resp.mimetype == "text/html"


def test_anonymous_page_redirects_to_login_with_next(client):
    resp = client.get("/author/banks?q=x")
    assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]


def test_page_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["Cache-Control"] == "no-store"


def test_login_form_checks_its_csrf_token_and_the_next_url(client, make_user):
    user = make_user("instructor")
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token,
                                       "next": "https://evil.example/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/author/banks"
    # A cookie write without the token is refused with the HTML 403 page.
    assert client.post("/logout").status_code == 403


def test_preview_sanitises_like_save(client, login_as):
    login_as("instructor")
    page = client.get("/author/banks").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    draft = {"type": "choice", "title": "t", "stem": "<p onclick='x()'>Hi<script>alert(1)</script></p>",
             "interaction": {"options": [{"id": "a", "html": "<img src=x onerror=alert(1)>A"}]}, "scoring": {"points": 2}}
    resp = client.post("/author/preview", json=draft, headers={"X-CSRF-Token": token})
    view = resp.get_json()
    assert "script" not in view["stem"] and "onclick" not in view["stem"]
    assert "onerror" not in view["interaction"]["options"][0]["html"]
    assert view["points"] == 2 and "scoring" not in view
