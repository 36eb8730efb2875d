"""Answers by group commit: every answer waiting in a worker is written in one transaction, then acked.

`record_answer` in services.py writes one answer per transaction through the
ORM: about ten round trips and 3 ms of CPU each, which caps a worker near 200
answers/s. Here the answers that arrive while a transaction is in flight wait
for the next one, and a whole batch costs a handful of statements: one
`SELECT ... FOR UPDATE` of the attempts (ordered by id, so two batches cannot
deadlock), one read of the current responses, then multi-row inserts and
updates of responses, log entries, applied sequence numbers and attempt heads,
and one commit. With one learner the batch has one answer and nothing waits;
under load the batches grow by themselves (no timer, no added latency). The
attempts are locked with SKIP LOCKED: an attempt held by another transaction (a
proctoring scan, an examiner's action) keeps its own answers for the next batch
instead of stalling every other learner's.

The rules are `record_answer`'s, applied in order within the batch: the
attempt is the caller's own and its account active; a replayed seq gets the
first ack again (`duplicate: true`); paused, closed and overdue attempts,
answers to items not on the form, to a locked item under linear navigation or
of the wrong shape are refused with their codes and write nothing; an older seq
never overwrites a newer answer (`stale: true`); each applied answer appends a
hash-chained log entry. Acks are released only after the commit. If the batch
transaction fails as a whole (a deadlock, a lost connection, anything), every
answer of it is retried alone through `record_answer`, so one bad answer never
takes its neighbours down and nothing acknowledged is ever lost. Adaptive
attempts (whose form grows) always go through `record_answer`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Connection

import scoring
from item_bank.models import ItemVersion

from ..auth.models import User
from ..db import GroupQueue, sequence_ids
from ..errors import ack_error
from ..exams.models import ExamVersion
from ..proctoring import services as proctoring
from . import eventlog, services, timing
from .models import AppliedSeq, ExamSession, SessionEvent, SessionResponse
from .statuses import CLOSED, Status

log = logging.getLogger("exam_engine.answers")

#: Batches an answer may skip its locked attempt before it waits for the lock alone (about half a second).
MAX_RETRIES = 200

S = ExamSession.__table__
R = SessionResponse.__table__
E = SessionEvent.__table__
Q = AppliedSeq.__table__
U = User.__table__

_UPDATE_RESPONSE = (update(R).where(R.c.session_id == bindparam("b_sid"), R.c.item_id == bindparam("b_item"))
                    .values(response=bindparam("b_response", type_=R.c.response.type),
                            seq=bindparam("b_seq"), saved_at=bindparam("b_at", type_=R.c.saved_at.type)))
# Built once (expanding IN parameters): a batch builds no SQL expression objects and compiles nothing.
# The attempts' proctoring rule states come with them (the batch moves them past plain answers).
_LOCK_ATTEMPTS = (select(S.c.id, S.c.user_id, S.c.status, S.c.deadline_at, S.c.grace_s, S.c.position, S.c.last_seq,
                         S.c.log_length, S.c.log_head, S.c.exam_version_id, S.c.adaptive_state, S.c.active_sid,
                         U.c.is_active,
                         *proctoring.STATE_COLUMNS)
                  .join(U, U.c.id == S.c.user_id)
                  .outerjoin(proctoring.STATES, proctoring.STATES.c.session_id == S.c.id)
                  .where(S.c.id.in_(bindparam("ids", expanding=True))).order_by(S.c.id)
                  .with_for_update(of=S, skip_locked=True))
_EXISTING = select(S.c.id).where(S.c.id.in_(bindparam("ids", expanding=True)))
_APPLIED = select(Q.c.session_id, Q.c.seq, Q.c.ack).where(
    tuple_(Q.c.session_id, Q.c.seq).in_(bindparam("keys", expanding=True)))
_CURRENT = select(R.c.session_id, R.c.item_id, R.c.seq).where(
    tuple_(R.c.session_id, R.c.item_id).in_(bindparam("keys", expanding=True)))
_INSERT_RESPONSES = insert(R)
_INSERT_EVENTS = insert(E)
_INSERT_SEQS = insert(Q)
_UPDATE_HEAD = (update(S).where(S.c.id == bindparam("b_sid"))
                .values(last_seq=bindparam("b_last_seq"), log_length=bindparam("b_length"), log_head=bindparam("b_head")))


@dataclass(eq=False)
class Answer:
    """One learner's answer waiting for its batch."""

    user_id: int
    session_id: str
    item_id: int
    response: Any
    seq: int
    now: datetime
    #: The socket connection it came from: refused (`superseded`) unless that connection holds the attempt.
    sid: str | None = None
    ack: dict | None = None
    #: The account was found disabled: the handler drops the connection after the ack.
    disconnect: bool = False
    #: Set when the answer was written (or refused) and `ack` is final.
    done: threading.Event = field(default_factory=threading.Event)
    #: Set with `done` when this waiter must lead the next batch.
    lead: bool = False
    #: Batches that found the attempt locked by another transaction (the answer waited for the next one).
    retries: int = 0

    @property
    def finished(self) -> bool:
        return self.ack is not None


