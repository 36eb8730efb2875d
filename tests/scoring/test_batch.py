"""Vectorised batch grading equals grade_item, response by response."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import InvalidData, InvalidResponse, grade_item
from scoring.batch import attempt_totals, compile_items, encode_responses, grade_batch, grade_encoded

from ._generators import opts, random_item, random_response


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


def test_flagging_invalid_rows_keeps_the_batch_going():
    inter = {"options": opts(["a", "b"]), "max_choices": 1}
    items = [("choice", {"correct": ["a"], "negative_marking": 1, "floor": -1}, inter),
             ("order", {"correct_order": ["a", "b"]}, {"options": opts(["a", "b"])})]
    s = grade_batch(items, [0, 0, 0, 1, 1], [["a"], ["a", "b"], ["zz"], ["b", "a"], ["a"]], on_invalid="flag")
    assert list(s.is_invalid) == [False, True, True, False, True]
    assert list(s.score) == [1, 0, 0, 0, 0]
    c = compile_items(items)
    enc = encode_responses(c, [0, 1], [["a", "b"], ["a"]], on_invalid="flag")
    assert enc.invalid[0][0] == "too_many_choices" and enc.invalid[1][0] == "not_a_permutation"
    with pytest.raises(InvalidData):
        encode_responses(c, [0], [["a"]], on_invalid="ignore")
