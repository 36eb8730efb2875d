"""Structural checks of the demo item bank (exam_engine/demo_data/bank.json).

The bank is shipped as package data and loaded into fresh installs, so every
item must honour the authoring contract of docs/items.md: field names, option
ids, keys that refer to existing ids, gaps in the stem matching the
interaction, valid scoring rules and metadata. `item_problems` is a
self-contained validator written from that document; the tests at the end feed
it deliberately broken items to show that it does reject them.
"""

from __future__ import annotations

import copy
import json
import math
import re
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from item_bank.html import is_clean

BANK_PATH = Path(__file__).resolve().parents[1] / "exam_engine" / "demo_data" / "bank.json"

ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
KEY_RE = re.compile(r"^[a-z]+-\d{3}$")
GAP_RE = re.compile(r'<span data-gap="([^"]*)"></span>')
TYPES = ("choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice")
ITEM_FIELDS = {"key", "type", "title", "stem", "interaction", "scoring", "metadata"}
COMMON_SCORING = {"points", "floor", "negative_marking", "weight"}
INTERACTION_FIELDS = {
    "choice": {"options", "max_choices", "min_choices", "shuffle"},
    "text_entry": {"expected_length", "placeholder"},
    "numeric": {"unit"},
    "extended_text": {"expected_lines", "max_words"},
    "order": {"options", "shuffle"},
    "match": {"left", "right", "max_associations", "shuffle"},
    "inline_choice": {"gaps"},
}
SCORING_FIELDS = {
    "choice": {"correct", "rule", "mapping", "default_value", "lower_bound", "upper_bound"},
    "text_entry": {"accepted", "case_sensitive", "normalize_whitespace"},
    "numeric": {"value", "tolerance", "tolerance_mode"},
    "extended_text": {"rubric"},
    "order": {"correct_order", "rule"},
    "match": {"pairs", "rule", "mapping", "default_value", "lower_bound", "upper_bound"},
    "inline_choice": {"correct", "rule"},
}
RULES = {
    "choice": {"all_or_nothing", "per_option", "per_option_penalty", "map"},
    "order": {"exact", "pairs"},
    "match": {"per_pair", "per_pair_penalty", "all_or_nothing", "map"},
    "inline_choice": {"per_gap", "all_or_nothing"},
}
DEFAULT_RULE = {"choice": "all_or_nothing"}
#: Fields that would leak the key if they appeared in `interaction`.
KEY_FIELDS = {"correct", "correct_order", "pairs", "accepted", "value", "rubric", "mapping", "rule"}
METADATA_FIELDS = {"tags", "objectives", "language", "estimated_time_s", "difficulty", "irt"}
MIN_ITEMS_PER_BANK = 22
EXPECTED_BANKS = ("Web security fundamentals", "Introductory statistics", "Climate and energy")


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _nonempty_str(x) -> bool:
    return isinstance(x, str) and x.strip() != ""


def _options_problems(options, where: str) -> list[str]:
    problems = []
    if not isinstance(options, list) or len(options) < 2:
        return [f"{where}: needs a list of at least two options"]
    ids = []
    for i, opt in enumerate(options):
        if not isinstance(opt, dict) or set(opt) != {"id", "html"}:
            problems.append(f"{where}[{i}]: an option is exactly {{id, html}}")
            continue
        if not isinstance(opt["id"], str) or not ID_RE.match(opt["id"]):
            problems.append(f"{where}[{i}]: bad id {opt['id']!r}")
        if not _nonempty_str(opt["html"]):
            problems.append(f"{where}[{i}]: empty html")
        elif not is_clean(opt["html"]):
            problems.append(f"{where}[{i}]: html is altered by the sanitiser")
        ids.append(opt["id"])
    for dup, n in Counter(ids).items():
        if n > 1:
            problems.append(f"{where}: id {dup!r} is not unique")
    return problems


def _ids(options) -> list[str]:
    return [o["id"] for o in options if isinstance(o, dict) and "id" in o] if isinstance(options, list) else []


