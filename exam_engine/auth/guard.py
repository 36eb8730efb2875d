"""Who is calling: bearer token or cookie session; role checks; CSRF for cookie writes."""

from __future__ import annotations

import functools
import hmac
import secrets
from typing import Callable

from flask import current_app, g, request, session

from item_bank.errors import Forbidden

from ..db import db_session, utcnow
from ..errors import Unauthorized
from .models import User
from .services import user_for_token

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: Endpoints that authenticate by the credentials they carry, so a cookie is irrelevant to them.
CSRF_EXEMPT_PATHS = {"/api/v1/auth/token", "/api/v1/auth/session", "/lti/login", "/lti/launch", "/lti/deep-link"}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def load_caller() -> None:
    """before_request: identify the caller (token first, then cookie) and enforce CSRF on cookie writes."""
    g.user = None
    g.auth_via = None
    token = bearer_token()
    if token:
        g.user = user_for_token(db_session(), token, now=utcnow())
        g.auth_via = "token"
        return
    user_id = session.get("user_id")
    if user_id is not None:
        user = db_session().get(User, user_id)
        if user is None or not user.is_active or session.get("epoch") != user.auth_epoch:
            session.clear()
            return
        g.user = user
        g.auth_via = "cookie"
        if (request.method not in SAFE_METHODS and request.path not in CSRF_EXEMPT_PATHS
                and not current_app.config.get("CSRF_DISABLED")):
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                raise Forbidden("missing or wrong CSRF token", code="csrf_failed")


def csrf_token() -> str:
    """The session's CSRF token (created on first use) for forms and fetch headers."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def login_session(user: User) -> None:
    """Start a cookie session for the browser pages."""
    session.clear()
    session["user_id"] = user.id
    session["epoch"] = user.auth_epoch
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = False


def current_user() -> User:
    """The authenticated caller, or Unauthorized."""
    user = g.get("user")
    if user is None:
        raise Unauthorized("authentication required: send a bearer token or log in", code="unauthorized")
    return user


def require(*roles: str) -> Callable:
    """Decorator: the caller must be authenticated and hold one of `roles` (any role when none given)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if roles and user.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}", code="role_required")
            return view(*args, **kwargs)

        return wrapped

    return decorator
