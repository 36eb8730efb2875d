"""Benchmark: one examiner watching 500 active attempts while they answer and send proctoring signals.

    .venv/bin/python benchmarks/bench_monitor.py [--attempts 500] [--duration 45] [--database-url URL]
                                                 [--write docs/benchmarks/monitor.md]

Runs a real `exam-engine serve` worker (gevent) on a fresh database (SQLite in
a temporary folder by default; `--database-url postgresql+psycopg://...` for
PostgreSQL), seeds one proctored exam (standard level) with N learners who
have started, connects N python-socketio learner clients and one examiner
client on /monitor, then for `--duration` seconds every learner answers an
item every `--answer-every` seconds and sends a browser signal every
`--signal-every` seconds (a few of them cross the focus-loss threshold, so
flags are raised), while one extra client floods signals as fast as it can.

Measured: the examiner's `watch` snapshot time; update latency (a learner's
answer sent -> the examiner receives the row showing it, through the batched
`session_updates`); flag latency (the signal crossing a threshold sent -> the
`flag` event); ack latency of answers and signals; how many signals the flood
got through; batches per second and rows per batch; the server process's CPU
(user + system from /proc) over the load phase. With --write, the figures go
to a Markdown page with the command and the machine.
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENGINE = str(Path(sys.executable).with_name("exam-engine"))
SECRET = "bench-secret-key-not-for-production"
KINDS = ["resize", "focus_gained", "tab_visible", "context_menu", "copy", "focus_lost"]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def ms(values: list[float], q: float, digits: int = 0) -> float | str:
    """The q-th percentile in milliseconds, or n/a."""
    v = pct(values, q)
    return "n/a" if v != v else round(v * 1000, digits or None)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def ack_histogram(base: str) -> dict[float, float]:
    """The server's own ack latency histogram (cumulative counts per bucket upper bound) from /metrics."""
    import requests
    out = {}
    for line in requests.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith("exam_ack_latency_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def histogram_pct(before: dict, after: dict, q: float) -> str:
    """The bucket bound under which q% of the acks of the load phase fell (server side)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0) for b in bounds]
    total = counts[-1] if counts else 0
    for b, c in zip(bounds, counts):
        if total and c >= q / 100 * total:
            return "> 5 s" if b == float("inf") else f"<= {b * 1000:g} ms"
    return "n/a"


def seed(env: dict, n: int, items: int) -> dict:
    """Users, a bank, a proctored exam, examiner assignment, N started attempts; tokens issued in-process."""
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "SECRET_KEY", "EXAM_ENGINE_INSTANCE")})
    from exam_engine.app import create_app
    from exam_engine.auth import services as auth_services
    from exam_engine.db import get_db, utcnow

    app = create_app({"BACKGROUND_JOBS": False, "LOG_LEVEL": "WARNING"})
    fixed = auth_services.hash_password("bench-password-123")
    auth_services.hash_password = lambda _pw: fixed  # argon2 for 500 accounts would take minutes
    with app.app_context():
        db = get_db().session()
        mk = lambda role, i: auth_services.create_user(db, email=f"{role}{i}@bench.example", password="bench-password-123",  # noqa: E731
                                                       role=role, name=f"{role.title()} {i}")
        instructor, examiner = mk("instructor", 0), mk("examiner", 0)
        learners = [mk("learner", i) for i in range(n + 1)]  # the last one floods
        now = utcnow()
        tok = {u.id: auth_services.issue_token(db, u, now=now, ttl_s=6 * 3600)[0] for u in [instructor, examiner, *learners]}
        db.commit()
        client = app.test_client()
        h = {"Authorization": f"Bearer {tok[instructor.id]}"}
        bank = client.post("/api/v1/banks", headers=h, json={"name": "Bench bank"}).get_json()["id"]
        ids = []
        for i in range(items):
            body = {"type": "choice", "title": f"Q{i}", "stem": f"<p>Question {i}</p>",
                    "interaction": {"options": [{"id": o, "html": o} for o in "abcd"], "max_choices": 1},
                    "scoring": {"correct": ["a"], "points": 1}, "metadata": {"estimated_time_s": 60}}
            ids.append(client.post(f"/api/v1/banks/{bank}/items", headers=h, json=body).get_json()["item_id"])
            client.post(f"/api/v1/items/{ids[-1]}/publish", headers=h)
        definition = {"title": "Monitor bench", "sections": [{"id": "s", "items": ids}], "time_limit_s": 4 * 3600,
                      "proctoring": {"level": "standard", "settings": {"max_focus_losses": 3, "fast_answer_ratio": None}}}
        exam_id = client.post("/api/v1/exams", headers=h, json={"definition": definition}).get_json()["id"]
        assert client.post(f"/api/v1/exams/{exam_id}/publish", headers=h).status_code == 200
        assert client.post(f"/api/v1/exams/{exam_id}/examiners", headers=h, json={"email": examiner.email}).status_code == 204
        sessions = []
        for u in learners:
            r = client.post(f"/api/v1/exams/{exam_id}/sessions", headers={"Authorization": f"Bearer {tok[u.id]}"})
            assert r.status_code == 201, r.get_json()
            sessions.append((tok[u.id], r.get_json()["id"]))
        db.close()
    return {"exam_id": exam_id, "examiner_token": tok[examiner.id], "sessions": sessions, "items": ids}


class Examiner:
    def __init__(self, base: str, token: str) -> None:
        import socketio
        self.lock = threading.Lock()
        self.batches: list[tuple[float, int]] = []
        self.seen: dict[tuple[str, int], float] = {}   # (session, answered) -> first time seen
        self.flags: dict[str, float] = {}               # session -> first focus_losses flag event
        self.sio = socketio.Client(reconnection=False, request_timeout=60)
        self.sio.on("session_updates", self._updates, namespace="/monitor")
        self.sio.on("flag", self._flag, namespace="/monitor")
        self.sio.connect(base, namespaces=["/monitor"], auth={"token": token}, transports=["websocket"], wait_timeout=20)

    def _updates(self, data):  # noqa: ANN001
        t = time.monotonic()
        with self.lock:
            self.batches.append((t, len(data["sessions"])))
            for row in data["sessions"]:
                self.seen.setdefault((row["session_id"], row["answered"]), t)

    def _flag(self, data):  # noqa: ANN001
        t = time.monotonic()
        if data["flag"]["rule"] == "focus_losses":
            with self.lock:
                self.flags.setdefault(data["session_id"], t)


class Learner:
    def __init__(self, base: str, token: str, sid: str, items: list[int]) -> None:
        import socketio
        self.sid, self.items, self.seq, self.answered = sid, items, 0, 0
        self.focus_ok = 0
        self.sio = socketio.Client(reconnection=False, request_timeout=60)
        self.sio.connect(base, namespaces=["/exam"], auth={"token": token}, transports=["websocket"], wait_timeout=30)
        ack = self.sio.call("join", {"session_id": sid}, namespace="/exam", timeout=60)
        assert ack["ok"], ack
        self.order = [it["item_id"] for it in ack["session"]["items"]]
        self.option = {it["item_id"]: it["interaction"]["options"][0]["id"] for it in ack["session"]["items"]}
        self.lock = threading.Lock()

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def answer(self, stats: dict) -> None:
        if self.answered >= len(self.order):
            return
        item = self.order[self.answered]
        t0 = time.monotonic()
        ack = self.sio.call("answer", {"session_id": self.sid, "item_id": item, "response": [self.option[item]],
                                       "seq": self.next_seq()}, namespace="/exam", timeout=60)
        t1 = time.monotonic()
        if ack.get("ok"):
            self.answered += 1
            stats["answer_sent"][(self.sid, self.answered)] = t0
            stats["answer_ack"].append(t1 - t0)
        else:
            stats["errors"].append(ack["error"]["code"])

    def signal(self, stats: dict, kind: str) -> dict:
        t0 = time.monotonic()
        ack = self.sio.call("signal", {"session_id": self.sid, "kind": kind, "at": int(time.time() * 1000),
                                       "detail": {}, "seq": self.next_seq()}, namespace="/exam", timeout=60)
        stats["signal_ack"].append(time.monotonic() - t0)
        if ack.get("ok") and kind == "focus_lost":
            self.focus_ok += 1
            if self.focus_ok == 4:  # max_focus_losses 3: the 4th crosses
                stats["flag_sent"][self.sid] = t0
        elif not ack.get("ok"):
            stats["signal_errors"].append(ack["error"]["code"])
        return ack

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass


def quiet_clients() -> None:
    import logging
    for name in ("engineio.client", "socketio.client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def drive(base: str, sessions: list, k: int, start_q, results, opts: dict) -> None:  # noqa: ANN001
    """One client process: connect its learners, then answer and signal on schedule until the end."""
    quiet_clients()
    with ThreadPoolExecutor(16) as pool:
        learners = list(pool.map(lambda ts: Learner(base, ts[0], ts[1], []), sessions))
    results.put(("ready", k))
    start, end = start_q.get()
    stats: dict = {"answer_sent": {}, "answer_ack": [], "signal_ack": [], "flag_sent": {}, "errors": [],
                   "signal_errors": [], "late": 0}
    rng = random.Random(k)
    queue: list[tuple[float, float, str, int]] = []
    for i in range(len(learners)):
        heapq.heappush(queue, (start + rng.uniform(0, opts["answer_every"]), rng.random(), "answer", i))
        heapq.heappush(queue, (start + rng.uniform(0, opts["signal_every"]), rng.random(), "signal", i))

    def run(fn, at, *a):  # noqa: ANN001, ANN202
        if time.monotonic() > at + 5:  # the client fell behind: skip rather than pile up
            stats["late"] += 1
            return
        fn(stats, *a)

    with ThreadPoolExecutor(opts["workers"]) as pool:
        while queue:
            at, _, what, i = heapq.heappop(queue)
            if at >= end:
                continue
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lrn = learners[i]
            if what == "answer":
                pool.submit(run, lrn.answer, at)
                heapq.heappush(queue, (at + opts["answer_every"] * rng.uniform(0.7, 1.3), rng.random(), "answer", i))
            else:
                # Every tenth learner keeps losing focus (their attempts get flagged); the others send neutral kinds.
                kind = "focus_lost" if (i * opts["processes"] + k) % 10 == 0 else rng.choice(KINDS[:-1])
                pool.submit(run, lrn.signal, at, kind)
                heapq.heappush(queue, (at + opts["signal_every"] * rng.uniform(0.7, 1.3), rng.random(), "signal", i))
    results.put(("done", stats))
    for lrn in learners:
        lrn.close()


def flood_drive(base: str, ts: tuple, start_q, results, opts: dict) -> None:  # noqa: ANN001
    """One learner fires signals at --flood-rate per second without waiting for acks."""
    quiet_clients()
    lrn = Learner(base, ts[0], ts[1], [])
    results.put(("ready", -1))
    start, end = start_q.get()
    flood = {"sent": 0, "ok": 0, "limited": 0}
    lock = threading.Lock()

    def on_ack(ack):  # noqa: ANN001
        with lock:
            flood["ok" if ack.get("ok") else "limited"] += 1

    while time.monotonic() < start:
        time.sleep(0.01)
    t_next = time.monotonic()
    while time.monotonic() < end:
        lrn.sio.emit("signal", {"session_id": lrn.sid, "kind": "resize", "detail": {}, "seq": lrn.next_seq()},
                     namespace="/exam", callback=on_ack)
        flood["sent"] += 1
        t_next += 1 / opts["flood_rate"]
        delay = t_next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(2.0)
    with lock:
        results.put(("flood", dict(flood)))
    lrn.close()


def main() -> None:  # noqa: C901 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attempts", type=int, default=500)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--duration", type=float, default=45.0)
    ap.add_argument("--answer-every", type=float, default=8.0, help="seconds between a learner's answers")
    ap.add_argument("--signal-every", type=float, default=6.0, help="seconds between a learner's signals")
    ap.add_argument("--flood-rate", type=float, default=1000.0, help="signals/s sent by the flooding client")
    ap.add_argument("--workers", type=int, default=32, help="client threads per client process")
    ap.add_argument("--processes", type=int, default=4, help="client processes driving the learners")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--write", default=None, help="write the Markdown report here")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_monitor_"))
    db_url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_ENGINE_") and k != "REDIS_URL"}
    env.update({"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "EXAM_ENGINE_INSTANCE": str(tmp / "instance"),
                "EXAM_ENGINE_LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    subprocess.run([ENGINE, "init-db"], env=env, check=True, capture_output=True)
    t = time.monotonic()
    seeded = seed(env, args.attempts, args.items)
    print(f"seeded {args.attempts} attempts in {time.monotonic() - t:.1f} s", file=sys.stderr)

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([ENGINE, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        import requests
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        examiner = Examiner(base, seeded["examiner_token"])
        t = time.monotonic()
        snap = examiner.sio.call("watch", {"exam_id": seeded["exam_id"]}, namespace="/monitor", timeout=120)
        watch_first_s = time.monotonic() - t
        assert snap["ok"] and len(snap["sessions"]) == args.attempts + 1, snap.get("error")

        # Learner clients in several processes (one process's GIL cannot drive 500 connections).
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        learners_ts = seeded["sessions"][:-1]
        shards = [learners_ts[k::args.processes] for k in range(args.processes)]
        starts = [ctx.Queue() for _ in shards] + [ctx.Queue()]
        t = time.monotonic()
        procs = [ctx.Process(target=drive, args=(base, shard, k, starts[k], results, vars(args)))
                 for k, shard in enumerate(shards)]
        procs.append(ctx.Process(target=flood_drive, args=(base, seeded["sessions"][-1], starts[-1], results, vars(args))))
        for proc in procs:
            proc.start()
        for _ in procs:
            kind, _k = results.get(timeout=600)
            assert kind == "ready", kind
        connect_s = time.monotonic() - t
        print(f"{len(learners_ts)} learners joined in {connect_s:.1f} s", file=sys.stderr)

        pid = server.pid
        hist0, load0 = ack_histogram(base), os.getloadavg()[0]
        start = time.monotonic() + 1.0
        end = start + args.duration
        for q in starts:
            q.put((start, end))
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        stats: dict = {"answer_sent": {}, "answer_ack": [], "signal_ack": [], "flag_sent": {}, "errors": [],
                       "signal_errors": [], "late": 0}
        flood = {"sent": 0, "ok": 0, "limited": 0}
        for _ in procs:
            kind, part = results.get(timeout=args.duration + 600)
            if kind == "flood":
                flood = part
                continue
            for key in ("answer_ack", "signal_ack", "errors", "signal_errors"):
                stats[key] += part[key]
            stats["answer_sent"].update(part["answer_sent"])
            stats["flag_sent"].update(part["flag_sent"])
            stats["late"] += part["late"]
        for proc in procs:
            proc.join(timeout=60)
        wall = end - start
        cpu = cpu_seconds(pid) - cpu0
        hist1, load1 = ack_histogram(base), os.getloadavg()[0]
        time.sleep(2.5)  # the last batches (and the flood's last acks)

        t = time.monotonic()
        snap2 = examiner.sio.call("watch", {"exam_id": seeded["exam_id"]}, namespace="/monitor", timeout=120)
        watch_last_s = time.monotonic() - t
        update_lat = [examiner.seen[k] - t0 for k, t0 in stats["answer_sent"].items() if k in examiner.seen]
        flag_lat = [examiner.flags[s] - t0 for s, t0 in stats["flag_sent"].items() if s in examiner.flags]
        in_window = [(t, n) for t, n in examiner.batches if start <= t <= end]
        risky = [r for r in snap2["sessions"] if r["risk"] > 0]
        res = {
            "attempts": len(learners_ts), "late_actions": stats["late"], "duration_s": round(wall, 1), "connect_s": round(connect_s, 1),
            "watch_first_ms": round(watch_first_s * 1000), "watch_last_ms": round(watch_last_s * 1000),
            "answers": len(stats["answer_ack"]), "answers_per_s": round(len(stats["answer_ack"]) / wall, 1),
            "answer_errors": len(stats["errors"]),
            "signals": len(stats["signal_ack"]), "signals_per_s": round(len(stats["signal_ack"]) / wall, 1),
            "answer_ack_ms": [ms(stats["answer_ack"], q, 1) for q in (50, 95, 99)],
            "signal_ack_ms": [ms(stats["signal_ack"], q, 1) for q in (50, 95, 99)],
            "update_ms": [ms(update_lat, q) for q in (50, 95, 99, 100)],
            "updates_seen": f"{len(update_lat)}/{len(stats['answer_sent'])}",
            "flag_ms": [ms(flag_lat, q) for q in (50, 95, 100)],
            "flags_seen": f"{len(flag_lat)}/{len(stats['flag_sent'])}",
            "batches_per_s": round(len(in_window) / wall, 2),
            "rows_per_batch": round(statistics.mean([n for _, n in in_window]), 1) if in_window else 0,
            "single_row_pushes": sum(1 for _, n in in_window if n == 1),
            "rows_per_s": round(sum(n for _, n in in_window) / wall, 1),
            "flood": flood, "flood_per_s": round(flood["sent"] / wall, 1),
            "cpu_s": round(cpu, 1), "cpu_cores": round(cpu / wall, 2),
            "risky_attempts": len(risky), "top_of_watch_is_risky": bool(snap2["sessions"][0]["risk"] > 0),
            "signal_errors": sorted(set(stats["signal_errors"])),
            "server_ack": [histogram_pct(hist0, hist1, q) for q in (50, 95, 99)],
            "load_avg": [round(load0, 1), round(load1, 1)],
        }
        for key, value in res.items():
            print(f"{key:>22}: {value}")
        if args.write:
            write_report(Path(args.write), res, args, db_url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def write_report(path: Path, r: dict, args: argparse.Namespace, db_url: str) -> None:
    backend = "PostgreSQL" if db_url.startswith("postgresql") else "SQLite (WAL)"
    try:
        cpu_model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu_model = platform.processor() or "unknown"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cmd = " ".join(["\n    .venv/bin/python benchmarks/bench_monitor.py", f"--attempts {args.attempts}",
                     f"--duration {args.duration:g}", f"--answer-every {args.answer_every:g}",
                     f"--signal-every {args.signal_every:g}"]
                    + ([f"--database-url {db_url.split('@')[0].split('//')[0]}//..."] if args.database_url else [])
                    + [f"--write {path}"])
    a, s, u, f = r["answer_ack_ms"], r["signal_ack_ms"], r["update_ms"], r["flag_ms"]
    text = f"""# Benchmark: live monitoring of {r['attempts']} attempts

One examiner watches one exam on `/monitor` while {r['attempts']} learners, each on
their own python-socketio connection (websocket; {args.processes} client processes), answer an item about every
{args.answer_every:g} s and send a browser signal about every {args.signal_every:g} s
(every tenth learner's signals are focus losses, so their attempts cross the
standard policy's threshold and get flagged), and one more learner floods
signals as fast as one connection can. One `exam-engine serve` worker
(gevent), {backend}, background jobs on (sweeper, time sync, the monitor's
1-second batches, the proctoring scan every 5 s).

Command:
```{cmd}
```

Machine: {os.cpu_count()} cores ({cpu_model}), shared with other work while it
ran; Python {platform.python_version()}; commit {rev}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.
The clients ran on the same machine, so client and server compete for the
same cores: the figures are an upper bound on what the server needs.

| figure | value |
|---|---|
| load phase | {r['duration_s']} s |
| answers acked | {r['answers']} ({r['answers_per_s']}/s), refused {r['answer_errors']} |
| scheduled actions the clients skipped because they fell > 5 s behind | {r['late_actions']} |
| answer ack latency p50 / p95 / p99 | {a[0]} / {a[1]} / {a[2]} ms |
| signals from the {r['attempts']} learners | {r['signals']} ({r['signals_per_s']}/s) |
| signal ack latency p50 / p95 / p99 | {s[0]} / {s[1]} / {s[2]} ms |
| flood: signals sent by one client without waiting for acks | {r['flood']['sent']} ({r['flood_per_s']}/s): {r['flood']['ok']} accepted, {r['flood']['limited']} `rate_limited`, {r['flood']['sent'] - r['flood']['ok'] - r['flood']['limited']} acks still pending at the end |
| **update latency** (answer sent -> examiner sees the row) p50 / p95 / p99 / max | **{u[0]} / {u[1]} / {u[2]} / {u[3]} ms** ({r['updates_seen']} answers seen) |
| flag latency (threshold-crossing signal sent -> `flag` event) p50 / p95 / max | {f[0]} / {f[1]} / {f[2]} ms ({r['flags_seen']} flags seen) |
| `session_updates` events to the examiner | {r['batches_per_s']}/s carrying {r['rows_per_s']} rows/s ({r['rows_per_batch']} rows each on average; {r['single_row_pushes']} were single-row immediate pushes: flags, status changes, disconnects) |
| `watch` snapshot of {r['attempts'] + 1} attempts | {r['watch_first_ms']} ms at start, {r['watch_last_ms']} ms at the end |
| attempts with risk > 0 at the end (listed first by `watch`) | {r['risky_attempts']} (first row risky: {r['top_of_watch_is_risky']}) |
| server-side ack latency (all /exam messages, from `/metrics`) p50 / p95 / p99 | {r['server_ack'][0]} / {r['server_ack'][1]} / {r['server_ack'][2]} |
| **server CPU** over the load phase (user + system) | **{r['cpu_s']} s = {r['cpu_cores']} cores** |
| machine load average (1 min) at start / end | {r['load_avg'][0]} / {r['load_avg'][1]} |
| joining {r['attempts']} learners | {r['connect_s']} s |

Reading it: compare the server-side ack latency (the worker's own histogram)
with what the clients saw; the difference is queueing (CPU the worker did
not get, or a flood ahead of the message). `session_updates` should stay near
one event a second (the batch) plus single-row pushes, whatever the number
of attempts. docs/benchmarks/monitor.md discusses the recorded runs.
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
