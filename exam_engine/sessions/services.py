"""Attempt services: start, join, answer, flag, navigate, submit, score, sweep, examiner actions, outage credit.

Every mutating function runs with the attempt's row locked (SELECT ... FOR UPDATE
on PostgreSQL; SQLite serialises writers), flushes, and leaves the commit to
its caller (the socket event, the REST view or the job) so that an ack is
only sent after the commit.
"""

from __future__ import annotations

import logging
import math
import secrets
import weakref
from datetime import datetime, timedelta
from typing import Any, Callable, NamedTuple

import orjson
from sqlalchemy import bindparam, func, or_, select, text, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

import scoring
from item_bank.delivery import base_view, personal_view
from item_bank.errors import DomainError, Forbidden, NotFound, Unauthorized
from item_bank.models import ItemVersion
from item_bank.services import version_as_dict

from ..auth.models import User, extra_time_pct
from ..exams import services as exam_services
from ..exams.assembly import assemble_form
from ..exams.models import Exam, ExamVersion
from . import eventlog, timing
from .models import AppliedSeq, ExamSession, ServiceClock, SessionEvent, SessionResponse, Worker
from .statuses import CLOSED, OPEN, Status, is_transition_legal

log = logging.getLogger("exam_engine.sessions")


class SessionError(DomainError):
    """A refused attempt operation (its code is in docs/protocol.md)."""

    status = 409


class RefusedButRecorded(SessionError):
    """A refusal whose evidence (log entries written before it) must be committed, not rolled back."""


class AccountDisabled(Unauthorized):
    """The caller's account was disabled (or erased) after they connected: their connection is closed."""

    def __init__(self) -> None:
        super().__init__("the account is disabled", code="unauthorized")


def _err(code: str, message: str, status: int = 409, **details: Any) -> SessionError:
    return SessionError(message, code=code, status=status, details=details or None)


# --- starting ----------------------------------------------------------------

class Connection(NamedTuple):
    """The `/exam` connection a new attempt is started on (the `start` event): it is joined as it is written."""
    sid: str
    holder: str | None
    client_id: str | None


def start_session(session: Session, user: User, exam_id: int, *, now: datetime, client_ip: str | None = None,
                  user_agent: str | None = None) -> tuple[ExamSession, bool]:
    """Start an attempt (or return the one in progress): eligibility, form assembly, deadline."""
    attempt, created, _, _ = _start(session, user, exam_id, now=now, client_ip=client_ip, user_agent=user_agent)
    return attempt, created


#: What a new attempt started on a connection also writes in its INSERT: given the attempt as it will be
#: stored and the entries after `start`, (what to keep for the caller, [(table, the column naming the
#: attempt, the rest of the row), ...]).
FirstJoin = Callable[[ExamSession, list], tuple[Any, list[tuple[Any, str, dict]]]]


def _start(session: Session, user: Any, exam_id: int, *, now: datetime, client_ip: str | None = None,
           user_agent: str | None = None, connection: Connection | None = None,
           first_join: FirstJoin | None = None) -> tuple[ExamSession, bool, list[eventlog.Entry], Any]:
    """`start_session`, also returning the log entries a new attempt was written with and what `first_join` kept.

    `user` needs only an `id`: the account is read with the exam (a disabled one raises AccountDisabled).
    With `connection` a new attempt is written already joined to it: its `connect` entry follows `start` in
    the same INSERT (no second round trip, lock and UPDATE as a `join` right after would cost), and so are
    the rows `first_join` gives (the proctoring state the join would insert).
    """
    # The account, the exam, its live version (frozen: cached per process) and the attempts, in one round trip.
    facts = exam_services.start_facts(session, user.id, exam_id)
    planned = plan_start(session, user.id, exam_id, facts, now=now, client_ip=client_ip, user_agent=user_agent,
                         connection=connection, first_join=first_join)
    if isinstance(planned, str):
        return session.get(ExamSession, planned), False, [], None
    if not insert_attempts(session, [planned]):
        # A concurrent start by the same learner won the race: return that attempt.
        key = planned.values["active_key"]
        existing = session.scalar(select(ExamSession).where(ExamSession.active_key == key))
        if existing is None:
            raise RuntimeError(f"attempt not stored: {key} conflicts with no open attempt")
        return existing, False, [], None
    attempt = planned.attempt
    make_transient_to_detached(attempt)
    session.add(attempt)
    return attempt, True, planned.entries, planned.kept


class NewAttempt(NamedTuple):
    """A new attempt as `plan_start` made it, for `insert_attempts` to write."""

    #: The row as it will be stored (transient: not in any session).
    attempt: ExamSession
    #: Its columns as written (the others have their defaults).
    values: dict
    #: Its first log entries (`start`, then `connect` when started on a connection).
    entries: list[eventlog.Entry]
    #: What `first_join` kept, and the rows it gives: (table, the column naming the attempt, the rest of the row).
    kept: Any
    also: list[tuple[Any, str, dict]]


def plan_start(session: Session, user_id: int, exam_id: int, facts: exam_services.StartFacts, *, now: datetime,
               client_ip: str | None = None, user_agent: str | None = None, connection: Connection | None = None,
               first_join: FirstJoin | None = None) -> NewAttempt | str:
    """The new attempt `user_id` starts from `facts` (`start_facts`), not yet written; or the id of the
    attempt already in progress. Raises what refuses the start (AccountDisabled, role, exam, eligibility).

    No statement runs here (the exam's version, policy and items are frozen and cached per process).
    """
    if facts.account is None:
        raise AccountDisabled()
    role, accommodations = facts.account
    if role != "learner":
        raise Forbidden("only learners take exams", code="role_required")
    version = facts.version
    if version is None:
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")
    standing = exam_services.learner_standing(session, None, None, version, now, rows=facts.attempts)
    if standing["active_session_id"]:
        return standing["active_session_id"]
    if not standing["can_start"]:
        reason = standing["cannot_start_reason"]
        messages = {"exam_not_open": "the exam is not open yet", "exam_closed": "the exam is closed",
                    "no_attempts_left": "you have used every attempt", "cooldown": "wait before the next attempt"}
        details = {"retry_after_s": round(standing["retry_after_s"], 1)} if standing["retry_after_s"] else {}
        if reason == "exam_not_open" and version.opens_at is not None:
            details["opens_in_s"] = round(max((version.opens_at - now).total_seconds(), 0), 3)  # by the server's clock
        raise _err(reason, messages[reason], 403 if reason != "cooldown" else 429, **details)
    defn = version.definition
    session_id = secrets.token_hex(16)
    seed = secrets.token_hex(16)
    adaptive_state = None
    if defn.get("adaptive"):
        from .adaptive import first_form
        form, adaptive_state = first_form(defn, seed)
    else:
        form = assemble_form(defn["sections"], defn["resolved"]["candidates"], version.derived("item_of", _item_of), seed)
    extra = extra_time_pct(accommodations)
    allowed = timing.allowed_seconds(defn.get("time_limit_s"), extra)
    deadline = timing.initial_deadline(now, allowed, *close_policy(version))
    # The first log entry is chained before the row is written, so the row goes in with its head (no UPDATE).
    data, digest = eventlog.prepare(eventlog.GENESIS, 1, "start",
                                    {"exam_version_id": version.id, "form": form, "deadline_at": deadline,
                                     "allowed_s": allowed, "extra_time_pct": extra, "ip": client_ip},
                                    at=now, actor_id=user_id)
    entries = [eventlog.Entry(session_id, 1, "start", data, now, user_id, eventlog.GENESIS, digest)]
    joined = {}
    if connection is not None:
        entries.append(eventlog.next_entry(session_id, 1, digest, "connect",
                                           {"ip": client_ip, "user_agent": (user_agent or "")[:300]},
                                           at=now, actor_id=user_id))
        joined = dict(active_sid=connection.sid, active_worker=connection.holder, active_client=connection.client_id,
                      is_connected=True, connected_at=now)
    values = dict(id=session_id, exam_id=facts.exam_id, exam_version_id=version.id, user_id=user_id,
                  attempt_no=standing["attempts_used"] + 1, active_key=f"{facts.exam_id}:{user_id}",
                  status=Status.IN_PROGRESS.value, seed=seed, form=form, started_at=now, deadline_at=deadline,
                  allowed_s=allowed, grace_s=defn.get("grace_s", 3), client_ip=client_ip,
                  user_agent=(user_agent or "")[:300] or None, messages=[], created_at=now,
                  adaptive_state=adaptive_state, log_length=len(entries), log_head=entries[-1].hash,
                  **{"is_connected": False, **joined})
    # The row as it will be stored, without reading it back: every other column has its default.
    attempt = ExamSession(**{**_NOT_INSERTED, **_NEW_ATTEMPT, **values})
    kept, also = first_join(attempt, entries[1:]) if first_join is not None and connection is not None else (None, [])
    return NewAttempt(attempt, values, entries, kept, also)