def _clamp(x, lo, hi):
    if lo is not None:
        x = max(x, lo)
    if hi is not None:
        x = min(x, hi)
    return x


def _map_problems(sc, keys_known, correct_keys, points, where) -> list[str]:
    """Checks of a QTI map_response: known keys, numeric values and bounds, key reaches full points."""
    problems = []
    mapping = sc.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        return [f"{where}: rule map needs a non-empty mapping"]
    for k, v in mapping.items():
        if k not in keys_known:
            problems.append(f"{where}: mapping key {k!r} refers to no option")
        if not _is_num(v):
            problems.append(f"{where}: mapping value of {k!r} is not a number")
    for f in ("default_value", "lower_bound", "upper_bound"):
        if f in sc and not _is_num(sc[f]):
            problems.append(f"{where}: {f} is not a number")
    lo, hi = sc.get("lower_bound"), sc.get("upper_bound")
    if _is_num(lo) and _is_num(hi) and lo > hi:
        problems.append(f"{where}: lower_bound > upper_bound")
    if problems:
        return problems
    default = sc.get("default_value", 0)
    best = min(_clamp(sum(mapping.get(k, default) for k in correct_keys), lo, hi), points)
    if not math.isclose(best, points):
        problems.append(f"{where}: the key scores {best}, not the item's {points} points")
    return problems


