"""Every refused launch has a test: replayed nonce, expired token, wrong audience, unknown deployment,
bad signature, wrong kid, missing claims, wrong LTI version, and the 1EdTech certification's invalid cases."""

from __future__ import annotations

import json
import time

import pytest

from tests._fixtures import fixture_path
from tests.lti.conftest import error_code
from tests.lti.platform import CLAIM, new_rsa_key

CERT = ("lti", "certification")


def refused(resp, code: str) -> None:  # noqa: ANN001
    assert resp.status_code in (400, 403), resp.text
    assert error_code(resp) == code, resp.text


def test_replayed_nonce_is_refused(registered, browser, platform):
    assert browser.launch(platform.claims()).status_code == 200
    refused(browser.post_form(browser.last_form), "lti_nonce_invalid")


def test_nonce_not_issued_by_the_tool_is_refused(registered, browser, platform):
    refused(browser.launch({**platform.claims(), "nonce": "made-up"}, keep=("nonce",)), "lti_nonce_invalid")


def test_expired_token_is_refused(registered, browser, platform):
    now = int(time.time())
    claims = {**platform.claims(), "exp": now - 600, "iat": now - 900}
    refused(browser.launch(claims, keep=("exp", "iat")), "lti_token_expired")


def test_token_without_exp_is_refused(registered, browser, platform):
    claims = platform.claims()
    resp = browser.launch(claims, keep=("exp",))
    refused(resp, "lti_missing_claim")


def test_wrong_audience_is_refused(registered, browser, platform):
    refused(browser.launch({**platform.claims(), "aud": "another-tool"}), "lti_wrong_audience")


def test_several_audiences_need_azp(registered, browser, platform):
    claims = {**platform.claims(), "aud": ["another-tool", platform.client_id], "azp": "another-tool"}
    refused(browser.launch(claims), "lti_wrong_audience")
    claims["azp"] = platform.client_id
    assert browser.launch(claims).status_code == 200


def test_unknown_deployment_is_refused(registered, browser, platform):
    refused(browser.launch({**platform.claims(), f"{CLAIM}deployment_id": "not-registered"}), "lti_unknown_deployment")


def test_bad_signature_is_refused(registered, browser, platform):
    # Signed by another key under the platform's kid.
    refused(browser.launch(platform.claims(), key=new_rsa_key()), "lti_bad_signature")


def test_unknown_kid_is_refused(registered, browser, platform):
    refused(browser.launch(platform.claims(), header={"kid": "rotated-away"}), "lti_unknown_key")


def test_wrong_lti_version_is_refused(registered, browser, platform):
    refused(browser.launch({**platform.claims(), f"{CLAIM}version": "1.1"}), "lti_wrong_version")


@pytest.mark.parametrize("claim", ["sub", f"{CLAIM}roles", f"{CLAIM}message_type", f"{CLAIM}deployment_id",
                                   f"{CLAIM}resource_link", f"{CLAIM}version"])
def test_missing_claim_is_refused(registered, browser, platform, claim):
    claims = platform.claims()
    del claims[claim]
    refused(browser.launch(claims), "lti_missing_claim")


def test_state_of_another_browser_is_refused(registered, browser, platform):
    hint = platform.expect_launch(platform.claims())
    location = browser.login(hint).headers["Location"]
    from tests.lti.platform import parse_form
    form = parse_form(browser.http.get(location, timeout=10).text)
    form["fields"]["state"] = "state-forged"
    refused(browser.post_form(form), "lti_state_invalid")


def test_unknown_platform_is_refused_at_login(registered, browser):
    resp = browser.login("hint", iss="https://unknown.example")
    assert resp.status_code == 400 and error_code(resp) == "lti_unknown_platform"


def test_inactive_platform_is_refused(register, browser, platform):
    register(is_active=False)
    resp = browser.login("hint")
    assert resp.status_code == 400 and error_code(resp) == "lti_unknown_platform"


# --- the 1EdTech certification suite's payloads, signed by the test platform --------------------------------

