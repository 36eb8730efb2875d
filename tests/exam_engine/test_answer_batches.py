"""Answers by group commit (exam_engine/sessions/answers.py): a batch keeps every rule of a single answer."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from exam_engine.db import utcnow
from exam_engine.sessions import answers, eventlog, services
from exam_engine.sessions.models import AppliedSeq, ExamSession, SessionResponse

from .test_delivery import by_title, emit


def _answer(user_id, session_id, item_id, response, seq, now=None):  # noqa: ANN001
    return answers.Answer(user_id=user_id, session_id=session_id, item_id=item_id, response=response, seq=seq,
                          now=now or utcnow())


def _stored(db, session_id):  # noqa: ANN001
    db.rollback()
    attempt = db.get(ExamSession, session_id)
    responses = {r.item_id: (r.response, r.seq) for r in db.scalars(select(SessionResponse).where(
        SessionResponse.session_id == session_id))}
    seqs = {r.seq: r.ack for r in db.scalars(select(AppliedSeq).where(AppliedSeq.session_id == session_id))}
    return attempt, responses, seqs


def test_one_batch_applies_every_rule_in_order(app, started, learner, make_user, db):
    _, session_id, _, state = started
    items = by_title(state)
    choice, multi = items["choice"]["item_id"], items["multi"]["item_id"]
    other = make_user("learner")
    batch = [
        _answer(learner.id, session_id, choice, ["lyon"], 5),
        _answer(learner.id, session_id, multi, ["two"], 2),
        _answer(learner.id, session_id, choice, ["nice"], 3),       # older than seq 5 on the same item: stale
        _answer(learner.id, session_id, choice, ["lyon"], 5),       # the same seq again: the first ack, duplicate
        _answer(learner.id, session_id, 999_999, ["a"], 6),          # not on the form
        _answer(learner.id, session_id, choice, "paris", 7),         # wrong shape
        _answer(other.id, session_id, choice, ["paris"], 8),         # someone else's attempt
        _answer(learner.id, session_id, multi, ["two", "three"], 9),  # a newer answer to an item of this batch
        _answer(learner.id, session_id, multi, None, 10),            # cleared
    ]
    gc = answers.GroupCommit(app.extensions["exam_engine.db"])
    gc._write(batch)
    acks = [a.ack for a in batch]
    assert acks[0] == {"ok": True, "seq": 5}
    assert acks[1] == {"ok": True, "seq": 2}
    assert acks[2] == {"ok": True, "seq": 3, "stale": True}
    assert acks[3] == {"ok": True, "seq": 5, "duplicate": True}
    assert acks[4]["error"]["code"] == "unknown_item"
    assert acks[5]["error"]["code"] == "invalid_response_shape" and acks[5]["error"]["details"]["reason"]
    assert acks[6]["error"]["code"] == "session_not_found"
    assert acks[7] == {"ok": True, "seq": 9} and acks[8] == {"ok": True, "seq": 10}
    assert all(a.done.is_set() for a in batch)

    attempt, responses, seqs = _stored(db, session_id)
    assert responses[choice] == (["lyon"], 5)
    assert responses[multi] == (None, 10)
    assert attempt.last_seq == 10
    assert sorted(seqs) == [2, 3, 5, 9, 10] and seqs[3] == {"ok": True, "seq": 3, "stale": True}
    report = eventlog.verify_session(db, session_id)
    assert report.ok and report.length == attempt.log_length and report.head == attempt.log_head
    # A replay in a later batch gets the stored ack; a later join shows what the batch wrote.
    again = [_answer(learner.id, session_id, choice, ["lyon"], 5), _answer(learner.id, session_id, choice, ["x"], 3)]
    gc._write(again)
    assert again[0].ack == {"ok": True, "seq": 5, "duplicate": True}
    assert again[1].ack == {"ok": True, "seq": 3, "stale": True, "duplicate": True}


def test_batch_and_single_answers_store_the_same(app, client, make_exam, make_user, auth, socket_for, db):
    """The same answers, one attempt through a batch and one through record_answer: same acks, rows and log."""
    exam_id = make_exam()
    sessions, users = [], []
    for _ in range(2):
        user = make_user("learner")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        state = emit(socket_for(user), "join", {"session_id": sid})["session"]
        sessions.append(sid)
        users.append(user)
    items = by_title(state)
    plan = [("choice", ["paris"], 1), ("numeric", 3.141, 2), ("choice", ["lyon"], 4), ("choice", ["nice"], 3),
            ("order", ["mercury", "venus", "earth"], 5), ("numeric", 3.141, 2), ("match", "nonsense", 6)]
    now = utcnow()
    batch = [_answer(users[0].id, sessions[0], items[k]["item_id"], r, s, now + timedelta(milliseconds=i))
             for i, (k, r, s) in enumerate(plan)]
    answers.GroupCommit(app.extensions["exam_engine.db"])._write(batch)
    single = []
    database = app.extensions["exam_engine.db"]
    for i, (k, r, s) in enumerate(plan):
        session = database.session()
        try:
            user = session.get(type(users[1]), users[1].id)
            single.append(services.record_answer(session, user, sessions[1], item_id=items[k]["item_id"], response=r,
                                                 seq=s, now=now + timedelta(milliseconds=i)))
            session.commit()
        except Exception as exc:  # noqa: BLE001
            session.rollback()
            from exam_engine.errors import ack_error
            single.append(ack_error(exc))
        finally:
            session.close()
    assert [a.ack for a in batch] == single
    a0, r0, q0 = _stored(db, sessions[0])
    a1, r1, q1 = _stored(db, sessions[1])
    assert r0 == r1 and q0 == q1 and (a0.last_seq, a0.log_length) == (a1.last_seq, a1.log_length)
    from exam_engine.sessions.models import SessionEvent
    logs = [[(e.kind, e.data, e.at) for e in db.scalars(select(SessionEvent).where(SessionEvent.session_id == sid)
                                                         .order_by(SessionEvent.idx)) if e.kind == "answer"]
            for sid in sessions]
    assert logs[0] == logs[1] and len(logs[0]) == 4
    assert eventlog.verify_session(db, sessions[0]).ok


def test_a_failed_batch_is_written_answer_by_answer(app, started, learner, db, monkeypatch):
    _, session_id, _, state = started
    items = by_title(state)

    def broken(conn, batch):  # noqa: ANN001
        raise RuntimeError("the database went away mid-batch")

    monkeypatch.setattr(answers, "write_batch", broken)
    batch = [_answer(learner.id, session_id, items["choice"]["item_id"], ["paris"], 1),
             _answer(learner.id, session_id, items["numeric"]["item_id"], 3.0, 2),
             _answer(learner.id, session_id, 424242, ["a"], 3)]
    answers.GroupCommit(app.extensions["exam_engine.db"])._write(batch)
    assert [a.ack for a in batch[:2]] == [{"ok": True, "seq": 1}, {"ok": True, "seq": 2}]
    assert batch[2].ack["error"]["code"] == "unknown_item"
    attempt, responses, _ = _stored(db, session_id)
    assert attempt.last_seq == 2 and len(responses) == 2 and eventlog.verify_session(db, session_id).ok


def test_concurrent_answers_share_batches_and_all_commit(app, started, learner, db, monkeypatch):
    """Answers that arrive while a batch is being written go out together in the next one."""
    _, session_id, _, state = started
    item_ids = [i["item_id"] for i in state["items"]]
    gc = answers.GroupCommit(app.extensions["exam_engine.db"])
    sizes, release = [], threading.Event()
    real = answers.write_batch

    def recording(conn, batch):  # noqa: ANN001
        sizes.append(len(batch))
        if len(sizes) == 1:
            release.wait(30)  # hold the first batch until every other answer is queued
        return real(conn, batch)

    monkeypatch.setattr(answers, "write_batch", recording)
    n = 12
    batch = [_answer(learner.id, session_id, item_ids[k % len(item_ids)], None, k + 1) for k in range(n)]
    threads = [threading.Thread(target=gc.submit, args=(batch[0],))]
    threads[0].start()
    for _ in range(3000):
        if sizes:
            break
        threading.Event().wait(0.01)
    threads += [threading.Thread(target=gc.submit, args=(a,)) for a in batch[1:]]
    for t in threads[1:]:
        t.start()
    for _ in range(3000):
        with gc._lock:
            if len(gc._pending) == n - 1:
                break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(60)
    assert sizes == [1, n - 1]
    assert all(a.ack == {"ok": True, "seq": a.seq} for a in batch)
    attempt, _, seqs = _stored(db, session_id)
    assert sorted(seqs) == list(range(1, n + 1)) and attempt.last_seq == n
    assert eventlog.verify_session(db, session_id).ok
    assert not gc._busy and not gc._pending


def test_refusals_in_a_batch_write_nothing(app, started, learner, db):
    _, session_id, _, state = started
    item_id = by_title(state)["choice"]["item_id"]
    db.rollback()
    attempt = db.get(ExamSession, session_id)
    attempt.deadline_at = utcnow() - timedelta(seconds=attempt.grace_s + 1)
    db.commit()
    batch = [_answer(learner.id, session_id, item_id, ["paris"], 1)]
    answers.GroupCommit(app.extensions["exam_engine.db"])._write(batch)
    assert batch[0].ack["error"]["code"] == "deadline_passed"
    attempt, responses, seqs = _stored(db, session_id)
    assert responses == {} and seqs == {} and attempt.last_seq == 0


def test_a_disabled_account_is_refused_and_dropped(started, learner, db):
    _, session_id, sc, state = started
    from exam_engine.auth.models import User
    db.rollback()
    db.get(User, learner.id).is_active = False
    db.commit()
    ack = emit(sc, "answer", {"session_id": session_id, "item_id": by_title(state)["choice"]["item_id"],
                              "response": ["paris"], "seq": 1})
    assert ack["error"]["code"] == "unauthorized"
    assert not sc.is_connected("/exam")


@pytest.mark.parametrize("payload, code", [
    ({"session_id": "", "item_id": 1, "response": 1, "seq": 1}, "malformed_payload"),
    ({"session_id": "a" * 65, "item_id": 1, "response": 1, "seq": 1}, "malformed_payload"),
    ({"session_id": "s", "item_id": True, "response": 1, "seq": 1}, "malformed_payload"),
    ({"session_id": "s", "item_id": 1, "response": 1, "seq": 2**31}, "malformed_payload"),
    ({"session_id": "s", "item_id": 1, "response": "a\x00b", "seq": 1}, "malformed_payload"),
    ({"session_id": "s", "item_id": 1.0, "response": 1, "seq": 1}, "malformed_payload"),
    ({"session_id": "s", "item_id": 1, "seq": 1}, "malformed_payload"),
])
def test_the_fast_payload_check_refuses_what_the_schema_refuses(started, payload, code):
    _, _, sc, _ = started
    assert emit(sc, "answer", payload)["error"]["code"] == code


@pytest.mark.postgres_only  # row locks are PostgreSQL's (SQLite locks the whole database)
def test_an_attempt_locked_elsewhere_waits_alone(app, client, make_exam, make_user, auth, socket_for, db):
    """SKIP LOCKED: a lock held on one attempt (a scan, an examiner) delays its answers only, not the batch."""
    exam_id = make_exam()
    users, sessions, items = [], [], None
    for _ in range(2):
        user = make_user("learner")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        items = by_title(emit(socket_for(user), "join", {"session_id": sid})["session"])
        users.append(user)
        sessions.append(sid)
    database = app.extensions["exam_engine.db"]
    gc = answers.GroupCommit(database)
    locked, free = (_answer(users[k].id, sessions[k], items["choice"]["item_id"], ["paris"], 1) for k in range(2))
    holder = database.engine.connect()
    tx = holder.begin()
    holder.execute(select(ExamSession.id).where(ExamSession.id == sessions[0]).with_for_update())
    try:
        with gc._lock:
            gc._pending.extend([locked, free])
        assert gc._write([gc._pending.popleft(), gc._pending.popleft()]) == 1
        assert free.ack == {"ok": True, "seq": 1} and free.done.is_set()
        assert locked.ack is None and not locked.done.is_set() and list(gc._pending) == [locked]
    finally:
        tx.rollback()
        holder.close()
    assert gc._write([gc._pending.popleft()]) == 1
    assert locked.ack == {"ok": True, "seq": 1} and locked.done.is_set() and locked.retries == 1


def test_many_concurrent_answers(app, client, make_exam, make_user, auth, socket_for, db):
    """Forty handlers at once on two attempts, small batches: every answer acked once, logs intact, queue empty."""
    exam_id = make_exam()
    plan = []
    for _ in range(2):
        user = make_user("learner")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        items = [i["item_id"] for i in emit(socket_for(user), "join", {"session_id": sid})["session"]["items"]]
        plan += [_answer(user.id, sid, items[k % len(items)], None, k + 1) for k in range(20)]
    gc = answers.GroupCommit(app.extensions["exam_engine.db"], max_batch=7)
    threads = [threading.Thread(target=gc.submit, args=(a,)) for a in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # Arrival order is up to the scheduler: an older seq may land after a newer one on the same item (stale).
    assert all(a.ack["ok"] and a.ack["seq"] == a.seq and "duplicate" not in a.ack for a in plan), [a.ack for a in plan]
    assert not gc._busy and not gc._pending
    for sid in {a.session_id for a in plan}:
        attempt, _, seqs = _stored(db, sid)
        assert sorted(seqs) == list(range(1, 21)) and attempt.last_seq == 20
        assert eventlog.verify_session(db, sid).ok


@pytest.mark.postgres_only
def test_a_batch_is_three_statements_on_postgresql(app, started, learner, db):
    """The locking read, the current responses, then every write (responses new and changed, log entries,
    applied seqs, the attempt's head, the proctoring state) in one statement; the rows are the same as ever."""
    from sqlalchemy import event

    _, session_id, _, state = started
    items = by_title(state)
    choice, multi = items["choice"]["item_id"], items["multi"]["item_id"]
    engine = app.extensions["exam_engine.db"].engine
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):  # noqa: ANN001, ANN002
        # Facts read once per process (forms, items, versions) and idle-connection pings are not the batch's.
        if statement.strip() != "SELECT 1" and "item_versions" not in statement and "exam_versions" not in statement \
                and "SELECT exam_sessions.form" not in statement:
            seen.append(statement)

    gc = answers.GroupCommit(app.extensions["exam_engine.db"])
    event.listen(engine, "before_cursor_execute", listener)
    try:
        gc._write([_answer(learner.id, session_id, choice, ["lyon"], 1)])  # new response
        first = list(seen)
        seen.clear()
        gc._write([_answer(learner.id, session_id, choice, ["nice"], 2),  # changed response
                   _answer(learner.id, session_id, multi, ["two"], 3)])   # new response
        second = list(seen)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(first) == 3 and len(second) == 3, (first, second)
    assert "FOR UPDATE" in second[0] and second[2].lstrip().startswith("WITH")
    attempt, responses, seqs = _stored(db, session_id)
    assert responses == {choice: (["nice"], 2), multi: (["two"], 3)} and sorted(seqs) == [1, 2, 3]
    report = eventlog.verify_session(db, session_id)
    assert report.ok and report.length == attempt.log_length == 5  # start, connect, three answers


def test_start_join_and_answers_compile_no_statement_per_call(app, client, make_exam, make_user, auth, socket_for):
    """The hot path's statements all have a cache key, so SQLAlchemy compiles each once per process: a statement
    without one (a multi-row VALUES, for instance) is compiled again on every call, which cost a fifth of a join."""
    from sqlalchemy import event

    exam_id = make_exam()
    engine = app.extensions["exam_engine.db"].engine
    uncached: list[str] = []

    def listener(_conn, _cursor, statement, _params, context, _many):  # noqa: ANN001
        if context is not None and getattr(context, "compiled", None) is not None \
                and "no key" in context._get_cache_stats():
            uncached.append(statement)

    event.listen(engine, "after_cursor_execute", listener)
    try:
        for _ in range(2):  # a first and a returning learner of the same exam
            user = make_user("learner")
            sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
            sc = socket_for(user)
            state = emit(sc, "join", {"session_id": sid})["session"]
            item = by_title(state)["choice"]
            assert emit(sc, "answer", {"session_id": sid, "item_id": item["item_id"], "response": ["lyon"],
                                       "seq": 1})["ok"]
    finally:
        event.remove(engine, "after_cursor_execute", listener)
    assert uncached == []