def close_policy(version: Any) -> tuple[datetime | None, str]:
    """(closes_at, on_close) of an exam version (frozen or a row): what the timing rules of the close take."""
    return version.closes_at, version.definition.get("on_close", "keep_time")


def _item_of(version: Any) -> dict[int, int]:
    return {int(k): v for k, v in version.definition["resolved"]["item_of"].items()}


#: What every new attempt starts with (no extension, pause, outage credit, answer, move, time offline or
#: risk yet), written as constants in its INSERT: fewer parameters (psycopg parses a statement of more than
#: 50 parameters again on every execution), and a statement that names every column needs no defaults
#: filled in at execution, which a SELECT around an INSERT would not do.
_NEW_ATTEMPT = dict(extended_s=0.0, paused_total_s=0.0, outage_credit_s=0.0, last_seq=0, position=0,
                    disconnected_total_s=0.0, risk=0.0)
#: The columns of a new attempt left out of its INSERT (NULL), for the loaded copy `start_session` returns.
_NOT_INSERTED = dict(paused_at=None, submitted_at=None, end_reason=None, active_sid=None, active_worker=None,
                     active_client=None, connected_at=None, disconnected_at=None, result=None, score=None,
                     max_score=None, percentage=None, is_passed=None, scored_at=None, score_retry_at=None)


def insert_attempts(session: Session, news: list[NewAttempt]) -> set[str]:
    """INSERT new attempts, their first log entries and the rows `also` names, each unless its learner already
    has an open attempt of its exam; returns the ids written.

    On PostgreSQL, one statement for all of them, whatever their number: each table's rows travel as one
    JSON document (`jsonb_to_recordset`), the attempts' INSERT ... ON CONFLICT (active_key) DO NOTHING
    RETURNING id, and the entries' and the other rows' INSERTs keep the rows of the attempts it returned.
    One parameter per table and the same text for one attempt or a hundred: psycopg parses it once and
    prepares it. SQLite runs SQLAlchemy Core INSERTs in turn, per attempt. A conflicting start still in flight is
    waited for, as before.
    """
    written: set[str] = set()
    connection = session.connection()
    dialect = connection.dialect.name
    groups: dict[tuple, list[NewAttempt]] = {}
    for new in news:
        key = (frozenset(new.values), tuple((table.name, column, frozenset(row)) for table, column, row in new.also))
        groups.setdefault(key, []).append(new)
    for key, group in groups.items():
        group.sort(key=lambda new: new.values["active_key"])  # two batches meeting on a learner lock in one order
        stmt = _INSERT_ATTEMPTS.get((dialect, key))
        if stmt is None:
            stmt = _INSERT_ATTEMPTS[(dialect, key)] = _insert_attempts_statement(connection.dialect, group[0])
        if dialect == "postgresql":
            params = {"attempts": [new.values for new in group],
                      "entries": [entry._asdict() for new in group for entry in new.entries]}
            for j, (_table, column, _row) in enumerate(group[0].also):
                params[f"also_{j}"] = [{**new.also[j][2], column: new.values["id"]} for new in group]
            written.update(connection.execute(stmt, {name: _json_rows(rows) for name, rows in params.items()}).scalars())
            continue
        for new in group:
            if connection.execute(stmt[0], {**_NEW_ATTEMPT, **new.values}).first() is None:
                continue
            connection.execute(stmt[1], [e._asdict() for e in new.entries])
            for (_table, column, row), insert in zip(new.also, stmt[2]):
                connection.execute(insert, {**row, column: new.values["id"]})
            written.add(new.values["id"])
    return written


def _json_rows(rows: list[dict]) -> str:
    """Rows as the JSON `jsonb_to_recordset` reads (datetimes in RFC 3339, as PostgreSQL parses them)."""
    return orjson.dumps(rows).decode()


def _insert_attempts_statement(dialect: Any, new: NewAttempt) -> Any:
    table, events = ExamSession.__table__, SessionEvent.__table__
    if dialect.name != "postgresql":
        from sqlalchemy.dialects.sqlite import insert as upsert
        return (upsert(table).on_conflict_do_nothing(index_elements=[table.c.active_key]).returning(table.c.id),
                events.insert(), [other.insert() for other, _column, _row in new.also])
    quote = dialect.identifier_preparer.quote

    def rows(tbl: Any, param: str, columns: list[str]) -> str:
        """SELECT the columns FROM the rows of the JSON parameter, typed as the table's columns."""
        types = ", ".join(f"{quote(c)} {tbl.c[c].type.compile(dialect=dialect)}" for c in columns)
        return f"FROM jsonb_to_recordset(CAST(:{param} AS JSONB)) AS r({types})"

    def names(columns: list[str]) -> str:
        return ", ".join(quote(c) for c in columns)

    columns = sorted(new.values)
    constants = ", ".join(f"{value!r}" for value in _NEW_ATTEMPT.values())
    sql = (f"WITH new_attempts AS (INSERT INTO {quote(table.name)} ({names([*columns, *_NEW_ATTEMPT])}) "
           f"SELECT {names(columns)}, {constants} {rows(table, 'attempts', columns)} "
           f"ON CONFLICT ({quote('active_key')}) DO NOTHING RETURNING {quote('id')})")
    others = [(events, "session_id", list(eventlog.Entry._fields), "entries")]
    others += [(other, column, [column, *sorted(row)], f"also_{j}") for j, (other, column, row) in enumerate(new.also)]
    for other, column, other_columns, param in others:
        sql += (f", {param}_rows AS (INSERT INTO {quote(other.name)} ({names(other_columns)}) "
                f"SELECT {names(other_columns)} {rows(other, param, other_columns)} "
                f"WHERE r.{quote(column)} IN (SELECT {quote('id')} FROM new_attempts))")
    return text(sql + f" SELECT {quote('id')} FROM new_attempts")


#: The statements of `insert_attempts` per dialect and shape: the attempt's columns, and the other rows'
#: (table, column naming the attempt, columns) (built once).
_INSERT_ATTEMPTS: dict[tuple, Any] = {}


# --- loading and state -------------------------------------------------------

#: Built once: an attempt by id, and the same locked (SELECT ... FOR UPDATE).
_ATTEMPT = select(ExamSession).where(ExamSession.id == bindparam("session_id"))
#: Locked reads refresh an attempt already in the session (read unlocked earlier in the transaction).
_ATTEMPT_FOR_UPDATE = _ATTEMPT.with_for_update().execution_options(populate_existing=True)
_RESPONSES = (select(SessionResponse.item_id, SessionResponse.response, SessionResponse.is_flagged)
              .where(SessionResponse.session_id == bindparam("session_id")))


def load_attempt(session: Session, session_id: Any, *, lock: bool = False) -> ExamSession:
    if not isinstance(session_id, str) or len(session_id) > 64:
        raise _err("session_not_found", "no such attempt", 404)
    attempt = session.scalar(_ATTEMPT_FOR_UPDATE if lock else _ATTEMPT, {"session_id": session_id})
    if attempt is None:
        raise _err("session_not_found", "no such attempt", 404)
    return attempt


