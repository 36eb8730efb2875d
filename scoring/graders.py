"""One grader per item type: ``grade_<type>(scoring, response, interaction=None) -> ItemScore``.

The rules are those of docs/items.md. Every grader

1. reads the common fields of ``scoring`` (``points``, ``floor``,
   ``negative_marking``, ``weight``) and refuses bad values with
   :class:`~scoring.errors.InvalidScoringRule`;
2. validates the response (:mod:`scoring.validation`), raising
   :class:`~scoring.errors.InvalidResponse`;
3. computes the rule's raw score, then applies negative marking (when a
   non-blank answer earns nothing, i.e. raw <= 0, ``negative_marking`` is
   subtracted) and clamps into ``[floor, points]``.

An unanswered item (``None``, an empty list or object, a blank string)
scores 0 and is never negatively marked. Scores are unweighted: the item's
``weight`` travels in ``ItemScore.weight`` and is applied by
:mod:`scoring.aggregate`.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from . import validation
from .errors import InvalidResponse, InvalidScoringRule
from .types import SCORE_EPS, ItemScore


@dataclass(frozen=True)
class Common:
    """The fields of ``scoring`` shared by every item type."""

    points: float = 1.0
    floor: float = 0.0
    negative_marking: float = 0.0
    weight: float = 1.0


def _number(scoring: Mapping, name: str, default: float) -> float:
    value = scoring.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidScoringRule(f"scoring.{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidScoringRule(f"scoring.{name} must be finite")
    return value


def _finite(value: Any, name: str) -> float:
    """A finite number from an authored field (the key is the author's error, never the learner's)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise InvalidScoringRule(f"{name} must be a finite number, got {value!r}")
    return float(value)


def read_common(scoring: Mapping) -> Common:
    """Parse and check ``points``, ``floor``, ``negative_marking`` and ``weight``."""
    if not isinstance(scoring, Mapping):
        raise InvalidScoringRule("scoring must be an object")
    points = _number(scoring, "points", 1.0)
    floor = _number(scoring, "floor", 0.0)
    neg = _number(scoring, "negative_marking", 0.0)
    weight = _number(scoring, "weight", 1.0)
    if points <= 0:
        raise InvalidScoringRule("scoring.points must be > 0")
    if floor > 0:
        raise InvalidScoringRule("scoring.floor must be <= 0")
    if neg < 0:
        raise InvalidScoringRule("scoring.negative_marking must be >= 0")
    if weight < 0:
        raise InvalidScoringRule("scoring.weight must be >= 0")
    return Common(points, floor, neg, weight)


def finish(common: Common, raw: float | None, detail: dict) -> ItemScore:
    """Apply negative marking and the floor/points clamp to a rule's raw score.

    ``raw`` None means unanswered: 0, never negatively marked.
    """
    if raw is None:
        score = 0.0
        detail = {**detail, "answered": False}
    else:
        score = float(raw)
        if score <= SCORE_EPS * common.points and common.negative_marking:
            score -= common.negative_marking
            detail = {**detail, "negative_marking": common.negative_marking}
        detail = {**detail, "answered": True}
    score = min(common.points, max(common.floor, score))
    if abs(score) < 1e-12:
        score = 0.0
    is_correct = score >= common.points * (1 - SCORE_EPS)
    return ItemScore(score=score, max_score=common.points, is_correct=is_correct,
                     is_pending_manual=False, detail=detail, weight=common.weight)


def _rule(scoring: Mapping, allowed: tuple[str, ...], default: str) -> str:
    rule = scoring.get("rule") or default
    if rule not in allowed:
        raise InvalidScoringRule(f"unknown rule {rule!r}; expected one of {', '.join(allowed)}")
    return rule


def _map_score(keys, scoring: Mapping, points: float) -> float:
    """QTI map_response: sum of mapped values (default_value for unmapped), clamped to the bounds."""
    mapping = scoring.get("mapping") or {}
    if not isinstance(mapping, Mapping):
        raise InvalidScoringRule("scoring.mapping must be an object")
    default = _finite(scoring.get("default_value", 0) or 0, "scoring.default_value")
    total = sum(_finite(mapping[k], f"scoring.mapping[{k!r}]") if k in mapping else default for k in keys)
    lower = scoring.get("lower_bound")
    upper = scoring.get("upper_bound")
    if lower is not None:
        total = max(_finite(lower, "scoring.lower_bound"), total)
    if upper is not None:
        total = min(_finite(upper, "scoring.upper_bound"), total)
    return min(points, total)


# --- choice ---------------------------------------------------------------

CHOICE_RULES = ("all_or_nothing", "per_option", "per_option_penalty", "map")


