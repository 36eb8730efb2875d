"""LTI 1.3 tables: platform registrations, the tool's public keys, nonces, launches, users,
resource links, line items, the score outbox; and the roster (courses and enrolments) that
both NRPS and the CSV import fill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from item_bank.orm import Base, utcnow

OUTBOX_STATUSES = ("pending", "sending", "sent")
ENROLMENT_ROLES = ("learner", "instructor", "examiner", "admin")


class LtiPlatform(Base):
    """A registered LMS (issuer + client id): where to log in, get tokens and fetch its keys."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),
                      CheckConstraint("key_set_url IS NOT NULL OR key_set IS NOT NULL", name="has_keys"))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Display name ("Moodle of Example University").
    name: Mapped[str] = mapped_column(String(200), default="")
    #: The platform's `iss` (e.g. https://canvas.instructure.com).
    issuer: Mapped[str] = mapped_column(String(500))
    #: The client id the platform gave this tool (the `aud` of its id_tokens).
    client_id: Mapped[str] = mapped_column(String(200))
    #: Deployment ids accepted from this platform (a launch from any other is refused).
    deployment_ids: Mapped[list] = mapped_column(default=list)
    #: OIDC authorisation endpoint the login initiation redirects to.
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    #: OAuth 2 token endpoint (client_credentials with a signed JWT) for AGS and NRPS.
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    #: `aud` of the client assertion when the platform wants something other than the token URL (Moodle, Brightspace).
    auth_audience: Mapped[str | None] = mapped_column(String(1000))
    #: The platform's JWKS URL (keys fetched per launch, so rotations are followed) ...
    key_set_url: Mapped[str | None] = mapped_column(String(1000))
    #: ... or its key set pasted at registration.
    key_set: Mapped[dict | None]
    #: Link a launch to an existing account with the same e-mail (only for platforms whose e-mails are verified).
    is_email_trusted: Mapped[bool] = mapped_column(default=False)
    #: Map the LTI Administrator role to our admin (otherwise it maps to instructor).
    is_admin_role_allowed: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiToolKey(Base):
    """A public key of the tool, published at /lti/jwks.json; the private half is a file under KEYS_DIR (or env)."""

    __tablename__ = "lti_tool_keys"

    #: RFC 7638 thumbprint of the public key.
    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: The public JWK (kty, n, e, kid, alg, use).
    public_jwk: Mapped[dict]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Once retired the key is no longer published.
    retired_at: Mapped[datetime | None]


class LtiNonce(Base):
    """A nonce the tool issued at login initiation; a launch consumes it once (replays are refused)."""

    __tablename__ = "lti_nonces"
    __table_args__ = (Index("ix_lti_nonces_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: Set by the one launch that consumed it.
    used_at: Mapped[datetime | None]


class LtiLaunch(Base):
    """A validated launch, kept for what follows it (deep-linking response, audit)."""

    __tablename__ = "lti_launches"

    #: Random, unguessable (it is the capability of the deep-linking picker).
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_type: Mapped[str] = mapped_column(String(60))
    #: The id_token's claims.
    claims: Mapped[dict]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: When the deep-linking response was sent (a picker answers once).
    answered_at: Mapped[datetime | None]


class LtiUser(Base):
    """A platform's user (`sub`) and our account for them."""

    __tablename__ = "lti_users"
    __table_args__ = (UniqueConstraint("platform_id", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_launch_at: Mapped[datetime | None]


class Course(Base):
    """A course or class section: an LTI context or a OneRoster class."""

    __tablename__ = "roster_courses"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "lti:<platform id>" or "csv".
    source: Mapped[str] = mapped_column(String(40))
    #: The context id or the OneRoster classSourcedId.
    external_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300), default="")
    #: NRPS memberships URL of the context, when the platform offers it.
    memberships_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrolment(Base):
    """A user's membership of a course, with the role they hold there."""

    __tablename__ = "roster_enrolments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),
                      CheckConstraint(f"role IN {ENROLMENT_ROLES!r}", name="role_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("roster_courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LtiResourceLink(Base):
    """A link placed in a course of a platform, and the exam it opens."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    #: The platform's resource link id.
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300), default="")
    course_id: Mapped[int | None] = mapped_column(ForeignKey("roster_courses.id", ondelete="SET NULL"), index=True)
    #: The exam it opens; None until an instructor picks one (deep linking or the REST API).
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id", ondelete="SET NULL"), index=True)
    #: The AGS endpoint claim of the latest launch ({scope, lineitems, lineitem}).
    ags_endpoint: Mapped[dict | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLineItem(Base):
    """A gradebook column on the platform that receives a resource link's scores."""

    __tablename__ = "lti_line_items"
    __table_args__ = (UniqueConstraint("resource_link_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"), index=True)
    #: The line item URL; None until it is found or created on the platform (only a `lineitems` container known).
    url: Mapped[str | None] = mapped_column(String(1000))
    label: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreOutbox(Base):
    """A score to publish to a line item: one row per attempt and line item, sent by the publisher job.

    A row is claimed with a conditional UPDATE before sending, so two workers never send the
    same revision; a failure puts it back with a later `next_try_at` (exponential back-off), so
    nothing is lost while the platform is down. A rescore (manual grading) changes the payload
    and bumps `revision`; a revision is sent once.
    """

    __tablename__ = "lti_score_outbox"
    __table_args__ = (UniqueConstraint("session_id", "line_item_id"),
                      CheckConstraint(f"status IN {OUTBOX_STATUSES!r}", name="status_known"),
                      Index("ix_lti_score_outbox_status_next", "status", "next_try_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    line_item_id: Mapped[int] = mapped_column(ForeignKey("lti_line_items.id", ondelete="CASCADE"), index=True)
    #: The AGS score (userId, scoreGiven, scoreMaximum, activityProgress, gradingProgress, timestamp).
    payload: Mapped[dict]
    #: Bumped when the payload changes; `sent_revision` says which one reached the platform.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    sent_revision: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A claim lasts until then; a worker that died while sending leaves it to be claimed again.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RosterPerson(Base):
    """A person of an imported roster (OneRoster `sourcedId`) and our account for them."""

    __tablename__ = "roster_people"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: "csv" for OneRoster CSV imports.
    source: Mapped[str] = mapped_column(String(40))
    #: The OneRoster user sourcedId.
    external_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
