"""The `/exam` Socket.IO namespace: thin handlers that validate, call a service, commit, then ack and emit.

An ack is sent only after the commit. Handlers never keep state that matters in
memory: the attempt, its connection and its sequence numbers live in the
database; the per-connection socket session only remembers who connected and
which attempt they joined.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from typing import Any, Callable, NamedTuple

from flask import current_app, request, session as socket_session
from flask_socketio import ConnectionRefusedError, Namespace, disconnect, join_room
from marshmallow import ValidationError
from sqlalchemy import bindparam, select

from item_bank.errors import DomainError
from item_bank.schemas import _nul_paths

from ..auth.models import User
from ..auth.services import user_id_for_token
from ..db import GateTimeout, get_db, utcnow
from ..errors import ack_error
from ..extensions import socketio
from ..proctoring import notify as proctoring_notify, services as proctoring_services
from ..proctoring.schemas import SignalSchema
from . import answers, metrics, services, starts
from .sweeper import holder_id
from .schemas import AnswerSchema, FlagSchema, JoinSchema, NavigateSchema, StartSchema, SubmitSchema, TimeSchema

log = logging.getLogger("exam_engine.sockets")
NAMESPACE = "/exam"


def room_of(session_id: str) -> str:
    return f"session:{session_id}"


def exam_room(exam_id: int) -> str:
    """Examiners watching an exam join this room (the /monitor namespace)."""
    return f"exam:{exam_id}"


def refuse(code: str, message: str) -> ConnectionRefusedError:
    """A refused connection: the client's `connect_error` has this `message` and `data` {code, message}.

    (python-socketio turns a single argument into a string, so a dict passed alone reached clients as
    the text of a Python dict, with no `data`.)
    """
    return ConnectionRefusedError(message, {"code": code, "message": message})


def authenticate_socket(auth: Any) -> int:
    """The user id for a connecting socket: a bearer token in `auth`, or the browser's cookie session."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if token:
        if not isinstance(token, str):
            raise refuse("invalid_token", "the token is unknown or revoked")
        # One round trip on PostgreSQL: autocommit (no BEGIN, no ROLLBACK), Core, the token and its user's state.
        # (SQLite keeps its transaction: its BEGIN is issued by an event that autocommit would leave open.)
        engine = get_db().engine
        with engine.connect() as conn:
            if engine.dialect.name != "sqlite":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            try:
                return user_id_for_token(conn, token, now=utcnow())
            except DomainError as exc:
                raise refuse(exc.code, exc.message) from None
    db = get_db().session()
    try:
        from flask import session as cookie
        user_id = cookie.get("user_id")
        if user_id is not None:
            user = db.get(User, user_id)
            if user is not None and user.is_active and cookie.get("epoch") == user.auth_epoch:
                return user.id
        raise refuse("unauthorized", "send {token} in the auth payload or log in")
    finally:
        db.close()


def _connection(data: dict) -> dict:
    """This connection, as `join_attempt` and `start_and_join` take it."""
    return dict(sid=request.sid, now=utcnow(), ip=_client_ip(), user_agent=request.headers.get("User-Agent"),
                client_id=data["client_id"], holder=holder_id(current_app), local_alive=_connected_here,
                stale_s=current_app.config["WORKER_STALE_S"])


def _joined(db, joined: services.Joined) -> tuple[dict, Callable]:  # noqa: ANN001
    """The ack of `join` (and `start`), and what to do once it is committed."""
    session_id, state, superseded = joined.attempt.id, joined.state, joined.superseded
    state["proctoring"] = proctoring_services.notice_for_version(db, joined.attempt.exam_version_id)
    if joined.observed is not None:  # started and joined at once: the state went in with the attempt
        effects = joined.observed
    else:
        effects = proctoring_services.observe_join(db, session_id, now=utcnow(),
                                                   user_agent=request.headers.get("User-Agent"),
                                                   attempt=joined.attempt, appended=joined.entries)

    def after() -> None:
        socket_session["session_id"] = session_id
        join_room(room_of(session_id))
        if superseded:
            socketio.emit("status", {"session_id": session_id, "status": "superseded", "reason": "takeover"},
                          to=superseded, namespace=NAMESPACE)
            socketio.server.leave_room(superseded, room_of(session_id), namespace=NAMESPACE)
        # The connection change reaches examiners in the next batch (a takeover at once).
        notify_examiners_by_id(session_id, light=not superseded)
        proctoring_notify.deliver(effects)
    return {"ok": True, "session": state}, after


