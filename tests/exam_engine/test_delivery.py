"""Delivery over /exam: join, answers (every type), replays, errors, submit, results."""

from __future__ import annotations

import re

import pytest

RESPONSES = {
    "choice": ["paris"], "multi": ["two", "three"], "text_entry": "Au", "numeric": 3.141,
    "order": ["mercury", "venus", "earth"], "match": [["fr", "paris"], ["de", "berlin"]], "inline_choice": {"g1": "a100"},
}


def by_title(state) -> dict:
    titles = {"Capital of France": "choice", "Prime numbers": "multi", "Chemical symbol": "text_entry", "Pi": "numeric",
              "Planets": "order", "Countries": "match", "Cloze": "inline_choice", "Essay": "extended_text"}
    return {titles[i["title"]]: i for i in state["items"]}


def emit(sc, event, payload):  # noqa: ANN001
    return sc.emit(event, payload, namespace="/exam", callback=True)


def test_join_returns_form_without_keys(started):
    _, session_id, _, state = started
    assert state["id"] == session_id and state["status"] == "in_progress"
    assert 595 < state["remaining_s"] <= 600
    assert len(state["items"]) == 7 and state["responses"] == {} and state["last_seq"] == 0
    text = str(state["items"])
    for secret in ("scoring", "correct", "accepted", "pairs", "correct_order", "'value'"):
        assert secret not in text


def test_answer_every_type_then_submit_scores(started, client, learner, auth):
    _, session_id, sc, state = started
    items = by_title(state)
    for seq, (kind, response) in enumerate(RESPONSES.items(), start=1):
        ack = emit(sc, "answer", {"session_id": session_id, "item_id": items[kind]["item_id"], "response": response, "seq": seq})
        assert ack == {"ok": True, "seq": seq}, (kind, ack)
    # A reload (new connection) gets every answer back.
    state2 = emit(sc, "join", {"session_id": session_id})["session"]
    assert len(state2["responses"]) == 7 and state2["last_seq"] == 7
    ack = emit(sc, "submit", {"session_id": session_id, "seq": 8})
    assert ack["ok"] and ack["status"] == "scored"
    again = emit(sc, "submit", {"session_id": session_id, "seq": 9})
    assert again["ok"] and again["status"] == "scored"
    result = client.get(f"/api/v1/sessions/{session_id}/result", headers=auth(learner)).get_json()
    assert result["passed"] is True and result["score"] == pytest.approx(result["max_score"])
    assert result["log_head"] and len(result["log_head"]) == 64
    late = emit(sc, "answer", {"session_id": session_id, "item_id": items["choice"]["item_id"], "response": ["lyon"], "seq": 10})
    assert late["error"]["code"] == "session_closed"


def test_replays_and_out_of_order(started, db):
    _, session_id, sc, state = started
    item_id = by_title(state)["choice"]["item_id"]
    assert emit(sc, "answer", {"session_id": session_id, "item_id": item_id, "response": ["lyon"], "seq": 5})["ok"]
    dup = emit(sc, "answer", {"session_id": session_id, "item_id": item_id, "response": ["lyon"], "seq": 5})
    assert dup == {"ok": True, "seq": 5, "duplicate": True}
    older = emit(sc, "answer", {"session_id": session_id, "item_id": item_id, "response": ["nice"], "seq": 3})
    assert older["ok"] and older["stale"] is True
    state = emit(sc, "join", {"session_id": session_id})["session"]
    assert state["responses"][str(item_id)] == ["lyon"]  # the newer answer won
    assert state["last_seq"] == 5