def learner_attempt(session: Session, user: User, session_id: Any, *, lock: bool = False) -> ExamSession:
    """The caller's own attempt; someone else's answers exactly like a missing one."""
    attempt = load_attempt(session, session_id, lock=lock)
    if attempt.user_id != user.id:
        raise _err("session_not_found", "no such attempt", 404)
    return attempt


def clock(attempt: ExamSession, now: datetime) -> timing.Clock:
    return timing.remaining(attempt.deadline_at, now, attempt.paused_at if attempt.status == Status.PAUSED.value else None)


def time_payload(attempt: ExamSession, now: datetime) -> dict:
    c = clock(attempt, now)
    return {"session_id": attempt.id, "remaining_s": None if c.remaining_s is None else round(c.remaining_s, 3),
            "deadline_at": c.deadline_at.isoformat() if c.deadline_at else None, "server_now": now.isoformat(),
            "status": attempt.status}


#: Per engine (so per app and database), bounded: item version id -> its delivery view before shuffling.
#: Only versions that can no longer change (published, retired) are kept; the views are shared, never changed.
_BASE_VIEWS: "weakref.WeakKeyDictionary[Any, dict[int, tuple[dict, bool]]]" = weakref.WeakKeyDictionary()
_MAX_BASE_VIEWS = 20_000


def base_views(session: Session, version_ids: Any) -> dict[int, dict]:
    """The delivery views (before an attempt's shuffles) of item versions: cached per process once
    published (they never change), the others read in one query."""
    cache = _BASE_VIEWS.setdefault(session.get_bind(), {})
    bases, missing = {}, []
    for version_id in version_ids:
        base = cache.get(version_id)
        if base is None:
            missing.append(version_id)
        else:
            bases[version_id] = base
    if missing:
        versions = list(session.scalars(select(ItemVersion).where(ItemVersion.id.in_(missing))))
        if len(cache) + len(versions) > _MAX_BASE_VIEWS:
            cache.clear()
        for version in versions:
            base = bases[version.id] = base_view(version.item_id, version_as_dict(version))
            if version.status != "draft":
                cache[version.id] = base
    return bases


def form_items(session: Session, attempt: ExamSession, shuffle_options: bool = True) -> list[dict]:
    """The delivery views of the attempt's pinned item versions, in the learner's order (no keys)."""
    bases = base_views(session, [entry["version_id"] for entry in attempt.form])
    out = []
    for entry in attempt.form:
        view = personal_view(bases[entry["version_id"]], seed=f"{attempt.seed}:{entry['item_id']}",
                             shuffle=shuffle_options)
        view["section_id"] = entry["section_id"]
        out.append(view)
    return out


def session_state(session: Session, attempt: ExamSession, now: datetime) -> dict:
    """Everything a client needs to continue exactly where the learner was (the `join` payload)."""
    version = exam_services.frozen_version(session, attempt.exam_version_id)
    defn = version.definition
    # Responses (and flags) are only written by learner messages, each of which moves last_seq: none yet, none stored.
    responses = session.execute(_RESPONSES, {"session_id": attempt.id}).all() if attempt.last_seq else []
    sections, start = [], 0
    for sec in defn["sections"]:
        count = sum(1 for e in attempt.form if e["section_id"] == sec["id"])
        sections.append({"id": sec["id"], "title": sec.get("title", ""), "start": start, "count": count})
        start += count
    c = clock(attempt, now)
    ends_at_close = timing.ends_at_close(attempt.deadline_at, *close_policy(version))
    return {
        "id": attempt.id, "status": attempt.status, "exam_id": attempt.exam_id, "title": version.title,
        "remaining_s": None if c.remaining_s is None else round(c.remaining_s, 3),
        "deadline_at": attempt.deadline_at.isoformat() if attempt.deadline_at else None,
        "effective_end_at": attempt.deadline_at.isoformat() if attempt.deadline_at else None,
        "ends_at_window_close": ends_at_close, "server_now": now.isoformat(),
        "time_limit_s": defn.get("time_limit_s"), "allowed_s": attempt.allowed_s, "grace_s": attempt.grace_s,
        "navigation": defn.get("navigation", "free"), "presentation": defn.get("presentation", "one_at_a_time"),
        "position": attempt.position, "sections": sections,
        "items": form_items(session, attempt, defn.get("shuffle_options", True)),
        "responses": {str(r.item_id): r.response for r in responses if r.response is not None},
        "flagged": sorted(r.item_id for r in responses if r.is_flagged),
        "last_seq": attempt.last_seq, "messages": attempt.messages or [],
        "proctoring": defn.get("proctoring"),
        "adaptive": None if attempt.adaptive_state is None else {
            "done": attempt.adaptive_state.get("done", False), "max_length": defn["adaptive"]["max_length"]},
    }


def summary(attempt: ExamSession, now: datetime) -> dict:
    """The REST view of an attempt (GET /sessions/{id})."""
    c = clock(attempt, now)
    return {"id": attempt.id, "exam_id": attempt.exam_id, "exam_version_id": attempt.exam_version_id,
            "user_id": attempt.user_id, "attempt_no": attempt.attempt_no, "status": attempt.status,
            "started_at": attempt.started_at, "deadline_at": attempt.deadline_at, "remaining_s": c.remaining_s,
            "submitted_at": attempt.submitted_at, "end_reason": attempt.end_reason, "n_items": len(attempt.form),
            "position": attempt.position, "is_connected": attempt.is_connected, "log_head": attempt.log_head,
            "log_length": attempt.log_length}


# --- connections ---------------------------------------------------------------

def join(session: Session, user: User, session_id: Any, *, sid: str, now: datetime, ip: str | None = None,
         user_agent: str | None = None, **holder: Any) -> tuple[dict, str | None]:
    """Bind the attempt to this connection; returns (state, superseded sid or None)."""
    joined = join_attempt(session, user, session_id, sid=sid, now=now, ip=ip, user_agent=user_agent, **holder)
    return joined.state, joined.superseded


class Joined(NamedTuple):
    attempt: ExamSession
    #: The `join` payload.
    state: dict
    #: The connection that held the attempt until now (takeover), or None.
    superseded: str | None
    #: The log entries this join appended, in order.
    entries: list[eventlog.Entry]
    #: What `first_join` kept when the attempt was started and joined at once (`start_and_join`): the join's
    #: bookkeeping is done. None otherwise (or when it had nothing to keep: the exam records nothing).
    observed: Any = None


