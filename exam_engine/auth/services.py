"""Account services: users, passwords (argon2id), bearer tokens, rate limiting, privacy."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from item_bank.errors import Conflict, NotFound, ValidationFailed

from ..errors import RateLimited, Unauthorized
from .models import ROLES, ApiToken, LoginFailure, User

_hasher = PasswordHasher()  # argon2id, memory-hard (64 MiB, t=3 by default)
# Verified against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def _check_password_policy(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password must be at least {MIN_PASSWORD_LENGTH} characters",
                               code="weak_password", details={"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]})
    if len(password) > 1024:
        raise ValidationFailed("the password is too long", code="weak_password", details={"password": ["at most 1024 characters"]})


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, *, email: str, password: str, role: str = "learner", name: str = "",
                accommodations: dict | None = None) -> User:
    """Create an account; refuses a duplicate e-mail or an unknown role."""
    email = normalize_email(email)
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}", code="unknown_role", details={"role": [f"one of {', '.join(ROLES)}"]})
    _check_password_policy(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email} already exists", code="email_taken")
    user = User(email=email, name=name or email.split("@")[0], password_hash=hash_password(password), role=role,
                accommodations=accommodations or {}, identity_salt=secrets.token_hex(16))
    session.add(user)
    session.flush()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, *, email: str, password: str, ip: str, now: datetime,
                 max_failures: int, window_s: int) -> User:
    """The user for these credentials; counts failures and refuses when too many are recent."""
    email = normalize_email(email)
    since = now - timedelta(seconds=window_s)
    recent = session.scalar(select(func.count()).select_from(LoginFailure)
                            .where(LoginFailure.at >= since)
                            .where((LoginFailure.email == email) | (LoginFailure.ip == ip)))
    # The per-address limit is looser: many learners may share one campus address.
    by_email = session.scalar(select(func.count()).select_from(LoginFailure)
                              .where(LoginFailure.at >= since, LoginFailure.email == email))
    if by_email >= max_failures or recent >= max_failures * 20:
        raise RateLimited("too many failed logins; try again later", details={"retry_after_s": window_s})
    user = session.scalar(select(User).where(User.email == email))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.is_active or user.is_erased:
        session.add(LoginFailure(email=email, ip=ip, at=now))
        session.flush()
        raise Unauthorized("wrong e-mail or password", code="invalid_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    return user


def issue_token(session: Session, user: User, *, now: datetime, ttl_s: int) -> tuple[str, ApiToken]:
    """A new bearer token for `user`; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=now, expires_at=now + timedelta(seconds=ttl_s))
    session.add(row)
    session.flush()
    return token, row


#: Built once (building and cache-keying a select costs more than running it): a token's state and its user.
_TOKEN_USER = (select(ApiToken.revoked_at, ApiToken.expires_at, User).outerjoin(User, User.id == ApiToken.user_id)
               .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(session: Session, token: str, *, now: datetime) -> User:
    """The active user holding this unexpired, unrevoked token, or Unauthorized."""
    # One round trip: the token's state and its user (looked up on every request and connect, never cached).
    row = session.execute(_TOKEN_USER, {"token_hash": _token_hash(token)}).first()
    user = row.User if row is not None else None
    _check_token(row, user is not None and user.is_active and not user.is_erased, now)
    return user


#: `user_id_for_token`'s statement: the token's state and whether its user may act, no ORM objects.
_TOKEN_USER_ID = (select(ApiToken.revoked_at, ApiToken.expires_at, User.id,
                         (User.is_active & ~User.is_erased).label("usable"))
                  .outerjoin(User, User.id == ApiToken.user_id)
                  .where(ApiToken.token_hash == bindparam("token_hash")))


def user_id_for_token(connection: Connection, token: str, *, now: datetime) -> int:
    """`user_for_token` for callers that need only the id (a socket connect): one statement, no ORM.

    Run it on an autocommit connection and it costs one round trip (no BEGIN, no ROLLBACK).
    """
    row = connection.execute(_TOKEN_USER_ID, {"token_hash": _token_hash(token)}).first()
    _check_token(row, row is not None and row.id is not None and bool(row.usable), now)
    return row.id


def _check_token(row: Any, usable: bool, now: datetime) -> None:
    """The token rules, in this order: unknown or revoked, expired, account disabled."""
    if row is None or row.revoked_at is not None:
        raise Unauthorized("the token is unknown or revoked", code="invalid_token")
    if row.expires_at <= now:
        raise Unauthorized("the token has expired", code="token_expired")
    if not usable:
        raise Unauthorized("the account is disabled", code="account_disabled")


def revoke_token(session: Session, token: str, *, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def change_password(session: Session, user: User, *, current: str, new: str, now: datetime) -> None:
    """Change the password; revokes every token and cookie session of the user."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("the current password is wrong", code="invalid_credentials") from None
    _check_password_policy(new)
    user.password_hash = hash_password(new)
    user.auth_epoch += 1
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))


ACCOMMODATION_KEYS = {"extra_time_pct": int, "large_text": bool, "high_contrast": bool, "notes": str}


def set_accommodations(user: User, accommodations: dict[str, Any]) -> None:
    """Replace a learner's accommodations (extra time in percent, display settings, a note)."""
    clean: dict[str, Any] = {}
    for key, value in accommodations.items():
        kind = ACCOMMODATION_KEYS.get(key)
        if kind is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValidationFailed(f"invalid accommodation {key!r}", details={key: ["unknown or of the wrong type"]})
        if key == "extra_time_pct" and not 0 <= value <= 400:
            raise ValidationFailed("extra time must be 0-400 %", details={key: ["must be between 0 and 400"]})
        clean[key] = value
    user.accommodations = clean


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def erase_user(session: Session, user: User, *, now: datetime) -> None:
    """Erase personal data; keep a pseudonymous row for results and issued credentials (whose identity is a salted hash)."""
    pseudonym = f"erased-{user.id}-{secrets.token_hex(4)}@invalid"
    user.email = pseudonym
    user.name = "Erased user"
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.is_active = False
    user.is_erased = True
    user.accommodations = {}
    user.auth_epoch += 1
    session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    session.execute(delete(LoginFailure).where(LoginFailure.email == pseudonym))
    from .privacy import ERASERS
    for eraser in ERASERS:
        eraser(session, user)