def test_every_refusal_has_a_code(started, socket_for, make_user, client, auth, make_exam):
    exam_id, session_id, sc, state = started
    item_id = by_title(state)["choice"]["item_id"]
    cases = [
        ("answer", "not a dict", "malformed_payload"),
        ("answer", {"session_id": session_id}, "malformed_payload"),
        ("answer", {"session_id": session_id, "item_id": "x", "response": [], "seq": 1}, "malformed_payload"),
        ("answer", {"session_id": session_id, "item_id": item_id, "response": ["a"], "seq": 1, "extra": 1}, "malformed_payload"),
        ("answer", {"session_id": session_id, "item_id": item_id, "response": ["a"], "seq": 0}, "malformed_payload"),
        ("answer", {"session_id": session_id, "item_id": 999999, "response": ["a"], "seq": 1}, "unknown_item"),
        ("answer", {"session_id": session_id, "item_id": item_id, "response": ["rome"], "seq": 1}, "invalid_response_shape"),
        ("answer", {"session_id": session_id, "item_id": item_id, "response": "paris", "seq": 1}, "invalid_response_shape"),
        ("answer", {"session_id": "f" * 32, "item_id": item_id, "response": ["paris"], "seq": 1}, "not_joined"),
        ("navigate", {"session_id": session_id, "position": 99, "seq": 1}, "malformed_payload"),
        ("bogus_event", {"session_id": session_id}, "unknown_event"),
    ]
    for event, payload, code in cases:
        ack = emit(sc, event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, payload, ack)
        assert ack["error"]["message"]
    numeric_id = by_title(state)["numeric"]["item_id"]
    nan = emit(sc, "answer", {"session_id": session_id, "item_id": numeric_id, "response": float("nan"), "seq": 2})
    assert nan["error"]["code"] in ("invalid_response_shape", "malformed_payload")
    # Another learner cannot join, read or write this attempt.
    intruder = make_user("learner")
    other = socket_for(intruder)
    assert emit(other, "join", {"session_id": session_id})["error"]["code"] == "session_not_found"
    assert emit(other, "time", {"session_id": session_id})["error"]["code"] == "session_not_found"
    assert client.get(f"/api/v1/sessions/{session_id}", headers=auth(intruder)).status_code == 404


def test_socket_refuses_without_valid_token(app, client):
    from exam_engine.extensions import socketio
    sc = socketio.test_client(app, namespace="/exam", auth={"token": "forged"}, flask_test_client=client)
    assert not sc.is_connected("/exam")
    sc2 = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert not sc2.is_connected("/exam")


def test_flag_and_navigation(started):
    _, session_id, sc, state = started
    item_id = state["items"][2]["item_id"]
    assert emit(sc, "flag", {"session_id": session_id, "item_id": item_id, "flagged": True, "seq": 1})["ok"]
    assert emit(sc, "navigate", {"session_id": session_id, "position": 4, "seq": 2})["position"] == 4
    assert emit(sc, "navigate", {"session_id": session_id, "position": 1, "seq": 3})["ok"]  # free navigation goes back
    state = emit(sc, "join", {"session_id": session_id})["session"]
    assert state["flagged"] == [item_id] and state["position"] == 1


def test_linear_navigation(client, make_exam, learner, auth, socket_for):
    exam_id = make_exam(navigation="linear")
    session_id = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(learner)).get_json()["id"]
    sc = socket_for(learner)
    state = emit(sc, "join", {"session_id": session_id})["session"]
    first, second = state["items"][0]["item_id"], state["items"][1]
    locked = emit(sc, "answer", {"session_id": session_id, "item_id": second["item_id"], "response": None, "seq": 1})
    assert locked["error"]["code"] == "item_locked"
    assert emit(sc, "answer", {"session_id": session_id, "item_id": first, "response": None, "seq": 2})["ok"]
    assert emit(sc, "navigate", {"session_id": session_id, "position": 1, "seq": 3})["ok"]
    back = emit(sc, "navigate", {"session_id": session_id, "position": 0, "seq": 4})
    assert back["error"]["code"] == "navigation_locked"


