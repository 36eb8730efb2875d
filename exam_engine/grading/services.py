"""Grading services: the essay marking queue, rescoring after a key correction, item analysis, calibration."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Any, Callable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from scoring import batch as score_batch
from scoring import ctt
from item_bank.errors import Forbidden, NotFound, ValidationFailed
from item_bank.models import ItemVersion
from item_bank.validation import validate_item

from ..auth.models import User
from ..exams import services as exam_services
from ..exams.models import ExamKeyOverride, ExamVersion
from ..sessions import eventlog
from ..sessions import services as session_services
from ..sessions.models import ExamSession, SessionResponse
from ..sessions.statuses import Status
from .models import ManualMark

SCORED = (Status.SCORED.value, Status.PENDING_GRADING.value)


def _managed(session: Session, user: User, exam_id: int):  # noqa: ANN202
    if user.role not in ("instructor", "admin"):
        raise Forbidden("only instructors grade", code="role_required")
    return exam_services.managed_exam(session, user, exam_id)


def _marking(defn: dict) -> dict:
    return {"required_markers": 1, "rule": "average", "max_difference": None, "third_rule": "closest_pair",
            **(defn.get("marking") or {})}


# --- the essay marking queue ---------------------------------------------------------

def queue(session: Session, user: User, exam_id: int) -> list[dict]:
    """Essay responses still waiting for a mark from this marker (blind: other markers' marks are not shown)."""
    exam = _managed(session, user, exam_id)
    attempts = session.scalars(select(ExamSession).where(ExamSession.exam_id == exam.id,
                                                         ExamSession.status == Status.PENDING_GRADING.value)
                               .order_by(ExamSession.submitted_at)).all()
    out = []
    for attempt in attempts:
        version = session.get(ExamVersion, attempt.exam_version_id)
        marking = _marking(version.definition)
        for item_id in attempt.result.get("pending_item_ids", []):
            entry = next(e for e in attempt.form if str(e["item_id"]) == str(item_id))
            item = session.get(ItemVersion, entry["version_id"])
            marks = session.scalars(select(ManualMark).where(ManualMark.session_id == attempt.id,
                                                             ManualMark.item_id == entry["item_id"])).all()
            if any(m.marker_id == user.id for m in marks):
                continue
            row = session.scalar(select(SessionResponse).where(SessionResponse.session_id == attempt.id,
                                                               SessionResponse.item_id == entry["item_id"]))
            out.append({"session_id": attempt.id, "item_id": entry["item_id"], "title": item.title, "stem": item.stem,
                        "response": row.response if row else None, "rubric": item.scoring.get("rubric"),
                        "points": item.scoring.get("points", 1), "marks_so_far": len(marks),
                        "required_markers": marking["required_markers"],
                        # Pseudonymous: markers grade the answer, not the person.
                        "candidate": f"candidate-{attempt.id[:8]}", "submitted_at": attempt.submitted_at})
    return out


def mark(session: Session, user: User, session_id: str, item_id: int, *, levels: dict[str, int], comment: str,
         now: datetime) -> dict:
    """Record one marker's rubric choices; when the marks resolve, the attempt is rescored (and may pass)."""
    attempt = session_services.load_attempt(session, session_id, lock=True)
    _managed(session, user, attempt.exam_id)
    entry = next((e for e in attempt.form if e["item_id"] == item_id), None)
    if entry is None:
        raise NotFound(f"item {item_id} is not on this attempt", code="unknown_item")
    item = session.get(ItemVersion, entry["version_id"])
    if item.type != "extended_text":
        raise ValidationFailed("only essay (extended_text) items are marked by hand", code="not_manual")
    key = session_services.key_overrides(session, attempt.exam_id).get(item_id, item.scoring)
    try:
        marker_score = scoring.rubric.rubric_score(key, levels)
    except scoring.ScoringError as exc:
        raise ValidationFailed(str(exc), code="invalid_marks", details={"levels": [str(exc)]}) from None
    existing = session.scalars(select(ManualMark).where(ManualMark.session_id == attempt.id, ManualMark.item_id == item_id)
                               .order_by(ManualMark.id)).all()
    if any(m.marker_id == user.id for m in existing):
        raise ValidationFailed("you have already marked this response", code="already_marked", status=409)
    role = ("first", "second", "third")[min(len(existing), 2)]
    session.add(ManualMark(session_id=attempt.id, item_id=item_id, marker_id=user.id, levels=levels,
                           score=marker_score, comment=comment, created_at=now, role=role))
    version = session.get(ExamVersion, attempt.exam_version_id)
    m = _marking(version.definition)
    all_levels = [mm.levels for mm in existing] + [levels]
    item_score = scoring.rubric.grade_manual(key, all_levels, rule=m["rule"], required_markers=m["required_markers"],
                                             max_difference=m["max_difference"], third_rule=m["third_rule"])
    row = session.scalar(select(SessionResponse).where(SessionResponse.session_id == attempt.id,
                                                       SessionResponse.item_id == item_id))
    if row is None:
        row = SessionResponse(session_id=attempt.id, item_id=item_id, response=None, seq=0, saved_at=now)
        session.add(row)
    eventlog.append(session, attempt, "manual_mark", {"item_id": item_id, "marker_role": role, "score": marker_score,
                                                      "resolved": not item_score.is_pending_manual},
                    at=now, actor_id=user.id)
    if not item_score.is_pending_manual:
        row.item_score = {"manual": {"score": item_score.score, "detail": dict(item_score.detail)}}
        session.flush()
        session_services.score(session, attempt, now=now, reason="manual_grade")
    session.flush()
    return {"session_id": attempt.id, "item_id": item_id, "marker_score": marker_score, "role": role,
            "resolved": not item_score.is_pending_manual, "needs_another_marker": item_score.is_pending_manual,
            "attempt_status": attempt.status, "passed": attempt.is_passed}


# --- rescoring -------------------------------------------------------------------------

def rescore(session: Session, user: User, exam_id: int, *, item_id: int, scoring_key: dict | None = None,
            use_latest_version: bool = False, reason: str = "", now: datetime) -> dict:
    """Correct an item's key for an exam (given, or the item's newest published version) and rescore every
    affected attempt in one vectorised batch; the old and new results go into each attempt's log."""
    exam = _managed(session, user, exam_id)
    attempts = session.scalars(select(ExamSession).where(ExamSession.exam_id == exam.id, ExamSession.status.in_(SCORED))
                               .order_by(ExamSession.id).with_for_update()).all()
    affected = [a for a in attempts if any(e["item_id"] == item_id for e in a.form)]
    pinned = {e["version_id"] for a in affected for e in a.form if e["item_id"] == item_id}
    if use_latest_version:
        newest = session.scalar(select(ItemVersion).where(ItemVersion.item_id == item_id, ItemVersion.status == "published")
                                .order_by(ItemVersion.version.desc()).limit(1))
        if newest is None:
            raise NotFound(f"item {item_id} has no published version", code="item_not_found")
        scoring_key = newest.scoring
    if scoring_key is None:
        raise ValidationFailed("give the corrected `scoring` or use_latest_version", code="validation_error")
    # The corrected key must be valid for the item as it was delivered.
    for version_id in pinned or {None}:
        base = session.get(ItemVersion, version_id) if version_id else session.scalar(
            select(ItemVersion).where(ItemVersion.item_id == item_id).order_by(ItemVersion.version.desc()).limit(1))
        if base is None:
            raise NotFound(f"no item {item_id}", code="item_not_found")
        scoring_key = validate_item({**_content(base), "scoring": scoring_key})["scoring"]
    override = session.scalar(select(ExamKeyOverride).where(ExamKeyOverride.exam_id == exam.id,
                                                            ExamKeyOverride.item_id == item_id))
    if override is None:
        override = ExamKeyOverride(exam_id=exam.id, item_id=item_id, scoring=scoring_key, reason=reason,
                                   created_by=user.id, created_at=now)
        session.add(override)
    else:
        override.scoring, override.reason = scoring_key, reason
    session.flush()
    graded_by_attempt = grade_attempts(session, affected, session_services.key_overrides(session, exam.id))
    changes = []
    for attempt in affected:
        old = dict(attempt.result or {})
        session_services.score(session, attempt, now=now, graded=graded_by_attempt[attempt.id], reason="rescore")
        new = attempt.result
        eventlog.append(session, attempt, "rescore", {"item_id": item_id, "reason": reason,
                                                      "old": {"score": old.get("score"), "status": old.get("status"),
                                                              "passed": old.get("passed")},
                                                      "new": {"score": new.get("score"), "status": new.get("status"),
                                                              "passed": new.get("passed")}},
                        at=now, actor_id=user.id)
        if old.get("status") != new.get("status"):
            changes.append({"session_id": attempt.id, "user_id": attempt.user_id, "old_status": old.get("status"),
                            "new_status": new.get("status"), "old_score": old.get("score"), "new_score": new.get("score")})
    session.flush()
    return {"exam_id": exam.id, "item_id": item_id, "rescored": len(affected), "decision_changes": changes}


def _content(version: ItemVersion) -> dict:
    return {"type": version.type, "title": version.title, "stem": version.stem, "interaction": version.interaction,
            "scoring": version.scoring, "metadata": version.item_metadata}


def grade_attempts(session: Session, attempts: list[ExamSession], overrides: dict[int, dict]) -> dict[str, list[dict]]:
    """Grade every (attempt, item) of many attempts with one vectorised batch (scoring.batch)."""
    if not attempts:
        return {}
    version_ids = sorted({e["version_id"] for a in attempts for e in a.form})
    versions = {v.id: v for v in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(version_ids)))}
    index_of = {vid: i for i, vid in enumerate(version_ids)}
    compiled_items = [{"type": versions[v].type, "interaction": versions[v].interaction,
                       "scoring": overrides.get(versions[v].item_id, versions[v].scoring)} for v in version_ids]
    ids = [a.id for a in attempts]
    responses = {(r.session_id, r.item_id): r for r in session.scalars(
        select(SessionResponse).where(SessionResponse.session_id.in_(ids)))}
    rows, item_index, resp = [], [], []
    for a in attempts:
        for e in a.form:
            r = responses.get((a.id, e["item_id"]))
            rows.append((a, e, r))
            item_index.append(index_of[e["version_id"]])
            resp.append(r.response if r else None)
    scores = score_batch.grade_batch(compiled_items, item_index, resp)
    out: dict[str, list[dict]] = {a.id: [] for a in attempts}
    for k, (a, e, r) in enumerate(rows):
        manual = session_services.manual_mark(r)
        if manual is not None:
            s = session_services.manual_item_score(manual, scores.max_score[k], scores.weight[k])
        else:
            s = scoring.ItemScore(score=float(scores.score[k]), max_score=float(scores.max_score[k]),
                                  is_correct=bool(scores.is_correct[k]), is_pending_manual=bool(scores.is_pending_manual[k]),
                                  detail={"batch": True}, weight=float(scores.weight[k]))
        out[a.id].append({"item_id": str(e["item_id"]), "section": e["section_id"], "score": s})
    return out


