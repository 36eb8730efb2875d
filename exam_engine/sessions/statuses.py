"""Attempt statuses and the one rule for moving between them."""

from __future__ import annotations

import enum


class Status(str, enum.Enum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    SUBMITTED = "submitted"          # handed in, not yet scored
    PENDING_GRADING = "pending_grading"  # scored except for manual grades
    SCORED = "scored"
    TERMINATED = "terminated"        # ended by an examiner


STATUSES = tuple(s.value for s in Status)
OPEN = (Status.IN_PROGRESS.value, Status.PAUSED.value)
CLOSED = (Status.SUBMITTED.value, Status.PENDING_GRADING.value, Status.SCORED.value, Status.TERMINATED.value)

_LEGAL = {
    Status.IN_PROGRESS: {Status.PAUSED, Status.SUBMITTED, Status.TERMINATED},
    Status.PAUSED: {Status.IN_PROGRESS, Status.SUBMITTED, Status.TERMINATED},
    Status.SUBMITTED: {Status.PENDING_GRADING, Status.SCORED},
    Status.PENDING_GRADING: {Status.SCORED, Status.PENDING_GRADING},
    Status.SCORED: {Status.SCORED},  # rescoring keeps it scored
    Status.TERMINATED: {Status.SCORED, Status.PENDING_GRADING},  # a terminated attempt is still scored as it stands
}


def is_transition_legal(current: str, new: str) -> bool:
    """True when an attempt in `current` may move to `new`."""
    return Status(new) in _LEGAL[Status(current)]
