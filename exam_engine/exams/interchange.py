"""QTI assessment tests <-> exams: drafts from imported tests, and exam export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from item_bank import interchange
from item_bank.errors import DomainError
from item_bank.models import ItemVersion

from ..db import utcnow
from . import services
from .models import Exam
from .schemas import ExamDefinitionSchema


def exam_draft_from_test(session: Session, user: Any, bank_id: int, test, item_ids: dict[str, int]) -> dict:  # noqa: ANN001
    """Write (or re-version) the exam draft of an imported QTI assessment test."""
    sections = []
    for sec in test.sections:
        ids = [item_ids[i] for i in sec.item_identifiers]
        section: dict[str, Any] = {"id": _ident(sec.identifier), "title": sec.title or sec.identifier,
                                   "shuffle_items": bool(sec.shuffle)}
        if sec.select and sec.select < len(ids):
            section.update(pool={"item_ids": ids}, draw=sec.select)
        else:
            section["items"] = ids
        sections.append(section)
    raw: dict[str, Any] = {"title": test.title or test.identifier, "sections": sections}
    if test.max_time_s:
        raw["time_limit_s"] = max(10, int(test.max_time_s))
    try:
        definition = ExamDefinitionSchema().load(raw)
    except Exception as exc:  # noqa: BLE001 - reported, never raised: the items are already in
        return {"identifier": test.identifier, "status": "skipped", "reasons": [f"exam draft invalid: {exc}"]}
    external = f"qti:{bank_id}:{test.identifier}"[:200]
    existing = session.scalar(select(Exam).where(Exam.external_id == external))
    try:
        if existing is None:
            version = services.create_exam(session, user, definition, external_id=external, now=utcnow())
            action = "created"
        else:
            version = services.update_exam(session, user, existing.id, definition, now=utcnow())
            action = "updated"
    except DomainError as exc:
        return {"identifier": test.identifier, "status": "skipped", "reasons": [f"{exc.code}: {exc.message}"]}
    return {"identifier": test.identifier, "status": "imported", "exam_id": version.exam_id, "version": version.version,
            "action": action, "reasons": []}


def _ident(value: str) -> str:
    import re
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", value or "section")[:64]
    return clean if re.match(r"^[A-Za-z_]", clean) else f"s_{clean}"[:64]


def export_exam(session: Session, user: Any, exam_id: int, *, progress=None, xsd_dir: str | None = None) -> bytes:  # noqa: ANN001
    """The exam (its latest version) and every item it can draw, as a QTI 3.0 package."""
    exam = services.managed_exam(session, user, exam_id)
    version = services.version_of(session, exam)
    defn = version.definition
    if "resolved" in defn:
        candidates = defn["resolved"]["candidates"]
    else:
        candidates, _ = services.resolve_sections(session, defn)
    vids = sorted({v for vs in candidates.values() for v in vs})
    versions = {v.id: v for v in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(vids)))}
    ident = {vid: versions[vid].item.external_id or f"item-{versions[vid].item_id}" for vid in vids}
    sections = []
    for sec in defn["sections"]:
        ids = [ident[v] for v in candidates[sec["id"]]]
        sections.append({"identifier": sec["id"], "title": sec.get("title") or sec["id"], "item_identifiers": ids,
                         "select": sec.get("draw"), "shuffle": bool(sec.get("shuffle_items"))})
    exam_dict: dict[str, Any] = {"identifier": exam.external_id or f"exam-{exam.id}", "title": version.title,
                                 "sections": sections}
    if defn.get("time_limit_s"):
        exam_dict["time_limit_s"] = defn["time_limit_s"]
    return interchange.export_versions(session, [versions[v] for v in vids], exam_dict, progress=progress,
                                       xsd_dir=xsd_dir)


def register() -> None:
    if exam_draft_from_test not in interchange.EXAM_DRAFT_WRITER:
        interchange.EXAM_DRAFT_WRITER.append(exam_draft_from_test)

