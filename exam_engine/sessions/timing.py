"""Server time for attempts: pure functions of the stored instants and `now`.

An attempt's deadline is stored (UTC) and moved by extra-time accommodations,
examiner extensions, pauses and outage credit. The sweeper closes attempts at
deadline + grace; answers are accepted until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


def allowed_seconds(time_limit_s: int | None, extra_time_pct: int) -> float | None:
    """The learner's time: the limit plus their accommodation (None: untimed)."""
    if time_limit_s is None:
        return None
    return time_limit_s * (1 + max(extra_time_pct, 0) / 100)


def initial_deadline(started_at: datetime, allowed_s: float | None, closes_at: datetime | None,
                     on_close: str) -> datetime | None:
    """The deadline at start: start + allowed time, cut at the window's close when the exam says so."""
    deadline = started_at + timedelta(seconds=allowed_s) if allowed_s is not None else None
    if on_close == "end_at_close" and closes_at is not None:
        deadline = closes_at if deadline is None else min(deadline, closes_at)
    return deadline


def moved_deadline(deadline_at: datetime, by: timedelta, closes_at: datetime | None, on_close: str) -> datetime:
    """The deadline moved later by a resume or an outage credit: never past the window's close when the exam
    ends attempts there (`end_at_close`). Only an examiner's explicit extension goes past it."""
    moved = deadline_at + by
    if on_close == "end_at_close" and closes_at is not None and deadline_at <= closes_at:
        moved = min(moved, closes_at)  # (a deadline an examiner already moved past the close moves freely)
    return moved


def ends_at_close(deadline_at: datetime | None, closes_at: datetime | None, on_close: str) -> bool:
    """Whether this deadline is the window's close under `end_at_close` (not the learner's own time running out,
    nor an examiner's extension past the close)."""
    return on_close == "end_at_close" and closes_at is not None and deadline_at == closes_at


@dataclass(frozen=True)
class Clock:
    """What a client needs to show the countdown."""

    remaining_s: float | None
    deadline_at: datetime | None


def remaining(deadline_at: datetime | None, now: datetime, paused_at: datetime | None = None) -> Clock:
    """Seconds left (frozen while paused), never negative; None for an untimed attempt."""
    if deadline_at is None:
        return Clock(None, None)
    reference = paused_at or now
    return Clock(max(0.0, (deadline_at - reference).total_seconds()), deadline_at)


def accepts_answers(deadline_at: datetime | None, grace_s: float, now: datetime) -> bool:
    """True until deadline + grace (the grace absorbs network latency of answers sent in time)."""
    return deadline_at is None or now <= deadline_at + timedelta(seconds=grace_s)


def resume_shift(paused_at: datetime, now: datetime) -> timedelta:
    """How far a resume moves the deadline: the paused time does not count."""
    return max(now - paused_at, timedelta(0))
