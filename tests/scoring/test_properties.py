"""Property-based tests: scores within [floor, max]; order invariance where it should hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InvalidResponse, grade_item

IDS = [f"o{i}" for i in range(8)]
ids = st.sampled_from(IDS)
id_sets = st.lists(ids, min_size=1, max_size=8, unique=True)
points = st.floats(0.1, 100, allow_nan=False)
floors = st.floats(-100, 0, allow_nan=False)
negs = st.floats(0, 50, allow_nan=False)
OPTS = {"options": [{"id": i, "html": i} for i in IDS], "max_choices": 0}


def common(draw):
    return {"points": draw(points), "floor": draw(floors), "negative_marking": draw(negs)}


def in_bounds(r, s):
    return s["floor"] - 1e-9 <= r.score <= s["points"] + 1e-9


@settings(max_examples=300, deadline=None)
@given(st.data(), id_sets, st.lists(ids, max_size=8, unique=True),
       st.sampled_from(["all_or_nothing", "per_option", "per_option_penalty", "map"]))
def test_choice_bounds_and_order_invariance(data, correct, selected, rule):
    s = {**common(data.draw), "correct": correct, "rule": rule}
    if rule == "map":
        s["mapping"] = {i: data.draw(st.floats(-5, 5)) for i in IDS[:5]}
        s["default_value"] = data.draw(st.floats(-2, 2))
        if data.draw(st.booleans()):
            s["lower_bound"] = data.draw(st.floats(-10, 0))
        if data.draw(st.booleans()):
            s["upper_bound"] = data.draw(st.floats(0, 10))
    r = grade_item("choice", s, selected, OPTS)
    assert in_bounds(r, s)
    r2 = grade_item("choice", s, list(reversed(selected)), OPTS)
    assert abs(r.score - r2.score) < 1e-9
    if set(selected) == set(correct) and rule != "map":
        assert r.is_correct


@settings(max_examples=200, deadline=None)
@given(st.data(), st.permutations(IDS[:6]), st.permutations(IDS[:6]), st.sampled_from(["exact", "pairs"]))
def test_order_bounds(data, key, resp, rule):
    s = {**common(data.draw), "correct_order": list(key), "rule": rule}
    r = grade_item("order", s, list(resp), {"options": [{"id": i} for i in key]})
    assert in_bounds(r, s)
    assert r.is_correct == (list(key) == list(resp))


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(["per_pair", "per_pair_penalty", "all_or_nothing", "map"]))
def test_match_bounds_and_order_invariance(data, rule):
    left, right = IDS[:4], IDS[4:]
    key = [[l, data.draw(st.sampled_from(right))] for l in left]
    given_pairs = data.draw(st.lists(st.tuples(st.sampled_from(left), st.sampled_from(right)), unique=True, max_size=16))
    s = {**common(data.draw), "pairs": key, "rule": rule, "mapping": {f"{l} {r}": 1.5 for l, r in key}, "default_value": -1}
    inter = {"left": [{"id": i} for i in left], "right": [{"id": i} for i in right], "max_associations": 0}
    r = grade_item("match", s, [list(p) for p in given_pairs], inter)
    assert in_bounds(r, s)
    r2 = grade_item("match", s, [list(p) for p in reversed(given_pairs)], inter)
    assert abs(r.score - r2.score) < 1e-9


@settings(max_examples=200, deadline=None)
@given(st.data(), st.text(max_size=40))
def test_text_entry_bounds(data, text):
    s = {**common(data.draw), "accepted": [{"value": data.draw(st.text(max_size=10)), "score": data.draw(st.floats(-5, 200))}]}
    r = grade_item("text_entry", s, text)
    assert in_bounds(r, s)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e6, 1e6), st.floats(0, 10),
       st.sampled_from(["absolute", "relative"]))
def test_numeric_bounds_and_non_finite(data, x, value, tol, mode):
    s = {**common(data.draw), "value": value, "tolerance": tol, "tolerance_mode": mode}
    try:
        r = grade_item("numeric", s, x)
    except InvalidResponse as e:
        assert x != x or abs(x) == float("inf")
        assert e.code == "non_finite_number"
        return
    assert in_bounds(r, s)


@settings(max_examples=200, deadline=None)
@given(st.data(), st.sampled_from(["per_gap", "all_or_nothing"]))
def test_inline_choice_bounds(data, rule):
    gaps = ["g1", "g2", "g3"]
    key = {g: data.draw(st.sampled_from(["a", "b", "c"])) for g in gaps}
    resp = data.draw(st.dictionaries(st.sampled_from(gaps), st.sampled_from(["a", "b", "c"])))
    s = {**common(data.draw), "correct": key, "rule": rule}
    inter = {"gaps": [{"id": g, "options": [{"id": o} for o in "abc"]} for g in gaps]}
    r = grade_item("inline_choice", s, resp, inter)
    assert in_bounds(r, s)
    r2 = grade_item("inline_choice", s, dict(reversed(list(resp.items()))), inter)
    assert r.score == r2.score


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 0), st.floats(0.1, 10), st.floats(0, 1), st.floats(0, 5),
                          st.sampled_from(["A", "B", None])), max_size=12),
       st.floats(0, 100))
def test_attempt_totals_bounds_and_item_order_invariance(rows, cut):
    from scoring import ItemScore, ScoredItem
    from scoring.aggregate import score_attempt
    from scoring.thresholds import PassPolicy

    items = []
    for i, (floor, mx, frac, w, sec) in enumerate(rows):
        s = floor + frac * (mx - floor)
        items.append(ScoredItem(f"q{i}", ItemScore(s, mx, s >= mx), sec, w))
    r = score_attempt(items, PassPolicy(cut))
    lo = sum(f * w for f, _, _, w, _ in rows)
    hi = sum(m * w for _, m, _, w, _ in rows)
    assert lo - 1e-6 <= r.score <= hi + 1e-6 and abs(r.max_score - hi) < 1e-6
    assert r.percentage <= 100 + 1e-6
    r2 = score_attempt(list(reversed(items)), PassPolicy(cut))
    assert abs(r.score - r2.score) < 1e-6 and r.passed == r2.passed
