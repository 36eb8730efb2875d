"""Load benchmark of exam delivery: start storm, sustained answering, and the machine's ceiling.

    .venv/bin/python benchmarks/bench_delivery.py [--learners 1000] [--sustain-s 60] [--interval 5]
        [--saturate-s 15] [--client-procs 1] [--workers 1] [--database-url URL] [--async-mode gevent]
        [--write docs/benchmarks/delivery.md]

Needs a second venv for the clients (python-socketio's asyncio client needs
aiohttp, which the engine does not depend on):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install "python-socketio[asyncio_client]>=5.12,<6" aiohttp

What it does, all on 127.0.0.1:
1. a private schema in the machine's PostgreSQL (or --database-url), migrated; `exam-engine demo`;
   N learners inserted in bulk (one password hash shared) with a bearer token each (no N logins);
2. one `exam-engine serve` worker (gevent, as deployed);
3. a pool of asyncio python-socketio clients in a separate process (benchmarks/delivery/clients.py,
   --client-procs of them) runs, on a shared wall-clock schedule:
   a. start storm: the N learners start (REST) and join (/exam) the same exam within one second;
      p50/p99 from each learner's scheduled start to its joined form;
   b. sustained answering: each learner answers every --interval s for --sustain-s s;
      answers/s, p50/p99 ack latency, errors;
   c. saturation: each learner answers again as soon as its previous ack arrives, for --saturate-s s:
      the server's throughput ceiling at N connections;
   every acked answer is then looked up in the database: lost = acked but not stored (must be 0);
4. the same client schedule against a bare Flask-SocketIO server in the same async mode that only
   acknowledges (benchmarks/delivery/bare_server.py): our throughput and latency as a ratio of it.
CPU seconds of the server, the PostgreSQL processes and the clients are read from /proc per phase.
Loops are bounded in count and time; every process started is killed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._pg import drop_schema, make_schema  # noqa: E402

CLIENTS = ROOT / "benchmarks" / "delivery" / "clients.py"
BARE = ROOT / "benchmarks" / "delivery" / "bare_server.py"
ENGINE = str(Path(sys.executable).with_name("exam-engine"))
PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password-123"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total


def postgres_pids() -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def postgres_cpu() -> float:
    """CPU of every postgres process, including backends that have exited (cumulative children time of the postmaster)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in postgres_pids():
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / tick
        except (OSError, IndexError):
            pass
    return total


# --- setup -------------------------------------------------------------------------------------------