def test_start_is_idempotent_and_eligibility(client, make_exam, learner, auth, make_user):
    exam_id = make_exam(max_attempts=1)
    h = auth(learner)
    first = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=h)
    again = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=h)
    assert first.status_code == 201 and again.status_code == 200 and first.get_json()["id"] == again.get_json()["id"]
    listing = client.get("/api/v1/exams", headers=h).get_json()["items"][0]
    assert listing["attempts_left"] == 0 and listing["active_session_id"] == first.get_json()["id"]
    instr = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(make_user("instructor")))
    assert instr.status_code == 403 and instr.get_json()["error"]["code"] == "role_required"
    assert client.post("/api/v1/exams/424242/sessions", headers=h).get_json()["error"]["code"] == "exam_not_found"


def test_window_and_attempts_and_cooldown(client, make_exam, learner, auth, db):
    from datetime import timedelta
    from exam_engine.db import utcnow
    from exam_engine.sessions.models import ExamSession
    h = auth(learner)
    future = make_exam(opens_at=(utcnow() + timedelta(hours=1)).isoformat())
    resp = client.post(f"/api/v1/exams/{future}/sessions", headers=h)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "exam_not_open"
    past = make_exam(opens_at=(utcnow() - timedelta(hours=2)).isoformat(), closes_at=(utcnow() - timedelta(hours=1)).isoformat())
    assert client.post(f"/api/v1/exams/{past}/sessions", headers=h).get_json()["error"]["code"] == "exam_closed"
    cool = make_exam(max_attempts=2, cooldown_s=3600)
    sid = client.post(f"/api/v1/exams/{cool}/sessions", headers=h).get_json()["id"]
    attempt = db.get(ExamSession, sid)
    attempt.status, attempt.submitted_at, attempt.active_key = "scored", utcnow(), None
    db.commit()
    resp = client.post(f"/api/v1/exams/{cool}/sessions", headers=h)
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "cooldown"
    assert resp.get_json()["error"]["details"]["retry_after_s"] > 3500
    attempt.submitted_at = utcnow() - timedelta(hours=2)
    db.commit()
    sid2 = client.post(f"/api/v1/exams/{cool}/sessions", headers=h).get_json()["id"]
    attempt2 = db.get(ExamSession, sid2)
    attempt2.status, attempt2.submitted_at, attempt2.active_key = "scored", utcnow() - timedelta(hours=2), None
    db.commit()
    assert client.post(f"/api/v1/exams/{cool}/sessions", headers=h).get_json()["error"]["code"] == "no_attempts_left"


def test_publish_refuses_unassemblable(client, bank_items, make_exam):
    bank_id, ids, h = bank_items
    draft = make_exam(publish=False, sections=[{"id": "s", "pool": {"bank_ids": [bank_id], "types": ["match"]}, "draw": 3}])
    resp = client.post(f"/api/v1/exams/{draft}/publish", headers=h)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "exam_not_assemblable"
    assert "sections.s.draw" in resp.get_json()["error"]["details"]
    client.post(f"/api/v1/items/{ids['order']}/versions/1/retire", headers=h)
    retired = make_exam(publish=False, sections=[{"id": "s", "items": [ids["order"]]}])
    resp = client.post(f"/api/v1/exams/{retired}/publish", headers=h)
    assert resp.status_code == 422 and "retired" in resp.get_json()["error"]["message"]


def test_pool_draw_is_seeded_and_distinct(client, bank_items, make_exam, make_user, auth, db):
    from exam_engine.exams.assembly import assemble_form
    bank_id, ids, h = bank_items
    exam_id = make_exam(sections=[{"id": "a", "pool": {"bank_ids": [bank_id]}, "draw": 3, "shuffle_items": True},
                                  {"id": "b", "pool": {"bank_ids": [bank_id]}, "draw": 3}])
    sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(make_user("learner"))).get_json()["id"]
    from exam_engine.sessions.models import ExamSession
    from exam_engine.exams.models import ExamVersion
    attempt = db.get(ExamSession, sid)
    items = [e["item_id"] for e in attempt.form]
    assert len(items) == 6 == len(set(items))
    defn = db.get(ExamVersion, attempt.exam_version_id).definition
    item_of = {int(k): v for k, v in defn["resolved"]["item_of"].items()}
    assert assemble_form(defn["sections"], defn["resolved"]["candidates"], item_of, attempt.seed) == attempt.form


