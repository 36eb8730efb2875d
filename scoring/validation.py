"""Shape checks of learners' responses, one function per item type.

``validate_response(item_type, interaction, response)`` is what the exam
engine calls when an answer arrives, before it stores it: it raises
:class:`~scoring.errors.InvalidResponse` with a stable code, or returns the
response in canonical form (``None`` for an unanswered item).

Codes (``InvalidResponse.code``):

==========================  =====================================================
``invalid_response_shape``  wrong JSON type or structure for the item type
``unknown_option``          an option (or left/right/gap option) id the item lacks
``unknown_gap``             an inline_choice gap id the item lacks
``duplicate_option``        the same option (or pair) given twice
``too_many_choices``        more choices than ``max_choices``
``too_many_associations``   more pairs for one left id than ``max_associations``
``not_a_permutation``       an order response that is not a permutation of all options
``non_finite_number``       NaN or an infinity for a numeric item
``response_too_long``       text longer than the type allows
==========================  =====================================================

``min_choices`` is not enforced here: a learner saves partial answers while
clicking; it is a delivery hint.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, Callable, Mapping

from .errors import InvalidResponse, InvalidScoringRule, UnknownItemType

OPTION_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
TEXT_ENTRY_MAX_CHARS = 1_000
EXTENDED_TEXT_MAX_CHARS = 50_000


def _option_ids(options: Any, what: str = "options") -> list[str] | None:
    if options is None:
        return None
    ids = []
    for opt in options:
        if isinstance(opt, Mapping):
            ids.append(opt.get("id"))
        else:
            ids.append(opt)
    return [str(i) for i in ids]


def _int_field(interaction: Mapping, name: str, default: int) -> int:
    """A non-negative integer field of the interaction (an authoring error otherwise)."""
    value = interaction.get(name, default)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidScoringRule(f"interaction.{name} must be a non-negative integer", code="invalid_interaction")
    return value


def _require_list(response: Any, what: str) -> list:
    if isinstance(response, (str, bytes)) or not isinstance(response, (list, tuple)):
        raise InvalidResponse("invalid_response_shape", f"{what} response must be a list, got {type(response).__name__}")
    return list(response)


def _require_id(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidResponse("invalid_response_shape", f"{what} must be a string id, got {type(value).__name__}")
    if not OPTION_ID_RE.match(value):
        raise InvalidResponse("unknown_option", f"{what} {value[:70]!r} is not a valid option id")
    return value


def _check_unique(ids: list[str], what: str) -> None:
    if len(set(ids)) != len(ids):
        seen, dup = set(), None
        for i in ids:
            if i in seen:
                dup = i
                break
            seen.add(i)
        raise InvalidResponse("duplicate_option", f"{what} {dup!r} is given more than once")


def _check_known(ids, known: list[str] | None, what: str) -> None:
    if known is None:
        return
    known_set = set(known)
    for i in ids:
        if i not in known_set:
            raise InvalidResponse("unknown_option", f"unknown {what} {i!r}")


def validate_choice(interaction: Mapping | None, response: Any) -> list[str] | None:
    """A list of distinct known option ids, at most ``max_choices`` of them (0 = unlimited)."""
    if response is None:
        return None
    ids = [_require_id(v, "option") for v in _require_list(response, "choice")]
    _check_unique(ids, "option")
    if interaction is not None:
        known = _option_ids(interaction.get("options"))
        _check_known(ids, known, "option")
        max_choices = _int_field(interaction, "max_choices", 1)
        if max_choices > 0 and len(ids) > max_choices:
            raise InvalidResponse("too_many_choices", f"{len(ids)} choices given, at most {max_choices} allowed")
    return ids


def validate_text_entry(interaction: Mapping | None, response: Any) -> str | None:
    """A string of at most 1,000 characters."""
    if response is None:
        return None
    if not isinstance(response, str):
        raise InvalidResponse("invalid_response_shape", f"text_entry response must be a string, got {type(response).__name__}")
    if len(response) > TEXT_ENTRY_MAX_CHARS:
        raise InvalidResponse("response_too_long", f"text_entry response is longer than {TEXT_ENTRY_MAX_CHARS} characters")
    return response


def validate_numeric(interaction: Mapping | None, response: Any) -> float | None:
    """A finite real number (bools, strings, NaN and infinities are refused)."""
    if response is None:
        return None
    if isinstance(response, bool) or not isinstance(response, numbers.Real):
        raise InvalidResponse("invalid_response_shape", f"numeric response must be a number, got {type(response).__name__}")
    value = float(response)
    if not math.isfinite(value):
        raise InvalidResponse("non_finite_number", "numeric response must be a finite number (not NaN or infinite)")
    return value


def validate_extended_text(interaction: Mapping | None, response: Any) -> str | None:
    """A string of at most 50,000 characters."""
    if response is None:
        return None
    if not isinstance(response, str):
        raise InvalidResponse("invalid_response_shape", f"extended_text response must be a string, got {type(response).__name__}")
    if len(response) > EXTENDED_TEXT_MAX_CHARS:
        raise InvalidResponse("response_too_long", f"extended_text response is longer than {EXTENDED_TEXT_MAX_CHARS} characters")
    return response


def validate_order(interaction: Mapping | None, response: Any) -> list[str] | None:
    """A permutation of all the item's option ids (an empty list counts as unanswered)."""
    if response is None:
        return None
    ids = [_require_id(v, "option") for v in _require_list(response, "order")]
    if not ids:
        return None
    _check_unique(ids, "option")
    if interaction is not None:
        known = _option_ids(interaction.get("options"))
        _check_known(ids, known, "option")
        if known is not None and len(ids) != len(known):
            raise InvalidResponse("not_a_permutation", f"order response must list all {len(known)} options, got {len(ids)}")
    return ids


