"""Platform registration by REST (admin only) and by command; the tool's key pair stays out of the database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner


def test_admin_registers_lists_and_updates_a_platform(client, admin, auth, platform):
    h = auth(admin)
    resp = client.post("/api/v1/lti/platforms", headers=h, json=platform.registration())
    assert resp.status_code == 201, resp.get_json()
    reg = resp.get_json()
    assert reg["issuer"] == platform.issuer and reg["deployment_ids"] == ["deployment-1"]
    assert reg["is_email_trusted"] is False and reg["is_admin_role_allowed"] is False
    again = client.post("/api/v1/lti/platforms", headers=h, json=platform.registration())
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "lti_platform_exists"
    patched = client.patch(f"/api/v1/lti/platforms/{reg['id']}", headers=h,
                           json={"deployment_ids": ["deployment-1", "deployment-2"]})
    assert patched.status_code == 200 and patched.get_json()["deployment_ids"] == ["deployment-1", "deployment-2"]
    assert [p["id"] for p in client.get("/api/v1/lti/platforms", headers=h).get_json()] == [reg["id"]]


@pytest.mark.parametrize("change, field", [({"auth_login_url": "ftp://lms.example/auth"}, "auth_login_url"),
                                           ({"key_set_url": None}, "key_set_url"),
                                           ({"surprise": 1}, "surprise")])
def test_bad_registrations_are_refused(client, admin, auth, platform, change, field):
    resp = client.post("/api/v1/lti/platforms", headers=auth(admin), json={**platform.registration(), **change})
    assert resp.status_code == 422 and field in json.dumps(resp.get_json()["error"].get("details"))


def test_only_admins_register(client, instructor, auth, platform):
    resp = client.post("/api/v1/lti/platforms", headers=auth(instructor), json=platform.registration())
    assert resp.status_code == 403


def test_pasted_key_set_instead_of_url(client, admin, auth, platform, browser):
    from tests.lti.platform import public_jwk
    body = {**platform.registration(), "key_set_url": None, "key_set": {"keys": [public_jwk(platform.key, platform.kid)]}}
    assert client.post("/api/v1/lti/platforms", headers=auth(admin), json=body).status_code == 201
    assert browser.launch(platform.claims()).status_code == 200


@pytest.fixture
def cli_env(app, tool, monkeypatch, tmp_path):  # noqa: ANN001
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("EXAM_ENGINE_INSTANCE", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("SECRET_KEY", "cli-test-secret")
    monkeypatch.setenv("EXAM_ENGINE_LTI_PRIVATE_KEY", app.config["LTI_PRIVATE_KEY"])
    from exam_engine.cli import main_group
    return lambda *args: CliRunner().invoke(main_group, list(args), catch_exceptions=False)


def test_register_by_command(cli_env, tool, platform, db, client):
    reg = platform.registration()
    out = cli_env("lti", "register", "--issuer", reg["issuer"], "--client-id", reg["client_id"], "--deployment-id",
                  "deployment-1", "--auth-login-url", reg["auth_login_url"], "--auth-token-url", reg["auth_token_url"],
                  "--key-set-url", reg["key_set_url"], "--name", "Moodle")
    assert out.exit_code == 0, out.output
    assert "registered platform" in out.output
    out = cli_env("lti", "add-deployment", out.output.split()[2].rstrip(":"), "deployment-2")
    assert out.exit_code == 0, out.output
    listed = cli_env("lti", "platforms")
    assert "deployment-1,deployment-2" in listed.output
    info = json.loads(cli_env("lti", "tool-info").output)
    assert info["kid"] == client.get("/lti/jwks.json").get_json()["keys"][0]["kid"]
    dup = cli_env("lti", "register", "--issuer", reg["issuer"], "--client-id", reg["client_id"],
                  "--auth-login-url", reg["auth_login_url"], "--auth-token-url", reg["auth_token_url"],
                  "--key-set-url", reg["key_set_url"])
    assert dup.exit_code != 0 and "lti_platform_exists" in dup.output


def test_tool_key_is_a_private_file_when_not_configured(tmp_path):
    import os
    from exam_engine.lti.keys import KEY_FILE, load_tool_key
    config = {"KEYS_DIR": str(tmp_path / "keys")}
    key = load_tool_key(config)
    path = tmp_path / "keys" / KEY_FILE
    assert path.exists() and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_tool_key(config).kid == key.kid  # the same key next time
    assert "d" not in key.public_jwk and key.public_jwk["kid"] == key.kid


def test_no_private_key_material_in_the_database(tool, client, db):
    from sqlalchemy import select
    from exam_engine.lti.models import LtiToolKey
    client.get("/lti/jwks.json")
    rows = db.scalars(select(LtiToolKey)).all()
    assert len(rows) == 1 and set(rows[0].public_jwk) == {"kty", "n", "e", "kid", "alg", "use"}


def test_roles_mapping_is_pure():
    from exam_engine.lti.roles import map_roles
    m = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
    inst = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
    assert map_roles([]) == "learner" and map_roles([""]) == "learner"
    assert map_roles([m + "Learner", inst + "Instructor"]) == "learner"  # the course role decides
    assert map_roles([inst + "Faculty"]) == "instructor"
    assert map_roles(["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"]) == "examiner"
    assert map_roles([m + "Administrator"]) == "instructor"
    assert map_roles([m + "Administrator"], allow_admin=True) == "admin"
    assert map_roles(["Instructor", "Learner"]) == "instructor"
    assert map_roles(["http://example.org/unknown#Helper"]) == "learner"