def _error(code: str, message: str, **details: Any) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"ok": False, "error": body}


class GroupCommit(GroupQueue):
    """Per database: the queue of answers and the one batch in flight."""

    def __init__(self, database: Any, max_batch: int = 200) -> None:
        super().__init__(max_batch)
        self.database = database

    def _write(self, batch: list[Answer]) -> int:
        """Write one batch; answers whose attempt another transaction holds go back to the head of the queue.

        Returns how many answers got their ack.
        """
        alone: list[Answer] = []
        busy: list[Answer] = []
        try:
            try:
                with self.database.engine.begin() as conn:
                    alone, busy = write_batch(conn, batch)
            except Exception:  # noqa: BLE001 - the whole batch is retried answer by answer below
                log.warning("answer batch failed; writing its %d answers one by one", len(batch), exc_info=True)
                alone, busy = batch, []
            for answer in busy:
                answer.retries += 1
                answer.ack = None
            # An attempt locked for long (a slow examiner action): stop skipping it and wait for its lock.
            alone += [a for a in busy if a.retries > MAX_RETRIES]
            busy = [a for a in busy if a.retries <= MAX_RETRIES]
            for answer in alone:
                answer.ack = None
                _write_alone(self.database, answer)
            if busy:
                self._requeue(busy)
        finally:
            requeued = {id(a) for a in busy}
            for answer in batch:
                if id(answer) in requeued:
                    continue
                if answer.ack is None:  # only if something above failed unexpectedly
                    answer.ack = _error("internal_error", "an unexpected error occurred; it has been logged")
                answer.done.set()
        return len(batch) - len(busy)


def _write_alone(database: Any, answer: Answer) -> None:
    """One answer in its own transaction through the ORM path (adaptive attempts, failed batches)."""
    session = database.session()
    session.info[services.CONNECTION_SID] = answer.sid
    try:
        user = session.get(User, answer.user_id)
        if user is None or not user.is_active:
            answer.ack, answer.disconnect = _error("unauthorized", "the account is disabled"), True
            return
        answer.ack = services.record_answer(session, user, answer.session_id, item_id=answer.item_id,
                                            response=answer.response, seq=answer.seq, now=answer.now)
        session.commit()
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error ack
        session.rollback()
        answer.ack = ack_error(exc)
    finally:
        session.close()


def _item_facts(conn: Connection, version_id: int) -> tuple[str, dict]:
    def load() -> tuple[str, dict]:
        row = conn.execute(select(ItemVersion.type, ItemVersion.interaction).where(ItemVersion.id == version_id)).one()
        return row.type, row.interaction
    return services.frozen_fact(conn.engine, ("item", version_id), load)


def _navigation(conn: Connection, exam_version_id: int) -> str:
    def load() -> str:
        defn = conn.execute(select(ExamVersion.definition).where(ExamVersion.id == exam_version_id)).scalar_one()
        return defn.get("navigation", "free")
    return services.frozen_fact(conn.engine, ("navigation", exam_version_id), load)


