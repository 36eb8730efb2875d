"""validate_response and validate_scoring: shapes refused with stable codes."""

from __future__ import annotations

import pytest

from scoring import InvalidResponse, InvalidScoringRule, UnknownItemType, validate_response, validate_scoring


def opts(*ids):
    return [{"id": i, "html": i} for i in ids]


CHOICE = {"options": opts("a", "b", "c"), "max_choices": 2}


@pytest.mark.parametrize("response,code", [
    ("a", "invalid_response_shape"),
    ({"a": 1}, "invalid_response_shape"),
    ([1], "invalid_response_shape"),
    (["z"], "unknown_option"),
    (["a", "a"], "duplicate_option"),
    (["a", "b", "c"], "too_many_choices"),
    (["<script>"], "unknown_option"),
])
def test_choice_refusals(response, code):
    with pytest.raises(InvalidResponse) as e:
        validate_response("choice", CHOICE, response)
    assert e.value.code == code
    assert e.value.message


def test_choice_ok_and_canonical():
    assert validate_response("choice", CHOICE, ("b", "a")) == ["b", "a"]
    assert validate_response("choice", CHOICE, None) is None
    assert validate_response("choice", {"options": opts("a", "b", "c"), "max_choices": 0}, ["a", "b", "c"])


def test_choice_default_max_choices_is_single():
    with pytest.raises(InvalidResponse):
        validate_response("choice", {"options": opts("a", "b")}, ["a", "b"])


def test_numeric():
    assert validate_response("numeric", {}, 3) == 3.0
    for bad in (float("nan"), float("inf"), "3", None.__class__, b"1", True):
        if bad is None.__class__:
            continue
        with pytest.raises(InvalidResponse):
            validate_response("numeric", {}, bad)


def test_text_types():
    with pytest.raises(InvalidResponse):
        validate_response("text_entry", {}, 12)
    with pytest.raises(InvalidResponse):
        validate_response("extended_text", {}, ["essay"])
    assert validate_response("text_entry", {}, "ok") == "ok"


def test_order():
    inter = {"options": opts("a", "b", "c")}
    assert validate_response("order", inter, ["c", "a", "b"]) == ["c", "a", "b"]
    assert validate_response("order", inter, []) is None
    with pytest.raises(InvalidResponse) as e:
        validate_response("order", inter, ["c", "a"])
    assert e.value.code == "not_a_permutation"
    with pytest.raises(InvalidResponse) as e:
        validate_response("order", inter, ["c", "a", "x"])
    assert e.value.code == "unknown_option"


def test_unknown_type():
    with pytest.raises(UnknownItemType):
        validate_response("nope", {}, None)


def test_invalid_response_two_forms():
    assert InvalidResponse("just a message").code == "invalid_response_shape"
    e = InvalidResponse("unknown_option", "msg")
    assert (e.code, e.message) == ("unknown_option", "msg")


class TestValidateScoring:
    def test_choice(self):
        validate_scoring("choice", {"correct": ["a"]}, {"options": opts("a", "b"), "max_choices": 1})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("choice", {"correct": ["z"]}, {"options": opts("a", "b"), "max_choices": 1})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("choice", {"correct": ["a", "b"]}, {"options": opts("a", "b"), "max_choices": 1})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("choice", {"correct": ["a"], "rule": "map"})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("choice", {"correct": ["a"], "rule": "map", "mapping": {"a": 1}, "lower_bound": 2, "upper_bound": 1})
        validate_scoring("choice", {"correct": ["a"], "rule": "map", "mapping": {"a": 1}, "lower_bound": 0})

    def test_others(self):
        validate_scoring("text_entry", {"accepted": [{"value": "x"}]})
        validate_scoring("numeric", {"value": 2, "tolerance": 0.1})
        validate_scoring("order", {"correct_order": ["a", "b"]}, {"options": opts("a", "b")})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("order", {"correct_order": ["a", "b"]}, {"options": opts("a", "c")})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("order", {"correct_order": ["a", "a"]})
        validate_scoring("match", {"pairs": [["l", "r"]]}, {"left": opts("l"), "right": opts("r")})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("match", {"pairs": [["l", "x"]]}, {"left": opts("l"), "right": opts("r")})
        with pytest.raises(InvalidScoringRule):
            validate_scoring("match", {"pairs": [["l", "r"]], "rule": "map"})
        gaps = {"gaps": [{"id": "g", "options": opts("a")}]}
        validate_scoring("inline_choice", {"correct": {"g": "a"}}, gaps)
        with pytest.raises(InvalidScoringRule):
            validate_scoring("inline_choice", {"correct": {"g": "b"}}, gaps)
        with pytest.raises(InvalidScoringRule):
            validate_scoring("inline_choice", {"correct": {"h": "a"}}, gaps)

    def test_rubric(self):
        validate_scoring("extended_text", {"rubric": {"criteria": [{"id": "c", "levels": [{"points": 0}, {"points": 2}]}]}})
        for bad in ({}, {"rubric": {"criteria": []}}, {"rubric": {"criteria": [{"id": "c", "levels": []}]}},
                    {"rubric": {"criteria": [{"id": "c", "levels": [{"points": 0}]}]}},
                    {"rubric": {"criteria": [{"id": "c", "levels": [{"points": 1}]}, {"id": "c", "levels": [{"points": 1}]}]}},
                    {"rubric": {"criteria": [{"id": "c", "levels": [{"points": float("nan")}]}]}}):
            with pytest.raises(InvalidScoringRule):
                validate_scoring("extended_text", bad)


def test_bad_interaction_is_an_authoring_error():
    with pytest.raises(InvalidScoringRule) as e:
        validate_response("choice", {"options": opts("a"), "max_choices": "two"}, ["a"])
    assert e.value.code == "invalid_interaction"
    with pytest.raises(InvalidScoringRule):
        validate_response("match", {"left": opts("l"), "right": opts("r"), "max_associations": -1}, [["l", "r"]])