def _connected_here(sid: str) -> bool:
    """Whether this worker still has the `/exam` connection `sid` open."""
    return socketio.server.manager.is_connected(sid, NAMESPACE)


def _client_ip() -> str | None:
    """The learner's address. Behind a trusted proxy (TRUST_PROXY) it is the one the proxy appended to
    X-Forwarded-For, the last (the ones before it are whatever the client sent), as ProxyFix reads it for
    HTTP requests; anything but an IP address there leaves the connection's own address."""
    forwarded = request.headers.get("X-Forwarded-For") if current_app.config.get("TRUST_PROXY") else None
    if forwarded:
        try:
            return str(ipaddress.ip_address(forwarded.rsplit(",", 1)[-1].strip()))
        except ValueError:
            pass
    return request.remote_addr or None


class Caller(NamedTuple):
    """The caller of an event whose service needs only their id (join, start)."""

    id: int


_USER_ACTIVE = select(User.is_active).where(User.id == bindparam("user_id"))


class ExamNamespace(Namespace):
    """Learners' attempts: join, answer, flag, navigate, submit, time."""

    def on_connect(self, auth=None):  # noqa: ANN001
        socket_session["user_id"] = authenticate_socket(auth)
        socket_session.pop("session_id", None)
        metrics.CONNECTED.inc()

    def on_disconnect(self, *_args):  # noqa: ANN002
        metrics.CONNECTED.dec()
        session_id = socket_session.get("session_id")
        if not session_id:
            return
        db = get_db().session()
        try:
            attempt = services.disconnect(db, request.sid, session_id, now=utcnow())
            db.commit()
            if attempt is not None:
                notify_examiners(attempt)
        except Exception:  # noqa: BLE001 - a failed bookkeeping must not crash the server
            db.rollback()
            log.exception("disconnect bookkeeping failed", extra={"session_id": session_id})
        finally:
            db.close()

    def _run(self, schema, payload: Any, work: Callable, *, needs_join: bool = True,  # noqa: ANN001
             caller: str = "user", t0: float | None = None) -> dict:
        """Validate, call the service in one transaction, commit, and return the ack (or the error ack).

        `caller`: what `work` gets of the (active) account: "user" the User, "id" only its id (`Caller`),
        "id_unchecked" its id unread, for a service that reads the account itself and raises AccountDisabled.
        `t0`: when the event arrived, if earlier work on it (a start batch) counts in its ack latency.
        """
        t0 = time.perf_counter() if t0 is None else t0
        # What needs no database is refused before waiting for a turn at it.
        data = _validated(schema, payload)
        if "ok" in data:
            return data
        if needs_join and socket_session.get("session_id") != data["session_id"]:
            return {"ok": False, "error": {"code": "not_joined", "message": "join the attempt first"}}
        database = get_db()
        try:
            with database.events:  # in arrival order: a burst is served first come, first served
                ack, after = self._transact(database, data, work, needs_join, caller)
        except GateTimeout:
            log.warning("socket event waited too long for a transaction", extra={"waiting": database.events.waiting})
            ack, after = _busy(), None
        return _sent(ack, after, t0)

    def _transact(self, database, data: dict, work: Callable, needs_join: bool,  # noqa: ANN001
                  caller: str) -> tuple[dict, Callable | None]:
        """`_run`'s transaction: (the ack, what to do once committed or None)."""
        after = None
        db = database.session()
        if needs_join:
            db.info[services.CONNECTION_SID] = request.sid  # refused by the service once another connection took over
        try:
            if caller == "id":
                active = db.execute(_USER_ACTIVE, {"user_id": socket_session["user_id"]}).scalar()
                user = Caller(socket_session["user_id"]) if active else None
            elif caller == "id_unchecked":
                user = Caller(socket_session["user_id"])  # the service reads the account (AccountDisabled)
            else:
                user = db.get(User, socket_session["user_id"])
                user = user if user is not None and user.is_active else None
            if user is None:
                raise services.AccountDisabled()
            ack, after = work(db, user, data)
            db.commit()
        except services.AccountDisabled as exc:
            db.rollback()  # before the disconnect's own bookkeeping, which needs the attempt's row
            disconnect()
            ack, after = ack_error(exc), None
        except services.RefusedButRecorded as exc:
            db.commit()  # the refusal stands, and so does the log entry that records it
            ack, after = ack_error(exc), None
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error ack
            db.rollback()
            ack, after = ack_error(exc), None
            if ack["error"]["code"] == "internal_error":
                log.exception("socket handler failed")
        finally:
            db.close()
        return ack, after

    def on_join(self, payload=None):  # noqa: ANN001
        def work(db, user, data):  # noqa: ANN001
            return _joined(db, services.join_attempt(db, user, data["session_id"], **_connection(data)))
        return self._run(JoinSchema, payload, work, needs_join=False, caller="id")

    def on_start(self, payload=None):  # noqa: ANN001
        """Start an attempt of an exam on this connection and join it (a learner waiting on the exam page).

        On PostgreSQL with the starts that arrive with it (sessions/starts.py); what that batch leaves (an
        attempt in progress to join, a conflict, a failed batch) and SQLite start alone.
        """
        t0 = time.perf_counter()
        if get_db().engine.dialect.name == "postgresql":
            ack = _start_in_batch(payload, t0)
            if ack is not None:
                return ack

        def work(db, user, data):  # noqa: ANN001
            connection = _connection(data)
            first_join = functools.partial(proctoring_services.first_join, db, user_agent=connection["user_agent"],
                                           now=connection["now"])
            return _joined(db, services.start_and_join(db, user, data["exam_id"], **connection, first_join=first_join))
        # The account is read with the exam (services.start_facts): one statement fewer.
        return self._run(StartSchema, payload, work, needs_join=False, caller="id_unchecked", t0=t0)

    def on_answer(self, payload=None):  # noqa: ANN001
        """Queued for the worker's next group commit (sessions/answers.py); acked once committed."""
        t0 = time.perf_counter()
        data = _answer_payload(payload)
        if "ok" in data:
            return data
        if socket_session.get("session_id") != data["session_id"]:
            return {"ok": False, "error": {"code": "not_joined", "message": "join the attempt first"}}
        answer = answers.Answer(user_id=socket_session["user_id"], session_id=data["session_id"], item_id=data["item_id"],
                                response=data["response"], seq=data["seq"], now=utcnow(),
                                sid=request.sid)
        answers.group_commit(current_app).submit(answer)
        metrics.ACK_LATENCY.observe(time.perf_counter() - t0)
        if answer.disconnect:
            disconnect()
        elif answer.ack.get("ok"):
            metrics.ANSWERS.inc()
            notify_examiners_by_id(data["session_id"], light=True)
        return answer.ack

    def on_flag(self, payload=None):  # noqa: ANN001
        def work(db, user, data):  # noqa: ANN001
            return services.set_flag(db, user, data["session_id"], item_id=data["item_id"], flagged=data["flagged"],
                                     seq=data["seq"], now=utcnow()), None
        return self._run(FlagSchema, payload, work)

    def on_navigate(self, payload=None):  # noqa: ANN001
        def work(db, user, data):  # noqa: ANN001
            return services.navigate(db, user, data["session_id"], position=data["position"], seq=data["seq"],
                                     now=utcnow()), None
        return self._run(NavigateSchema, payload, work)

    def on_submit(self, payload=None):  # noqa: ANN001
        def work(db, user, data):  # noqa: ANN001
            ack = services.submit(db, user, data["session_id"], seq=data["seq"], now=utcnow())

            def after():
                emit_status(data["session_id"], ack["status"], "submitted")
                notify_examiners_by_id(data["session_id"])
            return ack, after
        return self._run(SubmitSchema, payload, work)

    def on_next(self, payload=None):  # noqa: ANN001
        """Adaptive exams: grade the current answer and receive the next item."""
        def work(db, user, data):  # noqa: ANN001
            return services.next_item(db, user, data["session_id"], seq=data["seq"], now=utcnow()), None
        return self._run(SubmitSchema, payload, work)

    def on_time(self, payload=None):  # noqa: ANN001
        def work(db, user, data):  # noqa: ANN001
            attempt = services.learner_attempt(db, user, data["session_id"])
            return {"ok": True, **services.time_payload(attempt, utcnow())}, None
        return self._run(TimeSchema, payload, work, needs_join=False)

    def on_signal(self, payload=None):  # noqa: ANN001
        """A proctoring signal from the browser (docs/protocol.md, Proctoring); rate-limited per attempt."""
        blocked = proctoring_notify.blocked_ack(socket_session, payload)
        if blocked is not None:  # the rest of a flood is shed here, before any database work
            if proctoring_notify.is_flooding(socket_session, current_app.config.get("PROCTORING_FLOOD_DISCONNECT", 500)):
                log.warning("signal flood: connection dropped", extra={"session_id": socket_session.get("session_id")})
                disconnect()
            return blocked

        def work(db, user, data):  # noqa: ANN001
            ack, effects = proctoring_services.record_signal(
                db, user, data["session_id"], kind=data["kind"], at=data["at"], detail=data["detail"], seq=data["seq"],
                now=utcnow(), limiter=proctoring_notify.current_limiter())
            return ack, (lambda: proctoring_notify.deliver(effects))
        ack = self._run(SignalSchema, payload, work)
        proctoring_notify.remember_limit(socket_session, ack)
        return ack

    def trigger_event(self, event, *args):  # noqa: ANN001, ANN002
        """Unknown events get an error ack instead of vanishing."""
        handler = getattr(self, f"on_{event}", None)
        if handler is None and event not in ("connect", "disconnect"):
            return {"ok": False, "error": {"code": "unknown_event", "message": f"no event {event!r} on {NAMESPACE}"}}
        return super().trigger_event(event, *args)