def join_attempt(session: Session, user: User, session_id: Any, *, sid: str, now: datetime, ip: str | None = None,
                 user_agent: str | None = None, client_id: str | None = None, holder: str | None = None,
                 local_alive: Callable[[str], bool] | None = None, stale_s: float = 30.0) -> Joined:
    """`join`, also returning the attempt (locked) and the entries it logged, for the rest of the transaction.

    `holder`: this worker's incarnation ("address#incarnation"), stored with the connection; `local_alive`
    tells whether a connection of this worker is still open; `client_id`: the client instance (one page load)
    joining. A connection still holding the attempt is a second connection (the exam's policy decides)
    unless it is lost (`lost_holder`) or belongs to the same client instance (a reconnect that the server
    has not yet seen drop): then the attempt is released and this is a reconnect.
    """
    attempt = learner_attempt(session, user, session_id, lock=True)
    superseded = None
    entries: list[eventlog.Entry] = []
    if attempt.status in OPEN:
        head = [attempt.log_length, attempt.log_head]

        def log(kind: str, data: dict) -> None:
            entry = eventlog.next_entry(attempt.id, head[0], head[1], kind, data, at=now, actor_id=user.id)
            head[:] = [entry.idx, entry.hash]
            entries.append(entry)

        connected, disconnected_at = attempt.is_connected, attempt.disconnected_at
        if connected and attempt.active_sid and attempt.active_sid != sid:
            lost = lost_holder(session, attempt, holder=holder, local_alive=local_alive, now=now, stale_s=stale_s)
            # The same page coming back: its client_id, from the same address and browser (a copied client_id
            # on another device is still a second connection).
            # (A client that sends no User-Agent keeps the one recorded, as the join below does.)
            if (lost is None and client_id and client_id == attempt.active_client and ip == attempt.client_ip
                    and ((user_agent or "")[:300] or attempt.user_agent) == attempt.user_agent):
                lost = ("same_client", now)
                superseded = attempt.active_sid  # this client's own dead or dying connection
            if lost is not None:
                # The holder is gone (or is this client's previous connection): a disconnect, then a reconnect.
                log("disconnect", {"lost": lost[0]})
                connected, disconnected_at = False, lost[1]
            else:
                version = exam_services.frozen_version(session, attempt.exam_version_id)
                policy = version.definition.get("second_connection", "takeover")
                log("second_connection", {"policy": policy, "ip": ip, "user_agent": (user_agent or "")[:300],
                                          "previous_ip": attempt.client_ip})
                if policy == "refuse":
                    _write_join(session, attempt, {"log_length": head[0], "log_head": head[1]}, entries)
                    raise RefusedButRecorded("this attempt is open in another window or device", code="session_in_use")
                superseded = attempt.active_sid
        offline_total = attempt.disconnected_total_s
        if disconnected_at is not None and not connected:
            gap = max((now - disconnected_at).total_seconds(), 0)
            offline_total += gap
            log("reconnect", {"offline_s": round(gap, 3), "ip": ip})
        elif not connected:
            log("connect", {"ip": ip, "user_agent": (user_agent or "")[:300]})
        if ip and attempt.client_ip and ip != attempt.client_ip:
            log("ip_change", {"from": attempt.client_ip, "to": ip})
        _write_join(session, attempt, {
            "log_length": head[0], "log_head": head[1], "disconnected_total_s": offline_total, "active_sid": sid,
            "active_worker": holder, "active_client": client_id,
            "is_connected": True, "connected_at": now, "disconnected_at": None,
            "client_ip": ip or attempt.client_ip, "user_agent": (user_agent or "")[:300] or attempt.user_agent}, entries)
    return Joined(attempt, session_state(session, attempt, now), superseded, entries)


def start_and_join(session: Session, user: Any, exam_id: int, *, sid: str, now: datetime, ip: str | None = None,
                   user_agent: str | None = None, client_id: str | None = None, holder: str | None = None,
                   local_alive: Callable[[str], bool] | None = None, stale_s: float = 30.0,
                   first_join: FirstJoin | None = None) -> Joined:
    """The `start` event: start an attempt on this connection and join it, in one transaction.

    A new attempt is written joined (`_start` with the connection, and with the rows of `first_join`, whose
    kept value is the Joined's `observed`); an attempt already in progress is joined as `join` would (a
    reload of the start page, a second device: the same rules).
    """
    attempt, created, entries, kept = _start(session, user, exam_id, now=now, client_ip=ip, user_agent=user_agent,
                                             connection=Connection(sid, holder, client_id), first_join=first_join)
    if not created:
        return join_attempt(session, user, attempt.id, sid=sid, now=now, ip=ip, user_agent=user_agent,
                            client_id=client_id, holder=holder, local_alive=local_alive, stale_s=stale_s)
    return Joined(attempt, session_state(session, attempt, now), None, entries[1:], kept)


_WORKER_STATE = select(Worker.incarnation, Worker.started_at, Worker.last_alive_at,
                       select(func.max(Worker.last_alive_at)).scalar_subquery().label("freshest")).where(
    Worker.id == bindparam("address"))


def lost_holder(session: Session, attempt: ExamSession, *, holder: str | None,
                local_alive: Callable[[str], bool] | None, now: datetime,
                stale_s: float) -> tuple[str, datetime] | None:
    """Why the connection holding `attempt` is gone, and since when; None while it may be open.

    - this worker's own connection that is no longer open ("connection_lost", now);
    - a connection of a worker incarnation that was replaced at its address by a restart, or that has not
      been alive for `stale_s` ("worker_down", see `_holder_gone_since`).
    A holder that is not recorded (an attempt joined before holders were), or a worker that never reported,
    is taken to be alive: the exam's second-connection policy applies as it always did.
    """
    if not attempt.active_worker:
        return None
    if attempt.active_worker == holder:
        if local_alive is None or local_alive(attempt.active_sid):
            return None
        return "connection_lost", now
    address, _, incarnation = attempt.active_worker.partition("#")
    row = session.execute(_WORKER_STATE, {"address": address}).first()
    since = _holder_gone_since(row, incarnation, attempt.connected_at, row.freshest if row else None, stale_s)
    return None if since is None else ("worker_down", since)


