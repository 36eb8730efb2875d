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


def seed_demo(app: Flask, *, password: str) -> str:
    """Seed everything the demo needs; safe to run again (it only adds what is missing)."""
    session = get_db().session()
    try:
        users = _users(session, password)
        created, total = _bank(session, users["instructor"])
        lines = [f"demo bank: {total} items ({created} new)"]
        for step in DEMO_STEPS:
            lines.append(step(app, session, users))
        session.commit()
    finally:
        session.close()
    logins = "\n".join(f"  {email:<24} {role:<10} password: {password}" for email, role, _ in DEMO_USERS)
    return "\n".join(lines) + f"\n\nDemo logins (http://127.0.0.1:5000):\n{logins}"