INVALID = {
    "Correct KID Required in Header": "lti_unknown_key",
    "Exp and Iat Fields invalid": "lti_token_expired",
    "Incorrect KID passed in JWT Header": "lti_unknown_key",
    "JWT Passed is Not LTI 1.3 JWT": "lti_missing_claim",
    "LTI version passed is not 1.3": "lti_wrong_version",
    "Launch Instructor With Email No Context": "lti_missing_claim",
    "Launch With Missing resource_link_id": "lti_missing_claim",
    "No LTI Version Passed in JWT": "lti_missing_claim",
    "One or more JWT fields missing": "lti_missing_claim",
    "deployment_id Claim Missing": "lti_missing_claim",
    "message_type Claim Missing": "lti_missing_claim",
    "role Claim Missing": "lti_missing_claim",
    "user Claim Missing": "lti_missing_claim",
}

VALID = ["Assignments and Grades - Core Launch", "Deep Linking - Core Launch of Passed LTI Link",
         "Deep Linking - Send Deep Linking Request Payload", "Launch Instructor No PII", "Launch Instructor Only Email",
         "Launch Instructor Only Names", "Launch Instructor With No Role", "Launch Instructor with Multiple Role Values",
         "Launch Instructor with Short Role Value", "Launch Instructor with Unknown Role",
         "Launch LTI 1.3 Message as Instructor", "Launch LTI 1.3 Message as Student", "Launch Student No PII",
         "Launch Student Only Email", "Launch Student Only Names", "Launch Student Only Resource Link",
         "Launch Student With No Role", "Launch Student with Multiple Role Values",
         "Launch Student with Short Role Value", "Launch Student with Unknown Role",
         "Names and Roles - Core Launch if Needed"]


def certification_case(platform, kind: str, name: str) -> dict:  # noqa: ANN001
    """The case's payload, addressed to the test platform's registration; header and kept fields as given."""
    folder = fixture_path(*CERT, kind, name)
    payload = json.loads((folder / "payload.json").read_text())
    header = json.loads((folder / "header.json").read_text()) if (folder / "header.json").exists() else None
    keep = tuple(json.loads((folder / "keep.json").read_text())) if (folder / "keep.json").exists() else ()
    for claim, value in (("iss", platform.issuer), ("aud", platform.client_id),
                         (f"{CLAIM}deployment_id", platform.deployment_id)):
        if claim in payload:
            payload[claim] = value
    if "nonce" not in payload:
        keep += ("nonce",)
    if "exp" not in payload and "exp" not in keep:
        keep += ("exp",)
    dl = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    if dl in payload:
        payload[dl]["deep_link_return_url"] = f"{platform.url}/deep-link-return"
    return {"claims": payload, "header": header, "keep": keep}


@pytest.mark.fixtures
@pytest.mark.parametrize("name", sorted(INVALID))
def test_certification_invalid_launches_are_refused(registered, browser, platform, name):
    case = certification_case(platform, "invalid", name)
    resp = browser.launch(case["claims"], header=case["header"], keep=case["keep"])
    refused(resp, INVALID[name])


@pytest.mark.fixtures
@pytest.mark.parametrize("name", VALID)
def test_certification_valid_launches_are_accepted(registered, browser, platform, name):
    case = certification_case(platform, "valid", name)
    resp = browser.launch(case["claims"], header=case["header"], keep=case["keep"])
    assert resp.status_code in (200, 303), resp.text
    if "Send Deep Linking Request" in name:
        assert "/lti/deep-link?launch=" in resp.headers["Location"]


def test_a_browser_gets_a_readable_page(registered, browser, platform):
    browser.launch(platform.claims())
    form = browser.last_form
    resp = browser.http.post(form["action"], data=form["fields"], allow_redirects=False, timeout=10,
                             headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 400 and resp.headers["Content-Type"].startswith("text/html")
    assert "lti_nonce_invalid" in resp.text and "<script" not in resp.text
