"""Every grader and partial-credit rule of docs/items.md."""

from __future__ import annotations

import pytest

from scoring import InvalidResponse, InvalidScoringRule, UnknownItemType, grade_item

OPTS = {"options": [{"id": i, "html": i.upper()} for i in "abcde"], "max_choices": 0}


def opts(*ids):
    return [{"id": i, "html": i} for i in ids]


# --- choice -------------------------------------------------------------------

class TestChoice:
    def test_all_or_nothing_single(self):
        s = {"correct": ["b"]}
        inter = {"options": opts("a", "b", "c"), "max_choices": 1}
        assert grade_item("choice", s, ["b"], inter).score == 1
        assert grade_item("choice", s, ["b"], inter).is_correct
        assert grade_item("choice", s, ["a"], inter).score == 0

    def test_true_false(self):
        inter = {"options": opts("true", "false"), "max_choices": 1}
        assert grade_item("choice", {"correct": ["false"], "points": 2}, ["false"], inter).score == 2

    def test_all_or_nothing_multiple_needs_exact_set(self):
        s = {"correct": ["a", "c"], "rule": "all_or_nothing", "points": 3}
        assert grade_item("choice", s, ["c", "a"], OPTS).score == 3
        assert grade_item("choice", s, ["a"], OPTS).score == 0
        assert grade_item("choice", s, ["a", "c", "d"], OPTS).score == 0

    def test_per_option_ignores_wrong(self):
        s = {"correct": ["a", "b", "c", "d"], "rule": "per_option", "points": 2}
        r = grade_item("choice", s, ["a", "b", "e"], OPTS)
        assert r.score == pytest.approx(1.0)
        assert r.detail["correct_selected"] == 2 and r.detail["wrong_selected"] == 1
        assert not r.is_correct

    def test_per_option_penalty_floored(self):
        s = {"correct": ["a", "b"], "rule": "per_option_penalty", "points": 2}
        assert grade_item("choice", s, ["a", "b", "c"], OPTS).score == pytest.approx(1.0)
        assert grade_item("choice", s, ["a", "c", "d"], OPTS).score == 0  # floor 0
        s_neg = dict(s, floor=-2)
        assert grade_item("choice", s_neg, ["a", "c", "d"], OPTS).score == pytest.approx(-1.0)
        assert grade_item("choice", s_neg, ["c", "d", "e"], OPTS).score == pytest.approx(-2.0)  # -3 floored at -2

    def test_map_with_bounds(self):
        s = {"correct": ["a"], "rule": "map", "points": 2,
             "mapping": {"a": 1.5, "b": 1.0, "c": -1.0}, "default_value": -0.25, "lower_bound": 0, "upper_bound": 5}
        assert grade_item("choice", s, ["a"], OPTS).score == 1.5
        assert grade_item("choice", s, ["a", "b"], OPTS).score == 2  # 2.5 capped at points
        assert grade_item("choice", s, ["a", "c"], OPTS).score == 0.5
        assert grade_item("choice", s, ["a", "d"], OPTS).score == 1.25  # default_value
        assert grade_item("choice", s, ["c"], OPTS).score == 0  # lower bound

    def test_map_lower_bound_below_zero_respects_floor(self):
        s = {"correct": ["a"], "rule": "map", "mapping": {"c": -1.0}, "lower_bound": -0.5, "floor": -1}
        assert grade_item("choice", s, ["c"], OPTS).score == -0.5
        s2 = dict(s, floor=-0.25)
        assert grade_item("choice", s2, ["c"], OPTS).score == -0.25

    def test_negative_marking_only_when_answered_and_earning_nothing(self):
        s = {"correct": ["a"], "negative_marking": 0.25, "floor": -1}
        inter = {"options": opts("a", "b"), "max_choices": 1}
        assert grade_item("choice", s, ["b"], inter).score == -0.25
        assert grade_item("choice", s, ["a"], inter).score == 1
        assert grade_item("choice", s, None, inter).score == 0
        assert grade_item("choice", s, [], inter).score == 0
        # the default floor 0 cancels the penalty
        assert grade_item("choice", {"correct": ["a"], "negative_marking": 0.25}, ["b"], inter).score == 0

    def test_partial_credit_is_not_negatively_marked(self):
        s = {"correct": ["a", "b"], "rule": "per_option", "negative_marking": 1, "floor": -1}
        assert grade_item("choice", s, ["a"], OPTS).score == 0.5

    def test_weight_travels(self):
        r = grade_item("choice", {"correct": ["a"], "weight": 2.5}, ["a"], OPTS)
        assert r.weight == 2.5 and r.score == 1

    def test_without_interaction_unknown_ids_are_just_wrong(self):
        assert grade_item("choice", {"correct": ["a"]}, ["zz"]).score == 0

    @pytest.mark.parametrize("bad", [{"mapping": {"a": "1"}}, {"mapping": {"a": float("nan")}},
                                     {"mapping": {"a": 1}, "default_value": "x"}, {"mapping": {"a": 1}, "lower_bound": float("inf")}])
    def test_bad_map_values_are_authoring_errors(self, bad):
        with pytest.raises(InvalidScoringRule):
            grade_item("choice", {"correct": ["a"], "rule": "map", **bad}, ["a", "b"], OPTS)

    def test_unknown_rule(self):
        with pytest.raises(InvalidScoringRule):
            grade_item("choice", {"correct": ["a"], "rule": "bogus"}, ["a"])

    @pytest.mark.parametrize("bad", [{"correct": []}, {"correct": "a"}, {}, {"correct": [1]},
                                     {"correct": ["a"], "points": 0}, {"correct": ["a"], "floor": 1},
                                     {"correct": ["a"], "negative_marking": -1}, {"correct": ["a"], "points": float("nan")},
                                     {"correct": ["a"], "weight": -1}, {"correct": ["a"], "points": "1"}])
    def test_bad_keys(self, bad):
        with pytest.raises(InvalidScoringRule) as e:
            grade_item("choice", bad, ["a"])
        assert e.value.code == "invalid_scoring_rule"


