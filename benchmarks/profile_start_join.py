"""In-process profile of a learner's start-storm path: CPU time and SQL round trips per learner.

    .venv/bin/python benchmarks/profile_start_join.py [--learners 300] [--exam demo-websec-quick]
        [--database-url URL] [--profile start|join] [--top 30]

What it does (one process, no server, no sockets on the network):
1. a private schema in the machine's PostgreSQL (TEST_POSTGRES_URL or --database-url base), migrated;
   the `exam-engine demo` data; N learners inserted in bulk, with one bearer token each;
2. for each learner, in turn:
   a. `POST /api/v1/exams/{id}/sessions` with the bearer token (Flask test client);
   b. connect to `/exam` with {token} and `join` (flask_socketio test client, with its ack);
   each step's CPU time (time.process_time) and SQL statements (a `before_cursor_execute` listener on the
   app's engine; commits counted apart) are recorded; the connections are closed outside the measurement;
3. prints mean / p50 / p90 CPU ms and statements per learner for each step (the first 5 learners are
   warm-up and left out), and with --profile the top functions of one step under cProfile;
4. drops the schema.
Keep it short (it runs beside other work): 300 learners take a few seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pg import drop_schema, make_schema  # noqa: E402

PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "profile-password-123"
WARMUP = 5


def build(db_url: str, instance: str, n: int, exam_key: str):  # noqa: ANN201
    """The app (demo data seeded) and (exam id, tokens of n learners)."""
    from sqlalchemy import select

    from exam_engine.app import create_app
    from exam_engine.auth.models import User
    from exam_engine.auth.services import hash_password, issue_token
    from exam_engine.db import get_db, utcnow
    from exam_engine.demo import seed_demo
    from exam_engine.exams.models import Exam
    from exam_engine.migrate import upgrade

    upgrade(db_url)
    app = create_app({"INSTANCE_PATH": instance, "SECRET_KEY": secrets.token_urlsafe(32), "DATABASE_URL": db_url,
                      "REDIS_URL": None, "BACKGROUND_JOBS": False, "ASYNC_MODE": "threading", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        seed_demo(app, password=PASSWORD)
        session = get_db().session()
        try:
            exam_id = session.scalar(select(Exam.id).where(Exam.external_id == exam_key))
            digest = hash_password(PASSWORD)
            users = [User(email=f"prof-{i:05d}@example.org", name=f"Prof {i}", password_hash=digest, role="learner",
                          accommodations={}, identity_salt=secrets.token_hex(16)) for i in range(n)]
            session.add_all(users)
            session.flush()
            now = utcnow()
            tokens = [issue_token(session, u, now=now, ttl_s=3600)[0] for u in users]
            session.commit()
        finally:
            session.close()
    return app, exam_id, tokens


class Counter:
    def __init__(self, engine) -> None:  # noqa: ANN001
        from sqlalchemy import event

        self.statements = 0
        self.commits = 0
        self.texts: list[str] = []
        self.keep = False
        event.listen(engine, "before_cursor_execute", self._stmt)
        event.listen(engine, "commit", self._commit)

    def _stmt(self, _conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        self.statements += 1
        if self.keep:
            self.texts.append(" ".join(statement.split())[:140])

    def _commit(self, _conn) -> None:  # noqa: ANN001
        self.commits += 1

    def snap(self) -> tuple[int, int]:
        return self.statements, self.commits


def summary(label: str, cpu: list[float], stmts: list[int], commits: list[int]) -> str:
    cpu_ms = sorted(c * 1000 for c in cpu)
    p = lambda q: cpu_ms[min(len(cpu_ms) - 1, int(q * len(cpu_ms)))]  # noqa: E731
    return (f"{label:<14} cpu ms mean {statistics.mean(cpu_ms):6.2f}  p50 {p(.5):6.2f}  p90 {p(.9):6.2f}   "
            f"statements mean {statistics.mean(stmts):5.1f} (min {min(stmts)}, max {max(stmts)})   "
            f"commits mean {statistics.mean(commits):.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--learners", type=int, default=300)
    ap.add_argument("--exam", default="demo-websec-quick", help="external id of a demo exam")
    ap.add_argument("--database-url", default=PG_BASE, help="PostgreSQL base URL (a private schema is made in it)")
    ap.add_argument("--profile", choices=("start", "join", "lobby"), help="cProfile one step over all learners")
    ap.add_argument("--mode", choices=("rest", "lobby"), default="rest",
                    help="rest: POST /sessions, then connect and join; lobby: connect first, then the `start` event")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--show-sql", action="store_true", help="print the statements of one learner (the 10th)")
    args = ap.parse_args()
    if args.profile == "lobby":
        args.mode = "lobby"
    elif args.profile and args.mode == "lobby":
        ap.error("--mode lobby profiles the start event: use --profile lobby")

    schema, db_url = make_schema(args.database_url, prefix="prof")
    try:
        with tempfile.TemporaryDirectory() as instance:
            app, exam_id, tokens = build(db_url, instance, args.learners, args.exam)
            from exam_engine.extensions import socketio

            counter = Counter(app.extensions["exam_engine.db"].engine)
            http = app.test_client()
            prof = cProfile.Profile(time.process_time) if args.profile else None
            res = {k: ([], [], []) for k in ("start", "connect+join")}
            if args.mode == "lobby":
                res = {"start event": ([], [], [])}
            for i, token in enumerate(tokens):
                if args.mode == "lobby":
                    ws = socketio.test_client(app, namespace="/exam", auth={"token": token},
                                              headers={"User-Agent": "profile/1"})
                    s0, c0 = counter.snap()
                    if prof:
                        prof.enable()
                    t0 = time.process_time()
                    ack = ws.emit("start", {"exam_id": exam_id}, namespace="/exam", callback=True)
                    t1 = time.process_time()
                    if prof:
                        prof.disable()
                    s1, c1 = counter.snap()
                    assert ack.get("ok") and ack["session"]["items"], ack
                    ws.disconnect(namespace="/exam")
                    if i >= WARMUP:
                        for part, value in zip(res["start event"], (t1 - t0, s1 - s0, c1 - c0)):
                            part.append(value)
                    continue
                counter.keep = args.show_sql and i == 10
                s0, c0 = counter.snap()
                if prof and args.profile == "start":
                    prof.enable()
                t0 = time.process_time()
                resp = http.post(f"/api/v1/exams/{exam_id}/sessions", headers={"Authorization": f"Bearer {token}",
                                                                               "User-Agent": "profile/1"})
                t1 = time.process_time()
                if prof:
                    prof.disable()
                assert resp.status_code == 201, resp.get_json()
                session_id = resp.get_json()["id"]
                s1, c1 = counter.snap()
                if counter.keep:
                    print("--- start SQL:\n  " + "\n  ".join(counter.texts))
                    counter.texts.clear()
                if prof and args.profile == "join":
                    prof.enable()
                t2 = time.process_time()
                ws = socketio.test_client(app, namespace="/exam", auth={"token": token},
                                          headers={"User-Agent": "profile/1"})
                ack = ws.emit("join", {"session_id": session_id}, namespace="/exam", callback=True)
                t3 = time.process_time()
                if prof:
                    prof.disable()
                s2, c2 = counter.snap()
                if counter.keep:
                    print("--- connect+join SQL:\n  " + "\n  ".join(counter.texts))
                    counter.texts.clear()
                assert ack.get("ok"), ack
                assert len(ack["session"]["items"]) > 0
                ws.disconnect(namespace="/exam")
                if i >= WARMUP:
                    for key, cpu, st, cm in (("start", t1 - t0, s1 - s0, c1 - c0),
                                             ("connect+join", t3 - t2, s2 - s1, c2 - c1)):
                        res[key][0].append(cpu)
                        res[key][1].append(st)
                        res[key][2].append(cm)
            print(f"{len(tokens) - WARMUP} learners (after {WARMUP} warm-up), exam {args.exam!r} on PostgreSQL:")
            for key, (cpu, st, cm) in res.items():
                print(summary(key, cpu, st, cm))
            if prof:
                pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
                pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
            app.extensions["exam_engine.db"].engine.dispose()
    finally:
        drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
