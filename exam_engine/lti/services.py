"""LTI services: platform registrations, users by (platform, sub), launches, resource links.

Services take a database session and plain values, flush, and leave the commit to
their caller (the request, the command or the job).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from item_bank.errors import Conflict, Forbidden, NotFound, ValidationFailed

from ..auth.models import User
from ..auth.services import create_user, normalize_email
from ..exams.models import Exam
from .models import Course, Enrolment, LtiLaunch, LtiLineItem, LtiNonce, LtiPlatform, LtiResourceLink, LtiUser
from .roles import RANK, map_roles

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
LAUNCH_TTL_S = 3600

PLATFORM_FIELDS = ("name", "issuer", "client_id", "deployment_ids", "auth_login_url", "auth_token_url",
                   "auth_audience", "key_set_url", "key_set", "is_email_trusted", "is_admin_role_allowed", "is_active")


# --- platforms -----------------------------------------------------------------------------

def _check_url(field: str, value: str | None) -> None:
    if value is None:
        return
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ValidationFailed(f"{field} must be an http(s) URL", details={field: ["not an http(s) URL"]})


def _check_platform(platform: LtiPlatform) -> None:
    for field in ("auth_login_url", "auth_token_url", "key_set_url"):
        _check_url(field, getattr(platform, field))
    if not platform.key_set_url and not platform.key_set:
        raise ValidationFailed("give the platform's key set URL or its key set",
                               details={"key_set_url": ["key_set_url or key_set is required"]})
    if platform.key_set is not None and not isinstance((platform.key_set or {}).get("keys"), list):
        raise ValidationFailed("key_set must be a JWKS ({\"keys\": [...]})", details={"key_set": ["not a JWKS"]})
    ids = platform.deployment_ids or []
    if not isinstance(ids, list) or not all(isinstance(d, str) and d for d in ids):
        raise ValidationFailed("deployment_ids must be a list of strings", details={"deployment_ids": ["strings"]})


def register_platform(session: Session, data: dict[str, Any], *, now: datetime) -> LtiPlatform:
    """Register a platform (issuer + client id); refuses a duplicate."""
    exists = session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == data["issuer"],
                                                         LtiPlatform.client_id == data["client_id"]))
    if exists is not None:
        raise Conflict("this issuer and client id are already registered", code="lti_platform_exists")
    platform = LtiPlatform(created_at=now, deployment_ids=[], name="")
    for field in PLATFORM_FIELDS:
        if field in data:
            setattr(platform, field, data[field])
    _check_platform(platform)
    session.add(platform)
    session.flush()
    return platform


def get_platform(session: Session, platform_id: int) -> LtiPlatform:
    platform = session.get(LtiPlatform, platform_id)
    if platform is None:
        raise NotFound(f"no LTI platform {platform_id}", code="lti_platform_not_found")
    return platform


def update_platform(session: Session, platform_id: int, data: dict[str, Any]) -> LtiPlatform:
    """Change a registration (e.g. add a deployment id, rotate the key set URL)."""
    platform = get_platform(session, platform_id)
    for field in PLATFORM_FIELDS:
        if field in data and field not in ("issuer", "client_id"):
            setattr(platform, field, data[field])
    _check_platform(platform)
    session.flush()
    return platform


def list_platforms(session: Session) -> list[LtiPlatform]:
    return list(session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


# --- users and roster ------------------------------------------------------------------------

def _placeholder_email(platform_id: int, sub: str) -> str:
    digest = hashlib.sha256(f"{platform_id}:{sub}".encode()).hexdigest()[:24]
    return f"lti-{platform_id}-{digest}@lti.invalid"


def _display_name(claims: dict) -> str:
    name = claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return (name or "").strip()[:200]


def upsert_user(session: Session, platform: LtiPlatform, sub: str, *, roles: list[str], email: str | None,
                name: str, now: datetime) -> User:
    """The account of (platform, sub): found, linked by e-mail (trusted platforms only), or created.

    A role held on the platform raises our role but never lowers it (one account, many courses).
    """
    role = map_roles(roles, allow_admin=platform.is_admin_role_allowed)
    link = session.scalar(select(LtiUser).where(LtiUser.platform_id == platform.id, LtiUser.sub == sub))
    email = normalize_email(email) if email else None
    if link is not None:
        user = session.get(User, link.user_id)
    else:
        user = None
        if email and platform.is_email_trusted:
            user = session.scalar(select(User).where(User.email == email))
            if user is not None and user.role == "admin":
                user = None  # never hand an existing admin account to a platform
        try:
            with session.begin_nested():
                if user is None:
                    taken = email and session.scalar(select(User.id).where(User.email == email)) is not None
                    user = create_user(session, email=email if email and not taken else _placeholder_email(platform.id, sub),
                                       password=secrets.token_urlsafe(32), role=role, name=name or "")
                link = LtiUser(platform_id=platform.id, sub=sub, user_id=user.id, created_at=now)
                session.add(link)
                session.flush()
        except (IntegrityError, Conflict):
            # The same user's first launch in two tabs at once: the other one created the account.
            link = session.scalar(select(LtiUser).where(LtiUser.platform_id == platform.id, LtiUser.sub == sub))
            if link is None:
                raise
            user = session.get(User, link.user_id)
    if not user.is_active or user.is_erased:
        raise Forbidden("this account is disabled", code="account_disabled")
    if RANK[role] > RANK.get(user.role, 0):
        user.role = role
    if name and user.name != name and not user.is_erased:
        user.name = name
    link.last_launch_at = now
    session.flush()
    return user


def upsert_course(session: Session, source: str, external_id: str, *, title: str = "",
                  memberships_url: str | None = None) -> Course:
    course = session.scalar(select(Course).where(Course.source == source, Course.external_id == external_id))
    if course is None:
        course = Course(source=source, external_id=external_id, title=title or "")
        session.add(course)
    if title:
        course.title = title[:300]
    if memberships_url:
        course.memberships_url = memberships_url
    session.flush()
    return course


def enrol(session: Session, course: Course, user: User, role: str, *, is_active: bool = True) -> Enrolment:
    """Create or update one enrolment."""
    row = session.scalar(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.user_id == user.id))
    if row is None:
        row = Enrolment(course_id=course.id, user_id=user.id, role=role, is_active=is_active)
        session.add(row)
    else:
        row.role, row.is_active = role, is_active
    session.flush()
    return row


# --- launches --------------------------------------------------------------------------------

def record_launch(session: Session, platform: LtiPlatform, claims: dict, user: User | None, *, now: datetime) -> LtiLaunch:
    launch = LtiLaunch(id=secrets.token_urlsafe(32), platform_id=platform.id, user_id=user.id if user else None,
                       message_type=claims[f"{CLAIM}message_type"], claims=claims, created_at=now,
                       expires_at=now + timedelta(seconds=LAUNCH_TTL_S))
    session.add(launch)
    session.flush()
    return launch


def _upsert_line_item(session: Session, link: LtiResourceLink, ags: dict) -> None:
    url = ags.get("lineitem")
    items = list(session.scalars(select(LtiLineItem).where(LtiLineItem.resource_link_id == link.id)))
    if url:
        if not any(i.url == url for i in items):
            pending = next((i for i in items if i.url is None), None)
            if pending is not None:
                pending.url = url
            else:
                session.add(LtiLineItem(resource_link_id=link.id, url=url, label=link.title))
    elif ags.get("lineitems") and not items:
        # Only the container is known: the publisher finds or creates the column on first use.
        session.add(LtiLineItem(resource_link_id=link.id, url=None, label=link.title))
    session.flush()


def upsert_resource_link(session: Session, platform: LtiPlatform, claims: dict, course: Course | None) -> LtiResourceLink:
    """The resource link of a launch, with its course and AGS endpoint kept up to date."""
    rl = claims[f"{CLAIM}resource_link"]
    link = session.scalar(select(LtiResourceLink).where(LtiResourceLink.platform_id == platform.id,
                                                        LtiResourceLink.resource_link_id == rl["id"]))
    if link is None:
        link = LtiResourceLink(platform_id=platform.id, resource_link_id=rl["id"],
                               deployment_id=claims[f"{CLAIM}deployment_id"])
        session.add(link)
    link.title = (rl.get("title") or link.title or "")[:300]
    link.course_id = course.id if course else link.course_id
    custom = claims.get(f"{CLAIM}custom") or {}
    if link.exam_id is None and str(custom.get("exam_id", "")).isdigit():
        # Placed by deep linking: the content item carried the exam in its custom parameters.
        if session.get(Exam, int(custom["exam_id"])) is not None:
            link.exam_id = int(custom["exam_id"])
    ags = claims.get(AGS_CLAIM)
    if isinstance(ags, dict):
        link.ags_endpoint = {k: ags.get(k) for k in ("scope", "lineitems", "lineitem") if ags.get(k)}
    session.flush()
    if isinstance(ags, dict):
        _upsert_line_item(session, link, ags)
    return link


def accept_launch(session: Session, platform: LtiPlatform, claims: dict, *, now: datetime) -> dict:
    """Apply a validated launch: user, course and enrolment, resource link; returns where to go."""
    roles = claims.get(f"{CLAIM}roles") or []
    user = upsert_user(session, platform, str(claims["sub"]), roles=roles, email=claims.get("email"),
                       name=_display_name(claims), now=now)
    context = claims.get(f"{CLAIM}context") or {}
    nrps = claims.get(NRPS_CLAIM) or {}
    course = None
    if context.get("id"):
        course = upsert_course(session, f"lti:{platform.id}", str(context["id"]),
                               title=context.get("title") or context.get("label") or "",
                               memberships_url=nrps.get("context_memberships_url"))
        enrol(session, course, user, map_roles(roles, allow_admin=platform.is_admin_role_allowed))
    launch = record_launch(session, platform, claims, user, now=now)
    message_type = claims[f"{CLAIM}message_type"]
    if message_type == "LtiDeepLinkingRequest":
        if user.role not in ("instructor", "admin"):
            raise Forbidden("only instructors choose exams for a course", code="role_required")
        return {"kind": "deep_link", "launch_id": launch.id, "user": user}
    link = upsert_resource_link(session, platform, claims, course)
    return {"kind": "resource_link", "launch_id": launch.id, "user": user, "resource_link": link,
            "exam_id": link.exam_id}


def get_resource_link(session: Session, link_id: int) -> LtiResourceLink:
    link = session.get(LtiResourceLink, link_id)
    if link is None:
        raise NotFound(f"no resource link {link_id}", code="lti_resource_link_not_found")
    return link


def link_exam(session: Session, user: User, link_id: int, exam_id: int) -> LtiResourceLink:
    """Point a resource link at an exam the caller manages."""
    from ..exams.services import managed_exam
    link = get_resource_link(session, link_id)
    managed_exam(session, user, exam_id)
    link.exam_id = exam_id
    session.flush()
    return link


def list_resource_links(session: Session) -> list[LtiResourceLink]:
    return list(session.scalars(select(LtiResourceLink).order_by(LtiResourceLink.id)))


def load_launch(session: Session, launch_id: str, *, now: datetime) -> LtiLaunch:
    launch = session.get(LtiLaunch, launch_id) if isinstance(launch_id, str) and len(launch_id) <= 100 else None
    if launch is None or launch.expires_at <= now:
        raise NotFound("no such launch, or it has expired: launch again from the course", code="lti_launch_not_found")
    return launch


def purge_expired(session: Session, *, now: datetime, launch_days: int = 30) -> int:
    """Delete nonces a day after they expired and launches after `launch_days` (they are kept for audit until then)."""
    n = session.execute(delete(LtiNonce).where(LtiNonce.expires_at < now - timedelta(days=1))).rowcount
    n += session.execute(delete(LtiLaunch).where(LtiLaunch.expires_at < now - timedelta(days=launch_days))).rowcount
    return n
