"""Server time: deadlines, accommodations, pauses, extensions, window close, the sweeper, outage credit, the log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exam_engine.db import utcnow
from exam_engine.sessions import services
from exam_engine.sessions.eventlog import verify_session
from exam_engine.sessions.models import ExamSession, ServiceClock, SessionEvent, Worker
from exam_engine.sessions.statuses import STATUSES, Status, is_transition_legal


def emit(sc, event, payload):  # noqa: ANN001
    return sc.emit(event, payload, namespace="/exam", callback=True)


def start(client, exam_id, user, auth):  # noqa: ANN001
    resp = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


@pytest.mark.parametrize("current", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_transition_rule_is_exhaustive(current, new):
    legal = {("in_progress", "paused"), ("in_progress", "submitted"), ("in_progress", "terminated"),
             ("paused", "in_progress"), ("paused", "submitted"), ("paused", "terminated"),
             ("submitted", "pending_grading"), ("submitted", "scored"), ("pending_grading", "scored"),
             ("pending_grading", "pending_grading"), ("scored", "scored"), ("terminated", "scored"),
             ("terminated", "pending_grading")}
    assert is_transition_legal(current, new) == ((current, new) in legal)


def test_extra_time_accommodation(client, make_exam, make_user, auth, db):
    learner = make_user("learner", accommodations={"extra_time_pct": 50})
    sid = start(client, make_exam(time_limit_s=600), learner, auth)
    attempt = db.get(ExamSession, sid)
    assert attempt.allowed_s == 900
    assert (attempt.deadline_at - attempt.started_at).total_seconds() == pytest.approx(900)


def test_deadline_passed_is_refused(started, db):
    _, sid, sc, state = started
    attempt = db.get(ExamSession, sid)
    attempt.deadline_at = utcnow() - timedelta(seconds=attempt.grace_s + 1)
    db.commit()
    ack = emit(sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": 1})
    assert ack["error"]["code"] == "deadline_passed"


def test_answer_within_grace_is_accepted(started, db):
    _, sid, sc, state = started
    attempt = db.get(ExamSession, sid)
    attempt.deadline_at = utcnow() - timedelta(seconds=1)  # past the deadline, inside the 3 s grace
    db.commit()
    ack = emit(sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": 1})
    assert ack["ok"]


def test_sweeper_closes_exactly_once(app, client, make_exam, make_user, auth, db):
    exam_id = make_exam()
    sids = [start(client, exam_id, make_user("learner"), auth) for _ in range(3)]
    for sid in sids[:2]:
        db.get(ExamSession, sid).deadline_at = utcnow() - timedelta(seconds=10)
    db.commit()
    database = app.extensions["exam_engine.db"]
    s1, s2 = database.session(), database.session()
    closed1 = services.sweep_expired(s1, now=utcnow())
    s1.commit()
    closed2 = services.sweep_expired(s2, now=utcnow())
    s2.commit()
    s1.close(), s2.close()
    assert sorted(c.session_id for c in closed1) == sorted(sids[:2]) and closed2 == []
    assert all(c.reason == "time_expired" and c.lateness_s >= 7 for c in closed1)
    db.rollback()  # end the read snapshot
    assert {db.get(ExamSession, sid).status for sid in sids[:2]} == {"submitted"}  # submitted first, scored apart
    scored = []
    s1, s2 = database.session(), database.session()
    if db.get_bind().dialect.name == "postgresql":
        # Two workers at once: the second skips the attempt the first holds and takes the other one.
        first, second = services.next_submitted(s1, now=utcnow()), services.next_submitted(s2, now=utcnow())
        assert len(first) == len(second) == 1 and first[0].id != second[0].id
        for s, attempts in ((s1, first), (s2, second)):
            services.score(s, attempts[0], now=utcnow())
            scored.append(attempts[0].id)
    for s in (s1, s2):  # (SQLite: one after the other) then nothing is left to score
        s.commit()
        while attempts := services.next_submitted(s, now=utcnow()):
            services.score(s, attempts[0], now=utcnow())
            scored.append(attempts[0].id)
            s.commit()
        s.close()
    assert sorted(scored) == sorted(sids[:2])
    db.rollback()  # end the read snapshot
    for sid in sids[:2]:
        attempt = db.get(ExamSession, sid)
        assert attempt.status == "scored" and attempt.end_reason == "time_expired"
        kinds = [e.kind for e in db.query(SessionEvent).filter_by(session_id=sid)]
        assert kinds.count("submit") == 1 and kinds.count("score") == 1
    assert db.get(ExamSession, sids[2]).status == "in_progress"


def test_a_sweep_submits_first_and_an_attempt_that_fails_scoring_holds_no_other_back(app, client, make_exam,
                                                                                    make_user, auth, db, monkeypatch):
    from exam_engine.sessions import sweeper
    exam_id = make_exam()
    sids = [start(client, exam_id, make_user("learner"), auth) for _ in range(3)]
    for sid in sids:
        db.get(ExamSession, sid).deadline_at = utcnow() - timedelta(seconds=10)
    db.commit()
    real_score = services.score

    def score(session, attempt, **kw):  # noqa: ANN001, ANN003
        if attempt.id == sids[0]:
            raise RuntimeError("a broken attempt")
        return real_score(session, attempt, **kw)

    monkeypatch.setattr(services, "score", score)
    try:
        assert sorted(c.session_id for c in sweeper.run_sweep_once(app)) == sorted(sids)
        db.rollback()  # end the read snapshot
        assert [db.get(ExamSession, sid).status for sid in sids] == ["submitted", "scored", "scored"]
        # Its retry time is kept in its row: every worker waits for it, after a restart too.
        assert [db.get(ExamSession, sid).score_retry_at is not None for sid in sids] == [True, False, False]
        assert db.get(ExamSession, sids[0]).score_retry_at > utcnow()
        monkeypatch.setattr(services, "score", real_score)
        assert sweeper.run_sweep_once(app) == []  # not retried at once
        db.rollback()  # end the read snapshot
        db.expire_all()
        assert db.get(ExamSession, sids[0]).status == "submitted"
        db.get(ExamSession, sids[0]).score_retry_at = utcnow() - timedelta(seconds=1)  # its retry time has come
        db.commit()
        sweeper.run_sweep_once(app)
    finally:
        app.extensions.pop("exam_engine.jobs_db").engine.dispose()  # the jobs' own pool, opened by the sweep
    db.rollback()  # end the read snapshot
    db.expire_all()
    assert db.get(ExamSession, sids[0]).status == "scored"


def test_pause_resume_extend_terminate(started, db, app, instructor):
    _, sid, sc, state = started
    database = app.extensions["exam_engine.db"]

    def act(action, **kw):
        s = database.session()
        try:
            attempt = services.examiner_act(s, s.merge(instructor), sid, action, now=kw.pop("now", utcnow()), **kw)
            s.commit()
            return attempt
        finally:
            s.close()

    before = db.get(ExamSession, sid).deadline_at
    t0 = utcnow()
    act("pause", now=t0)
    ack = emit(sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": 1})
    assert ack["error"]["code"] == "session_paused"
    time_ack = emit(sc, "time", {"session_id": sid})
    assert time_ack["status"] == "paused"
    act("resume", now=t0 + timedelta(seconds=120))
    db.rollback()  # end the read snapshot
    assert (db.get(ExamSession, sid).deadline_at - before).total_seconds() == pytest.approx(120, abs=0.01)
    act("extend", seconds=300)
    db.rollback()  # end the read snapshot
    assert (db.get(ExamSession, sid).deadline_at - before).total_seconds() == pytest.approx(420, abs=0.01)
    act("message", text="Five minutes left")
    assert emit(sc, "join", {"session_id": sid})["session"]["messages"][0]["text"] == "Five minutes left"
    act("terminate", reason="Phone on the desk")
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    assert attempt.status == "scored" and attempt.end_reason == "terminated"
    kinds = [e.kind for e in db.query(SessionEvent).filter_by(session_id=sid).order_by(SessionEvent.idx)]
    assert kinds.count("examiner_action") == 5 and "terminate" in kinds


def test_under_end_at_close_only_an_examiners_extension_goes_past_the_close(client, make_exam, learner, auth, db, app,
                                                                            instructor, socket_for):
    """The exam ends attempts at the window's close: paused time given back at resume and an outage credit stop
    at the close; an examiner's explicit extension goes past it (then the learner's own time is what ends it)."""
    closes = utcnow() + timedelta(seconds=120)
    sid = start(client, make_exam(time_limit_s=3600, closes_at=closes.isoformat(), on_close="end_at_close"), learner, auth)
    database = app.extensions["exam_engine.db"]

    def act(action, **kw):  # noqa: ANN001, ANN003
        s = database.session()
        try:
            services.examiner_act(s, s.merge(instructor), sid, action, now=kw.pop("now", utcnow()), **kw)
            s.commit()
        finally:
            s.close()

    def deadline():  # noqa: ANN202
        db.rollback()  # end the read snapshot
        db.expire_all()
        return db.get(ExamSession, sid).deadline_at

    t0 = utcnow()
    act("pause", now=t0)
    act("resume", now=t0 + timedelta(seconds=60))
    assert deadline() == closes  # not closes + 60 s
    db.merge(ServiceClock(id=1, last_alive_at=utcnow() - timedelta(seconds=60), worker="dead"))
    db.commit()
    s = database.session()
    assert services.heartbeat(s, now=utcnow(), worker="w1", outage_threshold_s=3) > 50
    s.commit()
    s.close()
    assert deadline() == closes and db.get(ExamSession, sid).outage_credit_s == 0
    assert emit(socket_for(learner), "join", {"session_id": sid})["session"]["ends_at_window_close"] is True
    act("extend", seconds=300)
    assert deadline() == closes + timedelta(seconds=300)
    assert emit(socket_for(learner), "join", {"session_id": sid})["session"]["ends_at_window_close"] is False
    t1 = utcnow()
    act("pause", now=t1)
    act("resume", now=t1 + timedelta(seconds=30))
    assert deadline() == closes + timedelta(seconds=330)  # past the close already: paused time comes back


def test_unassigned_examiner_cannot_act(started, app, make_user):
    _, sid, _, _ = started
    stranger = make_user("examiner")
    s = app.extensions["exam_engine.db"].session()
    with pytest.raises(services.SessionError) as err:
        services.examiner_act(s, s.merge(stranger), sid, "pause", now=utcnow())
    assert err.value.code == "session_not_found"
    s.close()


def test_window_close_ends_attempt_when_policy_says(client, make_exam, learner, auth, db, socket_for, app):
    closes = utcnow() + timedelta(seconds=120)
    exam_id = make_exam(time_limit_s=3600, closes_at=closes.isoformat(), on_close="end_at_close")
    sid = start(client, exam_id, learner, auth)
    attempt = db.get(ExamSession, sid)
    assert abs((attempt.deadline_at - closes).total_seconds()) < 0.01
    sc = socket_for(learner)
    state = emit(sc, "join", {"session_id": sid})["session"]
    assert state["ends_at_window_close"] is True and state["remaining_s"] <= 120
    assert state["effective_end_at"] == attempt.deadline_at.isoformat()  # the end the learner is shown on join
    keep = make_exam(time_limit_s=3600, closes_at=closes.isoformat())  # default: keep the full time
    sid2 = start(client, keep, learner, auth)
    db.rollback()  # end the read snapshot
    assert (db.get(ExamSession, sid2).deadline_at - closes).total_seconds() > 3000
    # The window closes (moved into the past, with the deadline it set): the sweeper ends the attempt, and the
    # learner is told why.
    from exam_engine.exams.models import ExamVersion
    from exam_engine.sessions.sweeper import run_sweep_once
    past = utcnow() - timedelta(seconds=30)
    attempt = db.get(ExamSession, sid)
    db.get(ExamVersion, attempt.exam_version_id).closes_at = past
    attempt.deadline_at = past
    db.commit()
    sc.get_received("/exam")
    try:
        assert [c.session_id for c in run_sweep_once(app)] == [sid]
    finally:
        app.extensions.pop("exam_engine.jobs_db").engine.dispose()  # the jobs' own pool, opened by the sweep
    db.expire_all()
    assert db.get(ExamSession, sid).end_reason == "window_closed"
    statuses = [e["args"][0] for e in sc.get_received("/exam") if e["name"] == "status"]
    assert [(e["status"], e["reason"]) for e in statuses] in (
        [("submitted", "window_closed"), ("scored", "window_closed")],
        [("submitted", "window_closed"), ("pending_grading", "window_closed")])


def test_outage_is_credited_once(started, app, db):
    _, sid, _, _ = started
    before = db.get(ExamSession, sid).deadline_at
    now = utcnow()
    db.merge(ServiceClock(id=1, last_alive_at=now - timedelta(seconds=60), worker="dead"))
    db.commit()
    database = app.extensions["exam_engine.db"]
    s1 = database.session()
    credit = services.heartbeat(s1, now=now, worker="w1", outage_threshold_s=10)
    s1.commit()
    s1.close()
    s2 = database.session()
    assert services.heartbeat(s2, now=now, worker="w2", outage_threshold_s=10) == 0
    s2.commit()
    s2.close()
    assert credit == pytest.approx(60, abs=0.01)
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    started_ago = (now - attempt.started_at).total_seconds()
    assert (attempt.deadline_at - before).total_seconds() == pytest.approx(min(60, started_ago), abs=0.01)


def test_short_gap_is_not_an_outage(app, db):
    now = utcnow()
    db.merge(ServiceClock(id=1, last_alive_at=now - timedelta(seconds=3), worker="w"))
    db.commit()
    s = app.extensions["exam_engine.db"].session()
    assert services.heartbeat(s, now=now, worker="w1", outage_threshold_s=10) == 0
    s.close()


def test_second_connection_takes_over_and_is_logged(started, socket_for, learner, db):
    _, sid, first, _ = started
    second = socket_for(learner)
    assert emit(second, "join", {"session_id": sid})["ok"]
    events = first.get_received("/exam")
    assert any(e["name"] == "status" and e["args"][0]["status"] == "superseded" for e in events)
    assert db.query(SessionEvent).filter_by(session_id=sid, kind="second_connection").count() == 1


def test_a_superseded_connection_can_no_longer_write(started, socket_for, learner, db):
    """After a takeover the old connection's answers, flags, navigation and submit are refused (`superseded`),
    so two windows never write one attempt; the new one writes, the old one's disconnect changes nothing, and
    joining again takes the attempt back."""
    _, sid, first, state = started
    item = state["items"][0]["item_id"]
    second = socket_for(learner)
    assert emit(second, "join", {"session_id": sid})["ok"]
    refused = [emit(first, "answer", {"session_id": sid, "item_id": item, "response": None, "seq": 1}),
               emit(first, "flag", {"session_id": sid, "item_id": item, "flagged": True, "seq": 2}),
               emit(first, "navigate", {"session_id": sid, "position": 1, "seq": 3}),
               emit(first, "submit", {"session_id": sid, "seq": 4})]
    assert [ack["ok"] is False and ack["error"]["code"] for ack in refused] == ["superseded"] * 4
    assert emit(second, "answer", {"session_id": sid, "item_id": item, "response": None, "seq": 1})["ok"]
    first.disconnect(namespace="/exam")
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    assert attempt.status == Status.IN_PROGRESS.value and attempt.is_connected and attempt.last_seq == 1
    assert [e.data["seq"] for e in db.query(SessionEvent).filter_by(session_id=sid, kind="answer")] == [1]
    third = socket_for(learner)  # the learner back in the first window: a new connection takes over again
    assert emit(third, "join", {"session_id": sid})["ok"]
    assert emit(second, "answer", {"session_id": sid, "item_id": item, "response": None, "seq": 2})["error"]["code"] \
        == "superseded"
    assert emit(third, "answer", {"session_id": sid, "item_id": item, "response": None, "seq": 2})["ok"]


def test_second_connection_refused_by_policy(client, make_exam, learner, auth, socket_for, db):
    sid = start(client, make_exam(second_connection="refuse"), learner, auth)
    a, b = socket_for(learner), socket_for(learner)
    assert emit(a, "join", {"session_id": sid})["ok"]
    assert emit(b, "join", {"session_id": sid})["error"]["code"] == "session_in_use"
    db.rollback()  # end the read snapshot
    assert db.query(SessionEvent).filter_by(session_id=sid, kind="second_connection").count() == 1  # evidence kept


CLIENT = "c0ffee" * 4


def _kinds(db, sid):  # noqa: ANN001
    db.rollback()  # end the read snapshot
    return [(e.kind, e.data.get("lost")) for e in db.query(SessionEvent).filter_by(session_id=sid).order_by(SessionEvent.idx)]


def test_the_same_page_joining_again_releases_its_own_connection(client, make_exam, learner, auth, socket_for, db,
                                                                 app, token_for):
    """A page whose connection dropped joins again before the server noticed: a reconnect, not a second window
    (even where the exam refuses second connections); another page is still refused, and so is the same
    client_id from another browser (copied to a helper's device)."""
    from exam_engine.extensions import socketio
    sid = start(client, make_exam(second_connection="refuse"), learner, auth)
    a, b, c = socket_for(learner), socket_for(learner), socket_for(learner)
    assert emit(a, "join", {"session_id": sid, "client_id": CLIENT})["ok"]
    assert emit(b, "join", {"session_id": sid, "client_id": CLIENT})["ok"]
    kinds = _kinds(db, sid)
    assert kinds[-2:] == [("disconnect", "same_client"), ("reconnect", None)]
    assert ("second_connection", None) not in kinds
    assert emit(a, "flag", {"session_id": sid, "item_id": 1, "flagged": True, "seq": 1})["error"]["code"] == "superseded"
    assert emit(c, "join", {"session_id": sid, "client_id": "f" * 32})["error"]["code"] == "session_in_use"
    elsewhere = socketio.test_client(app, namespace="/exam", auth={"token": token_for(learner)}, flask_test_client=client,
                                     headers={"User-Agent": "Another browser/1.0"})
    assert emit(elsewhere, "join", {"session_id": sid, "client_id": CLIENT})["error"]["code"] == "session_in_use"
    elsewhere.disconnect(namespace="/exam")
    assert emit(c, "join", {"session_id": sid, "client_id": "short"})["error"]["code"] == "malformed_payload"


@pytest.mark.parametrize("worker", ["restarted", "silent", "alive", "never_reported", "registered_late"])
def test_a_connection_lost_with_its_worker_is_not_a_second_connection(worker, client, make_exam, learner, auth,
                                                                       socket_for, db):
    """The worker holding the attempt's connection was restarted (a new incarnation at its address since the
    connection was made) or has been silent for WORKER_STALE_S (against the freshest worker): the learner's
    join elsewhere is a reconnect. A live worker's connection, one of a worker that never reported, or one
    whose incarnation has not replaced the row older than the connection yet, is still a second connection
    (refused here by the exam's policy)."""
    sid = start(client, make_exam(second_connection="refuse"), learner, auth)
    assert emit(socket_for(learner), "join", {"session_id": sid})["ok"]
    now = utcnow()
    db.add(Worker(id="live-host:5002", incarnation="live", started_at=now - timedelta(seconds=600), last_alive_at=now))
    if worker != "never_reported":
        db.add(Worker(id="gone-host:5001", incarnation="dead" if worker in ("silent", "alive") else "cafe",
                      started_at=now - timedelta(seconds=20),
                      last_alive_at=now - timedelta(seconds=60 if worker == "silent" else 1)))
    attempt = db.get(ExamSession, sid)
    attempt.active_worker = "gone-host:5001#dead"
    attempt.connected_at = now - timedelta(seconds=5 if worker == "registered_late" else 60)
    db.commit()
    ack = emit(socket_for(learner), "join", {"session_id": sid})
    if worker in ("alive", "never_reported", "registered_late"):
        assert ack["error"]["code"] == "session_in_use"
        return
    assert ack["ok"], ack
    kinds = _kinds(db, sid)
    assert ("disconnect", "worker_down") in kinds and ("reconnect", None) in kinds
    assert ("second_connection", None) not in kinds
    db.expire_all()
    # Offline since the silent worker's last sign of life, or since the restarted one's new incarnation started.
    assert db.get(ExamSession, sid).disconnected_total_s == pytest.approx(60 if worker == "silent" else 20, abs=5)


def test_a_connection_this_worker_no_longer_has_is_released_on_join(client, make_exam, learner, auth, socket_for, db):
    """The attempt says a connection of this worker holds it, but it is gone (its disconnect was never
    recorded): the next join is a reconnect."""
    sid = start(client, make_exam(second_connection="refuse"), learner, auth)
    assert emit(socket_for(learner), "join", {"session_id": sid})["ok"]
    db.get(ExamSession, sid).active_sid = "a-connection-that-is-gone"
    db.commit()
    assert emit(socket_for(learner), "join", {"session_id": sid})["ok"]
    assert ("disconnect", "connection_lost") in _kinds(db, sid)


def test_connections_of_a_lost_worker_are_released_for_examiners(started, app, db):
    """The heartbeat job's sweep: attempts held by a worker that is gone are shown offline from its last sign
    of life, once; a holder at an address that never reported is left alone; day-old worker rows go."""
    _, sid, _, _ = started
    now = utcnow()
    db.add_all([Worker(id="live-host:5002", incarnation="live", started_at=now - timedelta(seconds=600),
                       last_alive_at=now),
                Worker(id="gone-host:5001", incarnation="dead", started_at=now - timedelta(seconds=300),
                       last_alive_at=now - timedelta(seconds=45)),
                Worker(id="old-host:5002", incarnation="x", started_at=now - timedelta(days=3),
                       last_alive_at=now - timedelta(days=2))])
    db.get(ExamSession, sid).active_worker = "gone-host:5001#dead"
    db.commit()
    database = app.extensions["exam_engine.db"]
    for expected in ([sid], []):
        s = database.session()
        assert services.release_lost_connections(s, now=now, stale_s=30) == expected
        s.commit()
        s.close()
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    assert attempt.is_connected is False and attempt.disconnected_at == now - timedelta(seconds=45)
    assert ("disconnect", "worker_down") in _kinds(db, sid)
    assert verify_session(db, sid).ok
    assert db.get(Worker, "old-host:5002") is None and db.get(Worker, "gone-host:5001") is not None
    attempt.is_connected, attempt.active_worker = True, "unknown-host:1#x"
    db.commit()
    s = database.session()
    assert services.release_lost_connections(s, now=now, stale_s=30) == []
    s.close()


def test_after_the_database_was_away_no_connection_counts_as_lost(started, app, db):
    """Every worker's last sign of life is old (the database, not the workers, was away): staleness is taken
    against the freshest worker, so no live connection is released."""
    _, sid, _, _ = started
    now = utcnow()
    db.add_all([Worker(id="gone-host:5001", incarnation="dead", started_at=now - timedelta(seconds=600),
                       last_alive_at=now - timedelta(seconds=60)),
                Worker(id="live-host:5002", incarnation="live", started_at=now - timedelta(seconds=600),
                       last_alive_at=now - timedelta(seconds=59))])
    db.get(ExamSession, sid).active_worker = "gone-host:5001#dead"
    db.commit()
    s = app.extensions["exam_engine.db"].session()
    assert services.release_lost_connections(s, now=now, stale_s=30) == []
    s.close()


def test_worker_rows_follow_restarts(app, db):
    database = app.extensions["exam_engine.db"]
    t0 = utcnow()
    for incarnation, at in (("one", t0), ("one", t0 + timedelta(seconds=2)), ("two", t0 + timedelta(seconds=9))):
        s = database.session()
        services.worker_alive(s, address="host:5000", incarnation=incarnation, now=at)
        s.commit()
        s.close()
    db.rollback()
    row = db.get(Worker, "host:5000")
    assert (row.incarnation, row.started_at, row.last_alive_at) == ("two", t0 + timedelta(seconds=9),
                                                                    t0 + timedelta(seconds=9))


def test_disconnect_and_reconnect_are_recorded(started, socket_for, learner, db):
    """A learner's own time offline is recorded and shown to examiners, but not credited: the deadline stays."""
    from exam_engine.monitor.services import rows_for
    _, sid, sc, _ = started
    deadline = db.get(ExamSession, sid).deadline_at
    sc.disconnect(namespace="/exam")
    db.rollback()  # end the read snapshot
    attempt = db.get(ExamSession, sid)
    assert attempt.is_connected is False
    attempt.disconnected_at -= timedelta(seconds=30)  # offline for 30 s
    db.commit()
    again = socket_for(learner)
    assert emit(again, "join", {"session_id": sid})["ok"]
    db.rollback()  # end the read snapshot
    db.expire_all()
    kinds = [e.kind for e in db.query(SessionEvent).filter_by(session_id=sid)]
    assert "disconnect" in kinds and "reconnect" in kinds
    attempt = db.get(ExamSession, sid)
    assert attempt.deadline_at == deadline and 30 <= attempt.disconnected_total_s < 40
    row = rows_for(db, [attempt], utcnow())[0]
    assert row["is_connected"] is True and 30 <= row["disconnected_total_s"] < 40


def test_hash_chain_verifies_and_names_the_tampered_entry(started, db, runner_app=None):
    _, sid, sc, state = started
    for seq in range(1, 4):
        emit(sc, "answer", {"session_id": sid, "item_id": state["items"][0]["item_id"], "response": None, "seq": seq})
    report = verify_session(db, sid)
    assert report.ok and report.length >= 4 and report.head == db.get(ExamSession, sid).log_head
    event = db.query(SessionEvent).filter_by(session_id=sid, idx=3).one()
    event.data = {**event.data, "response": ["forged"]}
    db.commit()
    report = verify_session(db, sid)
    assert not report.ok and report.first_bad_idx == 3


def test_audit_verify_cli(started, app, db):
    from click.testing import CliRunner
    from exam_engine.cli import audit_verify
    _, sid, _, _ = started
    runner = CliRunner()
    ok = runner.invoke(audit_verify, [sid], obj=app)
    assert ok.exit_code == 0, ok.output
    missing = runner.invoke(audit_verify, ["no-such-attempt"], obj=app)
    assert missing.exit_code == 1 and "no attempt no-such-attempt" in missing.output
    event = db.query(SessionEvent).filter_by(session_id=sid, idx=1).one()
    event.kind = "tampered"
    db.commit()
    bad = runner.invoke(audit_verify, [sid], obj=app)
    assert bad.exit_code == 1 and "entry 1" in bad.output


def test_periodic_time_push_only_for_attempts_connected_to_this_worker(app, started, client, make_exam, make_user, auth):
    from exam_engine.sessions.sweeper import push_times
    _, sid, sc, _ = started
    start(client, make_exam(), make_user("learner"), auth)  # started, never joined: no connection here
    sc.get_received("/exam")
    assert push_times(app, local_only=True) == 1
    pushed = [e for e in sc.get_received("/exam") if e["name"] == "time"]
    assert pushed and pushed[0]["args"][0]["session_id"] == sid
    assert push_times(app) == 2  # after an outage credit every open attempt is pushed


def test_spread_time_push_reads_each_slice_when_it_sends_it(app, started, client, make_exam, make_user, auth,
                                                            socket_for, monkeypatch):
    """The periodic push goes out in slices over part of its interval; an attempt paused while an earlier slice
    was sent is pushed as paused, not with the time read before."""
    from exam_engine.db import get_db
    from exam_engine.sessions import sweeper
    exam_id, sid, sc, _ = started
    other = make_user("learner")
    sid2 = start(client, exam_id, other, auth)
    sc2 = socket_for(other)
    assert sc2.emit("join", {"session_id": sid2}, namespace="/exam", callback=True)["ok"]
    first, second = sorted([(sid, sc), (sid2, sc2)])  # the push goes in the order the database returns
    for s in (sc, sc2):
        s.get_received("/exam")
    pauses = []

    def sleep(seconds):  # noqa: ANN001 - between slices: an examiner pauses the attempt of the next slice
        if seconds:
            pauses.append(seconds)
            with app.app_context():
                db = get_db().session()
                db.get(ExamSession, second[0]).status = Status.PAUSED.value
                db.get(ExamSession, second[0]).paused_at = utcnow()
                db.commit()
                db.close()

    monkeypatch.setattr(sweeper, "PUSH_SLICE", 1)
    monkeypatch.setattr(sweeper.socketio, "sleep", sleep)
    monkeypatch.setattr(sweeper, "_time_rows", _ordered(sweeper._time_rows, first[0]))
    assert sweeper.push_times(app, local_only=True, spread_s=3.0) == 2
    assert pauses == [1.5]  # two slices over 3 s
    got = {s_id: [e["args"][0] for e in s.get_received("/exam") if e["name"] == "time"] for s_id, s in (first, second)}
    assert got[first[0]][0]["status"] == "in_progress"
    assert got[second[0]][0]["status"] == "paused"


def _ordered(read, first_id):  # noqa: ANN001
    """The attempts' rows with `first_id` first (the slices follow this order)."""
    def wrapped(*args):  # noqa: ANN002
        return sorted(read(*args), key=lambda row: row.id != first_id)
    return wrapped