def test_exam_versions_freeze(client, make_exam, bank_items):
    _, ids, h = bank_items
    exam_id = make_exam()
    edited = client.put(f"/api/v1/exams/{exam_id}", headers=h,
                        json={"definition": {"title": "v2", "sections": [{"id": "m", "items": [ids["choice"]]}]}}).get_json()
    assert edited["version"] == 2 and edited["status"] == "draft" and edited["live_version"] == 1
    assert client.post(f"/api/v1/exams/{exam_id}/publish", headers=h).get_json()["live_version"] == 2


def test_an_attempt_keeps_its_exam_and_item_versions(client, make_exam, bank_items, learner, make_user, auth,
                                                     socket_for):
    """New versions of the exam and of an item it uses, published while an attempt runs, change nothing for
    that attempt (it pinned both when it started); authors read every version of the exam."""
    from tests.factories import item
    _, ids, h = bank_items
    exam_id = make_exam()
    sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(learner)).get_json()["id"]
    sc = socket_for(learner)
    before = sc.emit("join", {"session_id": sid}, namespace="/exam", callback=True)["session"]
    changed = item("choice", stem="<p>A changed stem</p>")
    assert client.put(f"/api/v1/items/{ids['choice']}", headers=h, json=changed).status_code == 200
    assert client.post(f"/api/v1/items/{ids['choice']}/publish", headers=h).status_code == 200
    v1_sections = client.get(f"/api/v1/exams/{exam_id}", headers=h).get_json()["definition"]["sections"]
    assert client.put(f"/api/v1/exams/{exam_id}", headers=h, json={"definition": {
        "title": "v2", "sections": [{"id": "m", "items": [ids["choice"]]}]}}).status_code == 200
    assert client.post(f"/api/v1/exams/{exam_id}/publish", headers=h).get_json()["live_version"] == 2

    after = sc.emit("join", {"session_id": sid}, namespace="/exam", callback=True)["session"]
    assert [(i["item_id"], i["stem"]) for i in after["items"]] == [(i["item_id"], i["stem"]) for i in before["items"]]
    assert "A changed stem" not in str(after["items"]) and after["title"] == before["title"] == "Sample exam"
    # A new attempt of another learner gets the new versions.
    other = make_user("learner")
    sid2 = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(other)).get_json()["id"]
    fresh = socket_for(other).emit("join", {"session_id": sid2}, namespace="/exam", callback=True)["session"]
    assert fresh["title"] == "v2" and [i["stem"] for i in fresh["items"]] == ["<p>A changed stem</p>"]

    versions = client.get(f"/api/v1/exams/{exam_id}/versions", headers=h).get_json()
    assert [(v["version"], v["title"]) for v in versions] == [(1, "Sample exam"), (2, "v2")]
    assert versions[0]["status"] != "draft" and versions[0]["definition"]["sections"] == v1_sections
    assert client.get(f"/api/v1/exams/{exam_id}/versions/1", headers=h).get_json() == versions[0]
    for missing in (0, 9):
        assert client.get(f"/api/v1/exams/{exam_id}/versions/{missing}",
                          headers=h).get_json()["error"]["code"] == "version_not_found"
    assert client.get(f"/api/v1/exams/{exam_id}/versions", headers=auth(learner)).status_code == 403
    stranger = auth(make_user("instructor"))
    assert client.get(f"/api/v1/exams/{exam_id}/versions/1", headers=stranger).get_json()["error"]["code"] == "exam_not_found"