def worker_alive(session: Session, *, address: str, incarnation: str, now: datetime) -> None:
    """Record that this worker incarnation is alive (its row is created, or taken over after a restart)."""
    row = session.get(Worker, address, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(Worker(id=address, incarnation=incarnation, started_at=now, last_alive_at=now))
                session.flush()
            return
        except IntegrityError:
            row = session.get(Worker, address, with_for_update=True, populate_existing=True)
    if row.incarnation != incarnation:
        row.incarnation, row.started_at = incarnation, now
    row.last_alive_at = now
    session.flush()


def release_lost_connections(session: Session, *, now: datetime, stale_s: float, limit: int = 500) -> list[str]:
    """Mark attempts whose connection was held by a worker incarnation no longer alive as disconnected.

    Their learners' reconnects are then plain reconnects, and examiners see them offline from the worker's
    last sign of life. Holders at an address that never reported are left alone (see `lost_holder`). Rows
    of workers silent for a day are deleted. Returns the released attempts' ids.
    """
    workers = {w.id: w for w in session.execute(_WORKERS)}
    if not workers:
        return []
    freshest = max(w.last_alive_at for w in workers.values())
    alive = [f"{w.id}#{w.incarnation}" for w in workers.values()
             if (freshest - w.last_alive_at).total_seconds() <= stale_s]
    lost = {}
    for row in session.execute(_CONNECTED_HOLDERS.where(ExamSession.active_worker.not_in(alive))):
        address, _, incarnation = row.active_worker.partition("#")
        since = _holder_gone_since(workers.get(address), incarnation, row.connected_at, freshest, stale_s)
        if since is not None:
            lost[row.id] = (row.active_worker, since)
            if len(lost) >= limit:
                break
    released = []
    if lost:
        for attempt in session.scalars(select(ExamSession).where(ExamSession.id.in_(list(lost)),
                                                                 ExamSession.is_connected.is_(True),
                                                                 ExamSession.status.in_(OPEN))
                                       .with_for_update(skip_locked=True)
                                       .execution_options(populate_existing=True)):
            holder, since = lost[attempt.id]
            if attempt.active_worker != holder:
                continue  # rejoined elsewhere since it was read: that connection is alive
            attempt.is_connected = False
            attempt.disconnected_at = since
            eventlog.append(session, attempt, "disconnect", {"lost": "worker_down"}, at=now, actor_id=None)
            released.append(attempt.id)
    for w in workers.values():
        if (now - w.last_alive_at).total_seconds() > 86400:
            session.execute(_DELETE_WORKER, {"address": w.id, "seen": w.last_alive_at})
    session.flush()
    return released


def _holder_gone_since(worker: Any, incarnation: str, connected_at: datetime | None, freshest: datetime | None,
                       stale_s: float) -> datetime | None:
    """When a connection of `incarnation` at `worker`'s address, made at `connected_at`, was lost; None if it
    may be open (or the address never reported):
    - replaced by a restart: another incarnation started there after the connection was made (since then);
    - silent: the worker's last sign of life is more than `stale_s` older than the freshest of any worker
      (not than now: after the database itself was away, every worker looks silent for a while).
    """
    if worker is None:
        return None
    if worker.incarnation != incarnation:
        if connected_at is not None and worker.started_at < connected_at:
            return None  # the row is older than the connection: its incarnation has not reported yet
        return worker.started_at
    if freshest is not None and (freshest - worker.last_alive_at).total_seconds() > stale_s:
        return worker.last_alive_at
    return None


_WORKERS = select(Worker.id, Worker.incarnation, Worker.started_at, Worker.last_alive_at)
_CONNECTED_HOLDERS = select(ExamSession.id, ExamSession.active_worker, ExamSession.connected_at).where(
    ExamSession.is_connected.is_(True), ExamSession.status.in_(OPEN), ExamSession.active_worker.is_not(None))
_DELETE_WORKER = Worker.__table__.delete().where(Worker.__table__.c.id == bindparam("address"),
                                                 Worker.__table__.c.last_alive_at == bindparam("seen"))


def _write_join(session: Session, attempt: ExamSession, values: dict, entries: list[eventlog.Entry]) -> None:
    """Write a join's changes with Core (statements built once) and make the loaded attempt match, unchanged.

    The ORM's unit of work for one UPDATE and a few INSERTs cost more than the rest of the join. On PostgreSQL
    the UPDATE and the entries' INSERT are one statement (the UPDATE in a WITH clause).
    """
    table, events = ExamSession.__table__, SessionEvent.__table__
    params = {**values, "b_id": attempt.id}
    if entries and session.get_bind().dialect.name == "postgresql":
        key = (frozenset(values), len(entries))
        stmt = _JOIN_WRITES.get(key)
        if stmt is None:
            moved = (update(table).where(table.c.id == bindparam("b_id"))
                     .values({k: bindparam(k, type_=table.c[k].type) for k in values}).returning(table.c.id).cte("moved"))
            # INSERT ... SELECT of the rows, not a multi-row VALUES: SQLAlchemy gives a multi-row VALUES no cache
            # key, so it was compiled again on every join (a fifth of the join's CPU).
            rows = [select(*(bindparam(f"e{i}_{c}", type_=events.c[c].type) for c in eventlog.Entry._fields))
                    for i in range(len(entries))]
            stmt = _JOIN_WRITES[key] = events.insert().from_select(
                list(eventlog.Entry._fields), rows[0] if len(rows) == 1 else union_all(*rows)).add_cte(moved)
        for i, entry in enumerate(entries):
            params.update({f"e{i}_{c}": v for c, v in entry._asdict().items()})
        session.execute(stmt, params)
    else:
        stmt = _JOIN_UPDATES.get(frozenset(values))
        if stmt is None:
            stmt = _JOIN_UPDATES[frozenset(values)] = (
                update(table).where(table.c.id == bindparam("b_id")).values({k: bindparam(k) for k in values}))
        session.execute(stmt, params)
        if entries:
            session.execute(_INSERT_ENTRIES, [e._asdict() for e in entries])
    for key, value in values.items():
        set_committed_value(attempt, key, value)


#: `_write_join`'s statements: an UPDATE per set of columns, the log entries' INSERT, and on PostgreSQL both
#: in one statement per set of columns and number of entries.
_JOIN_UPDATES: dict[frozenset, Any] = {}
_INSERT_ENTRIES = SessionEvent.__table__.insert()
_JOIN_WRITES: dict[tuple, Any] = {}


def disconnect(session: Session, sid: str, session_id: str | None, *, now: datetime) -> ExamSession | None:
    """The connection holding an attempt went away (a superseded connection changes nothing)."""
    if not session_id:
        return None
    attempt = session.scalar(select(ExamSession).where(ExamSession.id == session_id).with_for_update())
    if attempt is None or attempt.active_sid != sid or not attempt.is_connected:
        return None
    attempt.is_connected = False
    attempt.disconnected_at = now
    if attempt.status in OPEN:
        eventlog.append(session, attempt, "disconnect", {}, at=now, actor_id=attempt.user_id)
    session.flush()
    return attempt


# --- learner messages ----------------------------------------------------------

def _check_seq(seq: Any) -> int:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1 or seq > 2**31 - 1:
        raise _err("invalid_seq", "seq must be a positive integer", 422)
    return seq


def _check_open(attempt: ExamSession, now: datetime) -> None:
    if attempt.status == Status.PAUSED.value:
        raise _err("session_paused", "the attempt is paused by an examiner")
    if attempt.status in CLOSED:
        raise _err("session_closed", f"the attempt is already {attempt.status}")
    if not timing.accepts_answers(attempt.deadline_at, attempt.grace_s, now):
        raise _err("deadline_passed", "the time for this attempt is over")


#: `Session.info` key: the socket connection a learner's message came from (set by the /exam handlers). With it,
#: `_begin` refuses a connection that no longer holds the attempt; services called otherwise (REST, jobs) skip it.
CONNECTION_SID = "exam_engine.connection_sid"


def superseded_error() -> SessionError:
    return _err("superseded", "another window or device took over this attempt: join again to continue here")


def _begin(session: Session, user: User, session_id: Any, seq: Any, now: datetime,
           *, check_open: bool = True) -> tuple[int, ExamSession, dict | None]:
    """Common start of every learner message: valid seq, own attempt locked, the sending connection still
    holding it (after a takeover the old one is refused), replay or open-state check."""
    seq = _check_seq(seq)
    attempt = learner_attempt(session, user, session_id, lock=True)
    sid = session.info.get(CONNECTION_SID)
    if sid is not None and attempt.active_sid != sid:
        raise superseded_error()
    replay = _replayed(session, attempt, seq)
    if replay is None and check_open:
        _check_open(attempt, now)
    return seq, attempt, replay


def _replayed(session: Session, attempt: ExamSession, seq: int) -> dict | None:
    if seq > attempt.last_seq:
        return None  # above the highest applied seq (read under the row lock): cannot be a replay
    row = session.get(AppliedSeq, (attempt.id, seq))
    if row is None:
        return None
    return {**row.ack, "duplicate": True}


def _applied(session: Session, attempt: ExamSession, seq: int, kind: str, ack: dict) -> dict:
    session.add(AppliedSeq(session_id=attempt.id, seq=seq, kind=kind, ack=ack))
    attempt.last_seq = max(attempt.last_seq, seq)
    return ack


def _form_entry(attempt: ExamSession, item_id: Any) -> tuple[int, dict]:
    for i, entry in enumerate(attempt.form):
        if entry["item_id"] == item_id:
            return i, entry
    raise _err("unknown_item", f"item {item_id!r} is not on this attempt's form", 422)


#: Per engine (so per app): facts of published, frozen rows that every answer needs, read once per process.
_FROZEN: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _frozen(session: Session, key: tuple, load: Callable[[], Any]) -> Any:
    """A fact of an immutable row (a published exam or item version), cached per engine, bounded."""
    return frozen_fact(session.get_bind(), key, load)


def frozen_fact(engine: Any, key: tuple, load: Callable[[], Any]) -> Any:
    """`_frozen` for callers holding a Core connection (`conn.engine`) instead of an ORM session."""
    cache = _FROZEN.setdefault(engine, {})
    if key not in cache:
        if len(cache) > 20_000:
            cache.clear()
        cache[key] = load()
    return cache[key]


def frozen_facts(engine: Any, kind: str, ids: list, load_many: Callable[[list], dict]) -> dict:
    """Many facts of one kind at once (`load_many(missing ids) -> {id: fact}` reads the missing ones in one query)."""
    cache = _FROZEN.setdefault(engine, {})
    missing = [i for i in ids if (kind, i) not in cache]
    if missing:
        if len(cache) > 20_000:
            cache.clear()
            missing = list(ids)
        loaded = load_many(missing)
        for i in missing:
            cache[(kind, i)] = loaded.get(i)
    return {i: cache[(kind, i)] for i in ids}


def _type_and_interaction(version: ItemVersion) -> tuple[str, dict]:
    return version.type, version.interaction


def _navigation(session: Session, attempt: ExamSession) -> str:
    if attempt.adaptive_state is not None:
        return "linear"  # adaptive: only the item on screen may be answered
    return _frozen(session, ("navigation", attempt.exam_version_id), lambda: session.get(
        ExamVersion, attempt.exam_version_id).definition.get("navigation", "free"))


def next_item(session: Session, user: User, session_id: Any, *, seq: Any, now: datetime) -> dict:
    """Adaptive exams: grade the current answer and get the next item (or `done` with the estimate)."""
    seq, attempt, replay = _begin(session, user, session_id, seq, now)
    if replay is not None:
        return replay
    if attempt.adaptive_state is None:
        raise _err("not_adaptive", "this exam is not adaptive: all items were given at join", 422)
    from .adaptive import advance
    out = advance(session, attempt, now=now, actor_id=user.id)
    ack = _applied(session, attempt, seq, "next", {"ok": True, "seq": seq, **out})
    session.flush()
    return ack


def record_answer(session: Session, user: User, session_id: Any, *, item_id: Any, response: Any, seq: Any,
                  now: datetime) -> dict:
    """Persist an answer (idempotent by seq; an older seq never overwrites a newer answer)."""
    seq, attempt, replay = _begin(session, user, session_id, seq, now)
    if replay is not None:
        return replay
    index, entry = _form_entry(attempt, item_id)
    if _navigation(session, attempt) == "linear" and index != attempt.position:
        raise _err("item_locked", "linear navigation: only the current item can be answered")
    item_type, interaction = _frozen(session, ("item", entry["version_id"]),
                                     lambda: _type_and_interaction(session.get(ItemVersion, entry["version_id"])))
    if response is not None:
        try:
            scoring.validate_response(item_type, interaction, response)
        except scoring.InvalidResponse as exc:
            # One stable code for clients; the scoring library's precise reason goes in details.
            raise _err("invalid_response_shape", str(exc), 422, reason=getattr(exc, "code", "invalid")) from None
    row = session.scalar(select(SessionResponse).where(SessionResponse.session_id == attempt.id,
                                                       SessionResponse.item_id == item_id))
    stale = False
    if row is None:
        session.add(SessionResponse(session_id=attempt.id, item_id=item_id, response=response, seq=seq, saved_at=now))
    elif row.seq > seq:
        stale = True  # a newer answer is already stored: keep it
    else:
        row.response, row.seq, row.saved_at = response, seq, now
    if not stale:
        eventlog.append(session, attempt, "answer", {"item_id": item_id, "response": response, "seq": seq},
                        at=now, actor_id=user.id)
    ack = {"ok": True, "seq": seq}
    if stale:
        ack["stale"] = True
    _applied(session, attempt, seq, "answer", ack)
    session.flush()
    return ack


def set_flag(session: Session, user: User, session_id: Any, *, item_id: Any, flagged: bool, seq: Any,
             now: datetime) -> dict:
    seq, attempt, replay = _begin(session, user, session_id, seq, now)
    if replay is not None:
        return replay
    _form_entry(attempt, item_id)
    row = session.scalar(select(SessionResponse).where(SessionResponse.session_id == attempt.id,
                                                       SessionResponse.item_id == item_id))
    if row is None:
        session.add(SessionResponse(session_id=attempt.id, item_id=item_id, response=None, seq=0,
                                    is_flagged=flagged, flag_seq=seq, saved_at=now))
    elif row.flag_seq < seq:
        row.is_flagged, row.flag_seq = flagged, seq
    eventlog.append(session, attempt, "flag", {"item_id": item_id, "flagged": flagged, "seq": seq}, at=now, actor_id=user.id)
    ack = _applied(session, attempt, seq, "flag", {"ok": True, "seq": seq})
    session.flush()
    return ack


def navigate(session: Session, user: User, session_id: Any, *, position: Any, seq: Any, now: datetime) -> dict:
    seq, attempt, replay = _begin(session, user, session_id, seq, now)
    if replay is not None:
        return replay
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position < len(attempt.form):
        raise _err("malformed_payload", f"position must be an integer in 0..{len(attempt.form) - 1}", 422)
    if _navigation(session, attempt) == "linear" and position < attempt.position:
        raise _err("navigation_locked", "linear navigation: no going back")
    previous = attempt.position
    attempt.position = position
    eventlog.append(session, attempt, "navigate", {"from": previous, "to": position, "seq": seq}, at=now, actor_id=user.id)
    ack = _applied(session, attempt, seq, "navigate", {"ok": True, "seq": seq, "position": position})
    session.flush()
    return ack


def submit(session: Session, user: User, session_id: Any, *, seq: Any, now: datetime) -> dict:
    """The learner hands in: close, score, ack the resulting status (a second submit answers the same)."""
    seq, attempt, replay = _begin(session, user, session_id, seq, now, check_open=False)
    if replay is not None:
        return replay
    if attempt.status in CLOSED:
        return {"ok": True, "seq": seq, "status": attempt.status}
    if attempt.status == Status.PAUSED.value:
        raise _err("session_paused", "the attempt is paused by an examiner")
    reason = "submitted" if timing.accepts_answers(attempt.deadline_at, attempt.grace_s, now) else "time_expired"
    close_attempt(session, attempt, now=now, reason=reason, actor_id=user.id)
    ack = _applied(session, attempt, seq, "submit", {"ok": True, "seq": seq, "status": attempt.status})
    session.flush()
    return ack


# --- closing and scoring -----------------------------------------------------------

def close_attempt(session: Session, attempt: ExamSession, *, now: datetime, reason: str, actor_id: int | None,
                  status: str = Status.SUBMITTED.value) -> None:
    """Move an open attempt to submitted (or terminated), log it, and score it."""
    if not is_transition_legal(attempt.status, status):
        raise _err("session_closed", f"the attempt is already {attempt.status}")
    attempt.status = status
    attempt.submitted_at = now
    attempt.end_reason = reason
    attempt.active_key = None
    if attempt.paused_at is not None:
        attempt.paused_at = None
    eventlog.append(session, attempt, "terminate" if status == Status.TERMINATED.value else "submit",
                    {"reason": reason}, at=now, actor_id=actor_id)
    score(session, attempt, now=now)


def key_overrides(session: Session, exam_id: int) -> dict[int, dict]:
    """Corrected keys of an exam's items (rescoring), item id -> scoring."""
    from ..exams.models import ExamKeyOverride
    return {o.item_id: o.scoring for o in session.scalars(select(ExamKeyOverride).where(ExamKeyOverride.exam_id == exam_id))}


def manual_mark(row: SessionResponse | None) -> dict | None:
    """The resolved manual mark stored with a response (essays), if any."""
    return (row.item_score or {}).get("manual") if row is not None and row.item_score else None


def manual_item_score(manual: dict, points: float, weight: float) -> scoring.ItemScore:
    """The ItemScore of a resolved manual mark: it replaces what the graders say."""
    value, points = float(manual["score"]), float(points)
    return scoring.ItemScore(score=value, max_score=points, is_correct=value >= points, detail={"manual": manual},
                             weight=float(weight))


def grade_entries(session: Session, attempt: ExamSession, overrides: dict | None = None) -> list[dict]:
    """Grade every item of the form with the scoring library (manual grades kept in item_score)."""
    if overrides is None:
        overrides = key_overrides(session, attempt.exam_id)
    ids = [e["version_id"] for e in attempt.form]
    versions = {v.id: v for v in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(ids)))}
    rows = {r.item_id: r for r in session.scalars(select(SessionResponse).where(SessionResponse.session_id == attempt.id))}
    graded = []
    for entry in attempt.form:
        version = versions[entry["version_id"]]
        row = rows.get(entry["item_id"])
        response = row.response if row else None
        key = (overrides or {}).get(entry["item_id"], version.scoring)
        manual = manual_mark(row)
        if manual is not None:
            item_score = manual_item_score(manual, key.get("points", 1), key.get("weight", 1))
        else:
            try:
                item_score = scoring.grade_item(version.type, key, response, version.interaction)
            except scoring.ScoringError as exc:  # a stored response that no longer fits (never expected)
                log.warning("ungradable response", extra={"session_id": attempt.id, "item_id": entry["item_id"],
                                                          "error": str(exc)})
                item_score = scoring.ItemScore(score=0.0, max_score=float(key.get("points", 1)), is_correct=False,
                                               detail={"error": str(exc)}, weight=float(key.get("weight", 1)))
        graded.append({"item_id": str(entry["item_id"]), "section": entry["section_id"], "score": item_score})
    return graded


