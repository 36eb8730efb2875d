"""One mapper from errors to the REST body and the socket ack.

Codes are stable and documented in docs/errors.md. Services raise
`DomainError`s; views never build error bodies by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from item_bank.errors import (  # noqa: F401  (re-exported: the engine's one error vocabulary)
    Conflict, DomainError, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed,
)

log = logging.getLogger("exam_engine.errors")


#: HTTP status -> code for errors raised by Flask/werkzeug itself.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: Any = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def http_error_response(exc: HTTPException):
    """REST body for a werkzeug HTTP error, including webargs' validation aborts."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        # webargs: {"json": {"field": ["msg"]}} -> flatten the location away.
        details: dict[str, Any] = {}
        for _location, fields in messages.items():
            if isinstance(fields, dict):
                details.update(fields)
            else:
                details["_schema"] = fields
        if "Invalid JSON" in str(messages.get("json", "")) and "_schema" in details:
            return jsonify(error_body("malformed_json", "the request body is not valid JSON", details)), 400
        return jsonify(error_body("validation_error", "the request is invalid: see details", details)), 422
    code = HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 400 and "JSON" in (message or ""):
        code = "malformed_json"
    return jsonify(error_body(code, message)), status


def register_error_handlers(app: Flask) -> None:
    """Map every error class to the one JSON error format (REST)."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return jsonify({"error": exc.to_dict()}), exc.status

    @app.errorhandler(ValidationError)
    def _marshmallow(exc: ValidationError):
        return jsonify(error_body("validation_error", "the request is invalid: see details", exc.messages)), 422

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return http_error_response(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return jsonify(error_body("internal_error", "an unexpected error occurred; it has been logged")), 500


def ack_error(exc: Exception) -> dict:
    """The `{"ok": false, "error": {...}}` ack for a socket event that failed."""
    if isinstance(exc, DomainError):
        return {"ok": False, "error": exc.to_dict()}
    if isinstance(exc, ValidationError):
        return {"ok": False, "error": {"code": "malformed_payload", "message": "the payload is invalid: see details",
                                       "details": exc.messages}}
    log.exception("unhandled socket error", extra={"error_type": type(exc).__name__})
    return {"ok": False, "error": {"code": "internal_error", "message": "an unexpected error occurred; it has been logged"}}
