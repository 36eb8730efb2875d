"""QTI assessment tests into exam drafts: flattened sections with their
selection, ordering and time limits."""

from __future__ import annotations

import posixpath
from typing import Iterable

from .context import element_children, first_child
from .model import IMPORTED, PARTIAL, SKIPPED, ImportedSection, ImportedTest, ReportEntry
from .normalize import normalize
from .safety import resolve_ref


def _duration(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def convert_test(root, path: str, path_to_id: dict[str, list[str]], known_ids: Iterable[str]) -> tuple[ImportedTest | None, ReportEntry]:
    """Convert an assessment test into an exam draft: flattened sections with their rules."""
    root = normalize(root)
    identifier = root.get("identifier") or posixpath.basename(path)
    title = root.get("title") or identifier
    reasons: list[str] = []
    partial = False
    sections: list[ImportedSection] = []
    known = set(known_ids)
    test_limits = first_child(root, "qti-time-limits")
    max_t = _duration(test_limits.get("max-time")) if test_limits is not None else None
    min_t = _duration(test_limits.get("min-time")) if test_limits is not None else None
    parts = element_children(root, "qti-test-part")
    for part in parts:
        pl = first_child(part, "qti-time-limits")
        if pl is not None and _duration(pl.get("max-time")) is not None:
            if len(parts) == 1 and max_t is None:
                max_t = _duration(pl.get("max-time"))
                min_t = _duration(pl.get("min-time"))
            else:
                reasons.append(f"time limit of test part {part.get('identifier')} not kept (several parts)")
                partial = True
        for sec in element_children(part, "qti-assessment-section"):
            partial |= _walk_section(sec, path, path_to_id, known, sections, reasons, depth=0)
    if any(first_child(p, "qti-branch-rule") is not None or p.find(".//qti-branch-rule") is not None or p.find(".//qti-pre-condition") is not None for p in parts):
        reasons.append("branching and preconditions not imported (our exams present every section)")
        partial = True
    if root.find("qti-outcome-processing") is not None:
        reasons.append("test-level outcome processing not imported: the exam's scoring and pass threshold are set in our engine")
        partial = True
    if len(parts) > 1:
        reasons.append(f"{len(parts)} test parts flattened into one list of sections")
    for marker, summary in (("is not in the input", "item refs are not in the input (kept by identifier)"),
                            ("is a skipped item", "item refs are skipped items (left out of their sections)")):
        hits = [r for r in reasons if r.startswith("item ref ") and marker in r]
        if len(hits) > 3:
            reasons = [r for r in reasons if r not in hits]
            reasons.insert(0, f"{len(hits)} {summary}: " + ", ".join(h.split()[2] for h in hits))
    if not sections:
        return None, ReportEntry(identifier, SKIPPED, reasons + ["no section with items"], kind="test", source_path=path)
    test = ImportedTest(identifier, title, sections, max_time_s=max_t, min_time_s=min_t, source_path=path)
    return test, ReportEntry(identifier, PARTIAL if partial else IMPORTED, reasons, kind="test", source_path=path)


def _walk_section(sec, path, path_to_id, known, sections, reasons, depth) -> bool:
    partial = False
    sel = first_child(sec, "qti-selection")
    order = first_child(sec, "qti-ordering")
    limits = first_child(sec, "qti-time-limits")
    item_ids = []
    subsections = []
    for child in element_children(sec):
        if child.tag == "qti-assessment-item-ref":
            href = child.get("href") or ""
            target = resolve_ref(path, href)
            idents = path_to_id.get(target) if target else None
            ident = child.get("identifier")
            if idents is None:  # not in the input: it may already be in the bank
                if ident not in known:
                    reasons.append(f"item ref {ident} ({href}) is not in the input; kept by identifier")
                    partial = True
                idents = [ident]
            elif not idents:
                reasons.append(f"item ref {ident} ({href}) is a skipped item; left out of the section")
                partial = True
            item_ids.extend(idents)
        elif child.tag == "qti-assessment-section":
            subsections.append(child)
        elif child.tag == "qti-assessment-section-ref":
            reasons.append(f"section ref {child.get('href')} not followed")
            partial = True
    if subsections and (sel is not None or (order is not None and order.get("shuffle") == "true")):
        reasons.append(f"selection/ordering of section {sec.get('identifier')} applies to its subsections, which are flattened; rule kept on its own items only")
        partial = True
    if item_ids or not subsections:
        sections.append(ImportedSection(
            identifier=sec.get("identifier") or f"S{len(sections) + 1}",
            title=sec.get("title") or sec.get("identifier") or "",
            item_identifiers=item_ids,
            select=int(sel.get("select")) if sel is not None and sel.get("select") else None,
            with_replacement=(sel is not None and sel.get("with-replacement") == "true"),
            shuffle=(order is not None and order.get("shuffle") == "true"),
            max_time_s=_duration(limits.get("max-time")) if limits is not None else None,
            min_time_s=_duration(limits.get("min-time")) if limits is not None else None,
        ))
    for sub in subsections:
        partial |= _walk_section(sub, path, path_to_id, known, sections, reasons, depth + 1)
    if depth == 0 and subsections:
        reasons.append(f"nested sections of {sec.get('identifier')} flattened")
    return partial
