"""Section and total scores of an attempt, its percentage and pass decision.

``score_attempt(items, policy=None, scale=None, theta=None)`` takes the graded
items of one attempt (``ScoredItem`` or dicts ``{"item_id", "section",
"score": ItemScore | dict, "weight"}``) and returns an :class:`AttemptResult`:
weighted totals, per-section totals, percentage, and — once no item is
pending manual grading — the pass decision. While an essay waits for its
grade, ``status`` is ``pending`` and ``passed`` is None.

``diff_decisions(old, new)`` lists the attempts whose pass decision changed
after a rescore.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from .errors import InvalidData
from .thresholds import LinearScale, PassDecision, PassPolicy, ThetaScale, decide, percentage
from .types import ItemScore, ScoredItem


@dataclass(frozen=True)
class SectionResult:
    score: float
    max_score: float
    percentage: float
    n_items: int
    n_pending: int

    @property
    def is_pending(self) -> bool:
        return self.n_pending > 0


@dataclass(frozen=True)
class AttemptResult:
    #: weighted sum of item scores
    score: float
    #: weighted sum of item maxima
    max_score: float
    percentage: float
    sections: Mapping[str, SectionResult]
    #: ``pending`` (a manual grade is missing), ``passed``, ``failed`` or ``scored`` (no policy)
    status: str
    #: True/False once decided; None while pending or without a policy
    passed: bool | None
    pending_item_ids: tuple[str, ...] = ()
    decision: PassDecision | None = None
    scaled_score: float | None = None
    theta: float | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sections"] = {k: asdict(v) for k, v in self.sections.items()}
        d["pending_item_ids"] = list(self.pending_item_ids)
        if self.decision is not None:
            d["decision"]["reasons"] = list(self.decision.reasons)
        return d


def _as_scored(item: ScoredItem | Mapping[str, Any]) -> ScoredItem:
    if isinstance(item, ScoredItem):
        return item
    if not isinstance(item, Mapping) or "score" not in item:
        raise InvalidData("each item must be a ScoredItem or a mapping with a 'score'")
    score = item["score"]
    if not isinstance(score, ItemScore):
        score = ItemScore.from_dict(score)
    return ScoredItem(item_id=str(item.get("item_id")), score=score, section=item.get("section"),
                      weight=item.get("weight"))


def score_attempt(items: Iterable[ScoredItem | Mapping[str, Any]], policy: PassPolicy | Mapping | None = None,
                  scale: LinearScale | ThetaScale | None = None, theta: float | None = None) -> AttemptResult:
    """Aggregate one attempt's graded items; see the module docstring."""
    if isinstance(policy, Mapping):
        policy = PassPolicy.from_dict(policy)
    scored = [_as_scored(i) for i in items]
    total = max_total = 0.0
    sec: dict[str, list] = {}
    pending: list[str] = []
    for it in scored:
        w = it.effective_weight
        if not math.isfinite(w) or w < 0:
            raise InvalidData(f"item {it.item_id!r} has an invalid weight")
        s, m = it.score.score * w, it.score.max_score * w
        if not (math.isfinite(s) and math.isfinite(m)):
            raise InvalidData(f"item {it.item_id!r} has a non-finite score")
        total += s
        max_total += m
        if it.score.is_pending_manual:
            pending.append(it.item_id)
        if it.section is not None:
            acc = sec.setdefault(it.section, [0.0, 0.0, 0, 0])
            acc[0] += s
            acc[1] += m
            acc[2] += 1
            acc[3] += int(it.score.is_pending_manual)
    sections = {k: SectionResult(v[0], v[1], percentage(v[0], v[1]), v[2], v[3]) for k, v in sec.items()}
    pct = percentage(total, max_total)
    scaled = None
    if isinstance(scale, ThetaScale):
        scaled = scale.apply(theta) if theta is not None else None
    elif isinstance(scale, LinearScale):
        scaled = scale.apply(total)
    if pending:
        return AttemptResult(total, max_total, pct, sections, "pending", None, tuple(pending), None, scaled, theta)
    if policy is None:
        return AttemptResult(total, max_total, pct, sections, "scored", None, (), None, scaled, theta)
    decision = decide(policy, score=total, max_score=max_total,
                      sections={k: (v.score, v.max_score) for k, v in sections.items()}, scaled=scaled, theta=theta)
    return AttemptResult(total, max_total, pct, sections, "passed" if decision.passed else "failed",
                         decision.passed, (), decision, scaled, theta)


@dataclass(frozen=True)
class DecisionChange:
    attempt_id: str
    old_status: str
    new_status: str
    old_score: float
    new_score: float


def diff_decisions(old: Mapping[str, AttemptResult], new: Mapping[str, AttemptResult]) -> list[DecisionChange]:
    """Attempts (present in both) whose status (passed/failed/pending) changed after a rescore."""
    out = []
    for attempt_id in sorted(set(old) & set(new), key=str):
        o, n = old[attempt_id], new[attempt_id]
        if o.status != n.status:
            out.append(DecisionChange(str(attempt_id), o.status, n.status, o.score, n.score))
    return out
