"""`exam-engine demo`: the four demo accounts, the demo item bank and exams (idempotent)."""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import services as bank_services
from item_bank.models import Bank, Item

from .auth.models import User
from .auth.services import create_user, hash_password
from .db import get_db, utcnow

log = logging.getLogger("exam_engine.demo")

DEMO_USERS = (
    ("learner@example.org", "learner", "Lea Learner"),
    ("instructor@example.org", "instructor", "Ines Instructor"),
    ("examiner@example.org", "examiner", "Ezra Examiner"),
    ("admin@example.org", "admin", "Ada Admin"),
)

#: Later features add seeding steps: function(app, session, users) -> summary line.
DEMO_STEPS: list[Callable[[Flask, Session, dict[str, User]], str]] = []


def _users(session: Session, password: str) -> dict[str, User]:
    users = {}
    for email, role, name in DEMO_USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(session, email=email, password=password, role=role, name=name)
        else:
            user.password_hash = hash_password(password)
            user.role, user.is_active = role, True
        users[role] = user
    session.flush()
    return users


def _bank(session: Session, owner: User) -> tuple[int, int]:
    data = json.loads(resources.files("exam_engine.demo_data").joinpath("bank.json").read_text())
    created = 0
    total = 0
    now = utcnow()
    for bank_data in data["banks"]:
        bank = session.scalar(select(Bank).where(Bank.name == bank_data["name"], Bank.owner_id == owner.id))
        if bank is None:
            bank = bank_services.create_bank(session, owner, name=bank_data["name"], description=bank_data.get("description", ""))
        for raw in bank_data["items"]:
            total += 1
            key = raw["key"]
            content = {k: v for k, v in raw.items() if k != "key"}
            if session.scalar(select(Item.id).where(Item.bank_id == bank.id, Item.external_id == key)):
                continue
            version = bank_services.create_item(session, owner, bank.id, content, external_id=key, now=now)
            bank_services.publish_item(session, owner, version.item_id, now=now)
            created += 1
    return created, total


def _item_id(session: Session, key: str) -> int:
    return session.scalar(select(Item.id).where(Item.external_id == key))


def _bank_id(session: Session, name: str, owner: User) -> int:
    return session.scalar(select(Bank.id).where(Bank.name == name, Bank.owner_id == owner.id))


def demo_exam_definitions(session: Session, owner: User) -> dict[str, dict]:
    """The demo exams, over the demo bank: a short mixed-type check and a timed exam with sections."""
    auto_types = ["choice", "text_entry", "numeric", "order", "match", "inline_choice"]
    return {
        "demo-websec-quick": {
            "title": "Web security: quick check",
            "description": "Seven questions, one of each kind the engine delivers. Results at once.",
            "sections": [{"id": "main", "title": "Web security", "items": [
                _item_id(session, k) for k in ("websec-001", "websec-004", "websec-010", "websec-013", "websec-018",
                                              "websec-020", "websec-022")]}],
            "time_limit_s": 15 * 60, "grace_s": 3, "navigation": "free", "presentation": "one_at_a_time",
            "max_attempts": 5, "cooldown_s": 0, "pass": {"mode": "percentage", "cut_score": 60},
            "release": "immediate", "proctoring": {"level": "record_only", "settings": {}},
        },
        "demo-stats-climate-timed": {
            "title": "Statistics and climate: timed exam with sections",
            "description": "Two sections of five questions drawn at random for each learner; 20 minutes; "
                           "at least 40 % in each section and 60 % overall to pass.",
            "sections": [
                {"id": "statistics", "title": "Introductory statistics", "draw": 5, "shuffle_items": True,
                 "pool": {"bank_ids": [_bank_id(session, "Introductory statistics", owner)], "types": auto_types},
                 "min_score_pct": 40},
                {"id": "climate", "title": "Climate and energy", "draw": 5, "shuffle_items": True,
                 "pool": {"bank_ids": [_bank_id(session, "Climate and energy", owner)], "types": auto_types},
                 "min_score_pct": 40},
            ],
            "time_limit_s": 20 * 60, "grace_s": 3, "navigation": "free", "presentation": "one_at_a_time",
            "max_attempts": 3, "cooldown_s": 0, "pass": {"mode": "percentage", "cut_score": 60},
            "release": "immediate", "proctoring": {"level": "standard", "settings": {}},
        },
        "demo-websec-essay": {
            "title": "Web security: written answers",
            "description": "Two short essays graded by an instructor with a rubric, plus three quick questions.",
            "sections": [{"id": "written", "title": "Written answers", "items": [
                _item_id(session, k) for k in ("websec-016", "websec-017", "websec-002", "websec-011", "websec-019")]}],
            "time_limit_s": 30 * 60, "navigation": "free", "presentation": "all",
            "max_attempts": 2, "pass": {"mode": "percentage", "cut_score": 50}, "release": "immediate",
        },
    }


def _exams(session: Session, users: dict[str, User]) -> str:
    from .exams import services as exam_services
    from .exams.models import Exam
    from .exams.schemas import ExamDefinitionSchema

    owner = users["instructor"]
    created = 0
    now = utcnow()
    for key, raw in demo_exam_definitions(session, owner).items():
        if session.scalar(select(Exam.id).where(Exam.external_id == key)):
            continue
        from .credentials_engine.demo import demo_award
        definition = ExamDefinitionSchema().load({**raw, **demo_award(session, key)})
        version = exam_services.create_exam(session, owner, definition, external_id=key, now=now)
        exam_services.publish_exam(session, owner, version.exam_id, now=now)
        exam_services.assign_examiner(session, owner, version.exam_id, users["examiner"])
        created += 1
    return f"demo exams: 3 ({created} new), published; examiner@example.org assigned"


def seed_demo(app: Flask, *, password: str) -> str:
    """Seed everything the demo needs; safe to run again (it only adds what is missing)."""
    session = get_db().session()
    try:
        users = _users(session, password)
        created, total = _bank(session, users["instructor"])
        lines = [f"demo bank: {total} items ({created} new)"]
        from .credentials_engine.demo import seed_credentials_demo
        lines.append(seed_credentials_demo(app, session, users))  # issuer key + achievements, before the exams
        lines.append(_exams(session, users))
        for step in DEMO_STEPS:
            lines.append(step(app, session, users))
        session.commit()
    finally:
        session.close()
    logins = "\n".join(f"  {email:<24} {role:<10} password: {password}" for email, role, _ in DEMO_USERS)
    return "\n".join(lines) + f"\n\nDemo logins (http://127.0.0.1:5000):\n{logins}"