def engine_env(db_url: str, instance: Path, async_mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_ENGINE_") and k != "REDIS_URL"}
    env.update({"DATABASE_URL": db_url, "SECRET_KEY": secrets.token_urlsafe(32), "EXAM_ENGINE_INSTANCE": str(instance),
                "EXAM_ENGINE_ASYNC_MODE": async_mode, "PYTHONUNBUFFERED": "1",
                # The workers run this checkout's code, whichever checkout the venv was installed from.
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    return env


def seed(db_url: str, env: dict, n: int) -> tuple[int, list[str]]:
    """Demo data, then n learners with one token each, inserted in bulk; (exam id, tokens)."""
    from sqlalchemy import select

    from exam_engine.auth.models import User
    from exam_engine.auth.services import hash_password, issue_token
    from exam_engine.db import Database, utcnow
    from exam_engine.exams.models import Exam
    from exam_engine.migrate import upgrade

    upgrade(db_url)
    subprocess.run([ENGINE, "demo", "--password", PASSWORD], env=env, check=True, capture_output=True)
    database = Database(db_url)
    session = database.session()
    try:
        exam_id = session.scalar(select(Exam.id).where(Exam.external_id == "demo-websec-quick"))
        digest = hash_password(PASSWORD)  # one argon2 hash for all: hashing 1,000 would take a minute
        users = [User(email=f"bench-{i:05d}@example.org", name=f"Bench {i}", password_hash=digest, role="learner",
                      accommodations={}, identity_salt=secrets.token_hex(16)) for i in range(n)]
        session.add_all(users)
        session.flush()
        now = utcnow()
        tokens = [issue_token(session, user, now=now, ttl_s=6 * 3600)[0] for user in users]
        session.commit()
    finally:
        session.close()
        database.engine.dispose()
    return exam_id, tokens


class Proc:
    """A subprocess in its own process group, killed at the end."""

    def __init__(self, cmd: list[str], env: dict | None, log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as fh:
            self.p = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)

    def wait_healthy(self, url: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.p.poll() is not None:
                raise SystemExit(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"server not healthy after {timeout} s")

    def kill(self) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=10)


# --- one run (engine or bare) ------------------------------------------------------------------------

def run_clients(args: argparse.Namespace, base: str, exam_id: int, tokens_file: Path, work: Path, label: str,
                server_pids: list[int], sample_state: Path | None) -> dict:
    n = args.learners
    lead = 4.0 + 0.002 * n  # time for the client processes to start and build their clients
    if args.storm_mode == "lobby":
        lead += 0.01 * n  # and to connect every learner to /exam before the storm
    storm_at = time.time() + lead
    storm_budget = max(15.0, n / 20)
    sustain_at = storm_at + storm_budget
    saturate_at = sustain_at + args.sustain_s + 12  # room for the last acks (10 s timeout)
    end_at = saturate_at + args.saturate_s
    per = -(-n // args.client_procs)
    procs, outs = [], []
    for k in range(args.client_procs):
        first = k * per
        count = min(per, n - first)
        if count <= 0:
            break
        out = work / f"{label}-clients-{k}.json"
        outs.append(out)
        cmd = [args.client_python, str(CLIENTS), "--base", base, "--exam-id", str(exam_id), "--tokens", str(tokens_file),
               "--first", str(first), "--count", str(count), "--total", str(n), "--storm-at", repr(storm_at),
               "--storm-mode", args.storm_mode,
               "--sustain-at", repr(sustain_at), "--sustain-s", str(args.sustain_s), "--interval", str(args.interval),
               "--saturate-at", repr(saturate_at), "--saturate-s", str(args.saturate_s), "--out", str(out)]
        if sample_state is not None and k == 0:
            cmd += ["--sample-state", str(sample_state)]
        procs.append(Proc(cmd, None, work / f"{label}-clients-{k}.log"))
    client_pids = [p.p.pid for p in procs]
    marks = {}

    def mark(name: str, at: float) -> None:
        time.sleep(max(0.0, at - time.time()))
        marks[name] = (cpu_of(server_pids), postgres_cpu(), cpu_of(client_pids), time.time())

    log(f"{label}: storm at +{lead:.0f} s, sustained {args.sustain_s:.0f} s from +{sustain_at - storm_at + lead:.0f} s, "
        f"saturation {args.saturate_s:.0f} s from +{saturate_at - storm_at + lead:.0f} s")
    mark("storm", storm_at)
    # The storm lasts seconds of its budget: sample every 0.25 s so its CPU can be taken over the storm itself
    # (from its start to the sample after its last join), not averaged over the whole budget.
    storm_samples = []
    t = storm_at
    while t < storm_at + storm_budget - 1:
        t += 0.25
        mark("storm_sample", t)
        storm_samples.append(marks["storm_sample"])
        if all(p.p.poll() is not None for p in procs):
            break  # a storm-only run: the clients are done
    marks["storm_samples"] = storm_samples
    mark("storm_end", min(t, storm_at + storm_budget - 1))
    if args.sustain_s > 0:
        log(f"{label}: storm over; sustained answering")
        mark("sustain", sustain_at)
        mark("sustain_end", sustain_at + args.sustain_s)
    if args.saturate_s > 0:
        log(f"{label}: sustained over; saturation")
        mark("saturate", saturate_at)
        mark("saturate_end", end_at)
    deadline = time.monotonic() + 120
    for p in procs:
        try:
            p.p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    merged: dict = {}
    for out in outs:
        if not out.exists():
            raise SystemExit(f"client process wrote no result; see {work}/{label}-clients-*.log")
        data = json.loads(out.read_text())
        for key, value in data.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            elif isinstance(value, (int, float)):
                merged[key] = merged.get(key, 0) + value
    merged["marks"] = marks
    return merged


def summarise(r: dict, args: argparse.Namespace) -> dict:
    m = r["marks"]

    def cpu(a: str, b: str) -> dict:
        if a not in m or b not in m:
            return {"server": float("nan"), "postgres": float("nan"), "clients": float("nan"), "wall": 0.0}
        return cpu_between(m[a], m[b])

    def cpu_between(a: tuple, b: tuple) -> dict:
        wall = b[3] - a[3]
        return {"server": (b[0] - a[0]) / wall, "postgres": (b[1] - a[1]) / wall, "clients": (b[2] - a[2]) / wall,
                "wall": wall}

    # The storm's own window: from its start to the first sample after the last learner joined.
    storm_end = m["storm"][3] + max(r["storm_lat"], default=0.0)
    storm_last = next((s for s in m.get("storm_samples", []) if s[3] >= storm_end), m["storm_end"])
    cpu_storm = cpu_between(m["storm"], storm_last)

    return {
        "storm_joined": len(r["storm_lat"]), "storm_errors": len(r["storm_errors"]),
        "storm_p50_ms": pct(r["storm_lat"], 50) * 1000, "storm_p99_ms": pct(r["storm_lat"], 99) * 1000,
        "storm_max_ms": max(r["storm_lat"], default=float("nan")) * 1000,
        "storm_lag_p99_ms": pct(r["storm_start_lag"], 99) * 1000,
        "storm_steps_p50_ms": [pct([st[k] for st in r["storm_steps"]], 50) * 1000 for k in range(3)],
        "storm_cpu_ms_per_learner": {k: cpu_storm[k] * cpu_storm["wall"] * 1000 / max(1, len(r["storm_lat"]))
                                     for k in ("server", "postgres", "clients")},
        "sustain_acked": len(r["sustain_lat"]), "sustain_errors": len(r["sustain_errors"]),
        "sustain_rate": len(r["sustain_lat"]) / args.sustain_s if args.sustain_s else float("nan"),
        "sustain_p50_ms": pct(r["sustain_lat"], 50) * 1000, "sustain_p99_ms": pct(r["sustain_lat"], 99) * 1000,
        "sustain_max_ms": max(r["sustain_lat"], default=float("nan")) * 1000, "sustain_behind": r.get("sustain_behind", 0),
        "saturate_acked": r.get("saturate_in_window", 0), "saturate_errors": len(r["saturate_errors"]),
        "saturate_rate": r.get("saturate_in_window", 0) / args.saturate_s if args.saturate_s else float("nan"),
        "saturate_p50_ms": pct(r["saturate_lat"], 50) * 1000, "saturate_p99_ms": pct(r["saturate_lat"], 99) * 1000,
        "cpu_storm": cpu_storm, "cpu_sustain": cpu("sustain", "sustain_end"),
        "cpu_saturate": cpu("saturate", "saturate_end"),
        "phase_delay_s": [round(r.get("sustain_delay_s", 0), 1), round(r.get("saturate_delay_s", 0), 1)],
        "error_samples": (r["storm_errors"][:3] + r["sustain_errors"][:3] + r["saturate_errors"][:3]),
    }


def count_lost(db_url: str, acked: list) -> tuple[int, int]:
    """(acked answers, of which not in the database)."""
    from sqlalchemy import select

    from exam_engine.db import Database
    from exam_engine.sessions.models import AppliedSeq

    want = {(sid, seq) for sid, seq in acked}
    database = Database(db_url)
    session = database.session()
    try:
        sids = sorted({sid for sid, _ in want})
        stored = set()
        for i in range(0, len(sids), 500):
            stored |= set(session.execute(select(AppliedSeq.session_id, AppliedSeq.seq)
                                          .where(AppliedSeq.session_id.in_(sids[i:i + 500]))).all())
    finally:
        session.close()
        database.engine.dispose()
    return len(want), len(want - stored)


# --- report --------------------------------------------------------------------------------------------

def machine() -> dict:
    model = "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip() or "?"
    return {"nproc": os.cpu_count(), "cpu": model, "mem_gib": round(int(mem) / 1024 / 1024, 1),
            "python": platform.python_version(), "postgres": pg}


def fmt(v: float, digits: int = 0) -> str:
    return "n/a" if v != v else f"{v:,.{digits}f}"


def report(args: argparse.Namespace, ours: dict, bare: dict | None, lost: tuple[int, int], db_label: str) -> str:
    mc = machine()
    n = args.learners
    rows = [
        ("start storm: joined / errors", f"{ours['storm_joined']} / {ours['storm_errors']}",
         f"{bare['storm_joined']} / {bare['storm_errors']}" if bare else "", ""),
        ("start storm: p50 to joined form", f"{fmt(ours['storm_p50_ms'])} ms", f"{fmt(bare['storm_p50_ms'])} ms" if bare else "", ""),
        ("start storm: p99 to joined form (target < 2,000 ms)", f"{fmt(ours['storm_p99_ms'])} ms",
         f"{fmt(bare['storm_p99_ms'])} ms" if bare else "",
         f"{ours['storm_p99_ms'] / bare['storm_p99_ms']:.1f}x" if bare else ""),
        ("sustained: answers/s", fmt(ours["sustain_rate"], 1), fmt(bare["sustain_rate"], 1) if bare else "",
         f"{ours['sustain_rate'] / bare['sustain_rate']:.2f}" if bare else ""),
        ("sustained: ack p50", f"{fmt(ours['sustain_p50_ms'], 1)} ms", f"{fmt(bare['sustain_p50_ms'], 1)} ms" if bare else "", ""),
        ("sustained: ack p99 (target < 100 ms)", f"{fmt(ours['sustain_p99_ms'], 1)} ms",
         f"{fmt(bare['sustain_p99_ms'], 1)} ms" if bare else "", ""),
        ("sustained: errors", str(ours["sustain_errors"]), str(bare["sustain_errors"]) if bare else "", ""),
        ("saturation: answers/s (the ceiling)", fmt(ours["saturate_rate"], 0), fmt(bare["saturate_rate"], 0) if bare else "",
         f"**{ours['saturate_rate'] / bare['saturate_rate']:.2f}**" if bare else ""),
        ("saturation: ack p50 / p99", f"{fmt(ours['saturate_p50_ms'])} / {fmt(ours['saturate_p99_ms'])} ms",
         f"{fmt(bare['saturate_p50_ms'])} / {fmt(bare['saturate_p99_ms'])} ms" if bare else "", ""),
        ("answers acked / lost (checked in the database)", f"{lost[0]:,} / **{lost[1]}**", "(no database)", ""),
    ]
    cpu_rows = []
    for label, key in (("storm", "cpu_storm"), ("sustained", "cpu_sustain"), ("saturation", "cpu_saturate")):
        o = ours[key]
        b = bare[key] if bare else None
        cpu_rows.append(f"| {label} | {o['server']:.2f} | {o['postgres']:.2f} | {o['clients']:.2f} | "
                        + (f"{b['server']:.2f} | {b['clients']:.2f} |" if b else " | |"))
    cmd = (f".venv/bin/python benchmarks/bench_delivery.py --learners {n} --sustain-s {args.sustain_s:g} "
           f"--interval {args.interval:g} --saturate-s {args.saturate_s:g} --client-procs {args.client_procs} "
           f"--workers {args.workers} --async-mode {args.async_mode}" + (" --skip-bare" if args.skip_bare else "")
           + (" --storm-mode lobby" if args.storm_mode == "lobby" else "") + " --write docs/benchmarks/delivery.md")
    lines = [
        "# Delivery benchmark: start storm, sustained answering, ceiling",
        "",
        f"Run {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by `benchmarks/bench_delivery.py`: "
        f"{n:,} learners on {args.workers} `exam-engine serve` worker(s) (async mode `{args.async_mode}`"
        + (", Redis message queue" if args.workers > 1 else "") + f") on {db_label}, "
        "and the same client schedule against a bare Flask-SocketIO server in the same async mode that only "
        "acknowledges (no database, no validation): `benchmarks/delivery/bare_server.py`.",
        "",
        f"Machine: {mc['nproc']} cores ({mc['cpu']}), {mc['mem_gib']} GiB, Python {mc['python']}, {mc['postgres']}. "
        f"Server, PostgreSQL and {args.client_procs} client process(es) share those {mc['nproc']} cores.",
        "",
        "| measure | engine | bare server | engine / bare |",
        "|---|---:|---:|---:|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "CPU use (cores busy, from /proc) per phase:",
        "",
        "| phase | engine server | PostgreSQL | clients | bare server | clients (bare run) |",
        "|---|---:|---:|---:|---:|---:|",
        *cpu_rows,
        "",
        "How it is measured:",
        (f"- start storm: learner g of {n:,} is scheduled at T0 + g/{n:,} s (all within one second); its latency runs "
         "from its scheduled start through `POST /api/v1/exams/{id}/sessions`, the websocket connect to `/exam` and "
         "`join`, to the ack carrying the whole form;" if args.storm_mode == "rest" else
         f"- start storm (lobby): every learner is connected to `/exam` beforehand (waiting on the exam page); "
         f"learner g of {n:,} sends `start` at T0 + g/{n:,} s (all within one second); its latency runs from its "
         "scheduled start to the ack carrying the whole form;"),
        f"- sustained: every learner answers one item every {args.interval:g} s (random phase) for {args.sustain_s:g} s; "
        "ack latency from send to ack (an ack means committed);",
        f"- saturation: for {args.saturate_s:g} s every learner sends its next answer as soon as the previous ack "
        "arrives, so the server is the bottleneck: answers/s is the ceiling at this concurrency, and the engine's "
        "ratio to the bare server is the price of persistence (validation, row lock, response row, applied seq, "
        "hash-chained log entry, commit);",
        "- lost: every acked (attempt, seq) is looked up in `session_seqs` after the run;",
        f"- clients: python-socketio `AsyncClient`s (asyncio, websocket transport) in {args.client_procs} separate "
        "process(es) from their own venv (`.venv-bench`, for aiohttp), so they do not starve the server's core; "
        "their CPU is in the table above.",
        "",
        "Reproduce:",
        "",
        "```",
        'python3 -m venv .venv-bench && .venv-bench/bin/pip install "python-socketio[asyncio_client]>=5.12,<6" aiohttp',
        cmd,
        "```",
        "",
    ]
    if ours["error_samples"] or (bare and bare["error_samples"]):
        lines += ["Error samples: " + "; ".join((ours["error_samples"] + (bare["error_samples"] if bare else []))[:6]), ""]
    return "\n".join(lines)


def main() -> None:  # noqa: C901 - one linear script
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--learners", type=int, default=1000)
    p.add_argument("--sustain-s", type=float, default=60)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--saturate-s", type=float, default=15)
    p.add_argument("--client-procs", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="engine workers (and bare server processes); >1 uses Redis")
    p.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--client-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    p.add_argument("--database-url", help="default: a private schema in the machine's PostgreSQL, dropped afterwards")
    p.add_argument("--async-mode", default="gevent", choices=["gevent", "threading"])
    p.add_argument("--skip-bare", action="store_true")
    p.add_argument("--write", type=Path)
    p.add_argument("--storm-mode", default="rest", choices=["rest", "lobby"],
                   help="rest: POST /sessions, connect, join; lobby: connected beforehand, then the `start` event")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for the engine workers (repeatable), e.g. EXAM_ENGINE_DB_POOL_SIZE=20")
    args = p.parse_args()
    args.learners = max(1, min(args.learners, 20_000))
    args.sustain_s = max(0.0, min(args.sustain_s, 600))
    args.saturate_s = max(0.0, min(args.saturate_s, 120))
    check = subprocess.run([args.client_python, "-c", "import socketio, aiohttp"], capture_output=True, check=False)
    if check.returncode != 0:
        raise SystemExit(f"{args.client_python} lacks python-socketio/aiohttp; see the top of {__file__}")

    work = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    log(f"work folder {work} (logs of every process)")
    schema = None
    if args.database_url:
        db_url, db_label = args.database_url, "the given database"
    else:
        schema, db_url = make_schema(PG_BASE)
        db_label = "PostgreSQL (" + (subprocess.run(["psql", "--version"], capture_output=True, text=True,
                                                     check=False).stdout.strip() or "local") + ", 127.0.0.1, private schema)"
    servers: list[Proc] = []
    bare_procs: list[Proc] = []
    try:
        env = engine_env(db_url, work / "instance", args.async_mode)
        for setting in args.server_env:
            key, sep, value = setting.partition("=")
            if not sep or not key:
                raise SystemExit(f"--server-env wants KEY=VALUE, not {setting!r}")
            env[key] = value
        t0 = time.monotonic()
        exam_id, tokens = seed(db_url, env, args.learners)
        tokens_file = work / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        log(f"seeded demo + {len(tokens):,} learners with tokens in {time.monotonic() - t0:.1f} s; exam {exam_id}")

        if args.workers > 1:
            env["REDIS_URL"] = args.redis_url
        ports = [free_port() for _ in range(args.workers)]
        servers = [Proc([ENGINE, "serve", "--host", "127.0.0.1", "--port", str(port)], env, work / f"engine-{k}.log")
                   for k, port in enumerate(ports)]
        for port, proc in zip(ports, servers):
            proc.wait_healthy(f"http://127.0.0.1:{port}")
        bases = ",".join(f"http://127.0.0.1:{port}" for port in ports)
        log(f"engine serving on {bases} ({args.async_mode})")
        sample = work / "sample_state.json"
        raw = run_clients(args, bases, exam_id, tokens_file, work, "engine", [p.p.pid for p in servers], sample)
        ours = summarise(raw, args)
        for k, port in enumerate(ports):
            (work / f"engine-metrics-{k}.txt").write_text(requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        for proc in servers:
            proc.kill()
        lost = count_lost(db_url, raw["acked"])
        log(f"engine: storm p50 {ours['storm_p50_ms']:.0f} ms p99 {ours['storm_p99_ms']:.0f} ms "
            f"({ours['storm_joined']} joined, {ours['storm_errors']} errors; steps p50 start/connect/join "
            f"{'/'.join(f'{v:.0f}' for v in ours['storm_steps_p50_ms'])} ms; CPU ms per learner "
            f"{', '.join(f'{k} {v:.1f}' for k, v in ours['storm_cpu_ms_per_learner'].items())}); sustained {ours['sustain_rate']:.1f}/s "
            f"p50 {ours['sustain_p50_ms']:.1f} ms p99 {ours['sustain_p99_ms']:.1f} ms errors {ours['sustain_errors']}; "
            f"saturation {ours['saturate_rate']:.0f}/s p99 {ours['saturate_p99_ms']:.0f} ms; "
            f"acked {lost[0]} lost {lost[1]}")

        bare = None
        if not args.skip_bare:
            if not sample.exists():
                raise SystemExit("no join payload was captured from the engine run; cannot start the bare server")
            bports = [free_port() for _ in range(args.workers)]
            bare_procs = [Proc([sys.executable, str(BARE), "--port", str(bport), "--sample-state", str(sample),
                                "--async-mode", args.async_mode], None, work / f"bare-{k}.log")
                          for k, bport in enumerate(bports)]
            for bport, proc in zip(bports, bare_procs):
                proc.wait_healthy(f"http://127.0.0.1:{bport}")
            bbases = ",".join(f"http://127.0.0.1:{bport}" for bport in bports)
            log(f"bare server on {bbases}")
            raw_b = run_clients(args, bbases, exam_id, tokens_file, work, "bare", [p.p.pid for p in bare_procs], None)
            bare = summarise(raw_b, args)
            for proc in bare_procs:
                proc.kill()
            log(f"bare: storm p50 {bare['storm_p50_ms']:.0f} ms p99 {bare['storm_p99_ms']:.0f} ms (CPU ms per learner "
                f"{', '.join(f'{k} {v:.1f}' for k, v in bare['storm_cpu_ms_per_learner'].items())}); sustained "
                f"{bare['sustain_rate']:.1f}/s p99 {bare['sustain_p99_ms']:.1f} ms; saturation {bare['saturate_rate']:.0f}/s "
                f"p99 {bare['saturate_p99_ms']:.0f} ms")
            if args.saturate_s:
                log(f"ratio engine/bare at saturation: {ours['saturate_rate'] / bare['saturate_rate']:.2f}")
        text = report(args, ours, bare, lost, db_label)
        (work / "summary.json").write_text(json.dumps({"engine": ours, "bare": bare, "lost": lost}, indent=1, default=str))
        print(text)
        if args.write:
            args.write.parent.mkdir(parents=True, exist_ok=True)
            args.write.write_text(text)
            log(f"wrote {args.write}")
    finally:
        for proc in servers + bare_procs:
            proc.kill()
        if schema:
            drop_schema(PG_BASE, schema)


if __name__ == "__main__":
    main()
