"""Deep Linking over HTTP: an instructor picks an exam; the platform receives it as a signed ltiResourceLink."""

from __future__ import annotations

from tests.lti.conftest import error_code
from tests.lti.platform import CLAIM, parse_form

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def deep_link_launch(browser, platform, email, roles=(INSTRUCTOR,)):  # noqa: ANN001
    claims = platform.claims(sub="teacher-1", roles=list(roles), email=email, message_type="LtiDeepLinkingRequest")
    return browser.launch(claims)


def test_instructor_picks_exam_and_platform_gets_resource_link(register, browser, platform, make_exam, instructor):
    register(is_email_trusted=True)  # the LMS teacher is our instructor (same verified e-mail)
    exam_id = make_exam()
    make_exam(publish=False)  # drafts are not offered
    resp = deep_link_launch(browser, platform, instructor.email)
    assert resp.status_code == 303 and "/lti/deep-link?launch=" in resp.headers["Location"]
    picker = browser.http.get(browser.tool_url + resp.headers["Location"], timeout=10)
    assert picker.status_code == 200 and "Sample exam" in picker.text
    assert picker.text.count("<form") == 1
    choice = parse_form(picker.text)
    assert choice["fields"]["exam_id"] == str(exam_id)
    answer = browser.http.post(browser.tool_url + choice["action"], data=choice["fields"], timeout=10)
    assert answer.status_code == 200, answer.text
    back = parse_form(answer.text)
    assert back["action"] == f"{platform.url}/deep-link-return"
    placed = browser.http.post(back["action"], data=back["fields"], timeout=10)
    assert placed.status_code == 200 and placed.text == "content placed"
    [claims] = platform.deep_link_responses  # verified by the platform with the tool's JWKS
    assert claims["iss"] == platform.client_id and claims["aud"] == [platform.issuer]
    assert claims[f"{CLAIM}message_type"] == "LtiDeepLinkingResponse" and claims[f"{CLAIM}version"] == "1.3.0"
    assert claims[f"{CLAIM}deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
    [item] = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Sample exam"
    assert item["url"] == f"{browser.tool_url}/lti/launch" and item["custom"] == {"exam_id": str(exam_id)}
    assert item["lineItem"]["scoreMaximum"] == 100 and item["lineItem"]["tag"] == f"exam-{exam_id}"
    # A request is answered once.
    again = browser.http.post(browser.tool_url + choice["action"], data=choice["fields"], timeout=10)
    assert again.status_code == 409 and error_code(again) == "lti_deep_link_answered"
    # The placed link, launched by a learner with the custom parameter, opens the exam.
    learner = platform.claims(sub="s-1", resource_link_id="placed-1", **{f"{CLAIM}custom": item["custom"]})
    landed = browser.launch(learner)
    assert landed.status_code == 303 and landed.headers["Location"].endswith(f"/exams/{exam_id}")


def test_learner_cannot_deep_link(registered, browser, platform):
    resp = deep_link_launch(browser, platform, "kid@school.example",
                            roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",))
    assert resp.status_code == 403 and error_code(resp) == "role_required"


def test_picker_needs_a_live_launch(registered, browser):
    resp = browser.http.get(f"{browser.tool_url}/lti/deep-link?launch=forged", timeout=10)
    assert resp.status_code == 404 and error_code(resp) == "lti_launch_not_found"
    resp = browser.http.post(f"{browser.tool_url}/lti/deep-link", data={"launch": "forged", "exam_id": "1"}, timeout=10)
    assert resp.status_code == 404


def test_instructor_cannot_place_someone_elses_exam(registered, browser, platform, make_exam):
    exam_id = make_exam()  # owned by the local instructor, not the LMS teacher
    resp = deep_link_launch(browser, platform, "teacher@school.example")
    launch_id = resp.headers["Location"].split("launch=")[1]
    picker = browser.http.get(browser.tool_url + resp.headers["Location"], timeout=10)
    assert "no published exam" in picker.text
    resp = browser.http.post(f"{browser.tool_url}/lti/deep-link", data={"launch": launch_id, "exam_id": str(exam_id)},
                             timeout=10)
    assert resp.status_code == 404 and error_code(resp) == "exam_not_found"
