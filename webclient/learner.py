"""Learner pages: the dashboard, the exam page and the result page.

These pages are shells: their ES modules speak only the REST API
(`/api/v1/exams`, `/api/v1/sessions/...`) and the `/exam` socket protocol of
docs/protocol.md, exactly as any other delivery client would.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template

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
    return render_template("web/learn/dashboard.html")


@bp.get("/sessions/<session_id>")
@page_login_required("learner")
def exam(session_id: str):
    """The exam page of one attempt (resumes where the learner was)."""
    return render_template("web/learn/exam.html", session_id=_check_session_id(session_id))


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
