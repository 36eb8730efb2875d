"""Vectorised batch grading equals grade_item, response by response."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InvalidResponse, grade_item
from scoring.batch import attempt_totals, compile_items, encode_responses, grade_batch, grade_encoded


def opts(ids):
    return [{"id": i, "html": i} for i in ids]


def common(rng):
    return {"points": rng.choice([1, 2, 3.5]), "floor": rng.choice([0, 0, -1, -2]),
            "negative_marking": rng.choice([0, 0, 0.25, 1]), "weight": rng.choice([1, 2])}


def random_item(rng: random.Random, with_interaction=True):
    t = rng.choice(["choice", "text_entry", "numeric", "extended_text", "order", "match", "inline_choice"])
    if t == "choice":
        ids = [f"o{i}" for i in range(rng.randint(2, 7))]
        correct = rng.sample(ids, rng.randint(1, len(ids)))
        rule = rng.choice(["all_or_nothing", "per_option", "per_option_penalty", "map"])
        s = {**common(rng), "correct": correct, "rule": rule}
        if rule == "map":
            s["mapping"] = {i: rng.choice([-1, -0.5, 0.5, 1, 2]) for i in rng.sample(ids, rng.randint(1, len(ids)))}
            s["default_value"] = rng.choice([0, -0.25])
            if rng.random() < 0.5:
                s["lower_bound"] = -0.5
            if rng.random() < 0.5:
                s["upper_bound"] = 1.5
        inter = {"options": opts(ids), "max_choices": 0}
        return t, s, inter
    if t == "text_entry":
        s = {**common(rng), "accepted": [{"value": "Paris"}, {"value": "paris  france", "score": 0.5}],
             "case_sensitive": rng.random() < 0.3, "normalize_whitespace": rng.random() < 0.7}
        return t, s, {}
    if t == "numeric":
        return t, {**common(rng), "value": rng.choice([3.14, -200, 0]), "tolerance": rng.choice([0, 0.01, 0.05]),
                   "tolerance_mode": rng.choice(["absolute", "relative"])}, {"unit": "m"}
    if t == "extended_text":
        return t, {**common(rng), "rubric": {"criteria": [{"id": "c", "levels": [{"points": 0}, {"points": 2}]}]}}, {}
    if t == "order":
        ids = [f"o{i}" for i in range(rng.randint(1, 7))]
        key = ids[:]
        rng.shuffle(key)
        return t, {**common(rng), "correct_order": key, "rule": rng.choice(["exact", "pairs"])}, {"options": opts(ids)}
    if t == "match":
        left, right = [f"l{i}" for i in range(rng.randint(1, 4))], [f"r{i}" for i in range(rng.randint(1, 4))]
        pairs = [[l, rng.choice(right)] for l in left]
        rule = rng.choice(["per_pair", "per_pair_penalty", "all_or_nothing", "map"])
        s = {**common(rng), "pairs": pairs, "rule": rule}
        if rule == "map":
            s["mapping"] = {f"{l} {r}": 1.0 for l, r in pairs}
            s["default_value"] = -0.5
            s["lower_bound"] = 0
        return t, s, {"left": opts(left), "right": opts(right), "max_associations": 0}
    gaps = [{"id": f"g{i}", "options": opts([f"g{i}o{j}" for j in range(3)])} for i in range(rng.randint(1, 4))]
    key = {g["id"]: rng.choice(g["options"])["id"] for g in gaps}
    return t, {**common(rng), "correct": key, "rule": rng.choice(["per_gap", "all_or_nothing"])}, {"gaps": gaps}


def random_response(rng: random.Random, t, s, inter):
    if rng.random() < 0.1:
        return None
    if t == "choice":
        ids = [o["id"] for o in inter["options"]]
        return rng.sample(ids, rng.randint(0, len(ids)))
    if t == "text_entry":
        return rng.choice(["Paris", " PARIS ", "paris france", "paris  france", "London", "", "Paris,"])
    if t == "numeric":
        return s["value"] + rng.choice([0, 0.001, 0.01, 0.5, -3, 10])
    if t == "extended_text":
        return rng.choice(["an essay", "  "])
    if t == "order":
        ids = [o["id"] for o in inter["options"]]
        rng.shuffle(ids)
        return ids
    if t == "match":
        allp = [[l["id"], r["id"]] for l in inter["left"] for r in inter["right"]]
        return rng.sample(allp, rng.randint(0, len(allp)))
    return {g["id"]: rng.choice(g["options"])["id"] for g in inter["gaps"] if rng.random() < 0.8}


def check(seed, n_items=30, n_resp=400):
    rng = random.Random(seed)
    items = [random_item(rng) for _ in range(n_items)]
    idx = [rng.randrange(n_items) for _ in range(n_resp)]
    resps = [random_response(rng, *items[i]) for i in idx]
    got = grade_batch(items, idx, resps)
    for r, (i, resp) in enumerate(zip(idx, resps)):
        t, s, inter = items[i]
        want = grade_item(t, s, resp, inter)
        assert got.score[r] == pytest.approx(want.score, abs=1e-9), (t, s, resp)
        assert got.is_correct[r] == want.is_correct
        assert got.is_pending_manual[r] == want.is_pending_manual
        assert got.max_score[r] == want.max_score and got.weight[r] == want.weight


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32))
def test_batch_equals_grade_item(seed):
    check(seed)


def test_fixed_seeds():
    for seed in range(5):
        check(seed, n_resp=1000)


def test_without_interaction_and_fallback():
    items = [("choice", {"correct": ["a"], "rule": "map", "mapping": {"a": 1}, "default_value": -0.5, "floor": -1}),
             ("choice", {"correct": ["o0"]}, {"options": opts([f"o{i}" for i in range(70)]), "max_choices": 0}),
             ("order", {"correct_order": [f"o{i}" for i in range(20)], "rule": "pairs"}),
             ("inline_choice", {"correct": {"g": "x"}})]
    resps = [["a", "zz"], ["o0"], [f"o{i}" for i in range(19, -1, -1)], {"g": "x"}]
    got = grade_batch(items, [0, 1, 2, 3], resps)
    want = [grade_item(*items[i][:2], resps[i], *(items[i][2:] or [None])) for i in range(4)]
    np.testing.assert_allclose(got.score, [w.score for w in want])
    with pytest.raises(InvalidResponse):
        grade_batch(items, [3], [{"h": "x"}])


def test_rescore_after_key_override_reuses_encoding():
    inter = {"options": opts(["a", "b", "c"]), "max_choices": 1}
    old = compile_items([("choice", {"correct": ["a"]}, inter)])
    enc = encode_responses(old, [0, 0, 0], [["a"], ["b"], ["c"]])
    assert list(grade_encoded(old, enc).score) == [1, 0, 0]
    new = compile_items([("choice", {"correct": ["b"]}, inter)])
    assert list(grade_encoded(new, enc).score) == [0, 1, 0]


def test_bad_rows_are_named():
    inter = {"options": opts(["a", "b"]), "max_choices": 1}
    with pytest.raises(InvalidResponse) as e:
        grade_batch([("choice", {"correct": ["a"]}, inter)], [0, 0], [["a"], ["a", "b"]])
    assert e.value.code == "too_many_choices" and "response 1" in e.value.message


def test_attempt_totals():
    items = [("numeric", {"value": 1, "weight": 2}), ("numeric", {"value": 2, "points": 3})]
    s = grade_batch(items, [0, 1, 0, 1], [1, 2, 0, 2])
    tot, mx, pend = attempt_totals(s, [0, 0, 1, 1])
    assert list(tot) == [5, 3] and list(mx) == [5, 5] and list(pend) == [0, 0]
