"""What examiners see of attempts: one row per attempt, built from the database."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from item_bank.errors import NotFound

from ..auth.models import User
from ..exams import services as exam_services
from ..sessions import services as session_services
from ..sessions.models import ExamSession, SessionResponse


def _answered_counts(session: Session, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = session.execute(select(SessionResponse.session_id, func.count()).where(
        SessionResponse.session_id.in_(ids), SessionResponse.response.is_not(None)).group_by(SessionResponse.session_id))
    return dict(rows.all())


def rows_for(session: Session, attempts: Iterable[ExamSession], now: datetime) -> list[dict]:
    """The examiner's row of each attempt: learner, status, progress, time, connection, risk."""
    attempts = list(attempts)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({a.user_id for a in attempts})))} if attempts else {}
    answered = _answered_counts(session, [a.id for a in attempts])
    flags = FLAG_COUNTER[0](session, attempts) if attempts else {}
    out = []
    for a in attempts:
        c = session_services.clock(a, now)
        user = users.get(a.user_id)
        out.append({"session_id": a.id, "exam_id": a.exam_id, "user_id": a.user_id,
                    "learner": user.name if user else "", "email": user.email if user else "",
                    "status": a.status, "answered": answered.get(a.id, 0), "n_items": len(a.form),
                    "position": a.position, "remaining_s": None if c.remaining_s is None else round(c.remaining_s, 1),
                    "deadline_at": a.deadline_at.isoformat() if a.deadline_at else None,
                    "is_connected": a.is_connected, "disconnected_total_s": round(a.disconnected_total_s, 1),
                    "risk": a.risk, "flags": flags.get(a.id, 0),
                    "started_at": a.started_at.isoformat(), "end_reason": a.end_reason})
    return out


#: Set by the proctoring module: fn(session, attempts) -> {session id: open flags} (one query for the lot).
FLAG_COUNTER = [lambda session, attempts: {}]


def check_watcher(session: Session, user: User, exam_id: int) -> None:
    """`exam_not_found` unless `user` may watch the exam (a missing exam and someone else's look the same)."""
    if not exam_services.is_examiner_of(session, user, exam_id):
        raise NotFound(f"no exam {exam_id}", code="exam_not_found")


def snapshot(session: Session, user: User, exam_id: int, now: datetime) -> list[dict]:
    """Every attempt of an exam, riskiest first, for an examiner allowed to watch it."""
    check_watcher(session, user, exam_id)
    attempts = session.scalars(select(ExamSession).where(ExamSession.exam_id == exam_id)
                               .order_by(ExamSession.risk.desc(), ExamSession.started_at)).all()
    return rows_for(session, attempts, now)
