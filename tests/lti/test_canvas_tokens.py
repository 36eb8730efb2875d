"""Two real Canvas id_tokens (RS256) go through the same verifier: the weak key is refused, the expired token
is refused after its signature verified, and a tampered one fails its signature."""

from __future__ import annotations

import json

import pytest

from tests._fixtures import fixture_path
from tests.lti.conftest import error_code

CANVAS = ("lti", "canvas-pylti1p3")


def canvas_case(name: str) -> tuple[str, dict, dict]:
    token = fixture_path(*CANVAS, f"{name}_id_token.jwt").read_text().strip()
    jwks = json.loads(fixture_path(*CANVAS, f"{name}_jwks.json").read_text())
    claims = json.loads(fixture_path(*CANVAS, f"{name}_id_token.decoded.json").read_text())["payload"]
    return token, jwks, claims


def register_canvas(register, platform, claims, jwks):  # noqa: ANN001
    register(issuer=claims["iss"], client_id=claims["aud"], key_set_url=None, key_set=jwks,
             deployment_ids=[claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"]])


def launch_raw(browser, platform, claims, token):  # noqa: ANN001
    hint = platform.expect_launch(None, raw_token=token)
    resp = browser.login(hint, iss=claims["iss"], client_id=claims["aud"])
    assert resp.status_code == 302, resp.text
    from tests.lti.platform import parse_form
    form = parse_form(browser.http.get(resp.headers["Location"], timeout=10).text)
    return browser.post_form(form)


@pytest.mark.fixtures
def test_canvas_token_signed_with_a_512_bit_key_is_refused(register, browser, platform):
    token, jwks, claims = canvas_case("resource_link")
    register_canvas(register, platform, claims, jwks)
    resp = launch_raw(browser, platform, claims, token)
    assert resp.status_code == 400 and error_code(resp) == "lti_weak_key"


@pytest.mark.fixtures
def test_canvas_deep_link_token_verifies_then_is_refused_as_expired(register, browser, platform):
    token, jwks, claims = canvas_case("deep_link")
    register_canvas(register, platform, claims, jwks)
    resp = launch_raw(browser, platform, claims, token)
    assert resp.status_code == 400 and error_code(resp) == "lti_token_expired"
    # The same token with its subject changed fails on the signature instead.
    import base64
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    resp = launch_raw(browser, platform, claims, ".".join((head, forged, sig)))
    assert resp.status_code == 400 and error_code(resp) == "lti_bad_signature"
