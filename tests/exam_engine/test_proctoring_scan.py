"""The periodic scan over many attempts at once (exam_engine/proctoring/scan.py): the same flags as one by one."""

from __future__ import annotations

from sqlalchemy import select

from exam_engine.db import get_db
from exam_engine.proctoring import notify, scan
from exam_engine.sessions import eventlog
from exam_engine.sessions.models import SessionEvent

from .test_delivery import emit
from .test_proctoring import proctored, timed_exam  # noqa: F401  (fixtures)


def _learners_answer_fast(proctored, make_user, exam_id, n):  # noqa: ANN001, F811
    sessions = []
    for k in range(n):
        p = proctored(exam_id=exam_id, learner_user=make_user("learner"))
        for seq, it in enumerate(p["state"]["items"][:3 + k % 2], start=1):
            opt = it["interaction"]["options"][0]["id"]
            assert emit(p["sc"], "answer", {"session_id": p["sid"], "item_id": it["item_id"], "response": [opt],
                                            "seq": seq})["ok"]
        sessions.append(p)
    return sessions


def _flags(client, auth, p):  # noqa: ANN001
    got = client.get(f"/api/v1/sessions/{p['sid']}/proctoring/flags", headers=auth(p["examiner"])).get_json()["flags"]
    return {f["rule"]: f["detail"]["count"] for f in got}


def test_scan_in_chunks_flags_like_one_by_one(proctored, timed_exam, make_user, app, client, auth, monkeypatch):  # noqa: F811
    """Five attempts scanned in chunks of two get exactly the flags the one-attempt-per-transaction path gives."""
    exam_id = timed_exam(max_fast_answers=1)
    real_chunk = scan.scan_chunk

    def fail(*_a, **_k):  # noqa: ANN002, ANN003
        raise RuntimeError("lost the connection mid-chunk")

    results = []
    for chunk_fn in (fail, real_chunk):  # a failing chunk falls back to one by one: the reference
        sessions = _learners_answer_fast(proctored, make_user, exam_id, 5)
        monkeypatch.setattr(scan, "CHUNK", 2)  # three chunks for five attempts
        monkeypatch.setattr(scan, "scan_chunk", chunk_fn)
        assert notify.scan_once(app) == 5
        assert notify.scan_once(app) == 0  # nothing new
        kinds = []
        for p in sessions:
            assert any(e["name"] == "flag" for e in p["mon"].get_received("/monitor"))
            with app.app_context():
                db = get_db().session()
                assert eventlog.verify_session(db, p["sid"]).ok
                kinds.append([(e.kind, e.data.get("kind") or e.data.get("rule")) for e in db.scalars(
                    select(SessionEvent).where(SessionEvent.session_id == p["sid"]).order_by(SessionEvent.idx))])
                db.close()
        results.append(([_flags(client, auth, p) for p in sessions], kinds))
    assert results[0] == results[1]  # the same flags and the same log entries, in the same order
    assert all(flags.get("fast_answers") for flags in results[1][0])
    assert ("flag_raised", "fast_answers") in results[1][1][0]


def _state_row(app, sid):  # noqa: ANN001
    from exam_engine.proctoring.models import ProctoringState
    with app.app_context():
        db = get_db().session()
        try:
            st = db.get(ProctoringState, sid)
            return {"counts": st.counts, "log_idx": st.log_idx, "answered": st.answered_items, "ua": st.user_agent,
                    "idle": st.is_idle}, st.last_activity_at
        finally:
            db.close()


def test_first_join_state_is_the_one_the_general_path_makes(app, client, make_exam, make_user, auth, socket_for):
    """A first join inserts the proctoring state in one statement; a scan that made the state in between
    (the general path then updates it) gives the same state, and both logs verify."""
    exam_id = make_exam(proctoring={"level": "standard", "settings": {}})
    got = []
    for scan_first in (False, True):
        user = make_user("learner")
        sid = client.post(f"/api/v1/exams/{exam_id}/sessions", headers=auth(user)).get_json()["id"]
        assert notify.scan_once(app) == 0  # started, not joined: nothing for the periodic scan
        if scan_first:  # a state made before the join (as when an examiner acted on the attempt first)
            from exam_engine.db import utcnow
            from exam_engine.proctoring import services
            with app.app_context():
                db = get_db().session()
                services.scan_attempt(db, sid, now=utcnow())
                db.commit()
                db.close()
            assert _state_row(app, sid)[0]["log_idx"] == 1
        sc = socket_for(user)
        assert emit(sc, "join", {"session_id": sid})["ok"]
        state, active_at = _state_row(app, sid)
        with app.app_context():
            db = get_db().session()
            joined_at = db.scalar(select(SessionEvent.at).where(SessionEvent.session_id == sid, SessionEvent.kind == "connect"))
            assert eventlog.verify_session(db, sid).ok
            db.close()
        assert active_at == joined_at  # the connect is the last activity
        got.append(state)
    assert got[0] == got[1]
    assert got[0]["log_idx"] == 2 and got[0]["counts"] == {} and not got[0]["idle"]


