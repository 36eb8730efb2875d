"""Assignment and Grade Services: released scores go to the platform's line items through an outbox.

- `queue_score` (an AFTER_SCORE hook) and `queue_released` (the job's scan, which also
  catches manual releases and release-after-close) write one outbox row per attempt and
  line item, in the caller's transaction: a score is queued exactly when the attempt is.
- `publish_due` claims due rows with a conditional UPDATE, commits the claim, sends the
  score with pylti1p3 (OAuth2 client-credentials token, POST .../scores) and records the
  outcome; a failure retries with exponential back-off, never gives up and never resends a
  revision that reached the platform. Every score carries the attempt's scoring time as its
  `timestamp`, so even a resend after a crash between POST and commit is idempotent on
  the platform (AGS keeps the latest timestamp).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import datetime, timedelta
from typing import Any

import requests
from flask import Flask
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from ..exams.models import Exam, ExamVersion
from ..sessions.models import ExamSession
from ..sessions.services import is_released
from .adapter import ToolServiceConnector, registration_for
from .keys import load_tool_key
from .models import Enrolment, LtiLineItem, LtiPlatform, LtiResourceLink, LtiUser, ScoreOutbox

log = logging.getLogger("exam_engine.lti.ags")

SCORED = ("scored", "pending_grading")
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
CLAIM_S = 120
BACKOFF_BASE_S = 15
BACKOFF_MAX_S = 3600


def backoff_s(tries: int) -> float:
    """Seconds before try `tries + 1`: 15 s, 30 s, 1 min, ... capped at one hour."""
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, tries - 1)))


def score_payload(attempt: ExamSession, sub: str) -> dict:
    """The AGS score of an attempt (scores are never above the maximum, never negative)."""
    maximum = float(attempt.max_score or 0)
    given = max(0.0, min(float(attempt.score or 0), maximum)) if maximum > 0 else 0.0
    pending = attempt.status == "pending_grading"
    return {"userId": sub, "scoreGiven": round(given, 4), "scoreMaximum": maximum if maximum > 0 else 1.0,
            "activityProgress": "Completed", "gradingProgress": "PendingManual" if pending else "FullyGraded",
            "timestamp": (attempt.scored_at or attempt.submitted_at).isoformat(),
            "submission": {"startedAt": attempt.started_at.isoformat(),
                           "submittedAt": (attempt.submitted_at or attempt.scored_at).isoformat()}}


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _targets(session: Session, attempt: ExamSession) -> list[tuple[LtiLineItem, str]]:
    """(line item, platform sub) pairs for this attempt: links to its exam in courses the learner is enrolled in."""
    rows = session.execute(
        select(LtiLineItem, LtiUser.sub)
        .join(LtiResourceLink, LtiResourceLink.id == LtiLineItem.resource_link_id)
        .join(LtiUser, and_(LtiUser.platform_id == LtiResourceLink.platform_id, LtiUser.user_id == attempt.user_id))
        .join(Enrolment, and_(Enrolment.course_id == LtiResourceLink.course_id, Enrolment.user_id == attempt.user_id,
                              Enrolment.is_active.is_(True)))
        .where(LtiResourceLink.exam_id == attempt.exam_id)).all()
    return [(item, sub) for item, sub in rows]


def queue_score(session: Session, attempt: ExamSession, now: datetime) -> int:
    """Queue the attempt's score for each of its line items, if released; returns rows queued or changed."""
    if attempt.status not in SCORED or not is_released(session, attempt, now):
        return 0
    changed = 0
    for item, sub in _targets(session, attempt):
        payload = score_payload(attempt, sub)
        row = session.scalar(select(ScoreOutbox).where(ScoreOutbox.session_id == attempt.id,
                                                       ScoreOutbox.line_item_id == item.id))
        if row is None:
            session.add(ScoreOutbox(session_id=attempt.id, line_item_id=item.id, payload=payload, status="pending",
                                    next_try_at=now, created_at=now))
            changed += 1
        elif _digest(row.payload) != _digest(payload):
            # A rescore: the new score replaces the queued one and is sent once more.
            row.payload, row.revision = payload, row.revision + 1
            row.status, row.next_try_at, row.tries = "pending", now, 0
            changed += 1
    session.flush()
    return changed


