"""After the commit: warnings and pauses to the learner (/exam), flags and rows to examiners (/monitor);
the limiter chosen for this app; the periodic job that runs the server-side rules.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app

from ..db import get_db, utcnow
from ..extensions import socketio
from . import services
from .services import Effects

log = logging.getLogger("exam_engine.proctoring")


def deliver(effects: Effects | None, *, refresh_row: bool = True) -> None:
    """Emit what a committed change means for the learner's page and the examiners' view.

    `refresh_row=False`: the caller refreshes the examiners' rows of changed attempts itself, for many at once.
    """
    if not effects:
        return
    from ..monitor.sockets import NAMESPACE as MONITOR, notify
    from ..sessions.sockets import NAMESPACE as EXAM, emit_status, exam_room, room_of
    for w in effects.warnings:
        socketio.emit("warning", {"session_id": effects.session_id, **w}, to=room_of(effects.session_id), namespace=EXAM)
    if effects.paused:
        emit_status(effects.session_id, "paused", "risk_pause")
        socketio.emit("time", effects.paused, to=room_of(effects.session_id), namespace=EXAM)
    for flag in effects.flags:
        socketio.emit("flag", {"exam_id": effects.exam_id, "session_id": effects.session_id, "risk": effects.risk,
                               "alert": flag.get("alert", False), "flag": flag},
                      to=exam_room(effects.exam_id), namespace=MONITOR)
    if refresh_row or not effects.changed:
        notify(effects.session_id, light=not effects.changed)


def limiter_for(app: Flask):  # noqa: ANN201
    """Redis windows when REDIS_URL is set (several workers), else the database's."""
    limiter = app.extensions.get("exam_engine.signal_limiter")
    if limiter is None:
        url = app.config.get("REDIS_URL")
        if url:
            import redis
            limiter = services.RedisRateLimiter(redis.Redis.from_url(url))
        else:
            limiter = services.DbRateLimiter()
        app.extensions["exam_engine.signal_limiter"] = limiter
    return limiter


def current_limiter():  # noqa: ANN201
    return limiter_for(current_app._get_current_object())


# --- shedding a signal flood before it reaches the database -----------------------------------------

def blocked_ack(conn: dict, payload: object) -> dict | None:
    """The rate_limited ack, without touching the database, while this connection's window is known to be full.

    The authoritative count is in the database (or Redis); this per-connection marker,
    set when the database refused a signal, only sheds the rest of a flood cheaply until
    the window ends. A reconnect (to any worker) starts without it and meets the real count.
    """
    until = conn.get("signals_blocked_until")
    if not until or not isinstance(payload, dict) or payload.get("session_id") != conn.get("session_id"):
        return None
    left = until - time.time()
    if left <= 0:
        conn.pop("signals_blocked_until", None)
        conn.pop("signals_shed", None)
        return None
    conn["signals_shed"] = conn.get("signals_shed", 0) + 1
    return {"ok": False, "error": {"code": "rate_limited", "message": "too many signals: wait for the next window",
                                   "details": {"retry_after_s": round(left, 3)}}}


def is_flooding(conn: dict, limit: int | None) -> bool:
    """A connection that keeps sending after hundreds of refusals in one window is broken or hostile: drop it.

    Even refused, each message costs the worker a little; a reconnect meets the same
    window in the database, and the attempt itself is untouched.
    """
    return bool(limit) and conn.get("signals_shed", 0) >= limit


def remember_limit(conn: dict, ack: dict) -> None:
    """After a database refusal, block this connection's signals until the window ends."""
    error = ack.get("error") if not ack.get("ok") else None
    if error and error.get("code") == "rate_limited":
        conn["signals_blocked_until"] = time.time() + float((error.get("details") or {}).get("retry_after_s", 1))


def scan_once(app: Flask) -> int:
    """Run the server-side rules on every attempt that needs it, a chunk of attempts per transaction; returns how many."""
    from ..monitor.sockets import flush_ids
    from .scan import CHUNK, scan_chunk
    now = utcnow()
    with app.app_context():
        db = get_db().session()
        try:
            ids = services.attempts_to_scan(db, now=now)
            db.rollback()
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                try:
                    effects = scan_chunk(db, chunk, now=now)
                    db.commit()
                except Exception:  # noqa: BLE001 - a failed chunk is retried attempt by attempt
                    db.rollback()
                    log.warning("proctoring scan chunk failed; scanning its attempts one by one", exc_info=True)
                    effects = _scan_one_by_one(db, chunk, now)
                changed = {e.session_id for e in effects if e is not None and e.changed}
                for e in effects:
                    deliver(e, refresh_row=False)
                flush_ids(changed)  # the examiners' rows of attempts whose flags moved: one read for the chunk
                socketio.sleep(0)
        finally:
            db.close()
    return len(ids)


def _scan_one_by_one(db, ids: list[str], now) -> list:  # noqa: ANN001
    out = []
    for sid in ids:
        try:
            out.append(services.scan_attempt(db, sid, now=now))
            db.commit()
        except Exception:  # noqa: BLE001 - one attempt must not stop the others
            db.rollback()
            log.exception("proctoring scan failed", extra={"session_id": sid})
    return out


def scan_job(app: Flask) -> None:
    """Background job: the server-side rules every PROCTORING_SCAN_S seconds."""
    interval = max(0.5, app.config.get("PROCTORING_SCAN_S", 5.0))  # 0 or less would spin
    while True:
        socketio.sleep(interval)
        try:
            scan_once(app)
        except Exception:  # noqa: BLE001
            log.exception("proctoring scan job failed")