def pass_policy(defn: dict) -> dict | None:
    policy = defn.get("pass")
    if not policy:
        return None
    minimums = {s["id"]: {"value": s["min_score_pct"], "mode": "percentage"}
                for s in defn["sections"] if s.get("min_score_pct") is not None}
    return {"mode": policy.get("mode", "percentage"), "cut_score": policy["cut_score"], "section_minimums": minimums}


def score(session: Session, attempt: ExamSession, *, now: datetime, overrides: dict | None = None,
          graded: list[dict] | None = None, reason: str = "submit") -> dict:
    """Score the attempt with the scoring library; a missing manual grade leaves it pending."""
    version = session.get(ExamVersion, attempt.exam_version_id)
    if graded is None:
        graded = grade_entries(session, attempt, overrides)
    theta = None
    adaptive = adaptive_summary(session, attempt)
    if adaptive is not None:
        theta = adaptive["theta"]
    result = scoring.aggregate.score_attempt(graded, pass_policy(version.definition), theta=theta)
    data = result.to_dict()
    data["items"] = {g["item_id"]: g["score"].to_dict() for g in graded}
    data["log_head"] = attempt.log_head
    if adaptive is not None:
        data["theta"], data["theta_se"] = adaptive["theta"], adaptive["se"]
    new_status = Status.PENDING_GRADING.value if result.is_pending else Status.SCORED.value
    attempt.status = new_status
    attempt.result = _json_safe(data)
    attempt.score, attempt.max_score, attempt.percentage = result.score, result.max_score, result.percentage
    attempt.is_passed = result.passed
    attempt.scored_at = now
    eventlog.append(session, attempt, "score", {"status": result.status, "score": result.score,
                                                "max_score": result.max_score, "passed": result.passed,
                                                "reason": reason}, at=now, actor_id=None)
    attempt.result = {**attempt.result, "log_head": attempt.log_head}
    session.flush()
    for hook in AFTER_SCORE:
        hook(session, attempt, now)
    return attempt.result


