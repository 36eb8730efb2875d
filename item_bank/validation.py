"""Type-specific validation of an item's content and scoring (docs/items.md).

`validate_item` returns the item normalised (defaults filled, HTML sanitised)
or raises `ItemInvalid` whose `details` name each offending field, e.g.
``{"scoring.correct": ["must name at least one option"]}``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import ItemInvalid
from .html import sanitize_html

ITEM_TYPES = ("choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice")
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
GAP_RE = re.compile(r"""<span[^>]*\bdata-gap=["']([^"']+)["'][^>]*>""")

RULES = {
    "choice": ("all_or_nothing", "per_option", "per_option_penalty", "map"),
    "order": ("exact", "pairs"),
    "match": ("per_pair", "per_pair_penalty", "all_or_nothing", "map"),
    "inline_choice": ("per_gap", "all_or_nothing"),
}
DEFAULT_RULE = {"choice": "all_or_nothing", "order": "exact", "match": "per_pair", "inline_choice": "per_gap"}


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _options(raw: Any, field: str, errors: _Errors, *, required: bool = True) -> list[dict]:
    if not isinstance(raw, list) or (required and not raw):
        errors.add(field, "must be a non-empty list of options")
        return []
    out: list[dict] = []
    seen: set[str] = set()
    for i, opt in enumerate(raw):
        where = f"{field}[{i}]"
        if not isinstance(opt, dict) or set(opt) - {"id", "html"}:
            errors.add(where, "must be an object with exactly `id` and `html`")
            continue
        oid, html = opt.get("id"), opt.get("html")
        if not isinstance(oid, str) or not ID_RE.match(oid):
            errors.add(f"{where}.id", "must be an identifier (letters, digits, _ . -; starts with a letter or _)")
            continue
        if oid in seen:
            errors.add(f"{where}.id", f"duplicate option id {oid!r}")
            continue
        if not isinstance(html, str) or not html.strip():
            errors.add(f"{where}.html", "must be non-empty HTML text")
            continue
        seen.add(oid)
        out.append({"id": oid, "html": sanitize_html(html)})
    return out


def _check_keys(obj: dict, allowed: set[str], field: str, errors: _Errors) -> None:
    for key in sorted(set(obj) - allowed):
        errors.add(f"{field}.{key}", "unknown field")


def _bounded_int(obj: dict, key: str, field: str, errors: _Errors, *, default: int | None, minimum: int = 0) -> int | None:
    value = obj.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        errors.add(f"{field}.{key}", f"must be an integer >= {minimum}")
        return default
    return value


def _common_scoring(scoring: dict, errors: _Errors) -> dict:
    out: dict[str, Any] = {}
    for key, default, check, message in (
        ("points", 1, lambda v: v > 0, "must be a number > 0"),
        ("floor", 0, lambda v: v <= 0, "must be a number <= 0"),
        ("negative_marking", 0, lambda v: v >= 0, "must be a number >= 0"),
        ("weight", 1, lambda v: v >= 0, "must be a number >= 0"),
    ):
        value = scoring.get(key, default)
        if not _is_number(value) or not check(value):
            errors.add(f"scoring.{key}", message)
            value = default
        out[key] = value
    return out


def _mapping(scoring: dict, valid_keys: set[str], errors: _Errors, out: dict) -> None:
    mapping = scoring.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        errors.add("scoring.mapping", "the map rule needs a non-empty mapping")
        return
    for key, value in mapping.items():
        if key not in valid_keys:
            errors.add(f"scoring.mapping.{key}", "names an unknown option or pair")
        if not _is_number(value):
            errors.add(f"scoring.mapping.{key}", "must be a number")
    out["mapping"] = dict(mapping)
    for key in ("default_value", "lower_bound", "upper_bound"):
        if key in scoring and scoring[key] is not None:
            if not _is_number(scoring[key]):
                errors.add(f"scoring.{key}", "must be a number")
            else:
                out[key] = scoring[key]
    if "lower_bound" in out and "upper_bound" in out and out["lower_bound"] > out["upper_bound"]:
        errors.add("scoring.lower_bound", "must not exceed upper_bound")


def _rule(item_type: str, scoring: dict, errors: _Errors) -> str:
    rule = scoring.get("rule", DEFAULT_RULE[item_type])
    if rule not in RULES[item_type]:
        errors.add("scoring.rule", f"must be one of {', '.join(RULES[item_type])}")
        return DEFAULT_RULE[item_type]
    return rule


COMMON_SCORING = {"points", "floor", "negative_marking", "weight"}


def _choice(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"options", "max_choices", "min_choices", "shuffle"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"correct", "rule", "mapping", "default_value", "lower_bound", "upper_bound"}, "scoring", errors)
    options = _options(inter.get("options"), "interaction.options", errors)
    ids = {o["id"] for o in options}
    max_choices = _bounded_int(inter, "max_choices", "interaction", errors, default=1)
    min_choices = _bounded_int(inter, "min_choices", "interaction", errors, default=0)
    if max_choices and min_choices and min_choices > max_choices:
        errors.add("interaction.min_choices", "must not exceed max_choices")
    if options and len(options) < 2:
        errors.add("interaction.options", "a choice item needs at least two options")
    correct = scoring.get("correct")
    rule = _rule("choice", scoring, errors)
    out_s: dict[str, Any] = {"rule": rule}
    if not isinstance(correct, list) or not correct or not all(isinstance(c, str) for c in correct):
        errors.add("scoring.correct", "must name at least one correct option")
    else:
        unknown = [c for c in correct if c not in ids]
        if unknown and ids:
            errors.add("scoring.correct", f"names unknown option(s): {', '.join(unknown)}")
        if len(set(correct)) != len(correct):
            errors.add("scoring.correct", "lists an option twice")
        if max_choices and len(correct) > max_choices:
            errors.add("scoring.correct", "has more correct options than max_choices allows")
        out_s["correct"] = list(correct)
    if rule == "map":
        _mapping(scoring, ids, errors, out_s)
    inter_out = {"options": options, "max_choices": max_choices, "min_choices": min_choices,
                 "shuffle": bool(inter.get("shuffle", True))}
    return inter_out, out_s


def _text_entry(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"expected_length", "placeholder"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"accepted", "case_sensitive", "normalize_whitespace"}, "scoring", errors)
    accepted = scoring.get("accepted")
    out_acc = []
    if not isinstance(accepted, list) or not accepted:
        errors.add("scoring.accepted", "must list at least one accepted answer")
    else:
        for i, entry in enumerate(accepted):
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), str) or not entry["value"].strip():
                errors.add(f"scoring.accepted[{i}]", "must be an object with a non-empty string `value`")
                continue
            if set(entry) - {"value", "score"}:
                errors.add(f"scoring.accepted[{i}]", "only `value` and `score` are allowed")
            if "score" in entry and not _is_number(entry["score"]):
                errors.add(f"scoring.accepted[{i}].score", "must be a number")
            out_acc.append(dict(entry))
    inter_out = {}
    if "expected_length" in inter:
        inter_out["expected_length"] = _bounded_int(inter, "expected_length", "interaction", errors, default=None, minimum=1)
    if "placeholder" in inter:
        if not isinstance(inter["placeholder"], str) or len(inter["placeholder"]) > 200:
            errors.add("interaction.placeholder", "must be a string of at most 200 characters")
        else:
            inter_out["placeholder"] = inter["placeholder"]
    return inter_out, {"accepted": out_acc, "case_sensitive": bool(scoring.get("case_sensitive", False)),
                       "normalize_whitespace": bool(scoring.get("normalize_whitespace", True))}


def _numeric(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"unit"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"value", "tolerance", "tolerance_mode"}, "scoring", errors)
    out: dict[str, Any] = {}
    if not _is_number(scoring.get("value")):
        errors.add("scoring.value", "must be a finite number")
    else:
        out["value"] = scoring["value"]
    tol = scoring.get("tolerance", 0)
    if not _is_number(tol) or tol < 0:
        errors.add("scoring.tolerance", "must be a number >= 0")
    else:
        out["tolerance"] = tol
    mode = scoring.get("tolerance_mode", "absolute")
    if mode not in ("absolute", "relative"):
        errors.add("scoring.tolerance_mode", "must be absolute or relative")
    out["tolerance_mode"] = mode
    inter_out = {}
    if "unit" in inter:
        if not isinstance(inter["unit"], str) or len(inter["unit"]) > 40:
            errors.add("interaction.unit", "must be a string of at most 40 characters")
        else:
            inter_out["unit"] = inter["unit"]
    return inter_out, out


def _extended_text(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"expected_lines", "expected_length", "max_words"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"rubric"}, "scoring", errors)
    rubric = scoring.get("rubric")
    criteria_out = []
    if not isinstance(rubric, dict) or not isinstance(rubric.get("criteria"), list) or not rubric["criteria"]:
        errors.add("scoring.rubric", "must have at least one criterion")
    else:
        seen = set()
        for i, crit in enumerate(rubric["criteria"]):
            where = f"scoring.rubric.criteria[{i}]"
            if not isinstance(crit, dict) or not isinstance(crit.get("id"), str) or not ID_RE.match(crit["id"]):
                errors.add(f"{where}.id", "must be an identifier")
                continue
            if crit["id"] in seen:
                errors.add(f"{where}.id", "duplicate criterion id")
            seen.add(crit["id"])
            levels = crit.get("levels")
            if not isinstance(levels, list) or not levels:
                errors.add(f"{where}.levels", "must list at least one level")
                continue
            for j, level in enumerate(levels):
                if not isinstance(level, dict) or not _is_number(level.get("points")) or level["points"] < 0:
                    errors.add(f"{where}.levels[{j}].points", "must be a number >= 0")
            criteria_out.append({"id": crit["id"], "title": str(crit.get("title", crit["id"])),
                                 "levels": [{"points": lv.get("points", 0), "label": str(lv.get("label", "")),
                                             "description": str(lv.get("description", ""))} for lv in levels if isinstance(lv, dict)]})
    inter_out = {}
    for key in ("expected_lines", "expected_length", "max_words"):
        if key in inter:
            inter_out[key] = _bounded_int(inter, key, "interaction", errors, default=None, minimum=1)
    return inter_out, {"rubric": {"criteria": criteria_out}}


def _order(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"options", "shuffle"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"correct_order", "rule"}, "scoring", errors)
    options = _options(inter.get("options"), "interaction.options", errors)
    ids = [o["id"] for o in options]
    if options and len(options) < 2:
        errors.add("interaction.options", "an order item needs at least two options")
    order = scoring.get("correct_order")
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(ids) or len(set(order)) != len(order):
        errors.add("scoring.correct_order", "must list every option id exactly once")
    return ({"options": options, "shuffle": bool(inter.get("shuffle", True))},
            {"correct_order": list(order) if isinstance(order, list) else [], "rule": _rule("order", scoring, errors)})


def _match(inter: dict, scoring: dict, errors: _Errors) -> tuple[dict, dict]:
    _check_keys(inter, {"left", "right", "max_associations", "shuffle"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"pairs", "rule", "mapping", "default_value", "lower_bound", "upper_bound"}, "scoring", errors)
    left = _options(inter.get("left"), "interaction.left", errors)
    right = _options(inter.get("right"), "interaction.right", errors)
    lids, rids = {o["id"] for o in left}, {o["id"] for o in right}
    max_assoc = _bounded_int(inter, "max_associations", "interaction", errors, default=1, minimum=1)
    pairs = scoring.get("pairs")
    rule = _rule("match", scoring, errors)
    out: dict[str, Any] = {"rule": rule}
    if not isinstance(pairs, list) or not pairs:
        errors.add("scoring.pairs", "must list at least one [left, right] pair")
    else:
        clean = []
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                errors.add(f"scoring.pairs[{i}]", "must be [left id, right id]")
                continue
            if pair[0] not in lids:
                errors.add(f"scoring.pairs[{i}]", f"names unknown left id {pair[0]!r}")
            if pair[1] not in rids:
                errors.add(f"scoring.pairs[{i}]", f"names unknown right id {pair[1]!r}")
            if pair in clean:
                errors.add(f"scoring.pairs[{i}]", "duplicate pair")
            clean.append(list(pair))
        out["pairs"] = clean
    if rule == "map":
        _mapping(scoring, {f"{l} {r}" for l in lids for r in rids}, errors, out)
    return ({"left": left, "right": right, "max_associations": max_assoc, "shuffle": bool(inter.get("shuffle", True))}, out)


def _inline_choice(inter: dict, scoring: dict, errors: _Errors, stem: str) -> tuple[dict, dict]:
    _check_keys(inter, {"gaps"}, "interaction", errors)
    _check_keys(scoring, COMMON_SCORING | {"correct", "rule"}, "scoring", errors)
    gaps_raw = inter.get("gaps")
    gaps = []
    if not isinstance(gaps_raw, list) or not gaps_raw:
        errors.add("interaction.gaps", "must list at least one gap")
    else:
        seen = set()
        for i, gap in enumerate(gaps_raw):
            if not isinstance(gap, dict) or not isinstance(gap.get("id"), str) or not ID_RE.match(gap["id"]):
                errors.add(f"interaction.gaps[{i}].id", "must be an identifier")
                continue
            if gap["id"] in seen:
                errors.add(f"interaction.gaps[{i}].id", "duplicate gap id")
            seen.add(gap["id"])
            gaps.append({"id": gap["id"], "options": _options(gap.get("options"), f"interaction.gaps[{i}].options", errors)})
    in_stem = GAP_RE.findall(stem or "")
    for gap in gaps:
        if gap["id"] not in in_stem:
            errors.add("stem", f'has no <span data-gap="{gap["id"]}"></span> for gap {gap["id"]!r}')
    for gid in in_stem:
        if gid not in {g["id"] for g in gaps}:
            errors.add("stem", f"names gap {gid!r} that interaction.gaps does not define")
    correct = scoring.get("correct")
    if not isinstance(correct, dict):
        errors.add("scoring.correct", "must map every gap id to its correct option id")
        correct = {}
    for gap in gaps:
        value = correct.get(gap["id"])
        if value is None:
            errors.add("scoring.correct", f"has no answer for gap {gap['id']!r}")
        elif value not in {o["id"] for o in gap["options"]}:
            errors.add(f"scoring.correct.{gap['id']}", f"names unknown option {value!r}")
    for gid in set(correct) - {g["id"] for g in gaps}:
        errors.add(f"scoring.correct.{gid}", "names an unknown gap")
    return {"gaps": gaps}, {"correct": dict(correct), "rule": _rule("inline_choice", scoring, errors)}


def _metadata(meta: Any, errors: _Errors) -> dict:
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        errors.add("metadata", "must be an object")
        return {}
    _check_keys(meta, {"tags", "objectives", "language", "estimated_time_s", "difficulty", "irt"}, "metadata", errors)
    out: dict[str, Any] = {}
    for key in ("tags", "objectives"):
        value = meta.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value):
            errors.add(f"metadata.{key}", "must be a list of strings of 1-100 characters")
            value = []
        out[key] = sorted(set(v.strip() for v in value))
    lang = meta.get("language", "en")
    if not isinstance(lang, str) or not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", lang):
        errors.add("metadata.language", "must be a BCP 47 language tag")
        lang = "en"
    out["language"] = lang
    est = meta.get("estimated_time_s")
    if est is not None and (not isinstance(est, int) or isinstance(est, bool) or not 1 <= est <= 86400):
        errors.add("metadata.estimated_time_s", "must be an integer number of seconds (1-86400)")
        est = None
    out["estimated_time_s"] = est
    diff = meta.get("difficulty")
    if diff is not None and (not _is_number(diff) or not 0 <= diff <= 1):
        errors.add("metadata.difficulty", "must be a number between 0 and 1")
        diff = None
    out["difficulty"] = diff
    irt = meta.get("irt")
    if irt is not None:
        if not isinstance(irt, dict) or set(irt) - {"a", "b", "c", "se_a", "se_b", "se_c", "model"}:
            errors.add("metadata.irt", "must be an object with a, b, c")
            irt = None
        else:
            for key in ("a", "b"):
                if not _is_number(irt.get(key)):
                    errors.add(f"metadata.irt.{key}", "must be a number")
            if "c" in irt and (not _is_number(irt["c"]) or not 0 <= irt["c"] < 1):
                errors.add("metadata.irt.c", "must be a number in [0, 1)")
            if _is_number(irt.get("a")) and irt["a"] <= 0:
                errors.add("metadata.irt.a", "must be > 0")
    out["irt"] = irt
    return out


_BY_TYPE = {"choice": _choice, "text_entry": _text_entry, "numeric": _numeric, "extended_text": _extended_text,
            "order": _order, "match": _match}


def validate_item(data: dict) -> dict:
    """Return the item normalised (defaults, sanitised HTML) or raise ItemInvalid naming every bad field."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise ItemInvalid("an item must be a JSON object", details={"item": ["must be an object"]})
    item_type = data.get("type")
    if item_type not in ITEM_TYPES:
        raise ItemInvalid(f"unknown item type {item_type!r}", code="unknown_item_type",
                          details={"type": [f"must be one of {', '.join(ITEM_TYPES)}"]})
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= 200:
        errors.add("title", "must be 1-200 characters")
    stem = data.get("stem")
    if not isinstance(stem, str) or not stem.strip():
        errors.add("stem", "must be non-empty HTML")
        stem = ""
    if len(stem) > 100_000:
        errors.add("stem", "must be at most 100,000 characters")
    clean_stem = sanitize_html(stem)
    inter = data.get("interaction") or {}
    scoring = data.get("scoring") or {}
    if not isinstance(inter, dict):
        errors.add("interaction", "must be an object")
        inter = {}
    if not isinstance(scoring, dict):
        errors.add("scoring", "must be an object")
        scoring = {}
    common = _common_scoring(scoring, errors)
    if item_type == "inline_choice":
        inter_out, scoring_out = _inline_choice(inter, scoring, errors, clean_stem)
    else:
        inter_out, scoring_out = _BY_TYPE[item_type](inter, scoring, errors)
    metadata = _metadata(data.get("metadata"), errors)
    if errors.fields:
        first = next(iter(errors.fields))
        raise ItemInvalid(f"invalid {item_type} item: {first} {errors.fields[first][0]}", details=errors.fields)
    return {"type": item_type, "title": title.strip(), "stem": clean_stem, "interaction": inter_out,
            "scoring": {**common, **scoring_out}, "metadata": metadata}
