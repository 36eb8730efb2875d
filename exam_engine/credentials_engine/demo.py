"""Demo seeding for credentials: an issuer key, three achievements, and the demo exams that award them.

The quick web-security check awards the "Web security basics" badge, the timed
statistics-and-climate exam the "Quantitative literacy" micro-credential, and
both stack into the "Digital foundations" certificate (a pathway).
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..db import utcnow
from .keys import ensure_ring
from .models import Achievement

log = logging.getLogger("exam_engine.demo")

ESCO = "https://esco.ec.europa.eu/en/classification/skill?uri=http://data.europa.eu/esco/skill/"

#: key -> achievement definition (a pathway names its components by key).
DEMO_ACHIEVEMENTS: dict[str, dict] = {
    "websec": {
        "name": "Web security basics", "achievement_type": "Badge",
        "description": "Recognises the common web vulnerabilities (injection, XSS, CSRF) and their defences.",
        "criteria": "Pass the proctored 'Web security: quick check' exam with at least 60 %.",
        "credits": 1.0, "credit_framework": "ECTS", "level": "EQF level 4", "field_of_study": "Information security",
        "alignments": [{"targetName": "Apply web application security", "targetUrl": ESCO + "web-security",
                        "targetFramework": "ESCO"}],
    },
    "quant": {
        "name": "Quantitative literacy", "achievement_type": "MicroCredential",
        "description": "Reads and reasons with introductory statistics and climate and energy figures.",
        "criteria": "Pass the timed 'Statistics and climate' exam: at least 40 % in each section and 60 % overall.",
        "credits": 2.0, "credit_framework": "ECTS", "level": "EQF level 5", "field_of_study": "Statistics",
        "alignments": [{"targetName": "Use statistics", "targetUrl": ESCO + "statistics", "targetFramework": "ESCO"}],
    },
    "digital": {
        "name": "Digital foundations", "achievement_type": "Certificate",
        "description": "Stacks web security and quantitative literacy into a foundations certificate.",
        "criteria": "Hold both the Web security basics badge and the Quantitative literacy micro-credential.",
        "credits": 3.0, "credit_framework": "ECTS", "level": "EQF level 5", "field_of_study": "Digital skills",
        "pathway_keys": ["websec", "quant"],
    },
}
#: demo exam external id -> the achievement it awards.
EXAM_AWARDS = {"demo-websec-quick": "websec", "demo-stats-climate-timed": "quant"}


def _find(session: Session, owner: User, name: str) -> Achievement | None:
    return session.scalar(select(Achievement).where(Achievement.owner_id == owner.id, Achievement.name == name))


def demo_award(session: Session, exam_key: str) -> dict:
    """The definition fields that make a demo exam award its achievement ({} for the others)."""
    key = EXAM_AWARDS.get(exam_key)
    if key is None:
        return {}
    achievement = session.scalar(select(Achievement).where(Achievement.name == DEMO_ACHIEVEMENTS[key]["name"])
                                 .order_by(Achievement.id).limit(1))
    return {"achievement_id": achievement.id} if achievement is not None else {}


def seed_credentials_demo(app: Flask, session: Session, users: dict[str, User]) -> str:
    """Make sure an issuer key and the demo achievements exist; link demo exams published without them."""
    from . import services
    ring, created_key = ensure_ring(app)
    owner = users["instructor"]
    now = utcnow()
    ids: dict[str, int] = {}
    created = 0
    for key, spec in DEMO_ACHIEVEMENTS.items():
        existing = _find(session, owner, spec["name"])
        if existing is None:
            data = {k: v for k, v in spec.items() if k != "pathway_keys"}
            if "pathway_keys" in spec:
                data["pathway"] = {"components": [ids[k] for k in spec["pathway_keys"]], "required": None,
                                   "min_credits": None}
            existing = services.create_achievement(session, owner, data, now=now)
            created += 1
        ids[key] = existing.id
    linked = _link_existing_exams(session, owner, ids, now)
    key_note = "generated" if created_key else "present"
    return (f"demo achievements: {len(ids)} ({created} new; 'Digital foundations' stacks the other two), "
            f"{linked} existing exam(s) linked; issuer key {key_note}: {ring.current.did}")


def _link_existing_exams(session: Session, owner: User, ids: dict[str, int], now) -> int:  # noqa: ANN001
    """Demo exams seeded before credentials existed get a new published version that awards their achievement."""
    from ..exams import services as exam_services
    from ..exams.models import Exam
    linked = 0
    for exam_key, achievement_key in EXAM_AWARDS.items():
        exam = session.scalar(select(Exam).where(Exam.external_id == exam_key))
        if exam is None or exam.live_version is None:
            continue
        live = exam_services.version_of(session, exam, exam.live_version)
        if live.definition.get("achievement_id") == ids[achievement_key]:
            continue
        definition = {k: v for k, v in live.definition.items() if k != "resolved"}
        definition["achievement_id"] = ids[achievement_key]
        try:
            with session.begin_nested():
                exam_services.update_exam(session, owner, exam.id, definition, now=now)
                exam_services.publish_exam(session, owner, exam.id, now=now)
            linked += 1
        except Exception:  # noqa: BLE001 - the demo still works without the award
            log.exception("could not link demo exam to its achievement", extra={"exam": exam_key})
    return linked
