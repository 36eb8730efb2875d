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