def _busy() -> dict:
    """The ack of an event that got no turn at the database in time: it did nothing; send it again."""
    return {"ok": False, "error": {"code": "server_busy", "message": "the server is busy: try again",
                                   "details": {"retry_after_s": 1}}}


def _validated(schema: type, payload: Any) -> dict:
    """The payload loaded by `schema`, or the error ack (which has "ok")."""
    if not isinstance(payload, dict):
        return {"ok": False, "error": {"code": "malformed_payload", "message": "the payload must be a JSON object"}}
    try:
        return _schema(schema).load(payload)
    except (ValidationError, DomainError) as exc:
        return ack_error(exc)


def _start_in_batch(payload: Any, t0: float) -> dict | None:
    """`start` written in a batch with the starts that arrive with it: the ack, or None to start alone."""
    data = _validated(StartSchema, payload)
    if "ok" in data:
        return data
    connection = services.Connection(request.sid, holder_id(current_app), data["client_id"])
    after = None
    try:
        outcome = starts.start_batches(current_app).submit(starts.StartRequest(
            socket_session["user_id"], data["exam_id"], connection, _client_ip(),
            request.headers.get("User-Agent"))).outcome
    except GateTimeout as exc:
        log.warning("start waited too long for a batch", extra={"reason": str(exc)})
        outcome = _busy()
    if outcome == starts.ALONE:
        return None
    if isinstance(outcome, dict):
        ack = outcome
    elif isinstance(outcome, DomainError):
        if isinstance(outcome, services.AccountDisabled):
            disconnect()
        ack = ack_error(outcome)
    else:  # written and committed: the `join` payload, as of now
        db = get_db().session()
        try:
            state = services.session_state(db, outcome.attempt, utcnow())
            ack, after = _joined(db, services.Joined(outcome.attempt, state, None, outcome.entries[1:], outcome.kept))
        except Exception as exc:  # noqa: BLE001 - the attempt stands: a `start` or `join` again finds it
            log.exception("start ack failed", extra={"session_id": outcome.attempt.id})
            ack = ack_error(exc)
        finally:
            db.close()
    return _sent(ack, after, t0)


