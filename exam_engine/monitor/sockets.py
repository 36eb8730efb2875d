"""The `/monitor` Socket.IO namespace for examiners: watch an exam, act on attempts, review proctoring flags.

Updates reach examiners through the room `exam:<id>`; with REDIS_URL set the
message queue carries them between workers, so an examiner on one worker sees
learners on another and their actions reach learners wherever they are.
Frequent updates (answers) are coalesced and sent as one `session_updates`
batch per exam per interval, so one examiner can follow hundreds of attempts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import session as socket_session
from flask_socketio import Namespace, join_room, leave_room
from marshmallow import fields, validate

from item_bank.errors import Forbidden
from item_bank.schemas import StrictSchema

from ..auth.models import User
from ..db import get_db, utcnow
from ..errors import ack_error
from ..extensions import socketio
from ..sessions import services as session_services
from ..sessions.models import ExamSession
from ..sessions.sockets import EXAMINER_NOTIFIERS, authenticate_socket, emit_message, refuse, emit_status, emit_time, exam_room
from . import services

log = logging.getLogger("exam_engine.monitor")
NAMESPACE = "/monitor"
STAFF = ("examiner", "instructor", "admin")


class WatchSchema(StrictSchema):
    exam_id = fields.Integer(required=True, strict=True)


class ActSchema(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    action = fields.String(required=True, validate=validate.OneOf(session_services.ACTIONS))
    text = fields.String(validate=validate.Length(min=1, max=2000))
    seconds = fields.Float(validate=validate.Range(min=1, max=86400))
    reason = fields.String(validate=validate.Length(min=1, max=500))


class BroadcastSchema(StrictSchema):
    exam_id = fields.Integer(required=True, strict=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MonitorNamespace(Namespace):
    def on_connect(self, auth=None):  # noqa: ANN001
        user_id = authenticate_socket(auth)
        db = get_db().session()
        try:
            user = db.get(User, user_id)
            if user.role not in STAFF:
                raise refuse("role_required", "examiners only")
        finally:
            db.close()
        socket_session["user_id"] = user_id

    def _staff(self, db) -> User:  # noqa: ANN001
        user = db.get(User, socket_session.get("user_id"))
        if user is None or not user.is_active or user.role not in STAFF:
            raise Forbidden("examiners only", code="role_required")
        return user

    def on_watch(self, payload=None):  # noqa: ANN001
        db = get_db().session()
        try:
            data = WatchSchema().load(payload if isinstance(payload, dict) else {"_": payload})
            rows = services.snapshot(db, self._staff(db), data["exam_id"], utcnow())
        except Exception as exc:  # noqa: BLE001
            return ack_error(exc)
        finally:
            db.close()
        join_room(exam_room(data["exam_id"]))
        try:
            mark_watched({data["exam_id"]})  # the other workers start pushing this exam's rows at once
        except Exception:  # noqa: BLE001 - Redis down: rows from this worker still flow; others within a tick
            log.warning("could not mark exam %s as watched in Redis", data["exam_id"], exc_info=True)
        return {"ok": True, "exam_id": data["exam_id"], "sessions": rows, "server_now": utcnow().isoformat()}

    def on_unwatch(self, payload=None):  # noqa: ANN001
        try:
            data = WatchSchema().load(payload if isinstance(payload, dict) else {"_": payload})
        except Exception as exc:  # noqa: BLE001
            return ack_error(exc)
        leave_room(exam_room(data["exam_id"]))
        return {"ok": True}

    def on_act(self, payload=None):  # noqa: ANN001
        db = get_db().session()
        try:
            data = ActSchema().load(payload if isinstance(payload, dict) else {"_": payload})
            actor = self._staff(db)
            now = utcnow()
            attempt = session_services.examiner_act(db, actor, data["session_id"], data["action"], now=now,
                                                    text=data.get("text"), seconds=data.get("seconds"),
                                                    reason=data.get("reason"))
            row = services.rows_for(db, [attempt], now)[0]
            db.commit()
        except Exception as exc:  # noqa: BLE001
            db.rollback()
            return ack_error(exc)
        finally:
            db.close()
        deliver_action(attempt, data)
        push_rows(attempt.exam_id, [row])
        return {"ok": True, "session": row}

    def on_broadcast(self, payload=None):  # noqa: ANN001
        """Message every open attempt of an exam."""
        db = get_db().session()
        try:
            data = BroadcastSchema().load(payload if isinstance(payload, dict) else {"_": payload})
            actor = self._staff(db)
            services.check_watcher(db, actor, data["exam_id"])
            from sqlalchemy import select
            from ..sessions.statuses import OPEN
            ids = db.scalars(select(ExamSession.id).where(ExamSession.exam_id == data["exam_id"],
                                                          ExamSession.status.in_(OPEN))).all()
            now = utcnow()
            sent = []
            for sid in ids:
                attempt = session_services.examiner_act(db, actor, sid, "message", now=now, text=data["text"])
                sent.append((sid, attempt.messages[-1]))
            db.commit()
        except Exception as exc:  # noqa: BLE001
            db.rollback()
            return ack_error(exc)
        finally:
            db.close()
        for sid, msg in sent:
            emit_message(sid, msg)
        return {"ok": True, "sent": len(sent)}


    def on_review_flag(self, payload=None):  # noqa: ANN001
        """Confirm or dismiss a proctoring flag with a note: {flag_id, status, note}."""
        from ..proctoring import notify as proctoring_notify, services as proctoring_services
        from ..proctoring.schemas import MonitorReviewSchema
        db = get_db().session()
        try:
            data = MonitorReviewSchema().load(payload if isinstance(payload, dict) else {"_": payload})
            flag, effects = proctoring_services.review_flag(db, self._staff(db), data["flag_id"], status=data["status"],
                                                            note=data["note"], now=utcnow())
            db.commit()
        except Exception as exc:  # noqa: BLE001
            db.rollback()
            return ack_error(exc)
        finally:
            db.close()
        proctoring_notify.deliver(effects)
        return {"ok": True, "flag": flag, "risk": effects.risk}

    def trigger_event(self, event, *args):  # noqa: ANN001, ANN002
        """Unknown events get an error ack instead of vanishing."""
        if getattr(self, f"on_{event}", None) is None and event not in ("connect", "disconnect"):
            return {"ok": False, "error": {"code": "unknown_event", "message": f"no event {event!r} on {NAMESPACE}"}}
        return super().trigger_event(event, *args)


def deliver_action(attempt: ExamSession, data: dict[str, Any]) -> None:
    """Make an examiner's action visible on the learner's page at once (after the commit)."""
    action = data["action"]
    if action == "message":
        emit_message(attempt.id, attempt.messages[-1])
    elif action in ("pause", "resume"):
        emit_status(attempt.id, attempt.status, "examiner_pause" if action == "pause" else "examiner_resume")
        emit_time(attempt)
    elif action == "extend":
        emit_time(attempt)
    elif action == "terminate":
        emit_status(attempt.id, attempt.status, "terminated", data.get("reason") or None)


def push_rows(exam_id: int, rows: list[dict]) -> None:
    socketio.emit("session_updates", {"exam_id": exam_id, "sessions": rows}, to=exam_room(exam_id), namespace=NAMESPACE)


class _Coalescer:
    """Collects attempt ids with light changes and flushes them as one batch per exam (per worker)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: set[str] = set()

    def add(self, session_id: str) -> None:
        with self.lock:
            self.pending.add(session_id)

    def take(self) -> set[str]:
        with self.lock:
            taken, self.pending = self.pending, set()
        return taken


