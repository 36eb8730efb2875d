"""Names and Role Provisioning Services: import a course's roster from the platform (pylti1p3 does the paging)."""

from __future__ import annotations

from datetime import datetime

import requests
from pylti1p3.exception import LtiException
from pylti1p3.names_roles import NamesRolesProvisioningService
from sqlalchemy import select
from sqlalchemy.orm import Session

from .adapter import ToolServiceConnector, registration_for
from .errors import LtiServiceFailed
from .keys import ToolKey
from .models import Course, Enrolment, LtiPlatform, LtiResourceLink, LtiUser
from .roles import map_roles
from .services import enrol, get_resource_link, upsert_user

from item_bank.errors import ValidationFailed


def import_members(session: Session, platform: LtiPlatform, course: Course, members: list[dict], *,
                   now: datetime) -> dict:
    """Users and enrolments for NRPS members; members no longer listed become inactive. Returns a report."""
    report = {"created": 0, "updated": 0, "deactivated": 0, "errors": []}
    seen: set[int] = set()
    for index, member in enumerate(members):
        sub = member.get("user_id")
        if not sub:
            report["errors"].append({"member": index, "code": "missing_user_id", "message": "member without user_id"})
            continue
        existed = session.scalar(select(LtiUser.id).where(LtiUser.platform_id == platform.id,
                                                           LtiUser.sub == str(sub))) is not None
        roles = member.get("roles") or []
        name = member.get("name") or " ".join(p for p in (member.get("given_name"), member.get("family_name")) if p)
        user = upsert_user(session, platform, str(sub), roles=roles, email=member.get("email"), name=name, now=now)
        active = (member.get("status") or "Active") == "Active"
        enrol(session, course, user, map_roles(roles, allow_admin=platform.is_admin_role_allowed), is_active=active)
        seen.add(user.id)
        report["updated" if existed else "created"] += 1
    for row in session.scalars(select(Enrolment).where(Enrolment.course_id == course.id, Enrolment.is_active.is_(True))):
        if row.user_id not in seen:
            row.is_active = False
            report["deactivated"] += 1
    session.flush()
    return report


def roster_source(session: Session, link_id: int) -> tuple[LtiPlatform, Course]:
    """The platform and course whose members a roster sync fetches."""
    link: LtiResourceLink = get_resource_link(session, link_id)
    course = session.get(Course, link.course_id) if link.course_id else None
    if course is None or not course.memberships_url:
        raise ValidationFailed("the platform offered no roster service for this course", code="lti_no_nrps")
    return session.get(LtiPlatform, link.platform_id), course


def fetch_members(platform: LtiPlatform, memberships_url: str, key: ToolKey,
                  http: requests.Session | None = None) -> list[dict]:
    """Every member of the context, all pages (no database: the caller holds no transaction meanwhile)."""
    connector = ToolServiceConnector(registration_for(platform, key), requests_session=http)
    service = NamesRolesProvisioningService(connector, {"context_memberships_url": memberships_url})
    try:
        return list(service.get_members())
    except (LtiException, requests.RequestException) as exc:
        raise LtiServiceFailed(f"the platform's roster service failed: {exc}", code="lti_nrps_failed") from exc