def _form_index(conn: Connection, session_id: str) -> dict[int, tuple[int, int]]:
    """item id -> (position on the form, pinned version id); a fixed form never changes, so it is cached."""
    def load() -> dict[int, tuple[int, int]]:
        entries = conn.execute(select(S.c.form).where(S.c.id == session_id)).scalar_one()
        return {entry["item_id"]: (i, entry["version_id"]) for i, entry in enumerate(entries)}
    return services.frozen_fact(conn.engine, ("form", session_id), load)


def write_batch(conn: Connection, batch: list[Answer]) -> tuple[list[Answer], list[Answer]]:
    """Apply the batch in `conn`'s transaction; sets each ack.

    Returns (answers to write alone instead, answers whose attempt another transaction holds: for the next batch).
    The attempts are locked with SKIP LOCKED, so a proctoring scan or an examiner action holding one attempt
    delays that attempt's answers only, never the whole batch.
    """
    ids = sorted({a.session_id for a in batch})
    rows = {r.id: r for r in conn.execute(_LOCK_ATTEMPTS, {"ids": ids})}
    missing = [sid for sid in ids if sid not in rows]
    held = set(conn.execute(_EXISTING, {"ids": missing}).scalars()) if missing else set()
    replay_keys = [(a.session_id, a.seq) for a in batch
                   if a.session_id in rows and a.seq <= rows[a.session_id].last_seq]
    applied: dict[tuple[str, int], dict] = {}
    if replay_keys:
        applied = {(r.session_id, r.seq): r.ack for r in conn.execute(_APPLIED, {"keys": replay_keys})}
    # Only pairs on the attempt's form reach SQL (an absurd item id is refused below, not sent to the database).
    pairs = sorted({(a.session_id, a.item_id) for a in batch if a.session_id in rows
                    and a.item_id in _form_index(conn, a.session_id)})
    current = {(r.session_id, r.item_id): r.seq for r in conn.execute(_CURRENT, {"keys": pairs})} if pairs else {}

    heads: dict[str, list] = {}  # session id -> [last_seq, log_length, log_head]
    new_responses: dict[tuple[str, int], dict] = {}
    changed_responses: dict[tuple[str, int], dict] = {}
    events, seqs, alone, busy = [], [], [], []
    for a in batch:
        if a.session_id in held:
            busy.append(a)
            continue
        row = rows.get(a.session_id)
        if row is None or row.user_id != a.user_id:
            a.ack = _error("session_not_found", "no such attempt")
            continue
        if not row.is_active:
            a.ack, a.disconnect = _error("unauthorized", "the account is disabled"), True
            continue
        if a.sid is not None and row.active_sid != a.sid:  # another connection took over (read under the lock)
            a.ack = ack_error(services.superseded_error())
            continue
        if row.adaptive_state is not None:
            alone.append(a)
            continue
        head = heads.setdefault(a.session_id, [row.last_seq, row.log_length, row.log_head])
        key = (a.session_id, a.seq)
        if a.seq <= head[0] and key in applied:
            a.ack = {**applied[key], "duplicate": True}
            continue
        a.ack = _refusal(conn, row, a)
        if a.ack is not None:
            continue
        rkey = (a.session_id, a.item_id)
        stale = current.get(rkey, 0) > a.seq
        ack: dict = {"ok": True, "seq": a.seq}
        if stale:
            ack["stale"] = True
        else:
            values = {"response": a.response, "seq": a.seq, "saved_at": a.now}
            if rkey in new_responses:  # inserted by this batch: insert the newest value
                new_responses[rkey].update(values)
            elif rkey in current:
                changed_responses[rkey] = values
            else:
                new_responses[rkey] = {"session_id": a.session_id, "item_id": a.item_id, **values}
            current[rkey] = a.seq
            idx = head[1] + 1
            data, digest = eventlog.prepare(head[2], idx, "answer", {"item_id": a.item_id, "response": a.response,
                                                                     "seq": a.seq}, at=a.now, actor_id=a.user_id)
            events.append({"session_id": a.session_id, "idx": idx, "kind": "answer", "data": data, "at": a.now,
                           "actor_id": a.user_id, "prev_hash": head[2], "hash": digest})
            head[1], head[2] = idx, digest
        seqs.append({"session_id": a.session_id, "seq": a.seq, "kind": "answer", "ack": ack})
        applied[key] = ack
        head[0] = max(head[0], a.seq)
        a.ack = ack

    one_statement = conn.dialect.driver == "psycopg"  # the statement passes psycopg 3's own JSON wrapper
    states, signals = _state_moves(conn, rows, heads, events, one_statement) if events else ([], [])
    moved = [{"b_sid": sid, "b_last_seq": h[0], "b_length": h[1], "b_head": h[2]} for sid, h in heads.items()
             if (h[0], h[1]) != (rows[sid].last_seq, rows[sid].log_length)]
    if one_statement:
        _write_in_one_statement(conn, new_responses, changed_responses, events, seqs, moved, states, signals)
        return alone, busy
    if new_responses:
        conn.execute(_INSERT_RESPONSES, list(new_responses.values()))
    if changed_responses:
        conn.execute(_UPDATE_RESPONSE, [{"b_sid": sid, "b_item": item, "b_response": v["response"], "b_seq": v["seq"],
                                         "b_at": v["saved_at"]} for (sid, item), v in changed_responses.items()])
    if events:
        conn.execute(_INSERT_EVENTS, events)
    if seqs:
        conn.execute(_INSERT_SEQS, seqs)
    if moved:
        conn.execute(_UPDATE_HEAD, moved)
    if states:
        conn.execute(proctoring.ADVANCE_STATE, states)
    return alone, busy


