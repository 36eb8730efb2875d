"""Domain errors shared by the item bank and the engine.

Every error carries a stable `code` (documented in docs/errors.md), the HTTP
status it maps to, and optional field `details`. One mapper in
`exam_engine.errors` turns them into the REST body and the socket ack.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of the REST body and the socket ack."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class ItemInvalid(ValidationFailed):
    """An item whose content or scoring breaks the rules of its type."""

    code = "item_invalid"


class ItemFrozen(Conflict):
    """A published or retired version cannot be edited in place."""

    code = "item_frozen"


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