def _answer(p, item, seq):  # noqa: ANN001
    opt = item["interaction"]["options"][0]["id"]
    ack = emit(p["sc"], "answer", {"session_id": p["sid"], "item_id": item["item_id"], "response": [opt], "seq": seq})
    assert ack["ok"], ack


def _log(app, sid):  # noqa: ANN001
    with app.app_context():
        db = get_db().session()
        try:
            assert eventlog.verify_session(db, sid).ok
            return [(e.kind, e.at) for e in db.scalars(select(SessionEvent).where(SessionEvent.session_id == sid)
                                                       .order_by(SessionEvent.idx))]
        finally:
            db.close()


def test_answer_batch_moves_the_state_as_the_scan_would(proctored, make_user, app, monkeypatch):
    """Plain answers: the batch leaves the rule state exactly where the scan would, and the scan finds nothing."""
    from exam_engine.sessions import answers

    got = []
    for batch_moves in (False, True):
        if not batch_moves:  # the reference: the batch leaves the state alone and the scan does the work
            monkeypatch.setattr(answers.proctoring, "state_moves", lambda conn, attempts: [])
        else:
            monkeypatch.undo()
        p = proctored(learner_user=make_user("learner"))
        items = p["state"]["items"]
        for seq, it in enumerate([items[0], items[1], items[0]], start=1):  # the third is not a first answer
            _answer(p, it, seq)
        assert notify.scan_once(app) == (0 if batch_moves else 1)
        state, active_at = _state_row(app, p["sid"])
        log = _log(app, p["sid"])
        assert [kind for kind, _ in log] == ["start", "connect", "answer", "answer", "answer"]  # nothing raised
        assert active_at == log[-1][1] and state["log_idx"] == len(log)
        got.append(state)
    assert got[0] == got[1]
    assert sorted(got[1]["answered"]) == sorted([items[0]["item_id"], items[1]["item_id"]])


def test_answer_batch_leaves_fast_answers_and_waiting_entries_to_the_scan(proctored, timed_exam, make_user, app):  # noqa: F811
    """A fast first answer, or an entry the scan has not seen yet, and the batch does not touch the state."""
    exam_id = timed_exam(max_fast_answers=0)
    p = proctored(exam_id=exam_id, learner_user=make_user("learner"))
    items = p["state"]["items"]
    _answer(p, items[0], 1)  # seconds after joining, for an item estimated at 300 s: fast
    state, _ = _state_row(app, p["sid"])
    assert state["log_idx"] == 2  # start, connect: the answer waits for the scan
    assert notify.scan_once(app) == 1
    log = _log(app, p["sid"])
    assert ("flag_raised" in [kind for kind, _ in log]) and _state_row(app, p["sid"])[0]["log_idx"] == len(log)

    # An entry the scan has not seen (a flag for review is not an answer): the next answer leaves it waiting too.
    assert emit(p["sc"], "flag", {"session_id": p["sid"], "item_id": items[1]["item_id"], "flagged": True,
                                  "seq": 2})["ok"]
    before = _state_row(app, p["sid"])[0]["log_idx"]
    _answer(p, items[0], 3)  # not a first answer: never fast
    assert _state_row(app, p["sid"])[0]["log_idx"] == before
    assert notify.scan_once(app) == 1
    assert _state_row(app, p["sid"])[0]["log_idx"] == len(_log(app, p["sid"]))


def test_a_batch_of_several_answers_is_timed_like_the_scan_times_them(proctored, timed_exam, make_user, app,
                                                                     monkeypatch):  # noqa: F811
    """Several answers of one attempt in one batch, on items estimated at 300 s: first answers 100 s apart are
    not fast and the batch moves the state as the scan would (a repeat included)."""
    from exam_engine.sessions import answers

    exam_id = timed_exam(max_fast_answers=5)
    got = []
    for batch_moves in (False, True):
        if not batch_moves:  # the reference: the scan does the work
            monkeypatch.setattr(answers.proctoring, "state_moves", lambda conn, attempts: [])
        else:
            monkeypatch.undo()
        p = proctored(exam_id=exam_id, learner_user=make_user("learner"))
        _write(app, p, [(0, 100), (1, 200), (0, 210)])
        assert notify.scan_once(app) == (0 if batch_moves else 1)
        state, active_at = _state_row(app, p["sid"])
        log = _log(app, p["sid"])
        assert [kind for kind, _ in log] == ["start", "connect", "answer", "answer", "answer"]  # none fast
        assert active_at == log[-1][1] and state["log_idx"] == 5
        got.append(state)
    assert got[0] == got[1] and got[1]["counts"] == {}


