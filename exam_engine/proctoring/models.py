"""Proctoring rows: browser and server signals, flags with their review, webcam snapshots, per-attempt state.

Signals and snapshots are personal data with a retention period (the exam's
`retention_days`); `exam-engine proctoring purge` deletes them afterwards. The
hash-chained log keeps only each signal's kind and time, so purging never
breaks the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from item_bank.orm import Base, utcnow

SEVERITIES = ("low", "medium", "high")
FLAG_STATUSES = ("open", "confirmed", "dismissed")


class ProctoringSignal(Base):
    """One observation: from the learner's browser (`client`) or seen by the server (`server`)."""

    __tablename__ = "proctoring_signals"
    __table_args__ = (
        CheckConstraint("source IN ('client', 'server')", name="source_known"),
        Index("ix_proctoring_signals_session_at", "session_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    #: tab_hidden, focus_lost, paste, ... (docs/protocol.md), or a server kind (second_connection, fast_answer, ...).
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(10), default="client")
    #: When the browser says it happened (its clock); None for server signals.
    client_at: Mapped[datetime | None]
    #: When the server recorded it (the server's clock: the one that counts).
    at: Mapped[datetime]
    #: The client's sequence number (None for server signals).
    seq: Mapped[int | None] = mapped_column(Integer)
    #: Small JSON object of details (window size, offline seconds, item id...).
    detail: Mapped[dict] = mapped_column(default=dict)


class Flag(Base):
    """A rule of the exam's proctoring policy that fired for an attempt, and its review by an examiner."""

    __tablename__ = "proctoring_flags"
    __table_args__ = (
        CheckConstraint(f"severity IN {SEVERITIES!r}", name="severity_known"),
        CheckConstraint(f"status IN {FLAG_STATUSES!r}", name="status_known"),
        Index("ix_proctoring_flags_exam_status", "exam_id", "status"),
        Index("ix_proctoring_flags_session_status", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    #: The policy rule (focus_losses, fullscreen, clipboard, second_connection, fast_answers, ...).
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="open")
    #: How many times the rule fired while this flag was open.
    count: Mapped[int] = mapped_column(Integer, default=1)
    #: Evidence: the counts and the signal that crossed the threshold.
    detail: Mapped[dict] = mapped_column(default=dict)
    #: The reviewer's note (required to confirm or dismiss).
    note: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]


class Snapshot(Base):
    """A webcam image taken by the learner's browser (with consent), shown to the exam's examiners."""

    __tablename__ = "proctoring_snapshots"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),
                      Index("ix_proctoring_snapshots_session_at", "session_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    #: image/jpeg, image/png or image/webp (checked against the bytes).
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ProctoringState(Base):
    """Per-attempt bookkeeping of the rules: counts per kind, how far the log was scanned, consent."""

    __tablename__ = "proctoring_states"

    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    #: Signals seen so far, per kind (client and server kinds).
    counts: Mapped[dict] = mapped_column(default=dict)
    #: idx of the last log entry the server-side rules have looked at.
    log_idx: Mapped[int] = mapped_column(Integer, default=0)
    #: Items answered at least once (only a first answer is timed against the item's estimated time).
    answered_items: Mapped[list] = mapped_column(default=list)
    #: User agent at the last join (a change is a signal).
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: Last time the attempt moved (answer, navigation, flag, connection, examiner action), for the inactivity rule.
    last_activity_at: Mapped[datetime | None]
    #: An inactivity signal was recorded for the current idle stretch.
    is_idle: Mapped[bool] = mapped_column(default=False)
    #: When the learner accepted the proctoring notice (webcam snapshots need it).
    consented_at: Mapped[datetime | None]
    last_snapshot_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignalRate(Base):
    """The signal rate limiter's window per attempt (used when no Redis is configured)."""

    __tablename__ = "proctoring_rates"

    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    #: Number of the current window (seconds since the epoch // window length).
    window: Mapped[int] = mapped_column(Integer)
    #: Signals accepted in that window.
    count: Mapped[int] = mapped_column(Integer, default=0)


__all__ = ["Flag", "ProctoringSignal", "ProctoringState", "SignalRate", "Snapshot"]