# --- text_entry ------------------------------------------------------------------

class TestTextEntry:
    S = {"accepted": [{"value": "Paris"}, {"value": "Paris, France", "score": 0.5}], "points": 1}

    @pytest.mark.parametrize("given", ["Paris", "paris", "  PARIS ", "ＰＡＲＩＳ", "pArIs\t"])
    def test_normalisation(self, given):
        assert grade_item("text_entry", self.S, given).score == 1

    def test_inner_whitespace(self):
        assert grade_item("text_entry", self.S, "paris,   france").score == 0.5
        s = dict(self.S, normalize_whitespace=False)
        assert grade_item("text_entry", s, "paris,   france").score == 0
        assert grade_item("text_entry", s, " paris, france ").score == 0.5  # still trimmed

    def test_case_sensitive(self):
        s = dict(self.S, case_sensitive=True)
        assert grade_item("text_entry", s, "paris").score == 0
        assert grade_item("text_entry", s, "Paris").score == 1

    def test_best_match_wins(self):
        s = {"accepted": [{"value": "x", "score": 0.25}, {"value": "X", "score": 0.75}], "points": 1}
        r = grade_item("text_entry", s, "x")
        assert r.score == 0.75

    def test_casefold_sharp_s(self):
        assert grade_item("text_entry", {"accepted": [{"value": "STRASSE"}]}, "straße").score == 1

    def test_wrong_and_blank(self):
        s = dict(self.S, negative_marking=0.5, floor=-1)
        assert grade_item("text_entry", s, "London").score == -0.5
        assert grade_item("text_entry", s, "   ").score == 0
        assert grade_item("text_entry", s, None).score == 0

    def test_accepted_score_above_points_is_capped(self):
        assert grade_item("text_entry", {"accepted": [{"value": "a", "score": 5}], "points": 2}, "a").score == 2

    def test_too_long(self):
        with pytest.raises(InvalidResponse) as e:
            grade_item("text_entry", self.S, "x" * 1001)
        assert e.value.code == "response_too_long"

    def test_bad_key(self):
        with pytest.raises(InvalidScoringRule):
            grade_item("text_entry", {"accepted": []}, "a")


# --- numeric ---------------------------------------------------------------------

class TestNumeric:
    def test_exact(self):
        assert grade_item("numeric", {"value": 42}, 42).score == 1
        assert grade_item("numeric", {"value": 42}, 42.0001).score == 0

    def test_float_representation_slack(self):
        assert grade_item("numeric", {"value": 0.3}, 0.1 + 0.2).score == 1

    def test_absolute(self):
        s = {"value": 9.81, "tolerance": 0.05}
        assert grade_item("numeric", s, 9.86).score == 1
        assert grade_item("numeric", s, 9.76).score == 1
        assert grade_item("numeric", s, 9.87).score == 0

    def test_relative(self):
        s = {"value": -200, "tolerance": 0.05, "tolerance_mode": "relative", "points": 4}
        assert grade_item("numeric", s, -210).score == 4
        assert grade_item("numeric", s, -189.9).score == 0

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite(self, bad):
        with pytest.raises(InvalidResponse) as e:
            grade_item("numeric", {"value": 1}, bad)
        assert e.value.code == "non_finite_number"

    @pytest.mark.parametrize("bad", ["1", True, [1], {"v": 1}])
    def test_not_a_number(self, bad):
        with pytest.raises(InvalidResponse) as e:
            grade_item("numeric", {"value": 1}, bad)
        assert e.value.code == "invalid_response_shape"

    @pytest.mark.parametrize("bad", [{}, {"value": 1, "tolerance": -1}, {"value": 1, "tolerance_mode": "percent"},
                                     {"value": float("inf")}])
    def test_bad_keys(self, bad):
        with pytest.raises(InvalidScoringRule):
            grade_item("numeric", bad, 1)