#: Called after an attempt is scored: fn(session, attempt, now) (credentials, LTI grade passback...).
AFTER_SCORE: list = []

def adaptive_summary(session: Session, attempt: ExamSession) -> dict | None:
    """{"theta", "se"} of an adaptive attempt, else None."""
    if attempt.adaptive_state is None:
        return None
    from .adaptive import summary as adaptive_estimate
    return adaptive_estimate(session, attempt)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def is_released(session: Session, attempt: ExamSession, now: datetime) -> bool:
    """Whether the learner may see the result, by the exam's release policy."""
    if attempt.status not in (Status.SCORED.value, Status.PENDING_GRADING.value):
        return False
    version = session.get(ExamVersion, attempt.exam_version_id)
    policy = version.definition.get("release", "immediate")
    if policy == "immediate":
        return True
    if policy == "after_close":
        return version.closes_at is None or now >= version.closes_at
    exam = session.get(Exam, attempt.exam_id)
    return exam.results_released_at is not None


def result_for(session: Session, user: User, session_id: str, *, now: datetime) -> dict:
    """The result as its viewer may see it: the learner once released; authors and examiners always."""
    attempt = load_attempt(session, session_id)
    staff = exam_services.is_examiner_of(session, user, attempt.exam_id)
    if attempt.user_id != user.id and not staff:
        raise _err("session_not_found", "no such attempt", 404)
    if attempt.result is None:
        raise _err("result_not_ready", "the attempt has not been scored yet")
    if not staff and not is_released(session, attempt, now):
        raise _err("result_not_released", "the result is not released yet", 403)
    res = attempt.result
    out = {"session_id": attempt.id, "exam_id": attempt.exam_id, "status": attempt.status, "score": res["score"],
           "max_score": res["max_score"], "percentage": res["percentage"], "passed": res["passed"],
           "pending": res["status"] == "pending", "sections": res["sections"], "log_head": res.get("log_head"),
           "theta": res.get("theta"), "theta_se": res.get("theta_se"),
           "order": [str(e["item_id"]) for e in attempt.form],
           "submitted_at": attempt.submitted_at, "scored_at": attempt.scored_at,
           "items": {k: {"score": v["score"], "max_score": v["max_score"], "is_correct": v["is_correct"],
                         "is_pending_manual": v["is_pending_manual"]} for k, v in res["items"].items()}}
    return out


# --- the sweeper and outage credit ---------------------------------------------------

class Closed(NamedTuple):
    """An attempt the sweeper closed at its deadline."""
    session_id: str
    #: Seconds after deadline + grace.
    lateness_s: float
    #: time_expired, or window_closed under the exam's end_at_close.
    reason: str


#: Attempts the sweeper submits per transaction.
SWEEP_BATCH = 200


def sweep_expired(session: Session, *, now: datetime, limit: int = SWEEP_BATCH) -> list[Closed]:
    """Submit attempts past deadline + grace, each exactly once across workers (scoring follows apart).

    The attempts are claimed with SELECT ... FOR UPDATE SKIP LOCKED: workers sweeping at once take disjoint
    attempts instead of queueing on each other's locks, and one being answered right now is taken by the next
    sweep. Submission only (status, log entry): `next_submitted` and `score` score them after the commit, so a
    thousand attempts that expire together are all submitted within a fraction of a second.
    """
    attempts = session.scalars(
        select(ExamSession).where(ExamSession.status == Status.IN_PROGRESS.value, ExamSession.deadline_at.is_not(None),
                                  ExamSession.deadline_at <= now)
        .order_by(ExamSession.deadline_at).limit(limit).with_for_update(skip_locked=True)).all()
    closed = []
    for attempt in attempts:
        due = attempt.deadline_at + timedelta(seconds=attempt.grace_s)
        if due > now:
            continue
        version = session.get(ExamVersion, attempt.exam_version_id)  # one read per version and sweep
        reason = "time_expired"
        if timing.ends_at_close(attempt.deadline_at, *close_policy(version)):
            reason = "window_closed"
        lateness = (now - due).total_seconds()
        attempt.status, attempt.submitted_at, attempt.end_reason, attempt.active_key = (
            Status.SUBMITTED.value, now, reason, None)
        eventlog.append(session, attempt, "submit", {"reason": reason, "auto": True, "lateness_s": round(lateness, 3)},
                        at=now, actor_id=None)
        closed.append(Closed(attempt.id, lateness, reason))
    session.flush()
    return closed


_SUBMITTED_UNSCORED = (ExamSession.status == Status.SUBMITTED.value, ExamSession.scored_at.is_(None))


def next_submitted(session: Session, *, now: datetime, limit: int = 1) -> list[ExamSession]:
    """The oldest submitted attempts not scored yet and not being scored by another worker, locked.

    The sweeper's submissions, and any attempt a failure or a crash left submitted: `score` them in the same
    transaction, and each is scored exactly once (locked, SKIP LOCKED across workers; `scored_at` is set).
    One whose scoring failed waits for its `score_retry_at` (`defer_scoring`).
    """
    query = (select(ExamSession).where(*_SUBMITTED_UNSCORED, or_(ExamSession.score_retry_at.is_(None),
                                                                  ExamSession.score_retry_at <= now))
             .order_by(ExamSession.submitted_at).limit(limit))
    return list(session.scalars(query.with_for_update(skip_locked=True)))


def defer_scoring(session: Session, session_id: str, *, until: datetime) -> None:
    """Leave a submitted attempt whose scoring failed until `until` (every worker, and after a restart)."""
    session.execute(update(ExamSession).where(ExamSession.id == session_id).values(score_retry_at=until)
                    .execution_options(synchronize_session=False))