def test_fixed_sections_shuffle_items_per_attempt_when_asked(client, make_exam, make_user, auth, socket_for):
    """`shuffle_items` on a fixed section: each attempt its own order (seeded, kept on rejoin); without it the
    authored order."""
    def order(exam_id):  # noqa: ANN001, ANN202
        user = make_user("learner")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        sc = socket_for(user)
        first = [i["item_id"] for i in sc.emit("join", {"session_id": sid}, namespace="/exam", callback=True)["session"]["items"]]
        again = [i["item_id"] for i in sc.emit("join", {"session_id": sid}, namespace="/exam", callback=True)["session"]["items"]]
        assert first == again
        return first

    authored = order(make_exam())
    shuffled = make_exam(sections=[{"id": "main", "items": authored, "shuffle_items": True}])
    orders = [order(shuffled) for _ in range(6)]
    assert all(sorted(o) == sorted(authored) for o in orders)
    assert any(o != authored for o in orders) and len({tuple(o) for o in orders}) > 1
    assert order(make_exam(sections=[{"id": "main", "items": authored}])) == authored


def test_start_on_the_socket_starts_and_joins_in_one_step(client, make_exam, learner, make_user, socket_for, db, auth):
    """`start {exam_id}`: a learner already connected (waiting on the exam page) starts and is joined at once;
    the same eligibility rules and codes as the REST start; a second `start` joins the attempt in progress."""
    from exam_engine.sessions.models import ExamSession, SessionEvent
    exam_id = make_exam()
    sc = socket_for(learner)
    ack = sc.emit("start", {"exam_id": exam_id, "client_id": "b" * 32}, namespace="/exam", callback=True)
    assert ack["ok"], ack
    state = ack["session"]
    assert state["status"] == "in_progress" and len(state["items"]) == 7 and state["remaining_s"] > 590
    assert "scoring" not in str(state["items"])
    sid = state["id"]
    item = state["items"][0]
    assert sc.emit("answer", {"session_id": sid, "item_id": item["item_id"], "response": None, "seq": 1},
                   namespace="/exam", callback=True) == {"ok": True, "seq": 1}
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    assert attempt.is_connected and attempt.active_client == "b" * 32 and attempt.log_length == 3
    assert [e.kind for e in db.query(SessionEvent).filter_by(session_id=sid).order_by(SessionEvent.idx)] == \
        ["start", "connect", "answer"]
    again = socket_for(learner).emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
    assert again["ok"] and again["session"]["id"] == sid and again["session"]["last_seq"] == 1  # joined, taken over
    assert client.get(f"/api/v1/sessions/{sid}", headers=auth(learner)).get_json()["status"] == "in_progress"

    def refused(user, payload):  # noqa: ANN001, ANN202
        return socket_for(user).emit("start", payload, namespace="/exam", callback=True)["error"]["code"]

    db.rollback()  # end the read snapshot
    other = make_user("learner")
    assert refused(other, {"exam_id": 999_999}) == "exam_not_found"
    assert refused(other, {"exam_id": str(exam_id)}) == "malformed_payload"
    assert refused(other, {"exam_id": exam_id, "extra": 1}) == "malformed_payload"
    closed = make_exam(opens_at="2020-01-01T00:00:00+00:00", closes_at="2020-01-02T00:00:00+00:00")
    assert refused(other, {"exam_id": closed}) == "exam_closed"
    from datetime import timedelta

    from exam_engine.db import utcnow
    soon = make_exam(opens_at=(utcnow() + timedelta(seconds=90)).isoformat())
    early = socket_for(other).emit("start", {"exam_id": soon}, namespace="/exam", callback=True)["error"]
    assert early["code"] == "exam_not_open" and 80 < early["details"]["opens_in_s"] <= 90  # the waiting room's clock
    assert refused(make_user("examiner"), {"exam_id": exam_id}) == "role_required"


