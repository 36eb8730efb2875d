"""The periodic server-side rules over many attempts at once.

`services.scan_attempt` runs the rules for one attempt in its own transaction:
a locking read, its rule state, its new log entries, a commit, and an examiner
row refreshed at once when a flag moved. With a thousand learners answering
every few seconds that was a thousand transactions per scan and most of a
worker's CPU. Here a chunk of attempts shares one transaction: one locking read
(ordered by id, like the answer batches, so the two cannot deadlock), one read
of their rule states and one of all their new log entries; the rules
themselves are `services._scan`, with their writes deferred (`services.ScanBatch`):
flags are looked up in memory, new signals and flags are inserted in one flush
(on PostgreSQL with their ids taken from the sequences first, so without
RETURNING), and the log entries that name them are appended after it, in each
attempt's order, as rows of one Core INSERT. Chunks are small so the attempts' row locks are held briefly; the worker
yields between chunks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from ..db import sequence_ids
from ..sessions.models import ExamSession, SessionEvent
from ..sessions.statuses import CLOSED
from . import services
from .models import Flag, ProctoringSignal, ProctoringState
from .services import Effects

#: Attempts per transaction: long enough to amortise the reads, short enough not to hold learners' answers.
CHUNK = 20


def scan_chunk(session: Session, session_ids: list[str], *, now: datetime) -> list[Effects]:
    """`scan_attempt` for each of these attempts, in the caller's transaction; the effects to deliver after commit."""
    # SKIP LOCKED: an attempt busy with an answer batch is scanned in the next round (its log stays ahead of
    # its rule state until then), so the scan never waits for learners and learners wait for the scan only briefly.
    attempts = session.scalars(select(ExamSession).where(ExamSession.id.in_(session_ids))
                               .order_by(ExamSession.id).with_for_update(skip_locked=True)).all()
    todo = []
    for attempt in attempts:
        policy = services.policy_for_version(session, attempt.exam_version_id)
        if policy.is_recording and attempt.status not in CLOSED:
            todo.append((attempt, policy))
    if not todo:
        return []
    ids = [a.id for a, _ in todo]
    # One query for the existing states, kept here: the identity map holds objects weakly, so states loaded and
    # dropped would be gone again and `_state` would read them one by one. The missing ones are created.
    states = {s.session_id: s for s in session.scalars(select(ProctoringState)
                                                       .where(ProctoringState.session_id.in_(ids)))}
    for attempt, _ in todo:
        if attempt.id not in states:
            states[attempt.id] = services._state(session, attempt, now)
    behind = [and_(SessionEvent.session_id == a.id, SessionEvent.idx > states[a.id].log_idx)
              for a, _ in todo if states[a.id].log_idx < a.log_length]
    entries: dict[str, list] = defaultdict(list)
    if behind:  # the columns the rules read, as plain rows (no ORM objects for a thousand answers)
        for ev in session.execute(select(*services.ENTRY_COLUMNS).where(or_(*behind))
                                  .order_by(SessionEvent.session_id, SessionEvent.idx)):
            entries[ev.session_id].append(ev)
    flags: dict[str, list[Flag]] = defaultdict(list)
    for flag in session.scalars(select(Flag).where(Flag.session_id.in_(ids)).order_by(Flag.id)):
        flags[flag.session_id].append(flag)
    batch = services.ScanBatch(flags)
    with session.no_autoflush:
        out = [services._scan(session, a, states[a.id], policy, now, entries=entries.get(a.id, []), batch=batch)
               for a, policy in todo]
    # The states are written below in one statement for the chunk (the unit of work issued an UPDATE per state
    # and per set of changed columns: most of the scan's time). Every column is written, changed or not: right
    # because every writer of a state holds its attempt's row lock, as this scan does (a writer that did not
    # would have its changes overwritten here).
    for state in states.values():
        session.expunge(state)
    _assign_ids(session)
    session.flush()  # new signals and flags (ids known: a plain executemany, no RETURNING) and changed flags
    for fn in batch.deferred:  # then the log entries that name them, in each attempt's order
        fn()
    if batch.entries:  # as rows, in one statement (an ORM object per entry cost more than the rules)
        session.execute(_INSERT_ENTRIES, batch.entries)
    for attempt, _ in todo:
        states[attempt.id].log_idx = attempt.log_length  # the scan's own entries are not news to the next scan
    session.flush()
    session.execute(_UPDATE_STATES, [{"b_sid": s.session_id, **{k: getattr(s, k) for k in _STATE_VALUES}}
                                     for s in states.values()])
    return out


def _assign_ids(session: Session) -> None:
    """PostgreSQL: the ids of the chunk's new signals and flags from their sequences, one query per table.

    With the ids known the unit of work inserts them with a plain executemany; without, it builds a multi-row
    INSERT ... RETURNING per flush, which psycopg parses anew each time (its text differs with the row count):
    most of a scan's CPU when hundreds of attempts raise a flag at once. Other databases keep their own ids.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for model in (ProctoringSignal, Flag):
        new = [obj for obj in session.new if isinstance(obj, model) and obj.id is None]  # in the order added
        if new:
            # On the connection: a Session.execute would autoflush them first, without their ids.
            for obj, new_id in zip(new, sequence_ids(session.connection(), model.__tablename__, len(new))):
                obj.id = new_id


_INSERT_ENTRIES = SessionEvent.__table__.insert()
_STATE_TABLE = ProctoringState.__table__
#: Every column of a rule state but its key, as the rules leave them.
_STATE_VALUES = tuple(c.key for c in _STATE_TABLE.columns if c.key != "session_id")
_UPDATE_STATES = (update(_STATE_TABLE).where(_STATE_TABLE.c.session_id == bindparam("b_sid"))
                  .values({k: bindparam(k) for k in _STATE_VALUES}))
