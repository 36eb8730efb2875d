"""Attempts, their responses, applied sequence numbers, the hash-chained log, and the service clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from item_bank.orm import Base, JSONType, utcnow

from .statuses import STATUSES


class ExamSession(Base):
    """One learner's attempt at one exam version."""

    __tablename__ = "exam_sessions"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status_known"),
        Index("ix_exam_sessions_status_deadline", "status", "deadline_at"),
        Index("ix_exam_sessions_exam_user", "exam_id", "user_id"),
    )

    #: Random, unguessable id (32 hex characters).
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id"))
    exam_version_id: Mapped[int] = mapped_column(ForeignKey("exam_versions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    attempt_no: Mapped[int]
    #: "<exam>:<user>" while the attempt is open, NULL after: at most one open attempt per learner and exam.
    active_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    #: Seed of the form's draw and shuffles (reproducible).
    seed: Mapped[str] = mapped_column(String(64))
    #: The pinned form: [{"item_id", "version_id", "section_id"}] in the learner's order.
    form: Mapped[list]
    started_at: Mapped[datetime]
    #: The effective deadline (UTC); None for an untimed attempt. Moved by pauses, extensions and outage credit.
    deadline_at: Mapped[datetime | None]
    #: Allowed time in seconds including the accommodation (None: untimed).
    allowed_s: Mapped[float | None] = mapped_column(Float)
    grace_s: Mapped[float] = mapped_column(Float, default=3)
    extended_s: Mapped[float] = mapped_column(Float, default=0)
    paused_at: Mapped[datetime | None]
    paused_total_s: Mapped[float] = mapped_column(Float, default=0)
    #: Seconds credited because no server was alive.
    outage_credit_s: Mapped[float] = mapped_column(Float, default=0)
    submitted_at: Mapped[datetime | None]
    #: submitted, time_expired, window_closed, terminated
    end_reason: Mapped[str | None] = mapped_column(String(40))
    #: Highest sequence number applied.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    #: The learner's position on the form (index).
    position: Mapped[int] = mapped_column(Integer, default=0)
    #: Connection state, for the examiner's view and the one-connection rule.
    active_sid: Mapped[str | None] = mapped_column(String(64))
    #: The worker incarnation holding that connection ("address#incarnation", see `Worker`).
    active_worker: Mapped[str | None] = mapped_column(String(140))
    #: The client instance (one page load of the web client) that opened it, when the client says.
    active_client: Mapped[str | None] = mapped_column(String(64))
    is_connected: Mapped[bool] = mapped_column(default=False)
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    disconnected_total_s: Mapped[float] = mapped_column(Float, default=0)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: Number of log entries and the hash of the last one (the chain's head).
    log_length: Mapped[int] = mapped_column(Integer, default=0)
    log_head: Mapped[str] = mapped_column(String(64), default="0" * 64)
    #: Result (scoring.aggregate.AttemptResult.to_dict() plus per item scores), once scored.
    result: Mapped[dict | None]
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    percentage: Mapped[float | None] = mapped_column(Float)
    is_passed: Mapped[bool | None]
    scored_at: Mapped[datetime | None]
    #: A submitted attempt whose scoring failed is tried again from then (by any worker, after a restart too).
    score_retry_at: Mapped[datetime | None]
    #: Messages from examiners, kept so a reload shows them again.
    messages: Mapped[list] = mapped_column(default=list)
    #: Adaptive exams: the CAT state (bank indices given, 0/1 answers, exclusions) and the last estimate.
    adaptive_state: Mapped[dict | None]
    #: Proctoring risk score (0..100) for the examiner's dashboard.
    risk: Mapped[float] = mapped_column(Float, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionResponse(Base):
    """The current response of an attempt to one item (the log keeps every change)."""

    __tablename__ = "session_responses"
    __table_args__ = (UniqueConstraint("session_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    item_id: Mapped[int]
    #: JSON of the response (shape by item type); null when cleared.
    response: Mapped[Any] = mapped_column(JSONType, nullable=True)
    #: Sequence number of the message that wrote it: an older one never overwrites it.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    is_flagged: Mapped[bool] = mapped_column(default=False)
    flag_seq: Mapped[int] = mapped_column(Integer, default=0)
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Manual grading and per-item score (filled at scoring).
    item_score: Mapped[dict | None]


class AppliedSeq(Base):
    """A sequence number applied to an attempt: replays find it and change nothing."""

    __tablename__ = "session_seqs"

    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    #: The ack sent the first time, sent again on a replay.
    ack: Mapped[dict] = mapped_column(default=dict)


class SessionEvent(Base):
    """An entry of an attempt's append-only, hash-chained log."""

    __tablename__ = "session_events"
    __table_args__ = (UniqueConstraint("session_id", "idx"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    #: 1, 2, 3... within the attempt.
    idx: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(default=dict)
    at: Mapped[datetime]
    #: Who caused it: the learner, an examiner, an instructor, or None for the system.
    actor_id: Mapped[int | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ServiceClock(Base):
    """One row: when a worker was last known alive (outage credit is computed from it)."""

    __tablename__ = "service_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_alive_at: Mapped[datetime]
    #: Worker that wrote last (host:pid), for diagnostics.
    worker: Mapped[str] = mapped_column(String(100), default="")


class Worker(Base):
    """A serving process: its address, the incarnation now serving there, and when it was last alive.

    A connection held by an incarnation that is no longer alive (replaced at the same address after a
    restart, or silent for `WORKER_STALE_S`) is lost: its attempt is released instead of counting as a
    second connection.
    """

    __tablename__ = "workers"

    #: host:port of `exam-engine serve` (host:pid otherwise).
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    incarnation: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    last_alive_at: Mapped[datetime]