def test_start_on_the_socket_writes_the_proctoring_state_with_the_attempt(app, make_exam, learner, socket_for, db):
    """A recorded exam: the state the first join makes goes in with the attempt (the start's one write), as
    a `join` would have made it; on PostgreSQL the whole start is the account-and-exam read and that write."""
    from sqlalchemy import event

    from exam_engine.proctoring.models import ProctoringState
    from exam_engine.sessions import eventlog
    from exam_engine.sessions.models import ExamSession
    exam_id = make_exam(proctoring={"level": "standard"})
    sc = socket_for(learner)
    engine = app.extensions["exam_engine.db"].engine
    seen: list[str] = []

    params: list[int] = []

    def listener(_conn, _cursor, statement, parameters, *_args):  # noqa: ANN001, ANN002
        if statement.strip() != "SELECT 1" and "item_versions" not in statement and "exam_versions.status" not in statement:
            seen.append(" ".join(statement.split()))
            params.append(len(parameters or ()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        ack = sc.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert ack["ok"], ack
    assert ack["session"]["proctoring"]["is_recorded"]
    sid = ack["session"]["id"]
    if engine.dialect.name == "postgresql":
        assert len(seen) == 2, seen
        assert seen[0].startswith("SELECT users.role") and "proctoring_states" in seen[1]
        assert params[1] <= 50, params  # psycopg parses a statement of more parameters again on every execution
    # The state is written with the attempt, not by the join's "insert unless present".
    assert not [sql for sql in seen if re.search(r"INSERT INTO proctoring_states .*ON CONFLICT", sql)], seen
    assert len([sql for sql in seen if "INSERT INTO proctoring_states" in sql]) == 1, seen
    db.rollback()
    state = db.get(ProctoringState, sid)
    attempt = db.get(ExamSession, sid)
    assert state is not None and state.log_idx == attempt.log_length == 2
    assert state.last_activity_at == attempt.connected_at and state.counts == {} and state.answered_items == []
    assert state.user_agent == attempt.user_agent
    assert eventlog.verify_session(db, sid).ok
    # The attempt goes on as any other: a later join of the same page finds the state and adds nothing.
    again = sc.emit("join", {"session_id": sid}, namespace="/exam", callback=True)
    assert again["ok"], again
    db.rollback()
    assert db.get(ProctoringState, sid).log_idx == db.get(ExamSession, sid).log_length


def test_start_on_the_socket_of_an_account_disabled_since_connecting(make_exam, learner, socket_for, db):
    from exam_engine.auth.models import User
    exam_id = make_exam()
    sc = socket_for(learner)
    db.get(User, learner.id).is_active = False
    db.commit()
    ack = sc.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
    assert ack == {"ok": False, "error": {"code": "unauthorized", "message": "the account is disabled"}}
    assert not sc.is_connected("/exam")
    from exam_engine.sessions.models import ExamSession
    assert db.query(ExamSession).filter_by(user_id=learner.id).count() == 0


def test_exam_definition_validation(client, bank_items):
    _, ids, h = bank_items
    bad = [
        {"title": "x", "sections": []},
        {"title": "x", "sections": [{"id": "a"}]},
        {"title": "x", "sections": [{"id": "a", "pool": {"tags": ["t"]}}]},
        {"title": "x", "sections": [{"id": "a", "items": [ids["choice"]]}], "navigation": "sideways"},
        {"title": "x", "sections": [{"id": "a", "items": [ids["choice"]]}], "pass": {"mode": "percentage", "cut_score": 150}},
        {"title": "x", "sections": [{"id": "a", "items": [ids["choice"]]}], "opens_at": "2030-01-02T00:00:00+00:00",
         "closes_at": "2030-01-01T00:00:00+00:00"},
    ]
    for definition in bad:
        resp = client.post("/api/v1/exams", headers=h, json={"definition": definition})
        assert resp.status_code == 422, (definition, resp.get_json())


def test_result_release_policies(client, make_exam, learner, auth, socket_for, bank_items):
    _, _, h = bank_items
    exam_id = make_exam(release="manual")
    lh = auth(learner)
    sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=lh).get_json()["id"]
    sc = socket_for(learner)
    emit(sc, "join", {"session_id": sid})
    emit(sc, "submit", {"session_id": sid, "seq": 1})
    resp = client.get(f"/api/v1/sessions/{sid}/result", headers=lh)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "result_not_released"
    assert client.get(f"/api/v1/sessions/{sid}/result", headers=h).status_code == 200  # staff always see it
    client.post(f"/api/v1/exams/{exam_id}/release", headers=h)
    assert client.get(f"/api/v1/sessions/{sid}/result", headers=lh).get_json()["passed"] is False


def test_proctoring_settings_are_checked_when_written(client, bank_items):
    _, ids, h = bank_items
    resp = client.post("/api/v1/exams", headers=h, json={"definition": {
        "title": "x", "sections": [{"id": "a", "items": [ids["choice"]]}],
        "proctoring": {"level": "strict", "settings": {"max_focus_lossez": 3}}}})
    assert resp.status_code == 422 and "proctoring.max_focus_lossez" in resp.get_json()["error"]["details"]


def test_own_attempts_listing_and_result_order(client, started, learner, auth):
    _, sid, sc, state = started
    emit(sc, "submit", {"session_id": sid, "seq": 1})
    rows = client.get("/api/v1/sessions", headers=auth(learner)).get_json()
    assert rows[0]["id"] == sid and rows[0]["title"] == "Sample exam" and rows[0]["is_released"] is True
    result = client.get(f"/api/v1/sessions/{sid}/result", headers=auth(learner)).get_json()
    assert result["order"] == [str(i["item_id"]) for i in state["items"]]


def test_learner_sees_media_of_items_on_their_form_only(client, bank_items, make_user, auth, socket_for):
    import io
    bank_id, _, h = bank_items
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    media = client.post(f"/api/v1/banks/{bank_id}/media", headers=h, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(png), "fig.png", "image/png")}).get_json()
    from tests.factories import item
    body = item("choice", stem=f'<p>Look: <img src="{media["url"]}" alt="figure"></p>')
    iid = client.post(f"/api/v1/banks/{bank_id}/items", headers=h, json=body).get_json()["item_id"]
    client.post(f"/api/v1/items/{iid}/publish", headers=h)
    exam_id = client.post("/api/v1/exams", headers=h, json={"definition": {"title": "Img", "sections": [
        {"id": "a", "items": [iid]}]}}).get_json()["id"]
    client.post(f"/api/v1/exams/{exam_id}/publish", headers=h)
    taker, other = make_user("learner"), make_user("learner")
    assert client.get(media["url"], headers=auth(taker)).status_code == 404  # not before the attempt
    client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(taker))
    got = client.get(media["url"], headers=auth(taker))
    assert got.status_code == 200 and got.data == png
    assert client.get(media["url"], headers=auth(other)).status_code == 404