# --- item analysis -----------------------------------------------------------------------

def _scored_attempts(session: Session, exam_id: int) -> list[ExamSession]:
    return list(session.scalars(select(ExamSession).where(ExamSession.exam_id == exam_id,
                                                          ExamSession.status == Status.SCORED.value)
                                .order_by(ExamSession.id)))


def analysis(session: Session, user: User, exam_id: int) -> dict:
    """Classical item analysis of an exam's scored attempts (items not on a form count as missing)."""
    exam = _managed(session, user, exam_id)
    attempts = _scored_attempts(session, exam.id)
    if len(attempts) < 2:
        raise ValidationFailed("item analysis needs at least two scored attempts", code="not_enough_data")
    item_ids = sorted({int(i) for a in attempts for i in a.result["items"]})
    col = {iid: j for j, iid in enumerate(item_ids)}
    x = np.full((len(attempts), len(item_ids)), np.nan)
    maxima = np.ones(len(item_ids))
    for r, a in enumerate(attempts):
        for iid, s in a.result["items"].items():
            x[r, col[int(iid)]] = s["score"]
            maxima[col[int(iid)]] = max(s["max_score"], 1e-9)
    res = ctt.item_analysis(x, max_scores=maxima, item_ids=[str(i) for i in item_ids])
    titles = {}
    keys: dict[int, Any] = {}
    version_ids = {e["item_id"]: e["version_id"] for a in attempts for e in a.form}
    for iid, vid in version_ids.items():
        v = session.get(ItemVersion, vid)
        titles[iid] = v.title
        if v.type == "choice" and v.interaction.get("max_choices") == 1 and len(v.scoring.get("correct", [])) == 1:
            keys[iid] = v.scoring["correct"][0]
    # Distractor analysis for single-answer choice items.
    distractors = {}
    if keys:
        kid = sorted(keys)
        responses = {(r.session_id, r.item_id): r.response for r in session.scalars(
            select(SessionResponse).where(SessionResponse.session_id.in_([a.id for a in attempts]),
                                          SessionResponse.item_id.in_(kid)))}
        choices = np.empty((len(attempts), len(kid)), dtype=object)
        for r, a in enumerate(attempts):
            for j, iid in enumerate(kid):
                resp = responses.get((a.id, iid))
                choices[r, j] = resp[0] if isinstance(resp, list) and resp else None
        totals = np.array([a.score or 0.0 for a in attempts])
        per_item = ctt.distractor_analysis(choices, [keys[i] for i in kid], totals)
        distractors = {str(iid): [_clean(o.__dict__) for o in opts] for iid, opts in zip(kid, per_item)}
    data = _clean(res.to_dict())
    for item in data["items"]:
        item["title"] = titles.get(int(item["item_id"]), "")
        item["distractors"] = distractors.get(item["item_id"])
    data["exam_id"] = exam.id
    return data


