"""Two `exam-engine serve` workers sharing PostgreSQL and Redis serve one deployment.

A learner on worker A and an examiner on worker B see each other's events
(Redis carries them between workers); the sweeper closes expiring attempts
exactly once with both workers running, within 2 s of deadline + grace; each
worker answers /healthz and /metrics.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ._server import DEMO_PASSWORD, Api, Learner, answer_for, close_client, exam_by_title
from .conftest import seed_demo

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

#: "At once": an examiner's action reaches a learner on another worker within this (seconds).
AT_ONCE_S = 1.0
#: The learner's page (join's client_id).
CLIENT_ID = "a1" * 16


class Examiner:
    """A plain python-socketio client on /monitor that records `session_updates`."""

    def __init__(self, base: str, token: str) -> None:
        import socketio

        self.updates: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False, request_timeout=10)
        self.sio.on("session_updates", self._record, namespace="/monitor")
        self.sio.connect(base, namespaces=["/monitor"], auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _record(self, data):  # noqa: ANN001
        with self.cond:
            self.updates.append((time.monotonic(), data))
            self.cond.notify_all()

    def call(self, event: str, payload: dict) -> dict:
        return self.sio.call(event, payload, namespace="/monitor", timeout=10)

    def wait_row(self, session_id: str, pred, timeout: float = 5):  # noqa: ANN001, ANN201
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, batch in self.updates:
                    for row in batch["sessions"]:
                        if row["session_id"] == session_id and pred(row):
                            return t, row
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching session_updates within {timeout} s: {self.updates[-3:]}")
                self.cond.wait(left)

    def close(self) -> None:
        close_client(self.sio)


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_learner_and_examiner_on_different_workers(pg_url, redis_url, start_server, tmp_path):  # noqa: ANN001
    from exam_engine.db import make_engine
    from exam_engine.sessions.models import SessionEvent

    seed_demo(pg_url, tmp_path)
    a = start_server(pg_url, redis_url=redis_url, name="a")
    b = start_server(pg_url, redis_url=redis_url, name="b")
    for worker in (a, b):
        assert requests.get(worker.url + "/healthz", timeout=5).json() == {"status": "ok", "database": "ok"}
        metrics = requests.get(worker.url + "/metrics", timeout=5)
        assert metrics.status_code == 200 and metrics.headers["Content-Type"].startswith("text/plain")
        for name in ("exam_connected_learners", "exam_answers_total", "exam_ack_latency_seconds_bucket",
                     "exam_sweeper_lateness_seconds_bucket"):
            assert name in metrics.text

    learner_api = Api(a.url, "learner@example.org", DEMO_PASSWORD)
    exam = exam_by_title(learner_api, "Web security: quick check")
    attempt = learner_api.call("POST", f"/exams/{exam['id']}/sessions", expect=201)
    sid = attempt["id"]
    learner = Learner(a.url, learner_api.token)
    examiner = Examiner(b.url, Api(b.url, "examiner@example.org", DEMO_PASSWORD).token)
    moved = None
    try:
        state = learner.call("join", {"session_id": sid, "client_id": CLIENT_ID})["session"]
        snap = examiner.call("watch", {"exam_id": exam["id"]})
        assert snap["ok"], snap
        (row,) = [r for r in snap["sessions"] if r["session_id"] == sid]
        assert row["is_connected"] is True and row["status"] == "in_progress"
        assert _metric(requests.get(a.url + "/metrics", timeout=5).text, "exam_connected_learners") == 1

        # The learner's answers on A reach the examiner on B as batched session_updates.
        t_sent = time.monotonic()
        for seq, item in enumerate(state["items"][:3], start=1):
            ack = learner.call("answer", {"session_id": sid, "item_id": item["item_id"], "response": answer_for(item),
                                          "seq": seq})
            assert ack == {"ok": True, "seq": seq}
        t_seen, row = examiner.wait_row(sid, lambda r: r["answered"] == 3, timeout=5)
        assert t_seen - t_sent < 3.0  # one batch interval (1 s) plus delivery

        # The examiner's actions on B reach the learner on A at once.
        since = time.monotonic()
        ack = examiner.call("act", {"session_id": sid, "action": "message", "text": "Five minutes to go"})
        assert ack["ok"], ack
        t, msg = learner.wait_for("message", lambda d: d["text"] == "Five minutes to go", since=since, timeout=AT_ONCE_S)
        assert msg["session_id"] == sid

        since = time.monotonic()
        assert examiner.call("act", {"session_id": sid, "action": "pause"})["session"]["status"] == "paused"
        learner.wait_for("status", lambda d: d["status"] == "paused", since=since, timeout=AT_ONCE_S)
        learner.wait_for("time", lambda d: d["status"] == "paused", since=since, timeout=AT_ONCE_S)
        refused = learner.call("answer", {"session_id": sid, "item_id": state["items"][3]["item_id"],
                                          "response": answer_for(state["items"][3]), "seq": 4})
        assert refused["ok"] is False and refused["error"]["code"] == "session_paused"

        since = time.monotonic()
        assert examiner.call("act", {"session_id": sid, "action": "resume"})["ok"]
        learner.wait_for("status", lambda d: d["status"] == "in_progress", since=since, timeout=AT_ONCE_S)
        before = learner.call("time", {"session_id": sid})["remaining_s"]

        since = time.monotonic()
        assert examiner.call("act", {"session_id": sid, "action": "extend", "seconds": 120})["ok"]
        _, clock = learner.wait_for("time", lambda d: d["remaining_s"] > before + 100, since=since, timeout=AT_ONCE_S)
        assert clock["remaining_s"] == pytest.approx(before + 120, abs=2)

        # The same page comes back on worker B before A noticed its connection drop (a load balancer moved it):
        # it continues exactly where it was, as a reconnect, and A's connection can no longer write.
        since = time.monotonic()
        moved = Learner(b.url, learner_api.token)
        again = moved.call("join", {"session_id": sid, "client_id": CLIENT_ID})["session"]
        assert again["responses"] == {str(i["item_id"]): answer_for(i) for i in state["items"][:3]}
        assert again["last_seq"] == 3 and again["remaining_s"] == pytest.approx(clock["remaining_s"], abs=3)
        learner.wait_for("status", lambda d: d["status"] == "superseded", since=since, timeout=AT_ONCE_S)
        item = state["items"][3]
        assert learner.call("answer", {"session_id": sid, "item_id": item["item_id"], "response": answer_for(item),
                                       "seq": 4})["error"]["code"] == "superseded"
        assert moved.call("answer", {"session_id": sid, "item_id": item["item_id"], "response": answer_for(item),
                                     "seq": 4}) == {"ok": True, "seq": 4}
        _, row = examiner.wait_row(sid, lambda r: r["answered"] == 4 and r["is_connected"], timeout=5)
        engine = make_engine(pg_url)
        try:
            with Session(engine) as db:
                kinds = [(e.kind, e.data.get("lost")) for e in db.scalars(
                    select(SessionEvent).where(SessionEvent.session_id == sid).order_by(SessionEvent.idx))]
        finally:
            engine.dispose()
        assert ("disconnect", "same_client") in kinds and ("second_connection", None) not in kinds
    finally:
        learner.close()
        examiner.close()
        if moved is not None:
            moved.close()


def test_sweeper_closes_each_expiring_attempt_once_with_two_workers(pg_url, redis_url, start_server, tmp_path):  # noqa: ANN001
    from exam_engine.db import make_engine
    from exam_engine.sessions.models import ExamSession, SessionEvent

    seed_demo(pg_url, tmp_path)
    a = start_server(pg_url, redis_url=redis_url, name="a")
    b = start_server(pg_url, redis_url=redis_url, name="b")

    # A small exam with a short limit, created and published over the API by the demo instructor.
    instructor = Api(a.url, "instructor@example.org", DEMO_PASSWORD)
    quick = exam_by_title(instructor, "Web security: quick check")
    definition = dict(instructor.call("GET", f"/exams/{quick['id']}")["definition"])
    definition.update({"title": "Sweeper check", "time_limit_s": 15, "grace_s": 1, "max_attempts": 1})
    exam_id = instructor.call("POST", "/exams", json={"definition": definition}, expect=201)["id"]
    instructor.call("POST", f"/exams/{exam_id}/publish")
    instructor.call("POST", f"/exams/{exam_id}/examiners", json={"email": "examiner@example.org"}, expect=204)

    admin = Api(a.url, "admin@example.org", DEMO_PASSWORD)
    learners, attempts = [], []
    try:
        for i in range(4):
            email = f"sweep-{i}@example.org"
            admin.call("POST", "/users", json={"email": email, "password": DEMO_PASSWORD, "role": "learner"}, expect=201)
            worker = (a, b)[i % 2]
            api = Api(worker.url, email)
            attempt = api.call("POST", f"/exams/{exam_id}/sessions", expect=201)
            learner = Learner(worker.url, api.token)
            learners.append(learner)
            state = learner.call("join", {"session_id": attempt["id"]})["session"]
            item = state["items"][0]
            assert learner.call("answer", {"session_id": attempt["id"], "item_id": item["item_id"],
                                           "response": answer_for(item), "seq": 1})["ok"]
            attempts.append(attempt["id"])
        for learner, sid in zip(learners, attempts):
            _, status = learner.wait_for("status", lambda d, sid=sid: d["session_id"] == sid, timeout=30)
            assert status["reason"] == "time_expired" and status["status"] in ("submitted", "scored")
    finally:
        for learner in learners:
            learner.close()

    engine = make_engine(pg_url)
    lateness_s = []
    try:
        with Session(engine) as db:
            for sid in attempts:
                attempt = db.get(ExamSession, sid)
                submits = db.scalar(select(func.count()).select_from(SessionEvent)
                                    .where(SessionEvent.session_id == sid, SessionEvent.kind == "submit"))
                assert submits == 1, f"{sid}: {submits} submit events"
                assert attempt.end_reason == "time_expired"
                lateness = (attempt.submitted_at - attempt.deadline_at).total_seconds() - attempt.grace_s
                assert 0 <= lateness < 2.0, f"closed {lateness:.3f} s after deadline + grace"
                lateness_s.append(round(lateness, 3))
    finally:
        engine.dispose()
    swept = sum(_metric(requests.get(w.url + "/metrics", timeout=5).text, "exam_sweeper_closed_total") for w in (a, b))
    assert swept == len(attempts)
    print(f"sweeper lateness after deadline + grace (s): {lateness_s}")
