"""Sweeper lateness when many attempts expire at once: N attempts, one deadline, W workers.

    .venv/bin/python benchmarks/bench_sweeper.py [--attempts 1000] [--workers 2] [--async-mode gevent]

The issue's own case: a thousand learners who started in the same second all run out of time in the same
second. What it does:
1. a private schema in the machine's PostgreSQL, the demo data, N learners, and an attempt of the demo's quick
   exam for each (started in-process through the service, as `POST /sessions` does), two answers each;
2. W `exam-engine serve` workers (Redis message queue when W > 1), background jobs on (heartbeat, sweeper);
3. once they are up, every attempt's deadline is moved so that deadline + grace falls at the same instant T,
   a few seconds ahead;
4. polls the database until every attempt is closed (bounded: 120 s), then reads each attempt's `submit` log
   entry and `scored_at`: lateness of the submission (the entry's time - T), of its commit as a reader polling
   every 0.1 s first sees it, and of the score, p50/p99/max;
   attempts submitted twice (must be 0) and attempts left open (must be 0).
Nothing else runs: the measure is the sweeper alone. Every process started is killed at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pg import drop_schema, make_schema  # noqa: E402
from benchmarks.bench_delivery import ENGINE, PG_BASE, Proc, engine_env, free_port, log, pct, seed  # noqa: E402


def start_attempts(db_url: str, exam_id: int, n: int) -> list[str]:
    """An attempt of the exam for each bench learner, with two answers; their ids."""
    from sqlalchemy import select

    from exam_engine.auth.models import User
    from exam_engine.db import Database, utcnow
    from exam_engine.sessions import services

    database = Database(db_url)
    ids = []
    try:
        session = database.session()
        users = session.scalars(select(User).where(User.email.like("bench-%")).order_by(User.id)).all()[:n]
        for k, user in enumerate(users):
            attempt, _ = services.start_session(session, user, exam_id, now=utcnow())
            session.commit()
            state = services.session_state(session, attempt, utcnow())
            for seq, item in enumerate(state["items"][:2], start=1):
                response = None
                if item["type"] == "choice":
                    response = [item["interaction"]["options"][0]["id"]]
                services.record_answer(session, user, attempt.id, item_id=item["item_id"], response=response, seq=seq,
                                       now=utcnow())
            session.commit()
            ids.append(attempt.id)
            if (k + 1) % 200 == 0:
                log(f"{k + 1} attempts started")
        session.close()
    finally:
        database.engine.dispose()
    return ids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--attempts", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--async-mode", default="gevent", choices=["gevent", "threading"])
    p.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--lead-s", type=float, default=5.0, help="seconds from setting the deadlines to T")
    args = p.parse_args()

    from sqlalchemy import func, select, update

    from exam_engine.db import Database, utcnow
    from exam_engine.sessions.models import ExamSession, SessionEvent

    schema, db_url = make_schema(PG_BASE, prefix="benchsweep")
    work = Path(tempfile.mkdtemp(prefix="bench-sweeper-"))
    procs: list[Proc] = []
    try:
        env = engine_env(db_url, work / "instance", args.async_mode)
        exam_id, _ = seed(db_url, env, args.attempts)
        log(f"seeded; starting {args.attempts} attempts")
        ids = start_attempts(db_url, exam_id, args.attempts)
        if args.workers > 1:
            env["REDIS_URL"] = args.redis_url
        for k in range(args.workers):
            port = free_port()
            proc = Proc([ENGINE, "serve", "--host", "127.0.0.1", "--port", str(port)], env, work / f"worker-{k}.log")
            procs.append(proc)
            proc.wait_healthy(f"http://127.0.0.1:{port}")
        time.sleep(3)  # every worker's first heartbeat is in (no outage credit moves the deadlines later)
        database = Database(db_url)
        session = database.session()
        due = utcnow().replace(microsecond=0) + timedelta(seconds=args.lead_s + 1)
        session.execute(update(ExamSession).where(ExamSession.id.in_(ids))
                        .values(deadline_at=due - func.make_interval(0, 0, 0, 0, 0, 0, ExamSession.grace_s)))
        session.commit()
        log(f"{len(ids)} attempts due at {due.isoformat()} on {args.workers} worker(s)")
        end = time.monotonic() + args.lead_s + 120
        seen: dict[str, float] = {}  # when this poller first saw each attempt closed (committed), wall clock
        while time.monotonic() < end:
            session.rollback()
            rows = session.execute(select(ExamSession.id, ExamSession.scored_at).where(
                ExamSession.id.in_(ids), ExamSession.status != "in_progress")).all()
            t = time.time()
            for sid, _ in rows:
                seen.setdefault(sid, t)
            if len(rows) == len(ids) and all(r.scored_at is not None for r in rows):
                break
            time.sleep(0.1)
        session.rollback()
        submits = session.execute(select(SessionEvent.session_id, SessionEvent.at).where(
            SessionEvent.session_id.in_(ids), SessionEvent.kind == "submit")).all()
        scored = dict(session.execute(select(ExamSession.id, ExamSession.scored_at).where(ExamSession.id.in_(ids))).all())
        session.close()
        database.engine.dispose()
        per: dict[str, list] = {}
        for sid, at in submits:
            per.setdefault(sid, []).append(at)
        submit_late = [(min(v) - due).total_seconds() for v in per.values()]
        seen_late = [t - due.timestamp() for t in seen.values()]
        score_late = [(at - due).total_seconds() for at in scored.values() if at is not None]
        twice = sum(1 for v in per.values() if len(v) > 1)
        left = len(ids) - len(per)
        print(f"\n{len(ids)} attempts due at one instant, {args.workers} worker(s), {args.async_mode}:")
        print(f"  submitted: {len(per)} (twice: {twice}, left open: {left}); lateness p50 {pct(submit_late, 50):.2f} s, "
              f"p99 {pct(submit_late, 99):.2f} s, max {max(submit_late, default=float('nan')):.2f} s")
        print(f"  seen submitted by a reader polling every 0.1 s: p50 {pct(seen_late, 50):.2f} s, "
              f"p99 {pct(seen_late, 99):.2f} s, max {max(seen_late, default=float('nan')):.2f} s")
        print(f"  scored:    {len(score_late)}; lateness p50 {pct(score_late, 50):.2f} s, p99 {pct(score_late, 99):.2f} s, "
              f"max {max(score_late, default=float('nan')):.2f} s")
        if twice or left:
            sys.exit(1)
    finally:
        for proc in procs:
            proc.kill()
        drop_schema(PG_BASE, schema)


if __name__ == "__main__":
    main()
