"""Plain-data value types shared by the scoring package.

All are frozen dataclasses: they are results, not state. ``to_dict`` gives the
JSON-able form the engine stores or sends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

#: Relative tolerance used when comparing a score with its maximum.
SCORE_EPS = 1e-9


@dataclass(frozen=True)
class ItemKey:
    """An item as the grader sees it: its type, its ``scoring`` dict and its ``interaction``."""

    #: item type name (``choice``, ``numeric``, ...)
    item_type: str
    #: the item's ``scoring`` dict (key and partial-credit rule), see docs/items.md
    scoring: Mapping[str, Any]
    #: the item's ``interaction`` dict (options, gaps, ...), or None when unknown
    interaction: Mapping[str, Any] | None = None
    #: the item's id, when the caller has one (only carried along)
    item_id: str | None = None


@dataclass(frozen=True)
class ItemScore:
    """The score of one response to one item (unweighted)."""

    #: points earned, within [floor, max_score]
    score: float
    #: the item's maximum (``scoring.points``)
    max_score: float
    #: full marks
    is_correct: bool
    #: waiting for a human grade (extended_text); ``score`` is then 0 and provisional
    is_pending_manual: bool = False
    #: rule-specific detail (rule name, matched answer, counts, ...), JSON-able
    detail: Mapping[str, Any] = field(default_factory=dict)
    #: multiplier applied when aggregating (``scoring.weight``)
    weight: float = 1.0

    @property
    def fraction(self) -> float:
        """Score as a fraction of the maximum (may be negative with a floor below 0)."""
        return self.score / self.max_score if self.max_score else 0.0

    def to_dict(self) -> dict:
        """JSON-able form."""
        d = asdict(self)
        d["detail"] = dict(self.detail)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ItemScore":
        """Inverse of :meth:`to_dict`."""
        return cls(
            score=float(data["score"]),
            max_score=float(data["max_score"]),
            is_correct=bool(data["is_correct"]),
            is_pending_manual=bool(data.get("is_pending_manual", False)),
            detail=dict(data.get("detail") or {}),
            weight=float(data.get("weight", 1.0)),
        )


@dataclass(frozen=True)
class ScoredItem:
    """One item of an attempt, ready to aggregate: where it counts and what it scored."""

    item_id: str
    score: ItemScore
    #: blueprint section the item counts in (None: no section)
    section: str | None = None
    #: overrides ``score.weight`` when given
    weight: float | None = None

    @property
    def effective_weight(self) -> float:
        return self.score.weight if self.weight is None else float(self.weight)