def _take(client, auth, socket_for, user, exam_id, answers: dict) -> dict:  # noqa: ANN001
    """Start, join, answer {kind: response}, submit; the learner's result."""
    sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
    sc = socket_for(user)
    items = by_title(emit(sc, "join", {"session_id": sid})["session"])
    for seq, (kind, response) in enumerate(answers.items(), start=1):
        assert emit(sc, "answer", {"session_id": sid, "item_id": items[kind]["item_id"], "response": response,
                                   "seq": seq})["ok"]
    assert emit(sc, "submit", {"session_id": sid, "seq": len(answers) + 1})["ok"]
    return client.get(f"/api/v1/sessions/{sid}/result", headers=auth(user)).get_json()


def test_pass_by_points_and_by_section_minimums(client, bank_items, make_exam, make_user, auth, socket_for):
    """`pass.mode: points` counts points, not percent (a cut of 2 points fails 1 of 2 points, which 2 % would
    pass); a section's `min_score_pct` fails an attempt above the overall cut."""
    _, ids, _ = bank_items
    two = [{"id": "a", "items": [ids["choice"]]}, {"id": "b", "items": [ids["numeric"]]}]
    wrong = {"choice": ["lyon"], "numeric": RESPONSES["numeric"]}
    right = {"choice": RESPONSES["choice"], "numeric": RESPONSES["numeric"]}
    points = make_exam(sections=two, **{"pass": {"mode": "points", "cut_score": 2}})
    half = _take(client, auth, socket_for, make_user("learner"), points, wrong)
    assert (half["score"], half["max_score"], half["passed"]) == (1, 2, False)
    assert _take(client, auth, socket_for, make_user("learner"), points, right)["passed"] is True
    minimum = make_exam(sections=[{**two[0], "min_score_pct": 100}, two[1]],
                        **{"pass": {"mode": "percentage", "cut_score": 40}})
    below = _take(client, auth, socket_for, make_user("learner"), minimum, wrong)
    assert below["percentage"] == 50 and below["passed"] is False
    assert _take(client, auth, socket_for, make_user("learner"), minimum, right)["passed"] is True