def _sent(ack: dict, after: Callable | None, t0: float) -> dict:
    """An event's ack, once its latency since `t0` is recorded and what follows its commit is done."""
    metrics.ACK_LATENCY.observe(time.perf_counter() - t0)
    if after is not None:
        after()  # emits go out after the commit
    return ack


#: One instance per payload schema (marshmallow schemas are reusable; building one per event is slow and
#: leaves reference cycles for the garbage collector).
_SCHEMAS: dict[type, Any] = {}


def _schema(cls: type) -> Any:
    schema = _SCHEMAS.get(cls)
    if schema is None:
        schema = _SCHEMAS[cls] = cls()
    return schema


_ANSWER_KEYS = frozenset(("session_id", "item_id", "response", "seq"))


def _answer_payload(payload: Any) -> dict:
    """A well-formed answer as it is, else what AnswerSchema says of it (the same checks, the same errors)."""
    if isinstance(payload, dict) and payload.keys() == _ANSWER_KEYS:
        sid, item, seq = payload["session_id"], payload["item_id"], payload["seq"]
        if (type(sid) is str and 0 < len(sid) <= 64 and type(item) is int and type(seq) is int
                and 0 < seq <= 2**31 - 1 and not _nul_paths(payload)):
            return payload
    return _validated(AnswerSchema, payload)


