"""QTI import into a bank and export out of it: the database side of item_bank.qti.

Import writes items (new ones, or new versions of items whose QTI identifier
the bank already holds: re-importing never duplicates), stores media in the
bank, and returns the per-item report with nothing dropped silently.
"""

from __future__ import annotations

import mimetypes
import re
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import qti
from . import services
from .errors import DomainError, ValidationFailed
from .models import Item, ItemVersion, Media
from .validation import validate_item

Progress = Callable[..., None]
_MEDIA_URL = re.compile(r"/api/v1/banks/(\d+)/media/(\d+)/([A-Za-z0-9._-]+)")


def _media_url(media: Media) -> str:
    return f"/api/v1/banks/{media.bank_id}/media/{media.id}/{media.filename}"


def _replace_refs(content: Any, mapping: dict[str, str]) -> Any:
    """Replace media paths inside every HTML string of an item (stem, options...)."""
    if not mapping:
        return content
    if isinstance(content, str):
        for old, new in mapping.items():
            content = content.replace(f'"{old}"', f'"{new}"').replace(f"'{old}'", f"'{new}'")
        return content
    if isinstance(content, dict):
        return {k: _replace_refs(v, mapping) for k, v in content.items()}
    if isinstance(content, list):
        return [_replace_refs(v, mapping) for v in content]
    return content


def _same_content(version: ItemVersion, data: dict) -> bool:
    return services.version_as_dict(version) == data


def import_into_bank(session: Session, user: Any, bank_id: int, source: bytes, *, now: datetime, publish: bool = False,
                     max_media_bytes: int = 5 * 1024 * 1024, progress: Progress | None = None,
                     create_exams: bool = True) -> dict:
    """Import a QTI package or item file into a bank; returns {counts, items: [report...], exams: [...]}."""
    bank = services.get_bank(session, user, bank_id, services.EDIT)
    try:
        result = qti.import_package(source, progress=progress)
    except qti.QtiError as exc:
        raise ValidationFailed(exc.message, code=exc.code, status=getattr(exc, "http_status", 400)) from None
    report = {e.identifier: e.as_dict() for e in result.report}
    # Media first, so items can point at their bank URLs.
    mapping: dict[str, str] = {}
    for path, data in result.media.items():
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        try:
            media = services.upload_media(session, user, bank.id, filename=path, content_type=ctype, data=data,
                                          max_bytes=max_media_bytes)
            mapping[path] = _media_url(media)
        except DomainError as exc:
            for imported in result.items:
                if path in imported.media:
                    entry = report.setdefault(imported.identifier, {"identifier": imported.identifier, "kind": "item",
                                                                    "status": "partial", "reasons": []})
                    entry["reasons"].append(f"media {path!r} not stored: {exc.message}")
                    if entry["status"] == "imported":
                        entry["status"] = "partial"
    item_ids: dict[str, int] = {}
    for imported in result.items:
        entry = report.setdefault(imported.identifier, {"identifier": imported.identifier, "kind": "item",
                                                        "status": "imported", "reasons": []})
        data = _replace_refs(imported.item, mapping)
        try:
            clean = validate_item(data)
        except DomainError as exc:
            entry.update(status="skipped")
            entry["reasons"].append(f"{exc.code}: {exc.message}")
            continue
        existing = session.scalar(select(Item).where(Item.bank_id == bank.id, Item.external_id == imported.identifier))
        try:
            if existing is None:
                version = services.create_item(session, user, bank.id, clean, external_id=imported.identifier, now=now)
                entry["action"] = "created"
            else:
                latest = services.get_version(session, user, existing.id)
                if _same_content(latest, clean):
                    entry["action"] = "unchanged"
                    version = latest
                else:
                    version = services.update_item(session, user, existing.id, clean, now=now)
                    entry["action"] = "new_version" if version.version > latest.version else "updated_draft"
            if publish and version.status == "draft":
                services.publish_item(session, user, version.item_id, now=now)
        except DomainError as exc:
            entry.update(status="skipped")
            entry["reasons"].append(f"{exc.code}: {exc.message}")
            continue
        entry["item_id"], entry["version"] = version.item_id, version.version
        item_ids[imported.identifier] = version.item_id
    exams = []
    if create_exams:
        for test in result.tests:
            exams.append(_test_to_exam(session, user, bank.id, test, item_ids, report))
    session.flush()
    items = [e for e in report.values() if e.get("kind", "item") == "item"]
    counts: dict[str, int] = {}
    for e in items:
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    return {"bank_id": bank.id, "counts": counts, "items": items, "exams": exams,
            "tests": [e for e in report.values() if e.get("kind") == "test"]}


#: Set by the engine: fn(session, user, bank_id, test, item_ids) -> {"exam_id", "identifier", "action"} (exam drafts
#: belong to the engine, which item_bank must not import).
EXAM_DRAFT_WRITER: list = []


def _test_to_exam(session: Session, user: Any, bank_id: int, test: qti.ImportedTest, item_ids: dict[str, int],
                  report: dict) -> dict:
    missing = [i for s in test.sections for i in s.item_identifiers if i not in item_ids]
    if missing or not EXAM_DRAFT_WRITER:
        reason = f"items not imported: {', '.join(missing[:10])}" if missing else "exam drafts are not available"
        return {"identifier": test.identifier, "status": "skipped", "reasons": [reason]}
    return EXAM_DRAFT_WRITER[0](session, user, bank_id, test, item_ids)


def export_bank(session: Session, user: Any, bank_id: int, *, item_ids: list[int] | None = None,
                status: str | None = None, progress: Progress | None = None, xsd_dir: str | None = None) -> bytes:
    """A QTI 3.0 content package of a bank's items (latest version of each, or only the published ones)."""
    bank = services.get_bank(session, user, bank_id)
    query = services.PoolQuery(bank_ids=(bank.id,), item_ids=tuple(item_ids or ()), status=status)
    versions = services.draw_pool(session, query)
    return export_versions(session, versions, progress=progress, xsd_dir=xsd_dir)


def export_versions(session: Session, versions: list[ItemVersion], exam: dict | None = None,
                    progress: Progress | None = None, xsd_dir: str | None = None) -> bytes:
    """Export item versions (media embedded in the package) and an optional exam as QTI 3.0.

    With `xsd_dir` (the official QTI 3.0 XSDs), the package is validated before it is returned.
    """
    entries = []
    for v in versions:
        content = services.version_as_dict(v)
        media: dict[str, bytes] = {}
        mapping: dict[str, str] = {}
        for url in set(_MEDIA_URL.findall(str(content))):
            b, mid, name = url
            row = session.get(Media, int(mid))
            if row is not None and row.bank_id == int(b):
                path = f"media/{row.id}-{row.filename}"
                media[path] = row.data
                mapping[f"/api/v1/banks/{b}/media/{mid}/{name}"] = path
        entries.append({"identifier": v.item.external_id or f"item-{v.item_id}", "version": v.version,
                        "item": _replace_refs(content, mapping), "media": media})
    if not entries:
        raise ValidationFailed("nothing to export: no items match", code="nothing_to_export")
    try:
        return qti.export_package(entries, exam, progress=progress, xsd_dir=xsd_dir)
    except qti.QtiError as exc:
        raise ValidationFailed(exc.message, code=exc.code) from None
