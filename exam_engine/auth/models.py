"""Users, API tokens and failed logins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from item_bank.orm import Base, utcnow


class Role(str, enum.Enum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    EXAMINER = "examiner"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)


def extra_time_pct(accommodations: dict | None) -> int:
    """The extra time (percent) an account's accommodations give (0 when none)."""
    return int((accommodations or {}).get("extra_time_pct", 0) or 0)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased login e-mail; replaced by a pseudonym when the user is erased.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: Display name.
    name: Mapped[str] = mapped_column(String(200), default="")
    #: argon2id hash (argon2-cffi); never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.LEARNER.value)
    is_active: Mapped[bool] = mapped_column(default=True)
    #: Set when an admin erased the personal data; the row stays for results and credentials.
    is_erased: Mapped[bool] = mapped_column(default=False)
    #: Bumped on password change or erasure: invalidates every cookie session.
    auth_epoch: Mapped[int] = mapped_column(default=0)
    #: Accommodations: {"extra_time_pct": int, "large_text": bool, "high_contrast": bool, ...}
    accommodations: Mapped[dict] = mapped_column(default=dict)
    #: Random salt for the hashed identity placed in credentials (stable across e-mail changes).
    identity_salt: Mapped[str] = mapped_column(String(64))
    #: Hashed identity string ("sha256$..."), fixed at first issue so a new e-mail keeps old credentials valid.
    identity_hash: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def extra_time_pct(self) -> int:
        return extra_time_pct(self.accommodations)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginFailure(Base):
    """One failed login, for rate limiting by e-mail and by address (kept in the database, shared by workers)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_at", "email", "at"), Index("ix_login_failures_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