COALESCER = _Coalescer()


def notify(session_id: str, light: bool = False) -> None:
    """Examiner notifier: heavy changes go out at once, light ones in the next batch."""
    if light:
        COALESCER.add(session_id)
        return
    flush_ids({session_id})


#: Redis key marking an exam as watched by some examiner on some worker (refreshed while anyone watches).
WATCHED_KEY = "exam_engine:monitor:watched:{}"
WATCHED_TTL_S = 10


def _redis():  # noqa: ANN202
    """The app's Redis client for the watched-exam marks, or None without REDIS_URL (one worker)."""
    from flask import current_app
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("exam_engine.monitor_redis")
    if client is None:
        import redis
        client = current_app.extensions["exam_engine.monitor_redis"] = redis.Redis.from_url(url)
    return client


def locally_watched() -> set[int]:
    """Exams with an examiner connected to this worker (their room has members here)."""
    rooms = socketio.server.manager.rooms.get(NAMESPACE, {}) if socketio.server else {}
    return {int(room.split(":", 1)[1]) for room, members in list(rooms.items())
            if members and isinstance(room, str) and room.startswith("exam:")}


def mark_watched(exam_ids: set[int]) -> None:
    """Tell the other workers these exams are watched (so they push their rows)."""
    client = _redis()
    if client is not None and exam_ids:
        pipe = client.pipeline(transaction=False)
        for exam_id in exam_ids:
            pipe.set(WATCHED_KEY.format(exam_id), 1, ex=WATCHED_TTL_S)
        pipe.execute()