def validate_match(interaction: Mapping | None, response: Any) -> list[tuple[str, str]] | None:
    """A list of distinct ``[left_id, right_id]`` pairs of known ids, within ``max_associations``."""
    if response is None:
        return None
    pairs = []
    for p in _require_list(response, "match"):
        if isinstance(p, (str, bytes)) or not isinstance(p, (list, tuple)) or len(p) != 2:
            raise InvalidResponse("invalid_response_shape", "each match pair must be a [left_id, right_id] list")
        pairs.append((_require_id(p[0], "left id"), _require_id(p[1], "right id")))
    if len(set(pairs)) != len(pairs):
        raise InvalidResponse("duplicate_option", "the same pair is given more than once")
    if interaction is not None:
        _check_known([p[0] for p in pairs], _option_ids(interaction.get("left")), "left id")
        _check_known([p[1] for p in pairs], _option_ids(interaction.get("right")), "right id")
        max_assoc = _int_field(interaction, "max_associations", 1)
        if max_assoc > 0:
            counts: dict[str, int] = {}
            for left, _ in pairs:
                counts[left] = counts.get(left, 0) + 1
                if counts[left] > max_assoc:
                    raise InvalidResponse("too_many_associations", f"left id {left!r} is paired more than {max_assoc} time(s)")
    return pairs


def validate_inline_choice(interaction: Mapping | None, response: Any) -> dict[str, str] | None:
    """An object gap id -> option id of that gap; missing (or null) gaps are unanswered."""
    if response is None:
        return None
    if not isinstance(response, Mapping):
        raise InvalidResponse("invalid_response_shape", f"inline_choice response must be an object, got {type(response).__name__}")
    gaps = None
    if interaction is not None and interaction.get("gaps") is not None:
        gaps = {str(g["id"]): set(_option_ids(g.get("options")) or []) for g in interaction["gaps"]}
    out: dict[str, str] = {}
    for gap, opt in response.items():
        if not isinstance(gap, str):
            raise InvalidResponse("invalid_response_shape", "inline_choice gap ids must be strings")
        if gaps is not None and gap not in gaps:
            raise InvalidResponse("unknown_gap", f"unknown gap {gap!r}")
        if opt is None:
            continue
        opt = _require_id(opt, f"option of gap {gap!r}")
        if gaps is not None and opt not in gaps[gap]:
            raise InvalidResponse("unknown_option", f"unknown option {opt!r} for gap {gap!r}")
        out[gap] = opt
    return out


VALIDATORS: dict[str, Callable[[Mapping | None, Any], Any]] = {
    "choice": validate_choice,
    "text_entry": validate_text_entry,
    "numeric": validate_numeric,
    "extended_text": validate_extended_text,
    "order": validate_order,
    "match": validate_match,
    "inline_choice": validate_inline_choice,
}


def validate_response(item_type: str, interaction: Mapping | None, response: Any) -> Any:
    """Check ``response`` against its item type and interaction; return it in canonical form.

    Raises :class:`InvalidResponse` (see the module docstring for codes) or
    :class:`UnknownItemType`. Returns ``None`` for an unanswered item.
    """
    try:
        validator = VALIDATORS[item_type]
    except (KeyError, TypeError):
        raise UnknownItemType(f"unknown item type {item_type!r}") from None
    return validator(interaction, response)