def _state_moves(conn: Connection, rows: dict, heads: dict, events: list[dict],
                 one_statement: bool) -> tuple[list[dict], list[dict]]:
    """The proctoring rule states to move past these answers, so the periodic scan has nothing to redo, and the
    fast answers to record with them: (`ADVANCE_STATE` parameters, signal rows the one statement inserts).

    A fast answer's `signal` entry is appended to `events` after the attempt's answers (`heads` moves with it);
    its signal id comes from the table's sequence (PostgreSQL; the row goes in with the batch's one statement)
    or from inserting the row at once (other databases).
    """
    written: dict[str, list] = {}
    for e in events:
        item_id = e["data"]["item_id"]
        written.setdefault(e["session_id"], []).append((item_id, _form_index(conn, e["session_id"])[item_id][1], e["at"]))
    moves = proctoring.state_moves(conn, [
        proctoring.AnsweredAttempt(sid, rows[sid].exam_version_id, rows[sid].log_length, heads[sid][1], answers,
                                   rows[sid].st_log_idx, rows[sid].st_answered, rows[sid].st_last_at,
                                   rows[sid].st_counts)
        for sid, answers in written.items()])
    n = sum(len(m.fast_answers) for m in moves)
    ids = iter(sequence_ids(conn, "proctoring_signals", n) if n and one_statement else ())
    states, signals = [], []
    for m in moves:
        head = heads[m.session_id]
        for detail in m.fast_answers:
            row = proctoring.fast_answer_row(m.session_id, detail, m.last_activity_at)
            if one_statement:
                row["id"] = next(ids)
                signals.append(row)
            else:
                row["id"] = conn.execute(_INSERT_SIGNAL, row).inserted_primary_key[0]
            idx = head[1] + 1
            entry = proctoring.signal_entry(row["id"], "fast_answer", "server")
            data, digest = eventlog.prepare(head[2], idx, "signal", entry, at=m.last_activity_at, actor_id=None)
            events.append({"session_id": m.session_id, "idx": idx, "kind": "signal", "data": data,
                           "at": m.last_activity_at, "actor_id": None, "prev_hash": head[2], "hash": digest})
            head[1], head[2] = idx, digest
        states.append({"b_sid": m.session_id, "b_from": m.log_from, "b_to": head[1], "b_items": m.answered,
                       "b_at": m.last_activity_at, "b_counts": m.counts,
                       "b_updated": m.last_activity_at if m.fast_answers else None})
    return states, signals


