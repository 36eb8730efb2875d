"""Accounts: tokens, cookies and CSRF, rate limiting, roles, privacy."""

from __future__ import annotations

from tests.conftest import PASSWORD


def test_token_login_and_me(client, make_user):
    user = make_user("instructor")
    resp = client.post("/api/v1/auth/token", json={"email": user.email.upper(), "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "instructor"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json()["email"] == user.email
    assert "password_hash" not in me.get_json()


def test_password_is_argon2id(db, make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")


def test_wrong_password_and_unknown_user_look_alike(client, make_user):
    user = make_user()
    a = client.post("/api/v1/auth/token", json={"email": user.email, "password": "wrong password!"})
    b = client.post("/api/v1/auth/token", json={"email": "nobody@example.org", "password": "wrong password!"})
    assert a.status_code == b.status_code == 401
    assert a.get_json()["error"]["code"] == b.get_json()["error"]["code"] == "invalid_credentials"


def test_login_rate_limited(client, make_user, app):
    user = make_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope nope nope"}).status_code == 401
    resp = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "rate_limited"


def test_no_token_and_bad_tokens(client):
    assert client.get("/api/v1/me").get_json()["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_token"


def test_token_expiry(client, make_user, app):
    app.config["TOKEN_TTL_S"] = -1
    user = make_user()
    token = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}).get_json()["access_token"]
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_expired"


def test_logout_revokes_token(client, make_user, token_for):
    user = make_user()
    token = token_for(user)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).get_json()["error"]["code"] == "invalid_token"


def test_password_change_revokes_every_token(client, make_user, token_for):
    user = make_user()
    t1, t2 = token_for(user), token_for(user)
    resp = client.post("/api/v1/me/password", headers={"Authorization": f"Bearer {t1}"},
                       json={"current_password": PASSWORD, "new_password": "a brand new passphrase"})
    assert resp.status_code == 204
    for t in (t1, t2):
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {t}"}).status_code == 401
    ok = client.post("/api/v1/auth/token", json={"email": user.email, "password": "a brand new passphrase"})
    assert ok.status_code == 200


def test_weak_password_refused(client, make_user, token_for):
    user = make_user()
    resp = client.post("/api/v1/me/password", headers={"Authorization": f"Bearer {token_for(user)}"},
                       json={"current_password": PASSWORD, "new_password": "short"})
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "weak_password"


def test_cookie_session_needs_csrf_for_writes(client, make_user):
    user = make_user("instructor")
    resp = client.post("/api/v1/auth/session", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200
    csrf = resp.get_json()["csrf_token"]
    assert client.get("/api/v1/me").get_json()["email"] == user.email  # reads need no CSRF token
    refused = client.post("/api/v1/banks", json={"name": "B"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/banks", json={"name": "B"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/banks", json={"name": "B"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_cookie_session_ends_on_password_change(client, make_user):
    user = make_user()
    csrf = client.post("/api/v1/auth/session", json={"email": user.email, "password": PASSWORD}).get_json()["csrf_token"]
    client2 = client.application.test_client()
    token = client2.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}).get_json()["access_token"]
    client2.post("/api/v1/me/password", headers={"Authorization": f"Bearer {token}"},
                 json={"current_password": PASSWORD, "new_password": "another long passphrase"})
    assert client.get("/api/v1/me", headers={"X-CSRF-Token": csrf}).status_code == 401


def test_admin_manages_users_and_roles_are_checked(client, make_user, auth):
    admin, learner = make_user("admin"), make_user("learner")
    h = auth(admin)
    resp = client.post("/api/v1/users", headers=h, json={"email": "new@example.org", "password": "long enough pw",
                                                         "role": "examiner"})
    assert resp.status_code == 201 and resp.get_json()["role"] == "examiner"
    dup = client.post("/api/v1/users", headers=h, json={"email": "NEW@example.org", "password": "long enough pw"})
    assert dup.status_code == 409 and dup.get_json()["error"]["code"] == "email_taken"
    page = client.get("/api/v1/users?role=examiner&per_page=10", headers=h).get_json()
    assert page["total"] == 1 and page["items"][0]["email"] == "new@example.org"
    denied = client.get("/api/v1/users", headers=auth(learner))
    assert denied.status_code == 403 and denied.get_json()["error"]["code"] == "role_required"


def test_accommodations_stored(client, make_user, auth):
    admin, learner = make_user("admin"), make_user("learner")
    resp = client.patch(f"/api/v1/users/{learner.id}", headers=auth(admin),
                        json={"accommodations": {"extra_time_pct": 25, "large_text": True}})
    assert resp.status_code == 200
    assert resp.get_json()["accommodations"] == {"extra_time_pct": 25, "large_text": True}
    bad = client.patch(f"/api/v1/users/{learner.id}", headers=auth(admin), json={"accommodations": {"extra_time_pct": 999}})
    assert bad.status_code == 422


def test_export_and_erase(client, make_user, auth):
    admin, learner = make_user("admin"), make_user("learner", name="Ada Lovelace")
    h = auth(learner)
    data = client.get("/api/v1/me/export", headers=h).get_json()
    assert data["account"]["name"] == "Ada Lovelace" and data["tokens"]
    resp = client.post(f"/api/v1/users/{learner.id}/erase", headers=auth(admin))
    assert resp.status_code == 200
    erased = resp.get_json()
    assert erased["name"] == "Erased user" and "Ada" not in str(erased) and erased["email"].endswith("@invalid")
    assert client.get("/api/v1/me", headers=h).status_code == 401  # tokens died with the data


def test_export_includes_attempts_and_erasure_drops_network_identity(client, make_user, auth, started, learner, db):
    from exam_engine.sessions.models import ExamSession
    _, sid, _, _ = started
    data = client.get("/api/v1/me/export", headers=auth(learner)).get_json()
    assert data["attempts"][0]["id"] == sid
    admin = make_user("admin")
    assert client.post(f"/api/v1/users/{learner.id}/erase", headers=auth(admin)).status_code == 200
    db.rollback()
    attempt = db.get(ExamSession, sid)
    assert attempt.client_ip is None and attempt.user_agent is None and attempt.user_id == learner.id


def _socket_refusal(app, auth):  # noqa: ANN001
    """What connecting to /exam with `auth` gives: the user id, or the refusal's code."""
    from flask_socketio import ConnectionRefusedError

    from exam_engine.sessions.sockets import authenticate_socket
    with app.test_request_context("/socket.io/"):
        try:
            return authenticate_socket(auth)
        except ConnectionRefusedError as exc:
            assert exc.error_args["message"] == exc.error_args["data"]["message"]
            return exc.error_args["data"]["code"]


def test_socket_connect_applies_every_token_rule(app, client, make_user, token_for, db):
    from exam_engine.auth.models import User
    user = make_user()
    token = token_for(user)
    assert _socket_refusal(app, {"token": token}) == user.id
    assert _socket_refusal(app, {"token": "forged"}) == "invalid_token"
    assert _socket_refusal(app, {"token": 12345}) == "invalid_token"
    assert _socket_refusal(app, None) == "unauthorized"
    db.get(User, user.id).is_active = False
    db.commit()
    assert _socket_refusal(app, {"token": token}) == "account_disabled"
    db.get(User, user.id).is_active = True
    db.commit()
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert _socket_refusal(app, {"token": token}) == "invalid_token"
    app.config["TOKEN_TTL_S"] = -1
    assert _socket_refusal(app, {"token": token_for(user)}) == "token_expired"