def heartbeat(session: Session, *, now: datetime, worker: str, outage_threshold_s: float) -> float:
    """Record that a worker is alive; after an outage (no worker alive for a while), credit the gap to open attempts.

    Exactly one worker credits a given gap: the compare-and-set on the clock row is the claim.
    Returns the seconds credited (0 when there was no outage).
    """
    row = session.get(ServiceClock, 1)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ServiceClock(id=1, last_alive_at=now, worker=worker))
                session.flush()
        except IntegrityError:
            pass
        return 0.0
    last = row.last_alive_at
    gap = (now - last).total_seconds()
    claimed = session.execute(update(ServiceClock).where(ServiceClock.id == 1, ServiceClock.last_alive_at == last)
                              .values(last_alive_at=max(now, last), worker=worker)
                              .execution_options(synchronize_session=False)).rowcount
    if claimed != 1 or gap <= outage_threshold_s:
        return 0.0
    credit = gap
    attempts = session.scalars(select(ExamSession).where(ExamSession.status.in_(OPEN)).with_for_update()).all()
    for attempt in attempts:
        if attempt.deadline_at is None or attempt.status == Status.PAUSED.value:
            continue
        # Only the part of the outage after the attempt started counts, and not past a close that ends it.
        share = min(credit, max((now - attempt.started_at).total_seconds(), 0))
        version = exam_services.frozen_version(session, attempt.exam_version_id)
        moved = timing.moved_deadline(attempt.deadline_at, timedelta(seconds=share), *close_policy(version))
        share = (moved - attempt.deadline_at).total_seconds()
        if share <= 0:
            continue  # the window's close ends it: nothing to credit
        attempt.deadline_at = moved
        attempt.outage_credit_s += share
        eventlog.append(session, attempt, "outage_credit", {"seconds": round(share, 3), "server_down_since": last.isoformat()},
                        at=now, actor_id=None)
    log.warning("outage credited", extra={"gap_s": round(gap, 3), "attempts": len(attempts)})
    session.flush()
    return credit


# --- examiner actions ------------------------------------------------------------------

ACTIONS = ("message", "pause", "resume", "extend", "terminate")


def examiner_act(session: Session, actor: User, session_id: Any, action: str, *, now: datetime,
                 text: str | None = None, seconds: Any = None, reason: str | None = None) -> ExamSession:
    """Apply an examiner's action to an attempt (checks the actor watches its exam)."""
    attempt = load_attempt(session, session_id, lock=True)
    if not exam_services.is_examiner_of(session, actor, attempt.exam_id):
        raise _err("session_not_found", "no such attempt", 404)
    if action not in ACTIONS:
        raise _err("malformed_payload", f"action must be one of {', '.join(ACTIONS)}", 422)
    data: dict[str, Any] = {"action": action}
    if action == "message":
        if not isinstance(text, str) or not text.strip() or len(text) > 2000:
            raise _err("malformed_payload", "a message needs `text` (1-2000 characters)", 422)
        msg = {"text": text.strip(), "at": now.isoformat(), "from": actor.name or "Examiner"}
        attempt.messages = [*(attempt.messages or []), msg]
        data["text"] = msg["text"]
    elif action == "pause":
        if attempt.status != Status.IN_PROGRESS.value:
            raise _err("invalid_state", f"only an attempt in progress can be paused (it is {attempt.status})")
        attempt.status = Status.PAUSED.value
        attempt.paused_at = now
        data["reason"] = reason
    elif action == "resume":
        if attempt.status != Status.PAUSED.value:
            raise _err("invalid_state", f"only a paused attempt can be resumed (it is {attempt.status})")
        shift = timing.resume_shift(attempt.paused_at, now)
        attempt.paused_total_s += shift.total_seconds()
        if attempt.deadline_at is not None:
            version = exam_services.frozen_version(session, attempt.exam_version_id)
            attempt.deadline_at = timing.moved_deadline(attempt.deadline_at, shift, *close_policy(version))
        attempt.paused_at = None
        attempt.status = Status.IN_PROGRESS.value
        data["paused_s"] = round(shift.total_seconds(), 3)
    elif action == "extend":
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 < seconds <= 24 * 3600:
            raise _err("malformed_payload", "extend needs `seconds` between 1 and 86400", 422)
        if attempt.status not in OPEN:
            raise _err("session_closed", f"the attempt is already {attempt.status}")
        if attempt.deadline_at is None:
            raise _err("invalid_state", "the attempt is untimed")
        attempt.deadline_at += timedelta(seconds=seconds)
        attempt.extended_s += seconds
        data["seconds"] = seconds
    elif action == "terminate":
        if attempt.status not in OPEN:
            raise _err("session_closed", f"the attempt is already {attempt.status}")
        if not isinstance(reason, str) or not reason.strip():
            raise _err("malformed_payload", "terminate needs a `reason`", 422)
        data["reason"] = reason.strip()[:500]
    eventlog.append(session, attempt, "examiner_action", data, at=now, actor_id=actor.id)
    if action == "terminate":
        close_attempt(session, attempt, now=now, reason="terminated", actor_id=actor.id, status=Status.TERMINATED.value)
    session.flush()
    return attempt


def get_for_viewer(session: Session, user: User, session_id: str) -> ExamSession:
    """An attempt for its learner, or for staff of its exam."""
    attempt = load_attempt(session, session_id)
    if attempt.user_id == user.id or exam_services.is_examiner_of(session, user, attempt.exam_id):
        return attempt
    raise _err("session_not_found", "no such attempt", 404)


# --- privacy -------------------------------------------------------------------------------

def export_attempts(session: Session, user: User) -> list[dict]:
    """A learner's attempts, answers and results (data portability)."""
    out = []
    for a in session.scalars(select(ExamSession).where(ExamSession.user_id == user.id).order_by(ExamSession.started_at)):
        responses = session.scalars(select(SessionResponse).where(SessionResponse.session_id == a.id)).all()
        out.append({"id": a.id, "exam_id": a.exam_id, "attempt_no": a.attempt_no, "status": a.status,
                    "started_at": a.started_at.isoformat(), "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None,
                    "score": a.score, "max_score": a.max_score, "passed": a.is_passed, "client_ip": a.client_ip,
                    "user_agent": a.user_agent, "messages": a.messages,
                    "responses": {str(r.item_id): r.response for r in responses}})
    return out


def erase_attempt_identity(session: Session, user: User) -> None:
    """Erasure: drop the network identifiers kept with attempts (results stay, linked to the pseudonymous account)."""
    session.execute(update(ExamSession).where(ExamSession.user_id == user.id).values(client_ip=None, user_agent=None)
                    .execution_options(synchronize_session=False))


def register_privacy() -> None:
    from item_bank.api import MEDIA_VIEWERS
    if learner_sees_media not in MEDIA_VIEWERS:
        MEDIA_VIEWERS.append(learner_sees_media)
    from ..auth.privacy import ERASERS, EXPORTERS
    EXPORTERS["attempts"] = export_attempts
    if erase_attempt_identity not in ERASERS:
        ERASERS.append(erase_attempt_identity)


def learner_sees_media(session: Session, user: User, media: Any) -> bool:
    """True when one of the user's attempts pins an item version whose content shows this media file."""
    url = f"/api/v1/banks/{media.bank_id}/media/{media.id}/"
    for form in session.scalars(select(ExamSession.form).where(ExamSession.user_id == user.id)):
        ids = [e["version_id"] for e in form]
        if not ids:
            continue
        for version in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(ids))):
            if url in version.stem or url in str(version.interaction):
                return True
    return False


def list_own_attempts(session: Session, user: User, now: datetime) -> list[dict]:
    """The caller's attempts, newest first, with their exam's title and the result when released."""
    rows = []
    for a in session.scalars(select(ExamSession).where(ExamSession.user_id == user.id)
                             .order_by(ExamSession.started_at.desc())):
        version = session.get(ExamVersion, a.exam_version_id)
        released = is_released(session, a, now)
        rows.append({**summary(a, now), "title": version.title, "is_released": released,
                     "score": a.score if released else None, "max_score": a.max_score if released else None,
                     "percentage": a.percentage if released else None, "passed": a.is_passed if released else None})
    return rows
