"""What the bank's REST views need from the running app, without importing the engine.

The engine (which imports us, never the reverse) puts the caller in `flask.g.user`
and registers a request-session factory under `app.extensions`.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from .errors import Forbidden, Unauthorized

AUTHOR_ROLES = ("instructor", "admin")


def request_session() -> Session:
    """The request's database session (opened by the engine, committed by the view)."""
    return current_app.extensions["exam_engine.request_session"]()


def caller():  # noqa: ANN201 - a User of the engine
    """The authenticated caller, or Unauthorized."""
    user = g.get("user")
    if user is None:
        raise Unauthorized("authentication required: send a bearer token or log in")
    return user


def author():  # noqa: ANN201
    """The caller, who must be an instructor or admin."""
    user = caller()
    if user.role not in AUTHOR_ROLES:
        raise Forbidden("only instructors and admins work on item banks", code="role_required")
    return user
