"""Adaptive delivery: the next item is chosen on the server after each answer (scoring.cat).

The attempt stores only the CAT state; the bank (a, b, c of the exam's pinned
candidates) comes from the published exam version, so any worker can serve
the next step. The learner's client receives one item at a time: `next`
grades the current answer, updates the ability estimate and returns the next
item, or `done` with the estimate when a stop rule fires.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from scoring import cat
from item_bank.delivery import delivery_view
from item_bank.errors import ValidationFailed
from item_bank.models import ItemVersion
from item_bank.services import version_as_dict

from ..exams.models import ExamVersion
from . import eventlog
from .models import ExamSession, SessionResponse


def resolve_bank(session: Session, defn: dict, candidates: dict[str, list[int]]) -> dict[str, dict]:
    """At publication: every candidate's IRT parameters (refuses items without them)."""
    ids = sorted({v for vs in candidates.values() for v in vs})
    versions = {v.id: v for v in session.scalars(select(ItemVersion).where(ItemVersion.id.in_(ids)))}
    params, missing = {}, []
    for sec, vids in candidates.items():
        for vid in vids:
            irt = (versions[vid].item_metadata or {}).get("irt")
            if not irt or irt.get("a") is None or irt.get("b") is None:
                missing.append(vid)
                continue
            params[str(vid)] = {"a": irt["a"], "b": irt["b"], "c": irt.get("c", 0.0), "section": sec}
    if missing:
        raise ValidationFailed(f"adaptive exams need calibrated items: {len(missing)} candidate(s) have no IRT "
                               "parameters (metadata.irt)", code="exam_not_assemblable",
                               details={"sections": [f"item version {v} has no metadata.irt" for v in missing[:20]]})
    if len(params) < defn["adaptive"]["max_length"]:
        raise ValidationFailed("the pools hold fewer calibrated items than max_length", code="exam_not_assemblable",
                               details={"adaptive.max_length": [f"only {len(params)} calibrated items"]})
    return params


def _bank(defn: dict) -> tuple[cat.ItemBank, list[int]]:
    params = defn["resolved"]["irt"]
    vids = sorted(int(v) for v in params)
    rows = [{"item_id": str(v), **params[str(v)]} for v in vids]
    return cat.ItemBank.from_items(rows), vids


def _config(defn: dict) -> cat.CatConfig:
    a = defn["adaptive"]
    sections = [s["id"] for s in defn["sections"]]
    blueprint = a.get("blueprint") or ({s: 1.0 / len(sections) for s in sections} if len(sections) > 1 else None)
    return cat.CatConfig(max_length=a["max_length"], min_length=min(a["min_length"], a["max_length"]),
                         target_se=a.get("target_se"), blueprint=blueprint, randomesque=a.get("randomesque", 1))


def _rng(seed: str, step: int) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}:{step}".encode()).digest()[:8], "big"))


def _entry(defn: dict, vid: int) -> dict:
    item_of = {int(k): v for k, v in defn["resolved"]["item_of"].items()}
    return {"item_id": item_of[vid], "version_id": vid, "section_id": defn["resolved"]["irt"][str(vid)]["section"]}


def first_form(defn: dict, seed: str) -> tuple[list[dict], dict]:
    """The form of a new adaptive attempt (its first item) and the initial state."""
    bank, vids = _bank(defn)
    step, state = cat.next_step(bank, cat.CatState(), _config(defn), rng=_rng(seed, 0))
    return [_entry(defn, vids[step.item_index])], {**state.to_dict(), "theta": step.theta, "se": step.se,
                                                   "current": step.item_index, "done": False}


def advance(session: Session, attempt: ExamSession, *, now: datetime, actor_id: int) -> dict:
    """Grade the current item, update the estimate, and choose the next item (or stop)."""
    defn = session.get(ExamVersion, attempt.exam_version_id).definition
    st = dict(attempt.adaptive_state)
    if st.get("done"):
        return {"done": True, "theta": st["theta"], "se": st["se"], "stop_reason": st.get("stop_reason")}
    bank, vids = _bank(defn)
    current = st["current"]
    entry = attempt.form[-1]
    version = session.get(ItemVersion, entry["version_id"])
    row = session.scalar(select(SessionResponse).where(SessionResponse.session_id == attempt.id,
                                                       SessionResponse.item_id == entry["item_id"]))
    response = row.response if row else None
    correct = scoring.grade_item(version.type, version.scoring, response, version.interaction).is_correct
    state = cat.CatState.from_dict(st).record(current, correct)
    step, state = cat.next_step(bank, state, _config(defn), rng=_rng(attempt.seed, len(state.administered)))
    new = {**state.to_dict(), "theta": step.theta, "se": step.se, "current": step.item_index,
           "done": step.item_index is None, "stop_reason": step.stop_reason}
    out: dict[str, Any] = {"theta": round(step.theta, 4), "se": round(step.se, 4), "answered": len(state.administered)}
    if step.item_index is None:
        out.update(done=True, stop_reason=step.stop_reason)
    else:
        nxt = _entry(defn, vids[step.item_index])
        attempt.form = [*attempt.form, nxt]
        attempt.position = len(attempt.form) - 1
        nv = session.get(ItemVersion, nxt["version_id"])
        view = delivery_view(nxt["item_id"], version_as_dict(nv), seed=f"{attempt.seed}:{nxt['item_id']}",
                             shuffle=defn.get("shuffle_options", True))
        view["section_id"] = nxt["section_id"]
        out.update(done=False, item=view, position=attempt.position)
    attempt.adaptive_state = new
    eventlog.append(session, attempt, "adaptive_step", {"item_id": entry["item_id"], "correct": bool(correct),
                                                        "theta": new["theta"], "se": new["se"],
                                                        "next_item_id": None if new["done"] else attempt.form[-1]["item_id"],
                                                        "stop_reason": new.get("stop_reason")},
                    at=now, actor_id=actor_id)
    return out


def summary(session: Session, attempt: ExamSession) -> dict | None:
    """The ability estimate of an adaptive attempt (EAP over what was answered), else None."""
    if not attempt.adaptive_state:
        return None
    defn = session.get(ExamVersion, attempt.exam_version_id).definition
    bank, _ = _bank(defn)
    st = attempt.adaptive_state
    state = cat.CatState(tuple(st["administered"]), tuple(st["responses"]), tuple(st.get("excluded", ())))
    theta, se = cat.estimate(bank, state, _config(defn))
    return {"theta": float(theta), "se": float(se)}