def after_score_hook(session: Session, attempt: ExamSession, now: datetime) -> None:
    """AFTER_SCORE: queue the score when the result is already released (policy `immediate`)."""
    queue_score(session, attempt, now)


def queue_released(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Queue scores released since they were scored (manual release, after close) and not yet queued."""
    queued = select(ScoreOutbox.session_id)
    # Policy `immediate` is queued by the hook at scoring; here: released by hand, or the window has closed.
    candidates = session.scalars(
        select(ExamSession)
        .join(LtiResourceLink, LtiResourceLink.exam_id == ExamSession.exam_id)
        .join(Exam, Exam.id == ExamSession.exam_id)
        .join(ExamVersion, ExamVersion.id == ExamSession.exam_version_id)
        .join(LtiUser, and_(LtiUser.user_id == ExamSession.user_id, LtiUser.platform_id == LtiResourceLink.platform_id))
        .where(ExamSession.status.in_(SCORED), ExamSession.id.not_in(queued),
               or_(Exam.results_released_at.is_not(None), ExamVersion.closes_at <= now))
        .distinct().limit(limit)).all()
    return sum(queue_score(session, attempt, now) for attempt in candidates)


# --- sending -----------------------------------------------------------------------------------

def _claim(session: Session, now: datetime, limit: int) -> list[tuple[int, int]]:
    due = session.execute(
        select(ScoreOutbox.id, ScoreOutbox.revision)
        .where(or_(and_(ScoreOutbox.status == "pending", ScoreOutbox.next_try_at <= now),
                   and_(ScoreOutbox.status == "sending", ScoreOutbox.claimed_until <= now)))
        .order_by(ScoreOutbox.next_try_at).limit(limit)).all()
    claimed = []
    for row_id, revision in due:
        won = session.execute(
            update(ScoreOutbox)
            .where(ScoreOutbox.id == row_id, ScoreOutbox.revision == revision,
                   or_(ScoreOutbox.status == "pending",
                       and_(ScoreOutbox.status == "sending", ScoreOutbox.claimed_until <= now)))
            .values(status="sending", claimed_until=now + timedelta(seconds=CLAIM_S), tries=ScoreOutbox.tries + 1)
        ).rowcount
        if won == 1:
            claimed.append((row_id, revision))
    return claimed


def _service(platform: LtiPlatform, link: LtiResourceLink, key: Any, http: requests.Session | None) -> AssignmentsGradesService:
    connector = ToolServiceConnector(registration_for(platform, key), requests_session=http)
    ags = dict(link.ags_endpoint or {})
    ags.setdefault("scope", [SCORE_SCOPE])
    return AssignmentsGradesService(connector, ags)


def _load(session: Session, row_id: int) -> tuple[ScoreOutbox, LtiLineItem, LtiResourceLink, LtiPlatform]:
    row = session.get(ScoreOutbox, row_id)
    item = session.get(LtiLineItem, row.line_item_id)
    link = session.get(LtiResourceLink, item.resource_link_id)
    return row, item, link, session.get(LtiPlatform, link.platform_id)


def _send(payload: dict, item: LtiLineItem, link: LtiResourceLink, platform: LtiPlatform, key: Any,
          http: requests.Session | None) -> str:
    """POST the score to the line item (found or created first when only the container is known); no database."""
    service = _service(platform, link, key, http)
    url = item.url
    if url is None:
        # Only the container was offered: find our column by resource link and tag, or create it.
        tag = f"exam-{link.exam_id}"
        wanted = (LineItem().set_label(item.label or link.title or "Exam").set_score_maximum(payload["scoreMaximum"])
                  .set_resource_link_id(link.resource_link_id).set_tag(tag))
        found = service.find_or_create_lineitem(
            wanted, condition=lambda li: li.get("resourceLinkId") == link.resource_link_id and li.get("tag") == tag)
        url = found.get_id()
    grade = (Grade().set_user_id(payload["userId"]).set_score_given(payload["scoreGiven"])
             .set_score_maximum(payload["scoreMaximum"]).set_activity_progress(payload["activityProgress"])
             .set_grading_progress(payload["gradingProgress"]).set_timestamp(payload["timestamp"]))
    if payload.get("submission"):
        grade.set_extra_claims({"submission": payload["submission"]})
    service.put_grade(grade, LineItem({"id": url}))
    return url


def publish_due(app: Flask, *, now: datetime | None = None, limit: int = 50,
                http: requests.Session | None = None) -> dict:
    """One pass of the publisher: queue newly released scores, then send what is due. Returns counts."""
    now = now or utcnow()
    key = None
    counts = {"queued": 0, "sent": 0, "failed": 0}
    db = app.extensions["exam_engine.db"].session()
    try:
        counts["queued"] = queue_released(db, now=now)
        claimed = _claim(db, now, limit)
        db.commit()
        for row_id, revision in claimed:
            key = key or load_tool_key(app.config)
            row, item, link, platform = _load(db, row_id)
            payload, item_id, known_url = dict(row.payload), item.id, item.url
            # No transaction stays open across the HTTP calls (the platform may call back for our JWKS).
            db.commit()
            try:
                url = _send(payload, item, link, platform, key, http)
            except (LtiException, requests.RequestException, KeyError, ValueError) as exc:
                tries = row.tries
                delay = backoff_s(tries)
                db.execute(update(ScoreOutbox).where(ScoreOutbox.id == row_id, ScoreOutbox.status == "sending")
                           .values(status="pending", claimed_until=None, next_try_at=now + timedelta(seconds=delay),
                                   last_error=str(exc)[:2000]))
                db.commit()
                counts["failed"] += 1
                log.warning("score not delivered; will retry", extra={"outbox_id": row_id, "tries": tries,
                                                                       "retry_in_s": delay, "error": str(exc)[:300]})
                continue
            if known_url is None:
                db.execute(update(LtiLineItem).where(LtiLineItem.id == item_id, LtiLineItem.url.is_(None))
                           .values(url=url))
            # Sent: this revision is done (a rescore in the meantime stays pending with its new revision).
            db.execute(update(ScoreOutbox).where(ScoreOutbox.id == row_id, ScoreOutbox.revision == revision)
                       .values(status="sent", sent_revision=revision, sent_at=utcnow(), claimed_until=None,
                               last_error=None))
            db.execute(update(ScoreOutbox).where(ScoreOutbox.id == row_id, ScoreOutbox.revision != revision,
                                                 ScoreOutbox.status == "sending")
                       .values(status="pending", claimed_until=None, sent_revision=revision))
            db.commit()
            counts["sent"] += 1
    finally:
        db.close()
    return counts


def publisher_job(app: Flask) -> None:
    """Background job: publish scores every LTI_PUBLISH_INTERVAL_S seconds."""
    from ..extensions import socketio
    from .services import purge_expired
    interval = float(app.config.get("LTI_PUBLISH_INTERVAL_S") or os.environ.get("EXAM_ENGINE_LTI_PUBLISH_INTERVAL_S", 5))
    passes = 0
    while True:
        try:
            publish_due(app)
            if passes % 720 == 0:  # about hourly: forget spent nonces and old launches
                db = app.extensions["exam_engine.db"].session()
                try:
                    purge_expired(db, now=utcnow())
                    db.commit()
                finally:
                    db.close()
        except Exception:  # noqa: BLE001 - the job must outlive any one failure
            log.exception("score publisher pass failed")
        passes += 1
        socketio.sleep(interval)


def outbox_rows(session: Session, *, status: str | None = None, limit: int = 200) -> list[ScoreOutbox]:
    stmt = select(ScoreOutbox).order_by(ScoreOutbox.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(ScoreOutbox.status == status)
    return list(session.scalars(stmt))