# --- extended_text ----------------------------------------------------------------

RUBRIC = {"points": 10, "rubric": {"criteria": [
    {"id": "content", "title": "Content", "levels": [{"points": 0, "label": "none"}, {"points": 2}, {"points": 4}]},
    {"id": "style", "title": "Style", "levels": [{"points": 0}, {"points": 1}]},
]}}


class TestExtendedText:
    def test_pending_manual(self):
        r = grade_item("extended_text", RUBRIC, "An essay.")
        assert r.is_pending_manual and r.score == 0 and r.max_score == 10 and not r.is_correct

    def test_blank_is_not_pending(self):
        r = grade_item("extended_text", RUBRIC, "  ")
        assert not r.is_pending_manual and r.score == 0
        assert not grade_item("extended_text", RUBRIC, None).is_pending_manual

    def test_too_long(self):
        with pytest.raises(InvalidResponse):
            grade_item("extended_text", RUBRIC, "x" * 50_001)


# --- order -------------------------------------------------------------------------

class TestOrder:
    KEY = ["a", "b", "c", "d"]
    INTER = {"options": opts("a", "b", "c", "d")}

    def test_exact(self):
        s = {"correct_order": self.KEY, "rule": "exact"}
        assert grade_item("order", s, self.KEY, self.INTER).score == 1
        assert grade_item("order", s, ["a", "b", "d", "c"], self.INTER).score == 0

    def test_pairs(self):
        s = {"correct_order": self.KEY, "rule": "pairs", "points": 6}
        assert grade_item("order", s, self.KEY, self.INTER).score == 6
        assert grade_item("order", s, ["b", "a", "c", "d"], self.INTER).score == 5  # 5 of 6 pairs
        assert grade_item("order", s, ["d", "c", "b", "a"], self.INTER).score == 0

    def test_single_option(self):
        assert grade_item("order", {"correct_order": ["a"], "rule": "pairs"}, ["a"]).score == 1

    def test_not_a_permutation(self):
        s = {"correct_order": self.KEY, "rule": "pairs"}
        with pytest.raises(InvalidResponse) as e:
            grade_item("order", s, ["a", "b", "c"], self.INTER)
        assert e.value.code == "not_a_permutation"
        with pytest.raises(InvalidResponse) as e:
            grade_item("order", s, ["a", "b", "c"])  # checked against the key without interaction
        with pytest.raises(InvalidResponse) as e:
            grade_item("order", s, ["a", "a", "b", "c"], self.INTER)
        assert e.value.code == "duplicate_option"

    def test_empty_is_unanswered(self):
        s = {"correct_order": self.KEY, "negative_marking": 1, "floor": -1}
        assert grade_item("order", s, [], self.INTER).score == 0
        assert grade_item("order", s, ["d", "c", "b", "a"], self.INTER).score == -1

    def test_key_interaction_mismatch_is_an_authoring_error(self):
        with pytest.raises(InvalidScoringRule):
            grade_item("order", {"correct_order": ["a", "b", "x", "d"]}, self.KEY, self.INTER)


# --- match ---------------------------------------------------------------------------

