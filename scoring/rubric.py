"""Manual grading of ``extended_text`` with a rubric, and second marking.

A rubric (``scoring.rubric``) has criteria, each with levels worth points. A
marker picks one level per criterion; the item's score is the sum of the
chosen levels scaled so that the best levels give ``scoring.points``.

Second marking: each marker's score is computed alone, then
:func:`resolve_marks` combines them under a rule:

* ``average`` (default): the mean of the marks;
* ``highest`` / ``lowest``;
* ``first``: the first marker's score (the second only moderates).

With ``max_difference`` set, two marks further apart than it need a third
marker; once the third mark exists, ``third_rule`` decides: ``closest_pair``
(default: the mean of the two closest marks) or ``third_decides``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import InvalidResponse, InvalidScoringRule
from .graders import read_common
from .types import SCORE_EPS, ItemScore

RESOLUTION_RULES = ("average", "highest", "lowest", "first")
THIRD_RULES = ("closest_pair", "third_decides")


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    #: points of each level, in the rubric's order
    level_points: tuple[float, ...]

    @property
    def best(self) -> float:
        return max(self.level_points)


def parse_rubric(scoring: Mapping) -> list[Criterion]:
    """The rubric's criteria; :class:`InvalidScoringRule` when malformed."""
    rubric = scoring.get("rubric") if isinstance(scoring, Mapping) else None
    if not isinstance(rubric, Mapping) or not isinstance(rubric.get("criteria"), (list, tuple)) or not rubric["criteria"]:
        raise InvalidScoringRule("extended_text scoring.rubric.criteria must be a non-empty list")
    out, seen = [], set()
    for c in rubric["criteria"]:
        if not isinstance(c, Mapping) or not isinstance(c.get("id"), str):
            raise InvalidScoringRule("each rubric criterion needs a string id")
        if c["id"] in seen:
            raise InvalidScoringRule(f"duplicate rubric criterion {c['id']!r}")
        seen.add(c["id"])
        levels = c.get("levels")
        if not isinstance(levels, (list, tuple)) or not levels:
            raise InvalidScoringRule(f"criterion {c['id']!r} needs at least one level")
        pts = []
        for lv in levels:
            p = lv.get("points") if isinstance(lv, Mapping) else None
            if isinstance(p, bool) or not isinstance(p, (int, float)) or p != p or abs(p) == float("inf"):
                raise InvalidScoringRule(f"criterion {c['id']!r} has a level without finite points")
            pts.append(float(p))
        out.append(Criterion(c["id"], str(c.get("title", "")), tuple(pts)))
    if sum(c.best for c in out) <= 0:
        raise InvalidScoringRule("the rubric's best levels must sum to more than 0")
    return out


def rubric_score(scoring: Mapping, levels: Mapping[str, int]) -> float:
    """One marker's score: ``levels`` maps every criterion id to the index of its chosen level."""
    common = read_common(scoring)
    criteria = parse_rubric(scoring)
    if not isinstance(levels, Mapping):
        raise InvalidResponse("invalid_response_shape", "rubric levels must be an object criterion id -> level index")
    known = {c.id for c in criteria}
    extra = set(levels) - known
    if extra:
        raise InvalidResponse("unknown_criterion", f"unknown rubric criterion {sorted(extra)[0]!r}")
    total = 0.0
    for c in criteria:
        if c.id not in levels:
            raise InvalidResponse("incomplete_rubric", f"no level chosen for criterion {c.id!r}")
        idx = levels[c.id]
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(c.level_points):
            raise InvalidResponse("unknown_level", f"criterion {c.id!r} has no level {idx!r}")
        total += c.level_points[idx]
    score = common.points * total / sum(c.best for c in criteria)
    return min(common.points, max(common.floor, score))


@dataclass(frozen=True)
class MarkResolution:
    """The outcome of combining markers' scores."""

    #: the resolved score, or None while a mark is still needed
    score: float | None
    #: a (further) marker is needed before the score is final
    needs_another_marker: bool
    rule: str
    detail: Mapping[str, Any] = field(default_factory=dict)


def resolve_marks(marks: Sequence[float], *, rule: str = "average", required_markers: int = 1,
                  max_difference: float | None = None, third_rule: str = "closest_pair") -> MarkResolution:
    """Combine independent markers' scores (in marking order) into one score."""
    if rule not in RESOLUTION_RULES:
        raise InvalidScoringRule(f"unknown resolution rule {rule!r}")
    if third_rule not in THIRD_RULES:
        raise InvalidScoringRule(f"unknown third-marker rule {third_rule!r}")
    marks = [float(m) for m in marks]
    if len(marks) < max(1, required_markers):
        return MarkResolution(None, True, rule, {"marks": marks, "waiting_for": "marker"})
    if required_markers < 2:
        first = marks[0]
        return MarkResolution(first, False, "single", {"marks": marks})
    a, b = marks[0], marks[1]
    if max_difference is not None and abs(a - b) > max_difference + SCORE_EPS:
        if len(marks) < 3:
            return MarkResolution(None, True, rule, {"marks": marks, "waiting_for": "third_marker",
                                                    "difference": abs(a - b)})
        c = marks[2]
        if third_rule == "third_decides":
            return MarkResolution(c, False, "third_decides", {"marks": marks})
        pairs = sorted([(abs(a - b), (a, b)), (abs(a - c), (a, c)), (abs(b - c), (b, c))], key=lambda t: t[0])
        x, y = pairs[0][1]
        return MarkResolution((x + y) / 2, False, "closest_pair", {"marks": marks})
    two = [a, b]
    value = {"average": sum(two) / 2, "highest": max(two), "lowest": min(two), "first": a}[rule]
    return MarkResolution(value, False, rule, {"marks": marks})


def grade_manual(scoring: Mapping, markings: Sequence[Mapping[str, int]], *, rule: str = "average",
                 required_markers: int = 1, max_difference: float | None = None,
                 third_rule: str = "closest_pair") -> ItemScore:
    """The ItemScore of an essay from its markers' rubric choices (pending until resolved)."""
    common = read_common(scoring)
    marks = [rubric_score(scoring, m) for m in markings]
    res = resolve_marks(marks, rule=rule, required_markers=required_markers,
                        max_difference=max_difference, third_rule=third_rule)
    detail = {"rule": "rubric", "resolution": res.rule, **dict(res.detail)}
    if res.score is None:
        return ItemScore(0.0, common.points, False, True, detail, common.weight)
    score = min(common.points, max(common.floor, res.score))
    return ItemScore(score, common.points, score >= common.points * (1 - SCORE_EPS), False, detail, common.weight)
