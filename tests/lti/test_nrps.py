"""Names and Role Provisioning: the course roster imported from the platform over HTTP (two pages)."""

from __future__ import annotations

from tests.lti.conftest import error_code

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"


def member(sub, role, **kw):  # noqa: ANN001
    return {"user_id": sub, "roles": [MEMBERSHIP + role], "status": "Active", "name": f"Name {sub}",
            "email": f"{sub}@school.example", **kw}


def test_roster_sync_imports_members_and_enrolments(registered, browser, platform, client, admin, auth):
    platform.members["course-1"] = [member("s-1", "Learner"), member("s-2", "Learner"),
                                    member("t-1", "Instructor"), member("ta-1", "Instructor#TeachingAssistant")]
    resp = browser.launch(platform.claims(sub="t-1", roles=[MEMBERSHIP + "Instructor"]))
    link_id = resp.json()["resource_link_id"]
    h = auth(admin)
    sync = client.post(f"/api/v1/lti/resource-links/{link_id}/roster-sync", headers=h)
    assert sync.status_code == 200, sync.get_json()
    report = sync.get_json()
    assert report["created"] == 3 and report["updated"] == 1 and report["deactivated"] == 0
    members = client.get(f"/api/v1/roster/courses/{report['course_id']}/members", headers=h).get_json()
    assert {m["email"]: m["role"] for m in members} == {
        "s-1@school.example": "learner", "s-2@school.example": "learner", "t-1@school.example": "instructor",
        "ta-1@school.example": "examiner"}
    # A member who left the course is deactivated, not deleted.
    platform.members["course-1"] = platform.members["course-1"][1:]
    report = client.post(f"/api/v1/lti/resource-links/{link_id}/roster-sync", headers=h).get_json()
    assert report["deactivated"] == 1 and report["updated"] == 3
    members = client.get(f"/api/v1/roster/courses/{report['course_id']}/members", headers=h).get_json()
    assert [m["is_active"] for m in members if m["email"] == "s-1@school.example"] == [False]


def test_roster_sync_when_platform_down_is_an_explicit_error(registered, browser, platform, client, admin, auth):
    link_id = browser.launch(platform.claims(sub="s-1")).json()["resource_link_id"]
    platform.down = True
    resp = client.post(f"/api/v1/lti/resource-links/{link_id}/roster-sync", headers=auth(admin))
    assert resp.status_code == 502 and error_code(resp) == "lti_nrps_failed"