def item_problems(item) -> list[str]:
    """Every way `item` breaks docs/items.md (empty list when it is valid)."""
    if not isinstance(item, dict):
        return ["item is not an object"]
    key = item.get("key", "?")
    p: list[str] = []

    def bad(msg: str) -> None:
        p.append(f"{key}: {msg}")

    if set(item) != ITEM_FIELDS:
        bad(f"top-level fields {sorted(item)} != {sorted(ITEM_FIELDS)}")
        return p
    if not isinstance(key, str) or not KEY_RE.match(key):
        bad("key must look like 'topic-001'")
    t = item["type"]
    if t not in TYPES:
        bad(f"unknown type {t!r}")
        return p
    if not isinstance(item["title"], str) or not 1 <= len(item["title"]) <= 200 or not item["title"].strip():
        bad("title must be 1-200 characters")
    stem = item["stem"]
    if not _nonempty_str(stem):
        bad("empty stem")
        return p
    if not is_clean(stem):
        bad("stem is altered by the sanitiser")
    inter, sc, md = item["interaction"], item["scoring"], item["metadata"]
    if not isinstance(inter, dict) or not isinstance(sc, dict) or not isinstance(md, dict):
        bad("interaction, scoring and metadata must be objects")
        return p

    # interaction: known fields only, and never any part of the key
    if extra := set(inter) - INTERACTION_FIELDS[t]:
        bad(f"unknown interaction fields {sorted(extra)}")
    if leak := set(inter) & KEY_FIELDS:
        bad(f"interaction leaks the key: {sorted(leak)}")
    if "shuffle" in inter and not isinstance(inter["shuffle"], bool):
        bad("shuffle must be a boolean")

    # common scoring fields
    if extra := set(sc) - SCORING_FIELDS[t] - COMMON_SCORING:
        bad(f"unknown scoring fields {sorted(extra)}")
    points = sc.get("points", 1)
    if not _is_num(points) or points <= 0:
        bad("points must be > 0")
        points = 1
    if not _is_num(sc.get("floor", 0)) or sc.get("floor", 0) > 0:
        bad("floor must be a number <= 0")
    nm = sc.get("negative_marking", 0)
    if not _is_num(nm) or nm < 0:
        bad("negative_marking must be a number >= 0")
    elif nm > 0 and sc.get("floor", 0) >= 0:
        bad("negative_marking has no effect unless floor < 0")
    if not _is_num(sc.get("weight", 1)) or sc.get("weight", 1) <= 0:
        bad("weight must be > 0")
    rule = sc.get("rule", DEFAULT_RULE.get(t))
    if t in RULES and rule not in RULES[t]:
        bad(f"rule {rule!r} is not one of {sorted(RULES[t])}")
    if rule != "map" and any(f in sc for f in ("mapping", "default_value", "lower_bound", "upper_bound")):
        bad("mapping fields given without rule map")

    if t == "choice":
        p += [f"{key}: {m}" for m in _options_problems(inter.get("options"), "options")]
        ids = _ids(inter.get("options"))
        mx, mn = inter.get("max_choices"), inter.get("min_choices", 0)
        if not isinstance(mx, int) or isinstance(mx, bool) or mx < 0:
            bad("max_choices must be an int >= 0")
            mx = 0
        if not isinstance(mn, int) or isinstance(mn, bool) or mn < 0 or (mx and mn > mx):
            bad("min_choices must be an int in 0..max_choices")
        correct = sc.get("correct")
        if not isinstance(correct, list) or not correct:
            bad("correct must list at least one option id")
            correct = []
        if len(set(correct)) != len(correct):
            bad("correct repeats an id")
        if unknown := [c for c in correct if c not in ids]:
            bad(f"correct refers to unknown ids {unknown}")
        if mx and len(correct) > mx:
            bad("the key selects more options than max_choices allows")
        if len(correct) >= len(ids) and ids:
            bad("every option is correct")
        if rule == "map":
            p += [f"{key}: {m}" for m in _map_problems(sc, set(ids), correct, points, "map")]
    elif t == "text_entry":
        acc = sc.get("accepted")
        if not isinstance(acc, list) or not acc:
            bad("accepted needs at least one answer")
            acc = []
        full = False
        for a in acc:
            if not isinstance(a, dict) or not set(a) <= {"value", "score"} or not _nonempty_str(a.get("value")):
                bad(f"bad accepted answer {a!r}")
                continue
            s = a.get("score", points)
            if not _is_num(s) or not 0 < s <= points:
                bad(f"accepted score {s!r} not in (0, points]")
            full |= math.isclose(s, points) if _is_num(s) else False
        if acc and not full:
            bad("no accepted answer gives full points")
        for f in ("case_sensitive", "normalize_whitespace"):
            if f in sc and not isinstance(sc[f], bool):
                bad(f"{f} must be a boolean")
        values = [unicodedata.normalize("NFKC", a["value"]).strip()
                  for a in acc if isinstance(a, dict) and isinstance(a.get("value"), str)]
        if sc.get("normalize_whitespace", True):
            values = [" ".join(v.split()) for v in values]
        if not sc.get("case_sensitive", False):
            values = [v.casefold() for v in values]
        if len(set(values)) != len(values):
            bad("two accepted answers are the same after matching")
        for f, kind in (("expected_length", int), ("placeholder", str)):
            if f in inter and not isinstance(inter[f], kind):
                bad(f"{f} has the wrong type")
    elif t == "numeric":
        if not _is_num(sc.get("value")):
            bad("value must be a finite number")
        tol = sc.get("tolerance", 0)
        if not _is_num(tol) or tol < 0:
            bad("tolerance must be a number >= 0")
        mode = sc.get("tolerance_mode", "absolute")
        if mode not in ("absolute", "relative"):
            bad(f"tolerance_mode {mode!r}")
        if mode == "relative" and (sc.get("value") == 0 or (_is_num(tol) and tol >= 1)):
            bad("a relative tolerance needs a non-zero value and a fraction < 1")
        if "unit" in inter and not isinstance(inter["unit"], str):
            bad("unit must be a string")
    elif t == "extended_text":
        rubric = sc.get("rubric")
        crits = rubric.get("criteria") if isinstance(rubric, dict) else None
        if not isinstance(crits, list) or not 2 <= len(crits) <= 3:
            bad("the rubric needs 2-3 criteria")
            crits = []
        cids = []
        for c in crits:
            if not isinstance(c, dict) or set(c) != {"id", "title", "levels"}:
                bad(f"bad criterion {c!r}")
                continue
            cids.append(c["id"])
            if not isinstance(c["id"], str) or not ID_RE.match(c["id"]):
                bad(f"criterion id {c['id']!r}")
            if not _nonempty_str(c["title"]):
                bad("criterion without title")
            levels = c["levels"]
            if not isinstance(levels, list) or len(levels) < 2:
                bad(f"criterion {c['id']!r} needs at least two levels")
                continue
            pts = []
            for lv in levels:
                if not isinstance(lv, dict) or set(lv) != {"points", "label", "description"}:
                    bad(f"bad level {lv!r}")
                    continue
                if not _is_num(lv["points"]) or lv["points"] < 0:
                    bad("level points must be >= 0")
                else:
                    pts.append(lv["points"])
                if not _nonempty_str(lv["label"]) or not _nonempty_str(lv["description"]):
                    bad("level without label or description")
            if pts and (max(pts) <= 0 or len(set(pts)) != len(pts)):
                bad(f"criterion {c['id']!r}: levels need distinct points and a best level > 0")
        if len(set(cids)) != len(cids):
            bad("criterion ids are not unique")
    elif t == "order":
        p += [f"{key}: {m}" for m in _options_problems(inter.get("options"), "options")]
        ids = _ids(inter.get("options"))
        co = sc.get("correct_order")
        if not isinstance(co, list) or sorted(co) != sorted(ids) or len(set(co)) != len(co):
            bad("correct_order must list every option id exactly once")
    elif t == "match":
        p += [f"{key}: {m}" for m in _options_problems(inter.get("left"), "left")]
        p += [f"{key}: {m}" for m in _options_problems(inter.get("right"), "right")]
        left, right = _ids(inter.get("left")), _ids(inter.get("right"))
        ma = inter.get("max_associations", 1)
        if not isinstance(ma, int) or isinstance(ma, bool) or ma < 1:
            bad("max_associations must be an int >= 1")
            ma = 1
        pairs = sc.get("pairs")
        if not isinstance(pairs, list) or not pairs:
            bad("pairs needs at least one pair")
            pairs = []
        seen = set()
        for pr in pairs:
            if not isinstance(pr, list) or len(pr) != 2:
                bad(f"bad pair {pr!r}")
                continue
            if pr[0] not in left or pr[1] not in right:
                bad(f"pair {pr!r} refers to an unknown id")
            if tuple(pr) in seen:
                bad(f"pair {pr!r} is repeated")
            seen.add(tuple(pr))
        for lid, n in Counter(pr[0] for pr in seen).items():
            if n > ma:
                bad(f"left {lid!r} has {n} pairs, more than max_associations {ma}")
        if rule == "map":
            known = {f"{l} {r}" for l in left for r in right}
            p += [f"{key}: {m}" for m in _map_problems(sc, known, [f"{l} {r}" for l, r in seen], points, "map")]
    elif t == "inline_choice":
        gaps = inter.get("gaps")
        if not isinstance(gaps, list) or not gaps:
            bad("gaps needs at least one gap")
            gaps = []
        gap_ids, gap_opts = [], {}
        for g in gaps:
            if not isinstance(g, dict) or set(g) != {"id", "options"}:
                bad(f"bad gap {g!r}")
                continue
            if not isinstance(g["id"], str) or not ID_RE.match(g["id"]):
                bad(f"gap id {g['id']!r}")
            gap_ids.append(g["id"])
            p += [f"{key}: {m}" for m in _options_problems(g["options"], f"gap {g['id']}")]
            gap_opts[g["id"]] = _ids(g["options"])
        if len(set(gap_ids)) != len(gap_ids):
            bad("gap ids are not unique")
        in_stem = GAP_RE.findall(stem)
        if Counter(in_stem) != Counter(gap_ids):
            bad(f"gaps in the stem {in_stem} != gaps of the interaction {gap_ids}")
        if stem.count("data-gap") != len(in_stem):
            bad("a data-gap in the stem is not an empty <span data-gap=...></span>")
        correct = sc.get("correct")
        if not isinstance(correct, dict) or set(correct) != set(gap_ids):
            bad("correct must give an option for every gap and only for gaps")
        else:
            for gid, oid in correct.items():
                if oid not in gap_opts.get(gid, []):
                    bad(f"correct[{gid!r}] = {oid!r} is not an option of that gap")

    # metadata
    if extra := set(md) - METADATA_FIELDS:
        bad(f"unknown metadata fields {sorted(extra)}")
    for f in ("tags", "objectives"):
        v = md.get(f)
        if not isinstance(v, list) or not v or not all(_nonempty_str(x) for x in v) or len(set(v)) != len(v):
            bad(f"metadata.{f} must be a non-empty list of distinct strings")
    if md.get("language", "en") != "en":
        bad("metadata.language must be 'en'")
    ets = md.get("estimated_time_s")
    if not isinstance(ets, int) or isinstance(ets, bool) or ets <= 0:
        bad("metadata.estimated_time_s must be a positive int")
    diff = md.get("difficulty")
    if diff is not None and (not _is_num(diff) or not 0 <= diff <= 1):
        bad("metadata.difficulty must be in 0..1 or null")
    irt = md.get("irt")
    if irt is not None and (not isinstance(irt, dict) or set(irt) != {"a", "b", "c"}
                            or not all(_is_num(v) for v in irt.values())):
        bad("metadata.irt must be null or {a, b, c}")
    return p


