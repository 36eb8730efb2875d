"""Background jobs of each worker: heartbeat (with outage credit), the sweeper, and `time` pushes.

They run in every worker; the database makes them safe to run many times at
once (conditional updates claim each attempt and each outage exactly once).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from ..db import Database, utcnow
from ..extensions import socketio
from . import metrics, services
from .models import ExamSession
from .statuses import OPEN

log = logging.getLogger("exam_engine.sweeper")
WORKER = f"{socket.gethostname()}:{os.getpid()}"
#: This process's incarnation: a restart at the same address is a new one, so the connections the previous
#: one held are known to be lost (sessions.services.lost_holder).
INCARNATION = secrets.token_hex(8)


def worker_address(app: Flask) -> str:
    """Where this worker serves (`exam-engine serve` sets host:port), host:pid for any other process."""
    return app.config.get("WORKER_ADDRESS") or WORKER


def holder_id(app: Flask) -> str:
    """How an attempt records that this worker incarnation holds its connection."""
    return f"{worker_address(app)}#{INCARNATION}"


def register_worker(app: Flask) -> None:
    """Record this incarnation at its address before serving (`serve`, with the background jobs that keep it
    alive): a connection it accepts is never held by an incarnation the `workers` table does not know yet."""
    with app.app_context():
        db = jobs_db(app).session()
        try:
            services.worker_alive(db, address=worker_address(app), incarnation=INCARNATION, now=utcnow())
            db.commit()
        except Exception:  # noqa: BLE001 - the database may be down: the heartbeat registers it when it is back
            db.rollback()
            log.exception("could not register this worker; the heartbeat will")
        finally:
            db.close()


def jobs_db(app: Flask) -> Database:
    """The background jobs' own connection pool.

    Under a flood of learner requests (a start storm) every connection of the app's pool is
    taken and hundreds of handlers queue for one; a heartbeat queued behind them for longer
    than the outage threshold looks like an outage and credits time nobody lost (the load
    benchmark saw a 27 s phantom outage credited to 994 attempts). Jobs never queue there.
    """
    db = app.extensions.get("exam_engine.jobs_db")
    if db is None:
        db = app.extensions["exam_engine.jobs_db"] = Database(app.config["DATABASE_URL"])
    return db


def run_heartbeat_once(app: Flask) -> float | None:
    """One heartbeat; returns the outage credited (and pushes new times to learners when > 0), None if it failed."""
    with app.app_context():
        db = jobs_db(app).session()
        try:
            now = utcnow()
            credit = services.heartbeat(db, now=now, worker=WORKER, outage_threshold_s=app.config["OUTAGE_THRESHOLD_S"])
            services.worker_alive(db, address=worker_address(app), incarnation=INCARNATION, now=now)
            db.commit()
        except Exception:  # noqa: BLE001
            db.rollback()
            log.exception("heartbeat failed")
            return None
        finally:
            db.close()
        if credit:
            metrics.OUTAGE_CREDIT.inc(credit)
            push_times(app)
        return credit


def run_sweep_once(app: Flask, *, score_budget_s: float = 0.25) -> list[services.Closed]:
    """Submit every attempt past deadline + grace (in committed batches), tell the learners, then score.

    Submission comes first and is quick, so it stays within the sweep interval of the deadline however many
    attempts expire together; scoring takes at most `score_budget_s` of each sweep (the rest waits for the
    next one, or another worker's), so it never holds the next submissions back.
    """
    from .sockets import emit_status, notify_examiners_by_id
    closed_all: list[services.Closed] = []
    with app.app_context():
        db = jobs_db(app).session()
        try:
            while True:
                try:
                    closed = services.sweep_expired(db, now=utcnow())
                    db.commit()
                except Exception:  # noqa: BLE001
                    db.rollback()
                    log.exception("sweep failed")
                    break
                closed_all += closed
                if len(closed) < services.SWEEP_BATCH:
                    break
                socketio.sleep(0)
            # Told after every batch is in: the claims of a thousand attempts come before their emits.
            for c in closed_all:
                metrics.SWEPT.inc()
                metrics.SWEEP_LATENESS.observe(max(c.lateness_s, 0))
                emit_status(c.session_id, "submitted", c.reason)
                notify_examiners_by_id(c.session_id)
                log.info("attempt closed at deadline", extra={"session_id": c.session_id,
                                                              "lateness_s": round(c.lateness_s, 3)})
            score_submitted(app, db, budget_s=score_budget_s)
        finally:
            db.close()
    return closed_all


#: A submitted attempt whose scoring failed is tried again this much later (not on every sweep).
SCORE_RETRY_S = 60.0


#: Attempts scored per transaction (each in its own savepoint).
SCORE_BATCH = 20


def score_submitted(app: Flask, db, *, budget_s: float) -> int:  # noqa: ANN001
    """Score submitted attempts, a batch per transaction, for up to `budget_s`; learners get their new status.

    Each attempt is scored in its own savepoint: one whose scoring fails stays submitted, is logged, and is
    left alone for SCORE_RETRY_S (in its row: by every worker); the others go on.
    """
    from .sockets import emit_status, notify_examiners_by_id
    t_end = time.monotonic() + budget_s
    done = 0
    while time.monotonic() < t_end:
        scored = []
        try:
            attempts = services.next_submitted(db, now=utcnow(), limit=SCORE_BATCH)
            for attempt in attempts:
                sid = attempt.id
                try:
                    with db.begin_nested():
                        services.score(db, attempt, now=utcnow())
                    scored.append((sid, attempt.status, attempt.end_reason))
                except Exception:  # noqa: BLE001
                    services.defer_scoring(db, sid, until=utcnow() + timedelta(seconds=SCORE_RETRY_S))
                    log.exception("scoring a submitted attempt failed; retried later", extra={"session_id": sid})
            db.commit()
        except Exception:  # noqa: BLE001
            db.rollback()
            log.exception("scoring pass failed")
            break
        for sid, status, reason in scored:
            emit_status(sid, status, reason or "submitted")
            notify_examiners_by_id(sid)
        done += len(scored)
        if len(attempts) < SCORE_BATCH:
            break
        socketio.sleep(0)
    return done


#: The periodic push goes out in slices of this many attempts, spread over part of its interval.
PUSH_SLICE = 50


def push_times(app: Flask, *, local_only: bool = False, spread_s: float = 0.0) -> int:
    """Send open attempts their remaining time (learners correct their countdowns).

    With `local_only` (the periodic push, which runs in every worker) only attempts whose connection is on
    this worker are pushed, straight to the local socket (not through the message queue), so N workers do
    not push every attempt N times through Redis. Only the columns the `time` payload needs are read.
    `spread_s`: send the pushes in slices of `PUSH_SLICE` spread over that many seconds instead of in one
    burst (a thousand emits at once held the worker for a stretch every interval, in the tail of learners'
    ack latency). Each slice reads its attempts when it is sent, so a pause or an extension made meanwhile
    is in the payload.
    """
    from .sockets import NAMESPACE, room_of
    with app.app_context():
        attempts = _time_rows(app, ExamSession.status.in_(OPEN))
        if local_only:
            manager = socketio.server.manager
            attempts = [a for a in attempts if a.active_sid and manager.is_connected(a.active_sid, NAMESPACE)]
        slices = [attempts[k:k + PUSH_SLICE] for k in range(0, len(attempts), PUSH_SLICE)]
        pushed = 0
        for k, rows in enumerate(slices):
            if k:  # the first slice was just read
                socketio.sleep(spread_s / len(slices))
                rows = _time_rows(app, ExamSession.id.in_([a.id for a in rows]), ExamSession.status.in_(OPEN))
            now = utcnow()
            for attempt in rows:
                socketio.emit("time", services.time_payload(attempt, now), to=room_of(attempt.id),
                              namespace=NAMESPACE, ignore_queue=local_only)
                socketio.sleep(0)  # let acks through between pushes
            pushed += len(rows)
        return pushed


def _time_rows(app: Flask, *where) -> list:  # noqa: ANN002
    """The `time` payload's columns of these attempts, through the jobs' own pool (never queued behind a storm)."""
    db = jobs_db(app).session()
    try:
        return db.execute(select(ExamSession.id, ExamSession.status, ExamSession.deadline_at, ExamSession.paused_at,
                                 ExamSession.active_sid).where(*where)).all()
    finally:
        db.close()


def release_lost_once(app: Flask) -> list[str]:
    """Release attempts held by worker incarnations that are gone; examiners see them offline."""
    from .sockets import notify_examiners_by_id
    with app.app_context():
        db = jobs_db(app).session()
        try:
            released = services.release_lost_connections(db, now=utcnow(), stale_s=app.config["WORKER_STALE_S"])
            db.commit()
        except Exception:  # noqa: BLE001
            db.rollback()
            log.exception("releasing lost connections failed")
            return []
        finally:
            db.close()
        for session_id in released:
            notify_examiners_by_id(session_id)
        if released:
            log.warning("connections of a lost worker released", extra={"attempts": len(released)})
        return released


#: The heartbeat job looks for connections held by lost workers every this many beats.
RELEASE_EVERY = 5


def heartbeat_job(app: Flask) -> None:
    interval = app.config["HEARTBEAT_INTERVAL_S"]
    beats = 0
    while True:
        run_heartbeat_once(app)
        if beats % RELEASE_EVERY == 0:
            release_lost_once(app)
        beats += 1
        socketio.sleep(interval)


def sweeper_job(app: Flask) -> None:
    interval = app.config["SWEEP_INTERVAL_S"]
    # Credit an outage before closing anything: an attempt whose deadline fell while no worker
    # was alive gets the gap back instead of being swept at restart. Racing the heartbeat job
    # is safe: the compare-and-set on the clock row lets only one of them credit the gap.
    while run_heartbeat_once(app) is None:
        socketio.sleep(interval)
    while True:
        t0 = time.monotonic()
        run_sweep_once(app, score_budget_s=0.8 * interval)
        socketio.sleep(max(0.05, interval - (time.monotonic() - t0)))


def time_sync_job(app: Flask) -> None:
    interval = app.config["TIME_SYNC_INTERVAL_S"]
    spent = 0.0
    while True:
        socketio.sleep(max(0.0, interval - spent))
        t0 = time.monotonic()
        try:
            push_times(app, local_only=True, spread_s=interval / 3)
        except Exception:  # noqa: BLE001
            log.exception("time sync failed")
        spent = time.monotonic() - t0


def register_jobs() -> None:
    from ..jobs import JOBS
    JOBS.update({"heartbeat": heartbeat_job, "sweeper": sweeper_job, "time_sync": time_sync_job})
