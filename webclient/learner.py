"""Learner pages: the dashboard, the exam page and the result page.

These pages are shells: their ES modules speak only the REST API
(`/api/v1/exams`, `/api/v1/sessions/...`) and the `/exam` socket protocol of
docs/protocol.md, exactly as any other delivery client would.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, g, render_template
from sqlalchemy import select

from exam_engine.db import db_session

from .core import page_login_required

bp = Blueprint("learn", __name__, url_prefix="/learn")

#: Session ids are opaque strings; keep them to a safe alphabet in page URLs.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def _check_session_id(session_id: str) -> str:
    if not SESSION_ID_RE.match(session_id):
        abort(404)
    return session_id


@bp.get("")
@page_login_required("learner")
def dashboard():
    """Exams the learner may take (window, attempts left, time limit) and past results."""
    return render_template("web/learn/dashboard.html", attempts=_past_attempts(g.user))


def _past_attempts(user) -> list[dict] | None:  # noqa: ANN001
    """The learner's attempts, newest first (None when the engine has no attempts yet)."""
    try:
        from exam_engine.exams.models import ExamVersion
        from exam_engine.sessions.models import ExamSession
    except ImportError:
        return None
    rows = db_session().execute(
        select(ExamSession, ExamVersion.title).join(ExamVersion, ExamVersion.id == ExamSession.exam_version_id)
        .where(ExamSession.user_id == user.id).order_by(ExamSession.started_at.desc()).limit(100)).all()
    return [{"id": attempt.id, "exam_id": attempt.exam_id, "title": title, "attempt_no": attempt.attempt_no,
             "status": attempt.status, "started_at": attempt.started_at.isoformat(),
             "submitted_at": attempt.submitted_at.isoformat() if attempt.submitted_at else None}
            for attempt, title in rows]


@bp.get("/sessions/<session_id>")
@page_login_required("learner")
def exam(session_id: str):
    """The exam page of one attempt (resumes where the learner was)."""
    return render_template("web/learn/exam.html", session_id=_check_session_id(session_id), exam_id=None)


@bp.get("/exams/<int:exam_id>/take")
@page_login_required("learner")
def take(exam_id: int):
    """The exam page before the attempt exists: it connects, waits for the exam to open if it must (the
    waiting room), then starts the attempt on its connection (`start`, docs/protocol.md) and goes on as the
    exam page of that attempt."""
    return render_template("web/learn/exam.html", session_id=None, exam_id=exam_id)


@bp.get("/sessions/<session_id>/result")
@page_login_required("learner")
def result(session_id: str):
    """The result of one attempt, once released."""
    return render_template("web/learn/result.html", session_id=_check_session_id(session_id))


@bp.get("/credentials")
@page_login_required("learner")
def credentials():
    """The learner's credential wallet: download, share the public page, see revocations."""
    return render_template("web/learn/credentials.html")