def variant(item) -> str:
    """The item's type, with choice and numeric items split by the kind the brief asks for."""
    t = item["type"]
    if t == "choice":
        n, mx = len(item["interaction"]["options"]), item["interaction"]["max_choices"]
        if mx == 1:
            return "choice:true_false" if n == 2 else "choice:single"
        return "choice:multiple_unlimited" if mx == 0 else "choice:multiple_limited"
    if t == "numeric":
        return "numeric:" + item["scoring"].get("tolerance_mode", "absolute")
    if t == "inline_choice":
        return "inline_choice"
    return t


VARIANTS = {
    "choice:single", "choice:true_false", "choice:multiple_unlimited", "choice:multiple_limited",
    "text_entry", "numeric:absolute", "numeric:relative", "extended_text", "order", "match", "inline_choice",
}


@pytest.fixture(scope="module")
def data():
    with BANK_PATH.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def banks(data):
    return data["banks"]


def all_items(banks):
    return [it for b in banks for it in b["items"]]


def test_top_level_shape(data):
    assert set(data) == {"banks"}
    assert [b["name"] for b in data["banks"]] == list(EXPECTED_BANKS)
    for b in data["banks"]:
        assert set(b) == {"name", "description", "items"}
        assert _nonempty_str(b["description"])
        assert len(b["items"]) >= MIN_ITEMS_PER_BANK, b["name"]


