"""Errors raised by the scoring package.

Every error carries a stable ``code`` (a short snake_case string the exam
engine maps to its REST error body and socket ack) and a human ``message``.
The codes are part of the public API; docs/scoring.md lists them.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base class of every error raised by :mod:`scoring`."""

    code: str = "scoring_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def to_dict(self) -> dict:
        """The ``{"code", "message"}`` pair the engine puts in its error bodies."""
        return {"code": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidResponse(ScoringError):
    """A learner's response does not have the shape its item type requires."""

    code = "invalid_response_shape"

    def __init__(self, code_or_message: str, message: str | None = None) -> None:
        # Accept both InvalidResponse(message) and InvalidResponse(code, message).
        if message is None:
            super().__init__(code_or_message)
        else:
            super().__init__(message, code=code_or_message)


class InvalidScoringRule(ScoringError):
    """An item's ``scoring`` dict (key, rule, options) is malformed or inconsistent."""

    code = "invalid_scoring_rule"


class UnknownItemType(ScoringError):
    """No grader is registered for this item type."""

    code = "unknown_item_type"


class InvalidData(ScoringError):
    """Input data for aggregation or psychometrics is empty, ragged or non-finite."""

    code = "invalid_data"


class CalibrationError(ScoringError):
    """An IRT calibration could not be carried out or (when strict) did not converge."""

    code = "calibration_failed"