def watched(exam_ids: set[int]) -> set[int]:
    """Which of these exams some examiner watches, here or on another worker."""
    here = locally_watched() & exam_ids
    rest = sorted(exam_ids - here)
    client = _redis()
    if client is None or not rest:
        return here
    marks = client.mget([WATCHED_KEY.format(e) for e in rest])
    return here | {e for e, mark in zip(rest, marks) if mark is not None}


def _exams_of(db, ids: set[str]) -> dict[str, int]:  # noqa: ANN001
    """attempt id -> exam id (an attempt never changes exam: cached per process)."""
    from sqlalchemy import select

    def load(missing: list) -> dict:
        return dict(db.execute(select(ExamSession.id, ExamSession.exam_id).where(ExamSession.id.in_(missing))).all())
    return session_services.frozen_facts(db.get_bind(), "exam_of_attempt", sorted(ids), load)


def flush_ids(ids: set[str]) -> int:
    """Push the examiners' rows of these attempts, for exams someone watches (nobody watching: no work)."""
    if not ids:
        return 0
    db = get_db().session()
    try:
        from sqlalchemy import select
        exam_of = _exams_of(db, ids)
        seen = watched({e for e in exam_of.values() if e is not None})
        ids = {i for i in ids if exam_of.get(i) in seen}
        if not ids:
            return 0
        attempts = db.scalars(select(ExamSession).where(ExamSession.id.in_(ids))).all()
        rows = services.rows_for(db, attempts, utcnow())
    finally:
        db.close()
    by_exam: dict[int, list[dict]] = {}
    for row in rows:
        by_exam.setdefault(row["exam_id"], []).append(row)
    for exam_id, exam_rows in by_exam.items():
        push_rows(exam_id, exam_rows)
    return len(rows)


def batch_job(app) -> None:  # noqa: ANN001
    interval = app.config.get("MONITOR_BATCH_S", 1.0)
    while True:
        socketio.sleep(interval)
        with app.app_context():
            try:
                mark_watched(locally_watched())
                flush_ids(COALESCER.take())
            except Exception:  # noqa: BLE001
                log.exception("monitor batch failed")


def register(app) -> None:  # noqa: ANN001
    if not any(h.namespace == NAMESPACE for h in socketio.namespace_handlers):
        socketio.on_namespace(MonitorNamespace(NAMESPACE))
    if notify not in EXAMINER_NOTIFIERS:
        EXAMINER_NOTIFIERS.append(notify)
    from ..jobs import JOBS
    JOBS["monitor_batch"] = batch_job
