"""A pool of asyncio python-socketio learners (AsyncClient) for bench_delivery.py; one process drives many.

Runs in its own process (and its own venv: python-socketio's asyncio client needs
aiohttp, which the engine does not depend on), so the clients' CPU is visible
and separate from the server's. Talks to 127.0.0.1 only. Every phase is bounded
in time; every wait has a timeout.

    python clients.py --base http://127.0.0.1:PORT[,http://127.0.0.1:PORT2] --exam-id 1 --tokens tokens.json --first 0 --count 500 \
        --total 1000 --storm-at EPOCH --sustain-at EPOCH --sustain-s 60 --interval 5 \
        --saturate-at EPOCH --saturate-s 15 --out result.json [--sample-state state.json]

Phases (wall-clock schedule shared by every client process):
1. storm: learner g (of `total`) starts at storm_at + g/total: POST /exams/{id}/sessions, connect /exam
   (websocket), `join`; latency = from its scheduled start to the joined form. With --storm-mode lobby the
   learners connect to /exam before storm_at (waiting on the exam page) and start with the `start` event:
   latency = from the scheduled start to its ack carrying the joined form.
2. sustained: from sustain_at for sustain_s, each learner answers every `interval` s (random phase);
   latency = send -> ack.
3. saturation: from saturate_at for saturate_s, each learner answers again as soon as the previous ack
   arrives (closed loop): the server's ceiling at this concurrency.
Every acked (session_id, seq) is written out so the orchestrator can check the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: its tests' protocol helpers
from tests.system._responses import answer_for  # noqa: E402


class Learner:
    def __init__(self, g: int, token: str) -> None:
        self.g = g
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=30)
        self.base = ""
        self.sid: str | None = None
        self.items: list[dict] = []
        self.seq = 0
        self.connected = False


def wall_to_loop(loop: asyncio.AbstractEventLoop, epoch: float) -> float:
    return loop.time() + (epoch - time.time())


async def storm_one(lr: Learner, http: aiohttp.ClientSession, args: argparse.Namespace, at: float, out: dict) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, at - loop.time()))
    t0 = loop.time()
    try:
        async with http.post(f"{lr.base}/api/v1/exams/{args.exam_id}/sessions",
                             headers={"Authorization": f"Bearer {lr.token}"}) as resp:
            body = await resp.json()
            if resp.status not in (200, 201):
                raise RuntimeError(f"start {resp.status}: {body}")
        lr.sid = body["id"]
        t1 = loop.time()
        await lr.sio.connect(lr.base, namespaces=["/exam"], auth={"token": lr.token}, transports=["websocket"],
                             wait_timeout=30)
        lr.connected = True
        t2 = loop.time()
        ack = await lr.sio.call("join", {"session_id": lr.sid}, namespace="/exam", timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"join: {ack}")
        state = ack["session"]
        lr.items, lr.seq = state["items"], state["last_seq"]
        out["storm_lat"].append(loop.time() - at)
        out["storm_g"].append(lr.g)
        out["storm_start_lag"].append(t0 - at)
        out["storm_steps"].append((t1 - t0, t2 - t1, loop.time() - t2))  # start, connect, join
        if lr.g == 0 and args.sample_state:
            with open(args.sample_state, "w") as fh:
                json.dump(ack, fh)
    except Exception as exc:  # noqa: BLE001 - counted, reported
        out["storm_errors"].append(f"{type(exc).__name__}: {exc}"[:300])


async def lobby_connect(lr: Learner, gate: asyncio.Semaphore, out: dict) -> None:
    """Connect to /exam before the storm, as a learner waiting on the exam page."""
    async with gate:
        try:
            await lr.sio.connect(lr.base, namespaces=["/exam"], auth={"token": lr.token}, transports=["websocket"],
                                 wait_timeout=30)
            lr.connected = True
        except Exception as exc:  # noqa: BLE001 - counted, reported
            out["storm_errors"].append(f"lobby connect: {type(exc).__name__}: {exc}"[:300])


async def storm_one_lobby(lr: Learner, args: argparse.Namespace, at: float, out: dict) -> None:
    loop = asyncio.get_running_loop()
    if not lr.connected:
        return
    await asyncio.sleep(max(0.0, at - loop.time()))
    t0 = loop.time()
    try:
        ack = await lr.sio.call("start", {"exam_id": args.exam_id}, namespace="/exam", timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"start: {ack}")
        state = ack["session"]
        lr.sid, lr.items, lr.seq = state["id"], state["items"], state["last_seq"]
        out["storm_lat"].append(loop.time() - at)
        out["storm_g"].append(lr.g)
        out["storm_start_lag"].append(t0 - at)
        out["storm_steps"].append((0.0, 0.0, loop.time() - t0))  # start, connect, join: all in `start`
        if lr.g == 0 and args.sample_state:
            with open(args.sample_state, "w") as fh:
                json.dump(ack, fh)
    except Exception as exc:  # noqa: BLE001 - counted, reported
        out["storm_errors"].append(f"{type(exc).__name__}: {exc}"[:300])


async def answer_once(lr: Learner, out: dict, phase: str) -> bool:
    loop = asyncio.get_running_loop()
    lr.seq += 1
    item = lr.items[lr.seq % len(lr.items)]
    payload = {"session_id": lr.sid, "item_id": item["item_id"], "response": answer_for(item, lr.seq), "seq": lr.seq}
    t0 = loop.time()
    try:
        ack = await lr.sio.call("answer", payload, namespace="/exam", timeout=10)
    except Exception as exc:  # noqa: BLE001
        out[f"{phase}_errors"].append(f"{type(exc).__name__}: {exc}"[:200])
        return False
    t1 = loop.time()
    if ack.get("ok"):
        out[f"{phase}_lat"].append(t1 - t0)
        out["acked"].append([lr.sid, lr.seq])
        out[f"{phase}_done_at"].append(t1)
        return True
    out[f"{phase}_errors"].append(json.dumps(ack.get("error"))[:200])
    return False


async def sustain_one(lr: Learner, args: argparse.Namespace, start: float, out: dict) -> None:
    loop = asyncio.get_running_loop()
    end = start + args.sustain_s
    t = start + random.uniform(0, args.interval)
    while t < end and lr.connected:
        await asyncio.sleep(max(0.0, t - loop.time()))
        if loop.time() - t > args.interval:
            out["sustain_behind"] += 1
        await answer_once(lr, out, "sustain")
        t += args.interval


async def saturate_one(lr: Learner, start: float, end: float, out: dict) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start - loop.time()))
    while loop.time() < end and lr.connected:
        if not await answer_once(lr, out, "saturate"):
            await asyncio.sleep(0.05)


async def main_async(args: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()
    tokens = json.load(open(args.tokens))[args.first:args.first + args.count]
    learners = [Learner(args.first + i, tok) for i, tok in enumerate(tokens)]
    bases = args.base.split(",")
    for lr in learners:
        lr.base = bases[lr.g % len(bases)]  # several workers: learner g sticks to worker g mod K
    for lr in learners:
        lr.sio.on("disconnect", (lambda *_reason, lr=lr: setattr(lr, "connected", False)), namespace="/exam")
    out: dict[str, Any] = {"storm_lat": [], "storm_g": [], "storm_start_lag": [], "storm_steps": [], "storm_errors": [], "sustain_lat": [], "sustain_errors": [],
                           "sustain_done_at": [], "sustain_behind": 0, "saturate_lat": [], "saturate_errors": [],
                           "saturate_done_at": [], "acked": []}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        storm_at = wall_to_loop(loop, args.storm_at)
        if args.storm_mode == "lobby":
            t0 = loop.time()
            gate = asyncio.Semaphore(50)
            await asyncio.gather(*(lobby_connect(lr, gate, out) for lr in learners))
            print(f"[clients {args.first}-] lobby: {sum(lr.connected for lr in learners)} connected in "
                  f"{loop.time() - t0:.1f} s, {storm_at - loop.time():.1f} s before the storm", flush=True)
            await asyncio.gather(*(storm_one_lobby(lr, args, storm_at + lr.g / args.total, out) for lr in learners))
        else:
            await asyncio.gather(*(storm_one(lr, http, args, storm_at + lr.g / args.total, out) for lr in learners))
        print(f"[clients {args.first}-{args.first + args.count - 1}] storm: {len(out['storm_lat'])} joined, "
              f"{len(out['storm_errors'])} errors", flush=True)
        joined = [lr for lr in learners if lr.items]
        if args.sustain_s > 0:
            # Phases never overlap: a storm that overran the schedule delays the next phase (reported).
            start = max(wall_to_loop(loop, args.sustain_at), loop.time())
            out["sustain_delay_s"] = start - wall_to_loop(loop, args.sustain_at)
            await asyncio.gather(*(sustain_one(lr, args, start, out) for lr in joined))
            print(f"[clients {args.first}-] sustained: {len(out['sustain_lat'])} acked, "
                  f"{len(out['sustain_errors'])} errors", flush=True)
        if args.saturate_s > 0:
            start = max(wall_to_loop(loop, args.saturate_at), loop.time())
            out["saturate_delay_s"] = start - wall_to_loop(loop, args.saturate_at)
            end = start + args.saturate_s
            await asyncio.gather(*(saturate_one(lr, start, end, out) for lr in joined))
            # Only acks inside the window count for throughput.
            out["saturate_in_window"] = sum(1 for t in out["saturate_done_at"] if start <= t <= end)
            print(f"[clients {args.first}-] saturation: {out['saturate_in_window']} acked in {args.saturate_s} s, "
                  f"{len(out['saturate_errors'])} errors", flush=True)
        await asyncio.gather(*(lr.sio.disconnect() for lr in learners if lr.connected), return_exceptions=True)
    del out["saturate_done_at"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="worker URL(s), comma-separated")
    p.add_argument("--exam-id", type=int, required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--first", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--storm-at", type=float, required=True)
    p.add_argument("--sustain-at", type=float, required=True)
    p.add_argument("--sustain-s", type=float, default=60)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--saturate-at", type=float, required=True)
    p.add_argument("--saturate-s", type=float, default=15)
    p.add_argument("--out", required=True)
    p.add_argument("--sample-state")
    p.add_argument("--storm-mode", default="rest", choices=["rest", "lobby"])
    args = p.parse_args()
    if not all(b.startswith(("http://127.", "http://localhost")) for b in args.base.split(",")):
        raise SystemExit("the benchmark clients only talk to the loopback interface")
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main_async(args))
    with open(args.out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
