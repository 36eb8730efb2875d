"""The per-attempt append-only log, each entry hash-chained to the one before.

hash = sha256(prev_hash | idx | kind | at | actor | canonical JSON of data). The
head (last hash) is stored on the attempt, goes into the result and the
credential's evidence, and `exam-engine audit verify` recomputes the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ExamSession, SessionEvent

GENESIS = "0" * 64


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, idx: int, kind: str, at: datetime, actor_id: int | None, data: Any) -> str:
    """The hash of one entry, chained to `prev_hash`."""
    material = "|".join([prev_hash, str(idx), kind, at.isoformat(timespec="microseconds"),
                         "" if actor_id is None else str(actor_id), canonical(data)])
    return hashlib.sha256(material.encode()).hexdigest()


def prepare(prev_hash: str, idx: int, kind: str, data: dict | None, *, at: datetime,
            actor_id: int | None) -> tuple[dict, str]:
    """The data to store and the hash of entry `idx` after `prev_hash` (the one rule for every writer)."""
    # Store exactly what is hashed: the JSON form (datetimes as ISO strings).
    data = json.loads(canonical(data or {}))
    return data, entry_hash(prev_hash, idx, kind, at, actor_id, data)


class Entry(NamedTuple):
    """A log entry as a plain row (what Core writers insert, and what the proctoring scan reads)."""

    session_id: str
    idx: int
    kind: str
    data: dict
    at: datetime
    actor_id: int | None
    prev_hash: str
    hash: str


def next_entry(session_id: str, log_length: int, log_head: str, kind: str, data: dict | None, *, at: datetime,
               actor_id: int | None) -> Entry:
    """The entry that follows a log of `log_length` entries ending in `log_head` (the caller holds the row lock)."""
    idx = log_length + 1
    data, digest = prepare(log_head, idx, kind, data, at=at, actor_id=actor_id)
    return Entry(session_id, idx, kind, data, at, actor_id, log_head, digest)


def append(session: Session, attempt: ExamSession, kind: str, data: dict | None, *, at: datetime,
           actor_id: int | None) -> SessionEvent:
    """Append an entry; the caller holds the attempt's row lock (so idx and head stay consistent)."""
    entry = next_entry(attempt.id, attempt.log_length, attempt.log_head, kind, data, at=at, actor_id=actor_id)
    event = SessionEvent(**entry._asdict())
    session.add(event)
    attempt.log_length = entry.idx
    attempt.log_head = entry.hash
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    length: int
    head: str
    #: idx of the first entry that does not match (None when ok)
    first_bad_idx: int | None = None
    reason: str | None = None


def verify_entries(entries: Iterable[SessionEvent], stored_head: str | None = None) -> ChainReport:
    """Recompute the chain; name the first entry whose hash or link does not match."""
    prev = GENESIS
    n = 0
    for expected_idx, ev in enumerate(entries, start=1):
        n = expected_idx
        if ev.idx != expected_idx:
            return ChainReport(False, n, prev, ev.idx, f"entry {ev.idx} found where {expected_idx} was expected (gap or reorder)")
        if ev.prev_hash != prev:
            return ChainReport(False, n, prev, ev.idx, f"entry {ev.idx} does not link to the entry before it")
        digest = entry_hash(prev, ev.idx, ev.kind, ev.at, ev.actor_id, ev.data)
        if digest != ev.hash:
            return ChainReport(False, n, prev, ev.idx, f"entry {ev.idx} ({ev.kind}) was altered: its hash does not match")
        prev = ev.hash
    if stored_head is not None and stored_head != prev:
        return ChainReport(False, n, prev, n + 1 if n else 1, "the attempt's stored head does not match the last entry (entries removed?)")
    return ChainReport(True, n, prev)


def verify_session(session: Session, session_id: str) -> ChainReport:
    attempt = session.get(ExamSession, session_id)
    entries = session.scalars(select(SessionEvent).where(SessionEvent.session_id == session_id).order_by(SessionEvent.idx))
    return verify_entries(entries, attempt.log_head if attempt else None)
