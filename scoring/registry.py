"""Item types -> graders and validators; ``grade_item`` and ``validate_scoring``.

The seven types of docs/items.md are registered at import. A new type is a
grader ``(scoring, response, interaction) -> ItemScore`` plus a validator
``(interaction, response) -> canonical response``, added with
:func:`register_item_type`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from . import graders, validation
from .errors import InvalidScoringRule, UnknownItemType
from .types import ItemScore

Grader = Callable[[Mapping, Any, "Mapping | None"], ItemScore]

GRADERS: dict[str, Grader] = {
    "choice": graders.grade_choice,
    "text_entry": graders.grade_text_entry,
    "numeric": graders.grade_numeric,
    "extended_text": graders.grade_extended_text,
    "order": graders.grade_order,
    "match": graders.grade_match,
    "inline_choice": graders.grade_inline_choice,
}


def item_types() -> tuple[str, ...]:
    """Names of the registered item types."""
    return tuple(GRADERS)


def register_item_type(name: str, grader: Grader, validator: Callable[[Mapping | None, Any], Any]) -> None:
    """Register (or replace) the grader and validator of an item type."""
    GRADERS[name] = grader
    validation.VALIDATORS[name] = validator


def get_grader(item_type: str) -> Grader:
    """The grader of ``item_type``; :class:`UnknownItemType` when there is none."""
    try:
        return GRADERS[item_type]
    except (KeyError, TypeError):
        raise UnknownItemType(f"unknown item type {item_type!r}") from None


def grade_item(item_type: str, scoring: Mapping, response: Any, interaction: Mapping | None = None) -> ItemScore:
    """Grade one response. Raises InvalidResponse, InvalidScoringRule or UnknownItemType."""
    return get_grader(item_type)(scoring, response, interaction)


def _ids(options) -> set[str]:
    return {o["id"] if isinstance(o, Mapping) else o for o in (options or [])}


def _check_mapping(scoring: Mapping) -> None:
    mapping = scoring.get("mapping")
    if not isinstance(mapping, Mapping) or not mapping:
        raise InvalidScoringRule("the map rule needs a non-empty mapping")
    for k, v in mapping.items():
        graders._finite(v, f"scoring.mapping[{k!r}]")
    for name in ("default_value", "lower_bound", "upper_bound"):
        if scoring.get(name) is not None:
            graders._finite(scoring[name], f"scoring.{name}")
    lo, hi = scoring.get("lower_bound"), scoring.get("upper_bound")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidScoringRule("scoring.lower_bound is above scoring.upper_bound")


def validate_scoring(item_type: str, scoring: Mapping, interaction: Mapping | None = None) -> None:
    """Check an item's ``scoring`` dict (and, given the interaction, that the key uses its ids).

    Raises :class:`InvalidScoringRule`; the item bank calls it when an item is saved.
    """
    get_grader(item_type)
    graders.read_common(scoring)
    if item_type == "choice":
        correct, rule = graders._choice_key(scoring)
        if interaction is not None:
            known = _ids(interaction.get("options"))
            if not correct <= known:
                raise InvalidScoringRule(f"choice key uses unknown option(s) {sorted(correct - known)}")
            max_choices = int(interaction.get("max_choices", 1) or 0)
            if rule == "all_or_nothing" and max_choices and len(correct) > max_choices:
                raise InvalidScoringRule("the key has more options than max_choices allows")
        if rule == "map":
            _check_mapping(scoring)
    elif item_type == "text_entry":
        graders._accepted(scoring, 1.0)
    elif item_type == "numeric":
        graders._numeric_key(scoring)
    elif item_type == "extended_text":
        from .rubric import parse_rubric

        parse_rubric(scoring)
    elif item_type == "order":
        key, _ = graders._order_key(scoring)
        if interaction is not None and set(key) != _ids(interaction.get("options")):
            raise InvalidScoringRule("correct_order must list exactly the interaction's options")
    elif item_type == "match":
        key, rule = graders._match_key(scoring)
        if interaction is not None:
            left, right = _ids(interaction.get("left")), _ids(interaction.get("right"))
            bad = [p for p in key if p[0] not in left or p[1] not in right]
            if bad:
                raise InvalidScoringRule(f"match key uses unknown ids {bad[0]}")
        if rule == "map":
            _check_mapping(scoring)
    elif item_type == "inline_choice":
        key, _ = graders._inline_key(scoring)
        if interaction is not None:
            gaps = {g["id"]: _ids(g.get("options")) for g in interaction.get("gaps") or []}
            if set(key) != set(gaps):
                raise InvalidScoringRule("inline_choice key must give every gap, and only the gaps")
            for gap, opt in key.items():
                if opt not in gaps[gap]:
                    raise InvalidScoringRule(f"inline_choice key {opt!r} is not an option of gap {gap!r}")
