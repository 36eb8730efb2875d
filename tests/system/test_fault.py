"""kill -9 the server while learners are answering, start it again: nothing acknowledged is lost, no time is lost.

One worker on PostgreSQL with the default heartbeat (1 s) and outage threshold
(3 s); the server stays down longer than that, so the restart credits the gap
to the attempts in progress. Expected remaining time after the restart: the
remaining time read just before the kill, minus the time the server was up
for the learner since (before the kill and after the restart): the downtime
is credited.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from ._server import DEMO_PASSWORD, Api, Learner, answer_for, exam_by_title
from .conftest import seed_demo

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N_LEARNERS = 4
DOWNTIME_S = 8.0


def _answering(learner: Learner, sid: str, items: list[dict], acked: dict, errors: list, stop: threading.Event) -> None:
    """Answer round-robin until stopped or the server dies; record every acknowledged (seq -> item, response)."""
    seq = 0
    try:
        while not stop.is_set():
            seq += 1
            item = items[seq % len(items)]
            response = answer_for(item, seq)
            try:
                ack = learner.call("answer", {"session_id": sid, "item_id": item["item_id"], "response": response,
                                              "seq": seq}, timeout=3)
            except Exception:  # noqa: BLE001 - the server was killed: unacked, so the client would resend it
                return
            if ack.get("ok"):
                acked[seq] = (item["item_id"], response)
            else:
                errors.append(ack)
            time.sleep(0.02)
    except BaseException as exc:  # noqa: BLE001 - never let a thread die silently
        errors.append(repr(exc))


def _remaining(server_url: str, api: Api, sid: str) -> tuple[float, float]:
    """(monotonic time of the reading, remaining_s) from GET /sessions/{id}."""
    t0 = time.monotonic()
    resp = requests.get(f"{server_url}/api/v1/sessions/{sid}", headers=api.headers, timeout=10)
    t1 = time.monotonic()
    assert resp.status_code == 200, resp.text
    return (t0 + t1) / 2, resp.json()["remaining_s"]


def test_kill_9_loses_no_acknowledged_answer_and_no_time(pg_url, start_server, tmp_path):  # noqa: ANN001
    from exam_engine.db import make_engine
    from exam_engine.sessions.models import AppliedSeq, ExamSession, SessionEvent, SessionResponse

    seed_demo(pg_url, tmp_path)
    server = start_server(pg_url, name="a")  # default heartbeat and outage threshold

    admin = Api(server.url, "admin@example.org", DEMO_PASSWORD)
    instructor = Api(server.url, "instructor@example.org", DEMO_PASSWORD)
    quick = exam_by_title(instructor, "Web security: quick check")
    # A short exam whose deadline falls inside the outage: the credit must come before the sweeper.
    definition = dict(instructor.call("GET", f"/exams/{quick['id']}")["definition"])
    definition.update({"title": "Short during outage", "time_limit_s": 10, "grace_s": 1})
    short_id = instructor.call("POST", "/exams", json={"definition": definition}, expect=201)["id"]
    instructor.call("POST", f"/exams/{short_id}/publish")

    learners: list[dict] = []
    for i in range(N_LEARNERS):
        email = f"fault-{i}@example.org"
        admin.call("POST", "/users", json={"email": email, "password": DEMO_PASSWORD, "role": "learner"}, expect=201)
        api = Api(server.url, email)
        exam_id = short_id if i == N_LEARNERS - 1 else quick["id"]
        sid = api.call("POST", f"/exams/{exam_id}/sessions", expect=201)["id"]
        client = Learner(server.url, api.token)
        state = client.call("join", {"session_id": sid})["session"]
        learners.append({"api": api, "sid": sid, "client": client, "items": state["items"], "acked": {}, "errors": []})

    stop = threading.Event()
    threads = [threading.Thread(target=_answering, args=(lr["client"], lr["sid"], lr["items"], lr["acked"], lr["errors"], stop),
                                daemon=True) for lr in learners]
    try:
        for t in threads:
            t.start()
        time.sleep(2.0)
        for lr in learners:
            lr["before"] = _remaining(server.url, lr["api"], lr["sid"])
        t_kill = time.monotonic()
        server.kill(signal.SIGKILL)  # the whole process group, mid-answer
        for t in threads:
            t.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
        time.sleep(max(0.0, DOWNTIME_S - (time.monotonic() - t_kill)))
        server.start()
        t_up = time.monotonic()
        down_s = t_up - t_kill
        time.sleep(1.0)  # the restarted worker's first heartbeat credits the outage and pushes `time`

        for lr in learners:
            assert lr["acked"], "every learner had answers acknowledged before the kill"
            assert all(isinstance(e, dict) for e in lr["errors"]), lr["errors"]
            t_after, after = _remaining(server.url, lr["api"], lr["sid"])
            t_before, before = lr["before"]
            up_s = (t_kill - t_before) + (t_after - t_up)
            expected = before - up_s
            assert after == pytest.approx(expected, abs=2.0), (
                f"{lr['sid']}: remaining {after:.2f} s after the restart, expected {expected:.2f} "
                f"(before {before:.2f}, up {up_s:.2f}, down {t_up - t_kill:.2f})")
            lr["after"] = after

        engine = make_engine(pg_url)
        try:
            with Session(engine) as db:
                for lr in learners:
                    sid, acked = lr["sid"], lr["acked"]
                    attempt = db.get(ExamSession, sid)
                    assert attempt.status == "in_progress"
                    # The gap between the last heartbeat before the kill and the first after the restart.
                    assert attempt.outage_credit_s == pytest.approx(down_s, abs=1.5)
                    applied = set(db.scalars(select(AppliedSeq.seq).where(AppliedSeq.session_id == sid)))
                    missing = set(acked) - applied
                    assert not missing, f"acknowledged but not in the database: seqs {sorted(missing)}"
                    rows = {r.item_id: r for r in db.scalars(select(SessionResponse).where(SessionResponse.session_id == sid))}
                    last_acked: dict[int, tuple[int, object]] = {}
                    for seq, (item_id, response) in sorted(acked.items()):
                        last_acked[item_id] = (seq, response)
                    for item_id, (seq, response) in last_acked.items():
                        row = rows[item_id]
                        # A later answer may have been committed without its ack reaching us; never an older one.
                        assert row.seq >= seq
                        if row.seq == seq:
                            assert row.response == response
                    lr["stored"] = {str(k): r.response for k, r in rows.items() if r.response is not None}
        finally:
            engine.dispose()

        # Joining again gives back exactly what is stored, and the learner carries on.
        for lr in learners:
            lr["client"].close()
            client = Learner(server.url, lr["api"].token)
            lr["client"] = client
            state = client.call("join", {"session_id": lr["sid"]})["session"]
            assert state["status"] == "in_progress"
            assert state["responses"] == lr["stored"]
            assert state["last_seq"] >= max(lr["acked"])
            assert state["remaining_s"] == pytest.approx(lr["after"], abs=2.0)
            item = lr["items"][0]
            ack = client.call("answer", {"session_id": lr["sid"], "item_id": item["item_id"], "response": answer_for(item),
                                         "seq": state["last_seq"] + 1})
            assert ack == {"ok": True, "seq": state["last_seq"] + 1}
        # The connections the killed worker held were lost with it: a disconnect in each log, not a second
        # connection when the learner came back (sessions.services.lost_holder, release_lost_connections).
        engine = make_engine(pg_url)
        try:
            with Session(engine) as db:
                for lr in learners:
                    kinds = [(e.kind, e.data.get("lost")) for e in db.scalars(
                        select(SessionEvent).where(SessionEvent.session_id == lr["sid"]).order_by(SessionEvent.idx))]
                    assert ("disconnect", "worker_down") in kinds and ("second_connection", None) not in kinds, kinds
                    assert db.get(ExamSession, lr["sid"]).is_connected
        finally:
            engine.dispose()
        print(f"fault test: down {down_s:.1f} s; " + "; ".join(
            f"{len(lr['acked'])} acked, remaining {lr['before'][1]:.1f} -> {lr['after']:.1f} s" for lr in learners))
    finally:
        stop.set()
        for lr in learners:
            lr["client"].close()
