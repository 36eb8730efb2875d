"""Resource-link launches over HTTP: login initiation, id_token post, user and roles, landing on the exam."""

from __future__ import annotations

from tests.lti.platform import CLAIM

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def test_launch_lands_learner_in_exam_logged_in(registered, browser, platform, make_exam, db):
    exam_id = make_exam()
    claims = platform.claims(sub="s-100", **{f"{CLAIM}custom": {"exam_id": str(exam_id)}})
    resp = browser.launch(claims)
    assert resp.status_code == 303, resp.text
    assert resp.headers["Location"].endswith(f"/exams/{exam_id}")
    # The browser is logged in (cookie session) as the platform's user, a learner.
    me = browser.http.get(f"{browser.tool_url}/api/v1/me", timeout=10).json()
    assert me["role"] == "learner" and me["email"] == "s-100@school.example" and me["name"] == "User s-100"
    landing = browser.http.get(browser.tool_url + resp.headers["Location"], timeout=10)
    assert landing.status_code == 200
    # The cookie session can start the attempt (CSRF token from the landing).
    if landing.headers["Content-Type"].startswith("application/json"):
        csrf = landing.json()["csrf_token"]
        start = browser.http.post(f"{browser.tool_url}/api/v1/exams/{exam_id}/sessions",
                                  headers={"X-CSRF-Token": csrf}, timeout=10)
        assert start.status_code == 201, start.text
    # One account per (platform, sub): a second launch finds it again.
    assert browser.launch(claims).status_code == 303
    from sqlalchemy import func, select
    from exam_engine.lti.models import Enrolment, LtiUser
    assert db.scalar(select(func.count()).select_from(LtiUser)) == 1
    assert db.scalar(select(Enrolment.role)) == "learner"


def test_unlinked_resource_link_until_instructor_picks_exam(registered, browser, platform, make_exam, client,
                                                            instructor, auth):
    exam_id = make_exam()
    resp = browser.launch(platform.claims(sub="s-1"))
    assert resp.status_code == 200 and resp.json()["status"] == "not_configured"
    link_id = resp.json()["resource_link_id"]
    put = client.put(f"/api/v1/lti/resource-links/{link_id}/exam", headers=auth(instructor), json={"exam_id": exam_id})
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["exam_id"] == exam_id
    resp = browser.launch(platform.claims(sub="s-1"))
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/exams/{exam_id}")


def test_roles_are_mapped(registered, browser, platform, db):
    from sqlalchemy import select
    from exam_engine.auth.models import User
    from exam_engine.lti.models import LtiUser
    cases = {"t-1": ([INSTRUCTOR], "instructor"), "t-2": ([TA], "examiner"),
             "t-3": (["http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"], "instructor"),
             "t-4": (["http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"], "instructor"),
             "t-5": (["Learner"], "learner")}
    for sub, (roles, _) in cases.items():
        assert browser.launch(platform.claims(sub=sub, roles=roles)).status_code == 200
    got = dict(db.execute(select(LtiUser.sub, User.role).join(User, User.id == LtiUser.user_id)).all())
    assert got == {sub: role for sub, (_, role) in cases.items()}


def test_administrator_maps_to_admin_when_the_registration_allows_it(register, browser, platform, db):
    register(is_admin_role_allowed=True)
    browser.launch(platform.claims(sub="boss", roles=["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]))
    me = browser.http.get(f"{browser.tool_url}/api/v1/me", timeout=10).json()
    assert me["role"] == "admin"


def test_trusted_email_links_existing_account(register, browser, platform, instructor):
    register(is_email_trusted=True)
    resp = browser.launch(platform.claims(sub="t-9", roles=[INSTRUCTOR], email=instructor.email))
    assert resp.status_code == 200
    me = browser.http.get(f"{browser.tool_url}/api/v1/me", timeout=10).json()
    assert me["id"] == instructor.id


def test_untrusted_email_never_takes_over_an_account(registered, browser, platform, instructor):
    browser.launch(platform.claims(sub="t-9", roles=[INSTRUCTOR], email=instructor.email))
    me = browser.http.get(f"{browser.tool_url}/api/v1/me", timeout=10).json()
    assert me["id"] != instructor.id and me["email"].endswith("@lti.invalid")


def test_tool_jwks_and_info(tool, client, admin, auth):
    keys = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
    info = client.get("/api/v1/lti/tool", headers=auth(admin)).get_json()
    assert info["jwks_url"] == f"{tool.url}/lti/jwks.json" and info["login_url"] == f"{tool.url}/lti/login"
    assert info["kid"] == keys[0]["kid"]