def test_ships_as_package_data():
    res = resources.files("exam_engine.demo_data").joinpath("bank.json")
    assert res.is_file()
    assert json.loads(res.read_text(encoding="utf-8"))["banks"]


def test_every_item_is_valid(banks):
    problems = [m for it in all_items(banks) for m in item_problems(it)]
    assert not problems, "\n".join(problems)


def test_keys_unique_and_prefixed_per_bank(banks):
    keys = [it["key"] for it in all_items(banks)]
    assert len(keys) == len(set(keys)), [k for k, n in Counter(keys).items() if n > 1]
    for b in banks:
        prefixes = {it["key"].split("-")[0] for it in b["items"]}
        assert len(prefixes) == 1, (b["name"], prefixes)
    titles = [it["title"] for it in all_items(banks)]
    assert len(titles) == len(set(titles)), [t for t, n in Counter(titles).items() if n > 1]


@pytest.mark.parametrize("index", range(len(EXPECTED_BANKS)))
def test_each_topic_covers_every_type_and_variant(banks, index):
    bank = banks[index]
    found = Counter(variant(it) for it in bank["items"])
    assert VARIANTS <= set(found), (bank["name"], sorted(VARIANTS - set(found)))
    gap_counts = {len(it["interaction"]["gaps"]) for it in bank["items"] if it["type"] == "inline_choice"}
    assert gap_counts <= {1, 2, 3} and len(gap_counts) >= 2, (bank["name"], gap_counts)
    assert any(it["type"] == "choice" and it["scoring"].get("negative_marking", 0) > 0 for it in bank["items"])
    assert any("<code>" in it["stem"] or "<ul>" in it["stem"] or "<ol>" in it["stem"] or "<table>" in it["stem"]
               for it in bank["items"]), bank["name"]