class TestMatch:
    INTER = {"left": opts("l1", "l2", "l3"), "right": opts("r1", "r2", "r3", "r4")}
    PAIRS = [["l1", "r1"], ["l2", "r2"], ["l3", "r3"]]

    def test_per_pair(self):
        s = {"pairs": self.PAIRS, "rule": "per_pair", "points": 3}
        assert grade_item("match", s, self.PAIRS, self.INTER).score == 3
        assert grade_item("match", s, [["l1", "r1"], ["l2", "r3"]], self.INTER).score == 1

    def test_per_pair_penalty(self):
        s = {"pairs": self.PAIRS, "rule": "per_pair_penalty", "points": 3, "floor": -3}
        assert grade_item("match", s, [["l1", "r1"], ["l2", "r3"], ["l3", "r2"]], self.INTER).score == -1
        assert grade_item("match", s, [["l1", "r1"], ["l2", "r2"], ["l3", "r4"]], self.INTER).score == 1

    def test_all_or_nothing(self):
        s = {"pairs": self.PAIRS, "rule": "all_or_nothing"}
        assert grade_item("match", s, list(reversed(self.PAIRS)), self.INTER).score == 1
        assert grade_item("match", s, self.PAIRS[:2], self.INTER).score == 0

    def test_map(self):
        s = {"pairs": self.PAIRS, "rule": "map", "points": 4,
             "mapping": {"l1 r1": 2, "l2 r2": 1, "l1 r2": 0.5}, "default_value": -1, "lower_bound": 0}
        assert grade_item("match", s, [["l1", "r1"], ["l2", "r2"]], self.INTER).score == 3
        assert grade_item("match", s, [["l1", "r1"], ["l3", "r4"]], self.INTER).score == 1
        assert grade_item("match", s, [["l3", "r4"]], self.INTER).score == 0

    def test_max_associations(self):
        s = {"pairs": self.PAIRS}
        with pytest.raises(InvalidResponse) as e:
            grade_item("match", s, [["l1", "r1"], ["l1", "r2"]], self.INTER)
        assert e.value.code == "too_many_associations"
        inter = dict(self.INTER, max_associations=2)
        assert grade_item("match", s, [["l1", "r1"], ["l1", "r2"]], inter).score == pytest.approx(1 / 3)
        inter0 = dict(self.INTER, max_associations=0)  # unlimited
        assert grade_item("match", s, [["l1", "r1"], ["l1", "r2"], ["l1", "r3"]], inter0).score == pytest.approx(1 / 3)

    @pytest.mark.parametrize("bad,code", [
        ([["l1", "r1"], ["l1", "r1"]], "duplicate_option"),
        ([["lx", "r1"]], "unknown_option"),
        ([["l1", "rx"]], "unknown_option"),
        ([["l1"]], "invalid_response_shape"),
        (["l1 r1"], "invalid_response_shape"),
        ({"l1": "r1"}, "invalid_response_shape"),
        ([["l1", 3]], "invalid_response_shape"),
    ])
    def test_bad_shapes(self, bad, code):
        with pytest.raises(InvalidResponse) as e:
            grade_item("match", {"pairs": self.PAIRS}, bad, self.INTER)
        assert e.value.code == code


# --- inline_choice ------------------------------------------------------------------------

class TestInlineChoice:
    INTER = {"gaps": [{"id": "g1", "options": opts("a", "b")}, {"id": "g2", "options": opts("c", "d")},
                      {"id": "g3", "options": opts("e", "f")}, {"id": "g4", "options": opts("g", "h")}]}
    KEY = {"g1": "a", "g2": "d", "g3": "e", "g4": "h"}

    def test_per_gap(self):
        s = {"correct": self.KEY, "rule": "per_gap", "points": 2}
        assert grade_item("inline_choice", s, self.KEY, self.INTER).score == 2
        assert grade_item("inline_choice", s, {"g1": "a", "g2": "c"}, self.INTER).score == 0.5
        assert grade_item("inline_choice", s, {"g1": "a", "g2": None}, self.INTER).score == 0.5

    def test_all_or_nothing(self):
        s = {"correct": self.KEY, "rule": "all_or_nothing"}
        assert grade_item("inline_choice", s, self.KEY, self.INTER).score == 1
        assert grade_item("inline_choice", s, {"g1": "a", "g2": "d", "g3": "e"}, self.INTER).score == 0

    def test_unanswered(self):
        s = {"correct": self.KEY, "negative_marking": 1, "floor": -1}
        assert grade_item("inline_choice", s, {}, self.INTER).score == 0
        assert grade_item("inline_choice", s, {"g1": "b"}, self.INTER).score == -1

    @pytest.mark.parametrize("bad,code", [({"gx": "a"}, "unknown_gap"), ({"g1": "c"}, "unknown_option"),
                                          (["a"], "invalid_response_shape"), ({"g1": 1}, "invalid_response_shape")])
    def test_bad(self, bad, code):
        with pytest.raises(InvalidResponse) as e:
            grade_item("inline_choice", {"correct": self.KEY}, bad, self.INTER)
        assert e.value.code == code

    def test_unknown_gap_without_interaction(self):
        with pytest.raises(InvalidResponse) as e:
            grade_item("inline_choice", {"correct": self.KEY}, {"zz": "a"})
        assert e.value.code == "unknown_gap"


def test_unknown_type():
    with pytest.raises(UnknownItemType) as e:
        grade_item("hotspot", {}, None)
    assert e.value.code == "unknown_item_type"
    assert e.value.to_dict() == {"code": "unknown_item_type", "message": "unknown item type 'hotspot'"}


@pytest.mark.parametrize("item_type,scoring", [
    ("choice", {"correct": ["a"]}), ("text_entry", {"accepted": [{"value": "a"}]}), ("numeric", {"value": 1}),
    ("extended_text", RUBRIC), ("order", {"correct_order": ["a", "b"]}), ("match", {"pairs": [["a", "b"]]}),
    ("inline_choice", {"correct": {"g": "a"}}),
])
def test_unanswered_scores_zero_never_negative(item_type, scoring):
    s = dict(scoring, negative_marking=1, floor=-1)
    r = grade_item(item_type, s, None)
    assert r.score == 0 and not r.is_correct and not r.is_pending_manual
    assert r.detail["answered"] is False
