"""OneRoster CSV import (REST and command): users and enrolments, with a report line for every refused row."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner

USERS = """sourcedId,status,enabledUser,role,username,givenName,familyName,email
u1,active,true,student,ann,Ann,Lee,ann@school.example
u2,active,true,teacher,bob,Bob,Ray,bob@school.example
u3,active,true,guardian,cat,Cat,Ito,cat@school.example
u4,active,true,student,dan,Dan,Oz,not-an-email
u1,active,true,student,ann2,Ann,Lee,ann2@school.example
,active,true,student,eve,Eve,Ng,eve@school.example
u5,active,true,aide,fay,Fay,Li,fay@school.example
"""
ENROLLMENTS = """sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,status
e1,c1,s1,u1,student,active
e2,c1,s1,u2,teacher,active
e3,c1,s1,u404,student,active
e4,c1,s1,u5,aide,active
e5,,s1,u1,student,active
e6,c1,s1,u1,parent,active
"""
CLASSES = "sourcedId,title\nc1,Biology 101\n"


def post(client, h, **files):  # noqa: ANN001
    data = {name: (io.BytesIO(text.encode()), f"{name}.csv") for name, text in files.items()}
    return client.post("/api/v1/roster/import", headers=h, data=data, content_type="multipart/form-data")


def test_import_reports_every_bad_row(client, admin, auth):
    h = auth(admin)
    resp = post(client, h, users=USERS, enrollments=ENROLLMENTS, classes=CLASSES)
    assert resp.status_code == 200, resp.get_json()
    report = resp.get_json()
    assert report["users"] == {"created": 3, "updated": 0} and report["enrollments"] == {"applied": 3}
    errors = {(e["file"], e["row"]): e["code"] for e in report["errors"]}
    assert errors == {("users.csv", 4): "unsupported_role", ("users.csv", 5): "invalid_email",
                      ("users.csv", 6): "duplicate_row", ("users.csv", 7): "missing_field",
                      ("enrollments.csv", 4): "unknown_user", ("enrollments.csv", 6): "missing_field",
                      ("enrollments.csv", 7): "unsupported_role"}
    assert all(e["message"] for e in report["errors"])
    [course] = client.get("/api/v1/roster/courses", headers=h).get_json()
    assert course["title"] == "Biology 101" and course["source"] == "csv"
    members = client.get(f"/api/v1/roster/courses/{course['id']}/members", headers=h).get_json()
    assert {m["email"]: m["role"] for m in members} == {"ann@school.example": "learner", "bob@school.example": "instructor",
                                                        "fay@school.example": "examiner"}
    # Re-importing is idempotent: the same people are updated, not duplicated.
    report = post(client, h, users=USERS, enrollments=ENROLLMENTS).get_json()
    assert report["users"] == {"created": 0, "updated": 3}
    assert len(client.get(f"/api/v1/roster/courses/{course['id']}/members", headers=h).get_json()) == 3


def test_import_refuses_files_without_required_columns(client, admin, auth):
    resp = post(client, auth(admin), users="id,mail\n1,a@b.example\n")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "roster_bad_header"
    resp = client.post("/api/v1/roster/import", headers=auth(admin), data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "roster_missing"


def test_import_needs_admin(client, instructor, auth):
    assert post(client, auth(instructor), users=USERS).status_code == 403


def test_existing_account_with_the_same_email_is_linked(client, admin, auth, learner):
    users = f"sourcedId,role,email,givenName,familyName\nx1,student,{learner.email},Lea,Smith\n"
    report = post(client, auth(admin), users=users).get_json()
    assert report["users"] == {"created": 0, "updated": 1} and report["errors"] == []


def test_roster_import_command(app, monkeypatch, tmp_path, db):
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("EXAM_ENGINE_INSTANCE", str(tmp_path / "cli"))
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret")
    (tmp_path / "users.csv").write_text(USERS)
    (tmp_path / "enrollments.csv").write_text(ENROLLMENTS)
    from exam_engine.cli import main_group
    run = CliRunner().invoke
    dry = run(main_group, ["roster", "import", "--users", str(tmp_path / "users.csv"), "--dry-run"])
    assert dry.exit_code == 1 and json.loads(dry.output)["users"]["created"] == 3
    from sqlalchemy import func, select
    from exam_engine.lti.models import RosterPerson
    assert db.scalar(select(func.count()).select_from(RosterPerson)) == 0
    out = run(main_group, ["roster", "import", "--users", str(tmp_path / "users.csv"),
                           "--enrollments", str(tmp_path / "enrollments.csv")])
    assert out.exit_code == 1  # some rows were refused, and said so
    report = json.loads(out.output)
    assert report["users"]["created"] == 3 and len(report["errors"]) == 7
    db.rollback()
    assert db.scalar(select(func.count()).select_from(RosterPerson)) == 3