def _choice_key(scoring: Mapping) -> tuple[set[str], str]:
    correct = scoring.get("correct")
    if isinstance(correct, str) or not isinstance(correct, (list, tuple)) or not correct:
        raise InvalidScoringRule("choice scoring.correct must be a non-empty list of option ids")
    if not all(isinstance(c, str) for c in correct):
        raise InvalidScoringRule("choice scoring.correct must hold option ids (strings)")
    return set(correct), _rule(scoring, CHOICE_RULES, "all_or_nothing")


def grade_choice(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Single/multiple choice: all_or_nothing, per_option, per_option_penalty or map."""
    common = read_common(scoring)
    correct, rule = _choice_key(scoring)
    selected = validation.validate_choice(interaction, response)
    if not selected:
        return finish(common, None, {"rule": rule})
    sel = set(selected)
    hits = len(sel & correct)
    wrong = len(sel - correct)
    detail = {"rule": rule, "correct_selected": hits, "wrong_selected": wrong}
    if rule == "all_or_nothing":
        raw = common.points if sel == correct else 0.0
    elif rule == "per_option":
        raw = common.points * hits / len(correct)
    elif rule == "per_option_penalty":
        raw = common.points * (hits - wrong) / len(correct)
    else:
        raw = _map_score(sorted(sel), scoring, common.points)
    return finish(common, raw, detail)


# --- text_entry -------------------------------------------------------------

def normalize_text(text: str, *, case_sensitive: bool = False, normalize_whitespace: bool = True) -> str:
    """NFKC, trim, collapse inner white space (optional), casefold (unless case sensitive)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if normalize_whitespace:
        text = " ".join(text.split())
    if not case_sensitive:
        text = text.casefold()
    return text


def _accepted(scoring: Mapping, points: float) -> list[tuple[str, float]]:
    accepted = scoring.get("accepted")
    if isinstance(accepted, (str, bytes)) or not isinstance(accepted, (list, tuple)) or not accepted:
        raise InvalidScoringRule("text_entry scoring.accepted must be a non-empty list")
    out = []
    for a in accepted:
        if not isinstance(a, Mapping) or not isinstance(a.get("value"), str):
            raise InvalidScoringRule("each accepted answer must be {\"value\": str, \"score\": number}")
        score = a.get("score")
        out.append((a["value"], points if score is None else _finite(score, "an accepted answer's score")))
    return out


def grade_text_entry(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Short text: the best matching accepted answer (after normalisation) gives the score."""
    common = read_common(scoring)
    accepted = _accepted(scoring, common.points)
    case_sensitive = bool(scoring.get("case_sensitive", False))
    norm_ws = bool(scoring.get("normalize_whitespace", True))
    text = validation.validate_text_entry(interaction, response)
    if text is None or not text.strip():
        return finish(common, None, {"rule": "accepted"})
    given = normalize_text(text, case_sensitive=case_sensitive, normalize_whitespace=norm_ws)
    best, matched = 0.0, None
    for value, score in accepted:
        if normalize_text(value, case_sensitive=case_sensitive, normalize_whitespace=norm_ws) == given:
            if matched is None or score > best:
                best, matched = score, value
    return finish(common, best if matched is not None else 0.0, {"rule": "accepted", "matched": matched})


# --- numeric ----------------------------------------------------------------

def _numeric_key(scoring: Mapping) -> tuple[float, float, str]:
    value = _number(scoring, "value", float("nan")) if "value" in scoring else None
    if value is None:
        raise InvalidScoringRule("numeric scoring.value is required")
    tol = _number(scoring, "tolerance", 0.0)
    if tol < 0:
        raise InvalidScoringRule("numeric scoring.tolerance must be >= 0")
    mode = scoring.get("tolerance_mode") or "absolute"
    if mode not in ("absolute", "relative"):
        raise InvalidScoringRule("numeric scoring.tolerance_mode must be absolute or relative")
    return value, tol, mode


def numeric_allowance(value: float, tol: float, mode: str) -> float:
    """The largest accepted |response - value|, with a hair of slack for binary floating point."""
    allowed = tol * abs(value) if mode == "relative" else tol
    return allowed + 1e-12 * max(1.0, abs(value))


def grade_numeric(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """A number: full points iff within the absolute or relative tolerance of ``value``."""
    common = read_common(scoring)
    value, tol, mode = _numeric_key(scoring)
    x = validation.validate_numeric(interaction, response)
    if x is None:
        return finish(common, None, {"rule": mode})
    ok = abs(x - value) <= numeric_allowance(value, tol, mode)
    return finish(common, common.points if ok else 0.0, {"rule": mode, "within_tolerance": ok})


# --- extended_text ------------------------------------------------------------

def grade_extended_text(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Essay: automatic grading only records that a human grade is pending (see :mod:`scoring.rubric`)."""
    common = read_common(scoring)
    text = validation.validate_extended_text(interaction, response)
    answered = text is not None and bool(text.strip())
    if not answered:
        # Nothing to mark: a blank essay scores 0 at once.
        return finish(common, None, {"rule": "rubric"})
    return ItemScore(score=0.0, max_score=common.points, is_correct=False, is_pending_manual=True,
                     detail={"rule": "rubric", "answered": True}, weight=common.weight)


# --- order ------------------------------------------------------------------

def _order_key(scoring: Mapping) -> tuple[list[str], str]:
    key = scoring.get("correct_order")
    if isinstance(key, str) or not isinstance(key, (list, tuple)) or not key or not all(isinstance(k, str) for k in key):
        raise InvalidScoringRule("order scoring.correct_order must be a non-empty list of option ids")
    if len(set(key)) != len(key):
        raise InvalidScoringRule("order scoring.correct_order has duplicates")
    return list(key), _rule(scoring, ("exact", "pairs"), "exact")


def concordant_pairs(key: list[str], given: list[str]) -> int:
    """Number of pairs (i<j in the key) that ``given`` puts in the same relative order."""
    pos = {o: i for i, o in enumerate(given)}
    ranks = [pos[o] for o in key]
    n = len(ranks)
    return sum(1 for i in range(n) for j in range(i + 1, n) if ranks[i] < ranks[j])


def grade_order(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Ordering: exact, or pairs (share of pairs in the key's relative order)."""
    common = read_common(scoring)
    key, rule = _order_key(scoring)
    given = validation.validate_order(interaction if interaction is not None else {"options": key}, response)
    if not given:
        return finish(common, None, {"rule": rule})
    if set(given) != set(key):
        # The interaction and the key disagree: an authoring error, not the learner's.
        raise InvalidScoringRule("order scoring.correct_order does not list the interaction's options")
    n = len(key)
    if rule == "exact":
        raw = common.points if given == key else 0.0
        return finish(common, raw, {"rule": rule})
    total = n * (n - 1) // 2
    good = concordant_pairs(key, given)
    raw = common.points if total == 0 else common.points * good / total
    return finish(common, raw, {"rule": rule, "pairs_in_order": good, "pairs": total})


# --- match ------------------------------------------------------------------

MATCH_RULES = ("per_pair", "per_pair_penalty", "all_or_nothing", "map")


def _match_key(scoring: Mapping) -> tuple[set[tuple[str, str]], str]:
    pairs = scoring.get("pairs")
    if isinstance(pairs, str) or not isinstance(pairs, (list, tuple)) or not pairs:
        raise InvalidScoringRule("match scoring.pairs must be a non-empty list of [left, right] pairs")
    out = set()
    for p in pairs:
        if isinstance(p, str) or not isinstance(p, (list, tuple)) or len(p) != 2 or not all(isinstance(x, str) for x in p):
            raise InvalidScoringRule("each match key pair must be [left id, right id]")
        out.add((p[0], p[1]))
    return out, _rule(scoring, MATCH_RULES, "per_pair")


def grade_match(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Matching: per_pair, per_pair_penalty, all_or_nothing or map (keys ``"LEFT RIGHT"``)."""
    common = read_common(scoring)
    key, rule = _match_key(scoring)
    given = validation.validate_match(interaction, response)
    if not given:
        return finish(common, None, {"rule": rule})
    g = set(given)
    hits, wrong = len(g & key), len(g - key)
    detail = {"rule": rule, "correct_pairs": hits, "wrong_pairs": wrong}
    if rule == "per_pair":
        raw = common.points * hits / len(key)
    elif rule == "per_pair_penalty":
        raw = common.points * (hits - wrong) / len(key)
    elif rule == "all_or_nothing":
        raw = common.points if g == key else 0.0
    else:
        raw = _map_score(sorted(f"{l} {r}" for l, r in g), scoring, common.points)
    return finish(common, raw, detail)


# --- inline_choice ------------------------------------------------------------

def _inline_key(scoring: Mapping) -> tuple[dict[str, str], str]:
    correct = scoring.get("correct")
    if not isinstance(correct, Mapping) or not correct or not all(isinstance(v, str) for v in correct.values()):
        raise InvalidScoringRule("inline_choice scoring.correct must map every gap id to an option id")
    return dict(correct), _rule(scoring, ("per_gap", "all_or_nothing"), "per_gap")


def grade_inline_choice(scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Cloze: per_gap (share of gaps right) or all_or_nothing; missing gaps are unanswered gaps."""
    common = read_common(scoring)
    key, rule = _inline_key(scoring)
    given = validation.validate_inline_choice(interaction, response)
    if given and interaction is None:
        unknown = sorted(set(given) - set(key))
        if unknown:
            raise InvalidResponse("unknown_gap", f"unknown gap {unknown[0]!r}")
    if not given:
        return finish(common, None, {"rule": rule})
    hits = sum(1 for gap, opt in key.items() if given.get(gap) == opt)
    detail = {"rule": rule, "correct_gaps": hits, "gaps": len(key)}
    if rule == "per_gap":
        raw = common.points * hits / len(key)
    else:
        raw = common.points if hits == len(key) else 0.0
    return finish(common, raw, detail)
