"""In-process profile of the periodic proctoring scan when many attempts raise a flag at once.

    .venv/bin/python benchmarks/profile_scan.py [--learners 300] [--exam demo-websec-quick]
        [--database-url URL] [--profile] [--top 30]

The delivery benchmark's learners answer a new item every 5 s, which is fast for the demo items (estimated
at 45-90 s): the answer batches record the first fast answers themselves, and the one that crosses the
policy's `max_fast_answers` is left to the scan, which raises a flag for every learner within a few
seconds. This measures that scan alone, in one process, with no server:
1. a private schema in the machine's PostgreSQL (TEST_POSTGRES_URL or --database-url base), migrated; the
   `exam-engine demo` data; N learners, each started and joined (`benchmarks/profile_start_join.py`'s set-up);
2. answer batches of every learner's next first answer, 5 s apart from joining on (`sessions.answers.GroupCommit`),
   each one fast, until the last crosses `max_fast_answers`: that batch leaves every attempt to the scan;
3. one `proctoring.notify.scan_once` over all of them, timed (CPU and wall, statements): prints CPU ms
   per attempt scanned, and with --profile the top functions under cProfile;
4. drops the schema.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pg import drop_schema, make_schema  # noqa: E402
from benchmarks.profile_start_join import PG_BASE, Counter, build  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--learners", type=int, default=300)
    ap.add_argument("--exam", default="demo-websec-quick", help="external id of a demo exam (a proctored one)")
    ap.add_argument("--database-url", default=PG_BASE, help="PostgreSQL base URL (a private schema is made in it)")
    ap.add_argument("--profile", action="store_true", help="cProfile the scan")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()

    schema, db_url = make_schema(args.database_url, prefix="prof")
    try:
        with tempfile.TemporaryDirectory() as instance:
            app, exam_id, tokens = build(db_url, instance, args.learners, args.exam)
            run(app, exam_id, tokens, args)
            app.extensions["exam_engine.db"].engine.dispose()
    finally:
        drop_schema(args.database_url, schema)


def run(app, exam_id: int, tokens: list[str], args: argparse.Namespace) -> None:  # noqa: ANN001
    from exam_engine.auth.services import user_for_token
    from exam_engine.db import get_db, utcnow
    from exam_engine.exams.models import Exam
    from exam_engine.extensions import socketio
    from exam_engine.proctoring import notify, services
    from exam_engine.sessions import answers

    http = app.test_client()
    learners = []  # (user id, session id, items)
    sockets = []
    t_setup = time.monotonic()
    for i, token in enumerate(tokens):
        resp = http.post(f"/api/v1/exams/{exam_id}/sessions", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 201, resp.get_json()
        sid = resp.get_json()["id"]
        ws = socketio.test_client(app, namespace="/exam", auth={"token": token})
        ack = ws.emit("join", {"session_id": sid}, namespace="/exam", callback=True)
        assert ack.get("ok"), ack
        sockets.append(ws)  # connected, as in the benchmark (a disconnect is an entry only the scan reads)
        with app.app_context():
            db = get_db().session()
            user_id = user_for_token(db, token, now=utcnow()).id
            db.close()
        learners.append((user_id, sid, ack["session"]["items"], utcnow()))  # joined at about this time
        if (i + 1) % 100 == 0:
            print(f"  started and joined {i + 1}/{len(tokens)} ({time.monotonic() - t_setup:.0f} s)", flush=True)

    with app.app_context():
        db = get_db().session()
        policy = services.policy_for_version(db, db.get(Exam, exam_id).live_version)
        db.close()
    crossing = policy["max_fast_answers"] + 1  # fast answers, the last of which raises the flag
    group = answers.GroupCommit(app.extensions["exam_engine.db"])
    for k in range(crossing):  # answer k of every learner, 5 s after the previous one (the first: after joining)
        batch = [answers.Answer(user_id=uid, session_id=sid, item_id=items[k]["item_id"],
                                response=_response(items[k]), seq=k + 1, now=joined + timedelta(seconds=5 * (k + 1)))
                 for uid, sid, items, joined in learners]
        for start in range(0, len(batch), group.max_batch):
            group._write(batch[start:start + group.max_batch])
        refused = [a.ack for a in batch if not a.ack.get("ok")]
        assert not refused, refused[:3]
    with app.app_context():
        db = get_db().session()
        waiting = len(services.attempts_to_scan(db, now=utcnow()))
        db.close()
    print(f"{len(learners)} learners, {crossing} answers each (the last crosses max_fast_answers = "
          f"{policy['max_fast_answers']}): {waiting} attempts wait for the scan")

    counter = Counter(app.extensions["exam_engine.db"].engine)
    prof = cProfile.Profile(time.process_time) if args.profile else None
    s0, c0 = counter.snap()
    if prof:
        prof.enable()
    w0, p0 = time.perf_counter(), time.process_time()
    scanned = notify.scan_once(app)
    p1, w1 = time.process_time(), time.perf_counter()
    if prof:
        prof.disable()
    s1, c1 = counter.snap()
    n = max(scanned, 1)
    print(f"scan_once: {scanned} attempts in {(w1 - w0) * 1000:.0f} ms wall, {(p1 - p0) * 1000:.0f} ms CPU: "
          f"{(p1 - p0) * 1000 / n:.2f} ms CPU per attempt; {(s1 - s0) / n:.1f} statements and "
          f"{(c1 - c0) / n:.2f} commits per attempt")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
    for ws in sockets:
        ws.disconnect(namespace="/exam")


def _response(item: dict):  # noqa: ANN202 - a valid response for the demo's item types
    from tests.system._responses import answer_for
    return answer_for(item, 1)


if __name__ == "__main__":
    main()