_INSERT_SIGNAL = insert(proctoring.SIGNALS)


#: PostgreSQL: every write of a batch in one statement (one round trip instead of up to six): a data-modifying
#: CTE per table over arrays of its rows (`unnest`), so the SQL is the same whatever the batch holds (psycopg
#: prepares it once per set of parameter types: an int list may go as int2[] or int4[], an empty one untyped).
#: An empty array writes nothing. The same rows as the statements SQLite (or another driver) runs.
_ONE_STATEMENT = """
WITH new_responses AS (
  INSERT INTO session_responses (session_id, item_id, response, seq, is_flagged, flag_seq, saved_at)
  SELECT s, i, r, q, false, 0, t FROM unnest(%(nr_sid)s::varchar[], %(nr_item)s::int[], %(nr_response)s::jsonb[],
                                            %(nr_seq)s::int[], %(nr_at)s::timestamptz[]) AS v(s, i, r, q, t)
), changed_responses AS (
  UPDATE session_responses AS x SET response = v.r, seq = v.q, saved_at = v.t
  FROM unnest(%(cr_sid)s::varchar[], %(cr_item)s::int[], %(cr_response)s::jsonb[], %(cr_seq)s::int[],
              %(cr_at)s::timestamptz[]) AS v(s, i, r, q, t)
  WHERE x.session_id = v.s AND x.item_id = v.i
), events AS (
  INSERT INTO session_events (session_id, idx, kind, data, at, actor_id, prev_hash, hash)
  SELECT * FROM unnest(%(ev_sid)s::varchar[], %(ev_idx)s::int[], %(ev_kind)s::varchar[], %(ev_data)s::jsonb[],
                       %(ev_at)s::timestamptz[], %(ev_actor)s::int[], %(ev_prev)s::varchar[], %(ev_hash)s::varchar[])
), seqs AS (
  INSERT INTO session_seqs (session_id, seq, kind, ack)
  SELECT * FROM unnest(%(sq_sid)s::varchar[], %(sq_seq)s::int[], %(sq_kind)s::varchar[], %(sq_ack)s::jsonb[])
), heads AS (
  UPDATE exam_sessions AS x SET last_seq = v.q, log_length = v.n, log_head = v.h
  FROM unnest(%(hd_sid)s::varchar[], %(hd_seq)s::int[], %(hd_length)s::int[], %(hd_head)s::varchar[]) AS v(s, q, n, h)
  WHERE x.id = v.s
), states AS (
  UPDATE proctoring_states AS x SET log_idx = v.t, answered_items = v.a, last_activity_at = v.at, is_idle = false,
                                    counts = coalesce(v.c, x.counts), updated_at = coalesce(v.u, x.updated_at)
  FROM unnest(%(st_sid)s::varchar[], %(st_from)s::int[], %(st_to)s::int[], %(st_items)s::jsonb[],
              %(st_at)s::timestamptz[], %(st_counts)s::jsonb[], %(st_updated)s::timestamptz[]) AS v(s, f, t, a, at, c, u)
  WHERE x.session_id = v.s AND x.log_idx = v.f
), signals AS (
  INSERT INTO proctoring_signals (id, session_id, kind, source, client_at, at, seq, detail)
  SELECT i, s, 'fast_answer', 'server', NULL, t, NULL, d
  FROM unnest(%(sg_id)s::int[], %(sg_sid)s::varchar[], %(sg_at)s::timestamptz[], %(sg_detail)s::jsonb[]) AS v(i, s, t, d)
)
SELECT 1
"""


