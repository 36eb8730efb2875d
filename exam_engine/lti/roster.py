"""Roster import without LTI: OneRoster 1.1-style CSV files (users.csv, enrollments.csv, optional classes.csv).

Every row is applied in its own savepoint; a row that cannot be applied is reported
with its file, line number, code and message, and nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank.errors import DomainError, ValidationFailed

from ..auth.models import User
from ..auth.services import create_user, normalize_email
from .models import Course, RosterPerson
from .roles import RANK
from .services import enrol, upsert_course

SOURCE = "csv"
#: OneRoster roles -> ours; guardians, parents and relatives have no place in an exam engine.
ONEROSTER_ROLES = {"student": "learner", "teacher": "instructor", "administrator": "admin", "aide": "examiner",
                   "proctor": "examiner"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_ROWS = 100_000


def _rows(text: str, name: str, required: Iterable[str]) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in headers]
    if missing:
        raise ValidationFailed(f"{name} lacks the columns {', '.join(missing)}", code="roster_bad_header",
                               details={"file": name, "missing": missing})
    rows = []
    for line, row in enumerate(reader, start=2):
        if line > MAX_ROWS + 1:
            raise ValidationFailed(f"{name} has more than {MAX_ROWS} rows", code="roster_too_large")
        rows.append((line, {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}))
    return rows


def _error(report: dict, file: str, line: int, code: str, message: str) -> None:
    report["errors"].append({"file": file, "row": line, "code": code, "message": message})


def _import_user(session: Session, row: dict, now: datetime) -> str:
    sourced_id, email = row["sourcedId"], row["email"]
    role = ONEROSTER_ROLES.get(row["role"].lower())
    if role is None:
        raise ValidationFailed(f"role {row['role']!r} is not one of {', '.join(ONEROSTER_ROLES)}", code="unsupported_role")
    if not EMAIL.match(email):
        raise ValidationFailed(f"{email!r} is not an e-mail address", code="invalid_email")
    name = " ".join(p for p in (row.get("givenName"), row.get("familyName")) if p) or email.split("@")[0]
    person = session.scalar(select(RosterPerson).where(RosterPerson.source == SOURCE, RosterPerson.external_id == sourced_id))
    active = row.get("status", "").lower() != "tobedeleted" and row.get("enabledUser", "true").lower() != "false"
    if person is None:
        user = session.scalar(select(User).where(User.email == normalize_email(email)))
        if user is not None and user.role == "admin" and role != "admin":
            raise ValidationFailed("the e-mail belongs to an administrator account", code="email_taken")
        created = user is None
        if created:
            user = create_user(session, email=email, password=secrets.token_urlsafe(32), role=role, name=name)
        session.add(RosterPerson(source=SOURCE, external_id=sourced_id, user_id=user.id, created_at=now))
    else:
        created = False
        user = session.get(User, person.user_id)
        if normalize_email(email) != user.email:
            if session.scalar(select(User.id).where(User.email == normalize_email(email))) is not None:
                raise ValidationFailed(f"{email} is used by another account", code="email_taken")
            user.email = normalize_email(email)
    if RANK[role] > RANK[user.role]:
        user.role = role
    user.name = name[:200]
    user.is_active = user.is_active if active else False
    session.flush()
    return "created" if created else "updated"


def _import_enrolment(session: Session, row: dict, classes: dict[str, str]) -> None:
    person = session.scalar(select(RosterPerson).where(RosterPerson.source == SOURCE,
                                                       RosterPerson.external_id == row["userSourcedId"]))
    if person is None:
        raise ValidationFailed(f"no user with sourcedId {row['userSourcedId']!r} (in users.csv or an earlier import)",
                               code="unknown_user")
    role = ONEROSTER_ROLES.get(row["role"].lower())
    if role is None:
        raise ValidationFailed(f"role {row['role']!r} is not one of {', '.join(ONEROSTER_ROLES)}", code="unsupported_role")
    if not row["classSourcedId"]:
        raise ValidationFailed("classSourcedId is empty", code="missing_field")
    course = upsert_course(session, SOURCE, row["classSourcedId"], title=classes.get(row["classSourcedId"], ""))
    user = session.get(User, person.user_id)
    enrol(session, course, user, role, is_active=row.get("status", "").lower() != "tobedeleted")


def import_roster(session: Session, *, users_csv: str | None, enrollments_csv: str | None,
                  classes_csv: str | None = None, now: datetime) -> dict:
    """Apply the files; returns counts and one error entry per refused row."""
    report: dict = {"users": {"created": 0, "updated": 0}, "enrollments": {"applied": 0}, "classes": 0, "errors": []}
    classes: dict[str, str] = {}
    if classes_csv:
        for line, row in _rows(classes_csv, "classes.csv", ("sourcedId", "title")):
            if not row["sourcedId"]:
                _error(report, "classes.csv", line, "missing_field", "sourcedId is empty")
                continue
            classes[row["sourcedId"]] = row["title"]
            upsert_course(session, SOURCE, row["sourcedId"], title=row["title"])
            report["classes"] += 1
    if users_csv:
        seen: set[str] = set()
        for line, row in _rows(users_csv, "users.csv", ("sourcedId", "role", "email")):
            if not row["sourcedId"]:
                _error(report, "users.csv", line, "missing_field", "sourcedId is empty")
                continue
            if row["sourcedId"] in seen:
                _error(report, "users.csv", line, "duplicate_row", f"sourcedId {row['sourcedId']!r} appears twice")
                continue
            seen.add(row["sourcedId"])
            try:
                with session.begin_nested():
                    report["users"][_import_user(session, row, now)] += 1
            except DomainError as exc:
                _error(report, "users.csv", line, exc.code, exc.message)
    if enrollments_csv:
        for line, row in _rows(enrollments_csv, "enrollments.csv", ("classSourcedId", "userSourcedId", "role")):
            try:
                with session.begin_nested():
                    _import_enrolment(session, row, classes)
                    report["enrollments"]["applied"] += 1
            except DomainError as exc:
                _error(report, "enrollments.csv", line, exc.code, exc.message)
    session.flush()
    return report


def course_members(session: Session, course_id: int) -> list[dict]:
    from .models import Enrolment
    rows = session.execute(select(Enrolment, User).join(User, User.id == Enrolment.user_id)
                           .where(Enrolment.course_id == course_id).order_by(User.id)).all()
    return [{"user_id": u.id, "email": u.email, "name": u.name, "role": e.role, "is_active": e.is_active} for e, u in rows]


def list_courses(session: Session) -> list[Course]:
    return list(session.scalars(select(Course).order_by(Course.id)))