def _write(app, p, plan, seq0=1):  # noqa: ANN001 - plan: (item index, seconds after the first batch) per answer
    from datetime import timedelta

    from exam_engine.db import utcnow
    from exam_engine.sessions import answers

    items, t0 = p["state"]["items"], p.setdefault("t0", utcnow())
    batch = [answers.Answer(user_id=p["learner"].id, session_id=p["sid"], item_id=items[i]["item_id"],
                            response=[items[i]["interaction"]["options"][0]["id"]], seq=seq,
                            now=t0 + timedelta(seconds=dt)) for seq, (i, dt) in enumerate(plan, start=seq0)]
    answers.GroupCommit(app.extensions["exam_engine.db"])._write(batch)
    assert all(a.ack["ok"] for a in batch), [a.ack for a in batch]


def _signals(app, sid):  # noqa: ANN001
    from exam_engine.proctoring.models import ProctoringSignal
    with app.app_context():
        db = get_db().session()
        try:
            return [(s.kind, s.source, s.detail) for s in db.scalars(
                select(ProctoringSignal).where(ProctoringSignal.session_id == sid).order_by(ProctoringSignal.id))]
        finally:
            db.close()


def _entries(app, sid):  # noqa: ANN001 - every entry's kind and what it names (signal kind, flag rule, item)
    with app.app_context():
        db = get_db().session()
        try:
            assert eventlog.verify_session(db, sid).ok
            return [(e.kind, e.data.get("kind") or e.data.get("rule") or e.data.get("item_id"))
                    for e in db.scalars(select(SessionEvent).where(SessionEvent.session_id == sid)
                                        .order_by(SessionEvent.idx))]
        finally:
            db.close()


def test_a_batch_records_fast_answers_that_fire_no_rule(proctored, timed_exam, make_user, app, monkeypatch):  # noqa: F811
    """Fast first answers (items estimated at 300 s, answered 1-5 s apart) are recorded by the answer batch
    itself while they fire no rule: the same signals, log entries, counts and state as the scan gives, and the
    scan finds nothing. The answer that crosses `max_fast_answers` (a flag) is left whole to the scan, which
    carries on from the counts the batches left."""
    from exam_engine.sessions import answers

    exam_id = timed_exam(max_fast_answers=2)
    plan = [[(0, 100), (1, 105), (0, 107)],  # the first answer 100 s after joining (not fast), then one fast
            [(2, 108)],                       # the second fast answer: still no rule
            [(3, 109)]]                       # the third crosses max_fast_answers: a flag, the scan's work
    got = []
    for batch_moves in (False, True):
        if not batch_moves:  # the reference: the scan records every fast answer
            monkeypatch.setattr(answers.proctoring, "state_moves", lambda conn, attempts: [])
        else:
            monkeypatch.undo()
        p = proctored(exam_id=exam_id, learner_user=make_user("learner"))
        scanned, seq = [], 1
        for k, batch in enumerate(plan):
            _write(app, p, batch, seq0=seq)
            seq += len(batch)
            if k < 2:
                scanned.append(notify.scan_once(app))
                state = _state_row(app, p["sid"])[0]
                assert state["counts"] == {"fast_answer": k + 1} and state["log_idx"] == len(_entries(app, p["sid"]))
        assert scanned == ([0, 0] if batch_moves else [1, 1])
        if batch_moves:  # the answer that fires a rule waits for the scan
            assert _state_row(app, p["sid"])[0]["log_idx"] == len(_entries(app, p["sid"])) - 1
        assert notify.scan_once(app) == 1
        assert notify.scan_once(app) == 0
        state, _ = _state_row(app, p["sid"])
        assert state["counts"] == {"fast_answer": 3} and state["log_idx"] == len(_entries(app, p["sid"]))
        got.append((state, _entries(app, p["sid"]), _signals(app, p["sid"])))
    assert got[0] == got[1]
    state, entries, signals = got[1]
    assert [kind for kind, _ in entries] == ["start", "connect", "answer", "answer", "answer", "signal",
                                              "answer", "signal", "answer", "signal", "flag_raised"]
    # dwell: since the last activity (the repeated answer at 107 s counts): 5, 1 and 1 s against 300 s
    assert [(s[0], s[1], s[2]["seconds"]) for s in signals] == [("fast_answer", "server", 5.0),
                                                                 ("fast_answer", "server", 1.0),
                                                                 ("fast_answer", "server", 1.0)]
