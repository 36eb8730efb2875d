"""Instructor pages for exams: the list, the exam builder, the marking queue, results and item analysis.

Shells for ES modules that speak the REST API (`/api/v1/exams...`, `/grading/queue`, `/analysis`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from item_bank.validation import ITEM_TYPES

from .core import page_login_required

bp = Blueprint("exams", __name__, url_prefix="/author/exams")

AUTHOR_ROLES = ("instructor", "admin")


@bp.get("")
@page_login_required(*AUTHOR_ROLES)
def index():
    """The instructor's exams with their status and links to build, mark, analyse and monitor."""
    return render_template("web/exams/index.html")


@bp.get("/new")
@page_login_required(*AUTHOR_ROLES)
def new():
    """The exam builder for a new exam."""
    return render_template("web/exams/builder.html", exam_id=None, types=ITEM_TYPES)


@bp.get("/<int:exam_id>")
@page_login_required(*AUTHOR_ROLES)
def edit(exam_id: int):
    """The exam builder on an exam's latest version."""
    return render_template("web/exams/builder.html", exam_id=exam_id, types=ITEM_TYPES)


@bp.get("/<int:exam_id>/grading")
@page_login_required(*AUTHOR_ROLES)
def grading(exam_id: int):
    """Essays waiting for the instructor's mark, one rubric at a time."""
    return render_template("web/exams/grading.html", exam_id=exam_id)


@bp.get("/<int:exam_id>/results")
@page_login_required(*AUTHOR_ROLES)
def results(exam_id: int):
    """Results and item analysis with charts (score distribution, difficulty against discrimination, ICCs)."""
    return render_template("web/exams/results.html", exam_id=exam_id)