def _write_in_one_statement(conn: Connection, new_responses: dict, changed_responses: dict, events: list,
                            seqs: list, moved: list, states: list, signals: list) -> None:
    from psycopg.types.json import Jsonb
    nr, cr = list(new_responses.values()), [(sid, item, v) for (sid, item), v in changed_responses.items()]
    conn.exec_driver_sql(_ONE_STATEMENT, {
        "nr_sid": [r["session_id"] for r in nr], "nr_item": [r["item_id"] for r in nr],
        "nr_response": [Jsonb(r["response"]) for r in nr], "nr_seq": [r["seq"] for r in nr],
        "nr_at": [r["saved_at"] for r in nr],
        "cr_sid": [sid for sid, _, _ in cr], "cr_item": [item for _, item, _ in cr],
        "cr_response": [Jsonb(v["response"]) for _, _, v in cr], "cr_seq": [v["seq"] for _, _, v in cr],
        "cr_at": [v["saved_at"] for _, _, v in cr],
        "ev_sid": [e["session_id"] for e in events], "ev_idx": [e["idx"] for e in events],
        "ev_kind": [e["kind"] for e in events], "ev_data": [Jsonb(e["data"]) for e in events],
        "ev_at": [e["at"] for e in events], "ev_actor": [e["actor_id"] for e in events],
        "ev_prev": [e["prev_hash"] for e in events], "ev_hash": [e["hash"] for e in events],
        "sq_sid": [q["session_id"] for q in seqs], "sq_seq": [q["seq"] for q in seqs],
        "sq_kind": [q["kind"] for q in seqs], "sq_ack": [Jsonb(q["ack"]) for q in seqs],
        "hd_sid": [m["b_sid"] for m in moved], "hd_seq": [m["b_last_seq"] for m in moved],
        "hd_length": [m["b_length"] for m in moved], "hd_head": [m["b_head"] for m in moved],
        "st_sid": [m["b_sid"] for m in states], "st_from": [m["b_from"] for m in states],
        "st_to": [m["b_to"] for m in states], "st_items": [Jsonb(m["b_items"]) for m in states],
        "st_at": [m["b_at"] for m in states],
        # Counts only where the batch recorded fast answers (`b_updated` set; NULL keeps the row's counts).
        "st_counts": [Jsonb(m["b_counts"]) if m["b_updated"] is not None else None for m in states],
        "st_updated": [m["b_updated"] for m in states],
        "sg_id": [g["id"] for g in signals], "sg_sid": [g["session_id"] for g in signals],
        "sg_at": [g["at"] for g in signals], "sg_detail": [Jsonb(g["detail"]) for g in signals],
    })


def _refusal(conn: Connection, row: Any, a: Answer) -> dict | None:
    """`record_answer`'s refusals (open state, deadline, form, navigation, shape) as an error ack, or None."""
    if row.status == Status.PAUSED.value:
        return _error("session_paused", "the attempt is paused by an examiner")
    if row.status in CLOSED:
        return _error("session_closed", f"the attempt is already {row.status}")
    if not timing.accepts_answers(row.deadline_at, row.grace_s, a.now):
        return _error("deadline_passed", "the time for this attempt is over")
    entry = _form_index(conn, a.session_id).get(a.item_id)
    if entry is None:
        return _error("unknown_item", f"item {a.item_id!r} is not on this attempt's form")
    index, version_id = entry
    if _navigation(conn, row.exam_version_id) == "linear" and index != row.position:
        return _error("item_locked", "linear navigation: only the current item can be answered")
    if a.response is not None:
        item_type, interaction = _item_facts(conn, version_id)
        try:
            scoring.validate_response(item_type, interaction, a.response)
        except scoring.InvalidResponse as exc:
            return _error("invalid_response_shape", str(exc), reason=getattr(exc, "code", "invalid"))
    return None


def group_commit(app: Any) -> GroupCommit:
    """The app's answer queue (one per app, so per database)."""
    gc = app.extensions.get("exam_engine.answers")
    if gc is None:
        gc = app.extensions["exam_engine.answers"] = GroupCommit(app.extensions["exam_engine.db"])
    return gc