def emit_status(session_id: str, status: str, reason: str, detail: str | None = None) -> None:
    """`status` to the learner: `reason` is a stable code (docs/protocol.md), `detail` an examiner's words."""
    payload = {"session_id": session_id, "status": status, "reason": reason}
    if detail:
        payload["detail"] = detail
    socketio.emit("status", payload, to=room_of(session_id), namespace=NAMESPACE)


def emit_time(attempt, now=None) -> None:  # noqa: ANN001
    socketio.emit("time", services.time_payload(attempt, now or utcnow()), to=room_of(attempt.id), namespace=NAMESPACE)


def emit_message(session_id: str, message: dict) -> None:
    socketio.emit("message", {"session_id": session_id, **message}, to=room_of(session_id), namespace=NAMESPACE)


#: Set by the monitor module: fn(attempt or session id, light=bool) pushes an update to examiners.
EXAMINER_NOTIFIERS: list = []


def notify_examiners(attempt, light: bool = False) -> None:  # noqa: ANN001
    for fn in EXAMINER_NOTIFIERS:
        fn(attempt.id, light=light)


def notify_examiners_by_id(session_id: str, light: bool = False) -> None:
    for fn in EXAMINER_NOTIFIERS:
        fn(session_id, light=light)


def register(app) -> None:  # noqa: ANN001
    """Add the namespace once (the SocketIO object outlives test apps; init_app re-binds it)."""
    if not any(h.namespace == NAMESPACE for h in socketio.namespace_handlers):
        socketio.on_namespace(ExamNamespace(NAMESPACE))
