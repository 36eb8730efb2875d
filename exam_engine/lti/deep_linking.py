"""Deep Linking: an instructor picks an exam from our catalogue; it goes back to the platform as an
`ltiResourceLink` content item in a JWT signed with the tool's key (pylti1p3 builds and signs it)."""

from __future__ import annotations

from datetime import datetime

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.errors import Conflict, Forbidden

from ..auth.models import User
from ..exams import services as exam_services
from ..exams.models import Exam, ExamVersion
from .adapter import registration_for
from .keys import ToolKey
from .models import LtiLaunch, LtiPlatform
from .services import CLAIM, DL_CLAIM, load_launch

LINE_ITEM_MAXIMUM = 100


def _picker_user(session: Session, launch: LtiLaunch) -> User:
    user = session.get(User, launch.user_id) if launch.user_id else None
    if launch.message_type != "LtiDeepLinkingRequest" or user is None or user.role not in ("instructor", "admin"):
        raise Forbidden("this launch cannot choose content", code="lti_not_deep_linking")
    if launch.answered_at is not None:
        raise Conflict("this deep-linking request was already answered", code="lti_deep_link_answered")
    return user


def catalogue(session: Session, launch_id: str, *, now: datetime) -> tuple[LtiLaunch, list[dict]]:
    """The published exams the launching instructor may place (their own; every exam for admins)."""
    launch = load_launch(session, launch_id, now=now)
    user = _picker_user(session, launch)
    stmt = select(Exam).where(Exam.live_version.is_not(None)).order_by(Exam.id)
    if user.role != "admin":
        stmt = stmt.where(Exam.owner_id == user.id)
    out = []
    for exam in session.scalars(stmt):
        version = session.scalar(select(ExamVersion).where(ExamVersion.exam_id == exam.id,
                                                           ExamVersion.version == exam.live_version))
        out.append({"id": exam.id, "title": version.title, "description": version.description})
    return launch, out


def respond(session: Session, launch_id: str, exam_id: int, key: ToolKey, *, launch_url: str,
            now: datetime) -> tuple[str, str]:
    """The platform's return URL and the signed LtiDeepLinkingResponse carrying the chosen exam."""
    launch = load_launch(session, launch_id, now=now)
    user = _picker_user(session, launch)
    exam = exam_services.managed_exam(session, user, exam_id)
    if exam.live_version is None:
        raise Conflict("only a published exam can be placed in a course", code="exam_not_published")
    version = exam_services.live_version(session, exam)
    platform = session.get(LtiPlatform, launch.platform_id)
    claims = launch.claims
    settings = claims[DL_CLAIM]
    line_item = (LineItem().set_label(version.title[:200]).set_score_maximum(LINE_ITEM_MAXIMUM)
                 .set_resource_id(f"exam-{exam.id}").set_tag(f"exam-{exam.id}"))
    resource = (DeepLinkResource().set_url(launch_url).set_title(version.title)
                .set_custom_params({"exam_id": str(exam.id)}).set_lineitem(line_item))
    deep_link = DeepLink(registration_for(platform, key), claims[f"{CLAIM}deployment_id"], settings)
    message = deep_link.get_message_jwt([resource])
    if settings.get("data") is None:
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    token = deep_link.encode_jwt(message)
    launch.answered_at = now
    session.flush()
    return settings["deep_link_return_url"], token