def test_scoring_rules_are_varied(banks):
    used = {(it["type"], it["scoring"].get("rule", DEFAULT_RULE.get(it["type"])))
            for it in all_items(banks) if it["type"] in RULES}
    wanted = {(t, r) for t, rules in RULES.items() for r in rules}
    assert wanted <= used, sorted(wanted - used)
    items = all_items(banks)
    assert any(len(it["scoring"]["accepted"]) >= 3 for it in items if it["type"] == "text_entry")
    assert any("lower_bound" in it["scoring"] and "upper_bound" in it["scoring"]
               for it in items if it["scoring"].get("rule") == "map")
    assert sum(1 for it in items if it["scoring"].get("negative_marking", 0) > 0) >= 3


def test_statistics_uses_mathml(banks):
    stats = banks[EXPECTED_BANKS.index("Introductory statistics")]
    assert sum(1 for it in stats["items"] if "<math" in it["stem"]) >= 3


def test_rubrics_scale_to_points(banks):
    for it in all_items(banks):
        if it["type"] == "extended_text":
            crits = it["scoring"]["rubric"]["criteria"]
            assert all(len(c["levels"]) >= 2 for c in crits), it["key"]


# --- the validator must be able to fail --------------------------------------------------

def _first(banks, pred):
    return copy.deepcopy(next(it for it in all_items(banks) if pred(it)))


def _break_dup_option(it):
    it["interaction"]["options"][1]["id"] = it["interaction"]["options"][0]["id"]


def _break_unknown_correct(it):
    it["scoring"]["correct"] = ["no_such_option"]


def _break_bad_id(it):
    it["interaction"]["options"][0]["id"] = "1-starts-with-digit"


def _break_order(it):
    it["scoring"]["correct_order"] = it["scoring"]["correct_order"][:-1]


def _break_pair(it):
    it["scoring"]["pairs"][0] = [it["scoring"]["pairs"][0][0], "nobody"]


def _break_gap_stem(it):
    it["stem"] = GAP_RE.sub("", it["stem"], count=1)


def _break_gap_key(it):
    it["scoring"]["correct"].pop(next(iter(it["scoring"]["correct"])))


def _break_tolerance(it):
    it["scoring"]["tolerance"] = -0.1


def _break_rubric(it):
    it["scoring"]["rubric"]["criteria"] = it["scoring"]["rubric"]["criteria"][:1]


def _break_rule(it):
    it["scoring"]["rule"] = "per_gap"


def _break_leak(it):
    it["interaction"]["correct"] = it["scoring"]["correct"]


def _break_map(it):
    it["scoring"]["upper_bound"] = it["scoring"].get("points", 1) / 2


def _break_script(it):
    it["stem"] += "<script>alert(1)</script>"


def _break_language(it):
    it["metadata"]["language"] = "fr"


BREAKERS = [
    ("choice", None, _break_dup_option),
    ("choice", None, _break_unknown_correct),
    ("order", None, _break_bad_id),
    ("order", None, _break_order),
    ("match", None, _break_pair),
    ("inline_choice", None, _break_gap_stem),
    ("inline_choice", None, _break_gap_key),
    ("numeric", None, _break_tolerance),
    ("extended_text", None, _break_rubric),
    ("choice", None, _break_rule),
    ("choice", None, _break_leak),
    ("choice", "map", _break_map),
    ("text_entry", None, _break_script),
    ("numeric", None, _break_language),
]


@pytest.mark.parametrize("type_, rule, breaker", BREAKERS, ids=[b[2].__name__ for b in BREAKERS])
def test_validator_rejects_broken_items(banks, type_, rule, breaker):
    item = _first(banks, lambda it: it["type"] == type_ and (rule is None or it["scoring"].get("rule") == rule))
    assert item_problems(item) == []
    breaker(item)
    assert item_problems(item), f"{breaker.__name__} went unnoticed"