def test_results_released_after_the_window_closes(client, make_exam, learner, auth, socket_for, bank_items, db):
    from datetime import timedelta

    from exam_engine.db import utcnow
    from exam_engine.exams.models import ExamVersion
    from exam_engine.sessions.models import ExamSession
    exam_id = make_exam(release="after_close", closes_at=(utcnow() + timedelta(hours=1)).isoformat())
    sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(learner)).get_json()["id"]
    sc = socket_for(learner)
    emit(sc, "join", {"session_id": sid})
    emit(sc, "submit", {"session_id": sid, "seq": 1})
    resp = client.get(f"/api/v1/sessions/{sid}/result", headers=auth(learner))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "result_not_released"
    db.get(ExamVersion, db.get(ExamSession, sid).exam_version_id).closes_at = utcnow() - timedelta(seconds=1)
    db.commit()
    assert client.get(f"/api/v1/sessions/{sid}/result", headers=auth(learner)).status_code == 200


def test_options_are_shuffled_per_attempt_and_kept_on_rejoin(client, make_exam, make_user, auth, socket_for):
    """Option order comes from the attempt's seed: different learners see different orders, a rejoin (reload,
    another worker) the same one; `shuffle_options: false` keeps the authored order for everyone."""
    def option_orders(state: dict) -> list:
        return [(i["item_id"], [o["id"] for o in i["interaction"].get("options", [])]) for i in state["items"]]

    def orders(exam_id: int, n: int) -> list:
        seen = []
        for _ in range(n):
            user = make_user("learner")
            sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
            first, again = (emit(socket_for(user), "join", {"session_id": sid})["session"] for _ in range(2))
            assert option_orders(first) == option_orders(again)
            seen.append(option_orders(first))
        return seen

    shuffled = orders(make_exam(), 6)  # 6 learners all alike: less than one chance in a million
    assert len({repr(k) for k in shuffled}) > 1
    authored = orders(make_exam(shuffle_options=False), 3)
    assert authored[0] == authored[1] == authored[2]


def test_the_address_behind_a_trusted_proxy_is_the_one_the_proxy_appended(app, client, make_exam, make_user, token_for, db):
    """X-Forwarded-For is read only with TRUST_PROXY, and only its last address (the one the proxy wrote;
    what comes before is the client's to invent); anything but an address there leaves the connection's."""
    from exam_engine.extensions import socketio
    from exam_engine.sessions.models import ExamSession
    exam_id = make_exam()

    def started_from(forwarded: str, trust: bool = True) -> str:
        app.config["TRUST_PROXY"] = trust
        try:
            sc = socketio.test_client(app, namespace="/exam", auth={"token": token_for(make_user("learner"))},
                                      flask_test_client=client, headers={"X-Forwarded-For": forwarded})
            ack = sc.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
            sc.disconnect(namespace="/exam")
        finally:
            app.config["TRUST_PROXY"] = False
        assert ack["ok"], ack
        db.rollback()
        return db.get(ExamSession, ack["session"]["id"]).client_ip

    assert started_from("10.9.9.9") == "10.9.9.9"
    assert started_from("6.6.6.6, 10.9.9.9") == "10.9.9.9"
    assert started_from("2001:db8::1") == "2001:db8::1"
    own = started_from("10.9.9.9", trust=False)
    assert own != "10.9.9.9"
    assert started_from("x" * 300) == own and started_from("10.9.9.9, not-an-address") == own