def analysis_csv(data: dict) -> str:
    """The per-item rows of an analysis as CSV."""
    columns = ["item_id", "title", "n", "p", "mean", "sd", "point_biserial_corrected", "point_biserial",
               "discrimination_index", "p_upper", "p_lower", "alpha_if_deleted"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in data["items"]:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buf.getvalue()


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, (np.floating,)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


# --- IRT calibration -----------------------------------------------------------------------

def calibrate_exam(session: Session, user: User, exam_id: int, *, model: str = "2PL", write: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Calibrate the exam's dichotomously scored items from its scored attempts; optionally write a, b, c back."""
    exam = _managed(session, user, exam_id)
    attempts = _scored_attempts(session, exam.id)
    if len(attempts) < 10:
        raise ValidationFailed("calibration needs at least 10 scored attempts", code="not_enough_data")
    item_ids = sorted({int(i) for a in attempts for i in a.result["items"]})
    x = np.full((len(attempts), len(item_ids)), np.nan)
    col = {iid: j for j, iid in enumerate(item_ids)}
    for r, a in enumerate(attempts):
        for iid, s in a.result["items"].items():
            if not s.get("is_pending_manual"):
                x[r, col[int(iid)]] = 1.0 if s["is_correct"] else 0.0
    if progress:
        progress(f"calibrating {model} on {len(attempts)} attempts x {len(item_ids)} items")
    try:
        cal = scoring.irt.calibrate(x, model)
    except scoring.ScoringError as exc:
        raise ValidationFailed(f"calibration failed: {exc}", code="calibration_failed") from None
    items = []
    written = 0
    for j, iid in enumerate(item_ids):
        params = cal.item_metadata(j)
        entry = {"item_id": iid, "irt": params, "flag": cal.flags.get(j),
                 "se_a": _clean(float(cal.se_a[j])), "se_b": _clean(float(cal.se_b[j]))}
        items.append(entry)
        if write and params is not None and cal.converged:
            written += write_irt(session, iid, {**params, "model": model, "se_a": entry["se_a"], "se_b": entry["se_b"]})
    if progress:
        progress(f"{'converged' if cal.converged else 'NOT converged'} after {cal.n_iter} iterations; {written} items written")
    return {"exam_id": exam.id, "model": model, "converged": cal.converged, "message": cal.message,
            "n_iter": cal.n_iter, "loglik": _clean(cal.loglik), "n_attempts": len(attempts), "items": items,
            "written": written}


def write_irt(session: Session, item_id: int, irt: dict) -> int:
    """Store calibrated parameters on the item's newest published version (statistics, not content: allowed
    on a frozen version)."""
    version = session.scalar(select(ItemVersion).where(ItemVersion.item_id == item_id, ItemVersion.status == "published")
                             .order_by(ItemVersion.version.desc()).limit(1))
    if version is None:
        return 0
    clean = {k: v for k, v in irt.items() if v is not None}
    version.item_metadata = {**version.item_metadata, "irt": clean}
    return 1
