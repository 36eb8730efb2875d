"""score_attempt, pass policies, scales, rubric grades and second marking, rescoring diffs."""

from __future__ import annotations

import pytest

from scoring import InvalidData, InvalidResponse, InvalidScoringRule, ItemScore, ScoredItem, grade_item
from scoring.aggregate import diff_decisions, score_attempt
from scoring.rubric import grade_manual, resolve_marks, rubric_score
from scoring.thresholds import LinearScale, PassPolicy, SectionMinimum, ThetaScale, decide


def it(item_id, score, max_score=1.0, section=None, weight=None, pending=False):
    return ScoredItem(item_id, ItemScore(score, max_score, score >= max_score, pending), section, weight)


class TestScoreAttempt:
    def test_totals_sections_weights(self):
        items = [it("q1", 1, 1, "A"), it("q2", 0.5, 1, "A", weight=2), it("q3", 3, 4, "B")]
        r = score_attempt(items)
        assert r.score == pytest.approx(5.0) and r.max_score == pytest.approx(7.0)
        assert r.percentage == pytest.approx(500 / 7)
        assert r.sections["A"].score == 2 and r.sections["A"].max_score == 3 and r.sections["A"].n_items == 2
        assert r.sections["B"].percentage == 75
        assert r.status == "scored" and r.passed is None

    def test_weight_from_item_score(self):
        s = grade_item("choice", {"correct": ["a"], "weight": 3, "points": 2}, ["a"])
        r = score_attempt([ScoredItem("q", s)])
        assert (r.score, r.max_score) == (6, 6)

    def test_pass_fail_by_percentage(self):
        items = [it("q1", 1), it("q2", 1), it("q3", 0)]
        assert score_attempt(items, PassPolicy(66)).passed is True
        r = score_attempt(items, PassPolicy(70))
        assert r.passed is False and r.status == "failed" and r.decision.reasons == ("below_cut",)

    def test_cut_on_boundary_passes(self):
        items = [it("q1", 1), it("q2", 0)]
        assert score_attempt(items, PassPolicy(50)).passed

    def test_pass_by_points(self):
        items = [it("q1", 2, 2), it("q2", 1, 2)]
        assert score_attempt(items, PassPolicy(3, mode="points")).passed
        assert not score_attempt(items, PassPolicy(3.5, mode="points")).passed

    def test_section_minimums(self):
        items = [it("q1", 1, 1, "A"), it("q2", 1, 1, "A"), it("q3", 1, 1, "A"), it("q4", 0, 1, "B")]
        policy = PassPolicy(60, section_minimums={"B": SectionMinimum(50)})
        r = score_attempt(items, policy)
        assert r.percentage == 75 and r.passed is False and r.decision.reasons == ("section_minimum:B",)
        policy_pts = PassPolicy(60, section_minimums={"A": SectionMinimum(3, "points")})
        assert score_attempt(items, policy_pts).passed

    def test_policy_from_dict(self):
        items = [it("q1", 1, 1, "A"), it("q2", 0, 1, "B")]
        d = {"mode": "percentage", "cut_score": 50, "section_minimums": {"B": 10, "A": {"value": 1, "mode": "points"}}}
        r = score_attempt(items, d)
        assert r.passed is False and r.decision.reasons == ("section_minimum:B",)
        assert PassPolicy.from_dict(PassPolicy.from_dict(d).to_dict()) == PassPolicy.from_dict(d)

    def test_pending_waits(self):
        essay = grade_item("extended_text", {"points": 5, "rubric": {"criteria": [{"id": "c", "levels": [{"points": 1}]}]}}, "text")
        items = [it("q1", 1), ScoredItem("essay", essay, "E")]
        r = score_attempt(items, PassPolicy(10))
        assert r.status == "pending" and r.passed is None and r.pending_item_ids == ("essay",)
        assert r.sections["E"].is_pending
        assert r.to_dict()["pending_item_ids"] == ["essay"]

    def test_dict_items(self):
        r = score_attempt([{"item_id": "q", "section": "S", "score": {"score": 1, "max_score": 2, "is_correct": False}}])
        assert r.score == 1 and r.sections["S"].max_score == 2

    def test_empty_attempt(self):
        r = score_attempt([], PassPolicy(50))
        assert r.score == 0 and r.percentage == 0 and r.passed is False

    def test_bad_inputs(self):
        with pytest.raises(InvalidData):
            score_attempt([it("q", float("nan"))])
        with pytest.raises(InvalidData):
            score_attempt([it("q", 1, weight=-1)])
        with pytest.raises(InvalidData):
            score_attempt([{"item_id": "q"}])
        r = score_attempt([it("q", 1, section="A")], PassPolicy(50, section_minimums={"Z": SectionMinimum(1)}))
        assert r.passed is False and r.decision.reasons == ("section_missing:Z",)

    def test_scaled_scores(self):
        items = [it("q1", 3, 4)]
        r = score_attempt(items, PassPolicy(500, mode="scaled"), scale=LinearScale(0, 4, 200, 800))
        assert r.scaled_score == 650 and r.passed
        r = score_attempt(items, PassPolicy(0.5, mode="theta"), scale=ThetaScale(), theta=0.7)
        assert r.scaled_score == 570 and r.passed and r.theta == 0.7
        r = score_attempt(items, PassPolicy(1.0, mode="theta"), theta=0.7)
        assert r.passed is False

    def test_to_dict_is_plain(self):
        import json

        r = score_attempt([it("q1", 1, 1, "A")], PassPolicy(50))
        json.dumps(r.to_dict())

    def test_diff_decisions(self):
        old = {"a1": score_attempt([it("q", 0)], PassPolicy(50)), "a2": score_attempt([it("q", 1)], PassPolicy(50))}
        new = {"a1": score_attempt([it("q", 1)], PassPolicy(50)), "a2": score_attempt([it("q", 1)], PassPolicy(50))}
        changes = diff_decisions(old, new)
        assert [(c.attempt_id, c.old_status, c.new_status) for c in changes] == [("a1", "failed", "passed")]


class TestThresholds:
    def test_bad_policies(self):
        with pytest.raises(InvalidData):
            PassPolicy(120)
        with pytest.raises(InvalidData):
            PassPolicy(50, mode="vibes")
        with pytest.raises(InvalidData):
            PassPolicy(float("nan"))
        with pytest.raises(InvalidData):
            SectionMinimum(10, "grams")

    def test_decide_needs_values(self):
        with pytest.raises(InvalidData):
            decide(PassPolicy(500, mode="scaled"), score=1, max_score=1)
        with pytest.raises(InvalidData):
            decide(PassPolicy(0, mode="theta"), score=1, max_score=1)

    def test_linear_scale(self):
        s = LinearScale(0, 50, 200, 800)
        assert s.apply(0) == 200 and s.apply(50) == 800 and s.apply(25) == 500
        assert s.apply(60) == 800 and s.apply(-5) == 200
        assert LinearScale(0, 3, 0, 10, decimals=2).apply(1) == 3.33
        with pytest.raises(InvalidData):
            LinearScale(1, 1, 0, 1)
        with pytest.raises(InvalidData):
            s.apply(float("inf"))

    def test_theta_scale(self):
        s = ThetaScale(intercept=100, slope=15, lo=55, hi=145)
        assert s.apply(0) == 100 and s.apply(1) == 115 and s.apply(-9) == 55 and s.apply(9) == 145


SCORING = {"points": 10, "rubric": {"criteria": [
    {"id": "content", "title": "Content", "levels": [{"points": 0}, {"points": 2}, {"points": 4}]},
    {"id": "style", "title": "Style", "levels": [{"points": 0}, {"points": 1}]},
]}}


class TestRubric:
    def test_scaled_to_points(self):
        assert rubric_score(SCORING, {"content": 2, "style": 1}) == 10
        assert rubric_score(SCORING, {"content": 1, "style": 0}) == 4
        assert rubric_score(SCORING, {"content": 0, "style": 0}) == 0

    @pytest.mark.parametrize("levels,code", [({"content": 2}, "incomplete_rubric"),
                                             ({"content": 2, "style": 5}, "unknown_level"),
                                             ({"content": 2, "style": 1, "x": 0}, "unknown_criterion"),
                                             ({"content": "2", "style": 1}, "unknown_level"),
                                             (["content"], "invalid_response_shape")])
    def test_bad_levels(self, levels, code):
        with pytest.raises(InvalidResponse) as e:
            rubric_score(SCORING, levels)
        assert e.value.code == code

    def test_single_marker(self):
        r = grade_manual(SCORING, [{"content": 2, "style": 1}])
        assert r.score == 10 and r.is_correct and not r.is_pending_manual
        assert grade_manual(SCORING, []).is_pending_manual

    def test_second_marking_average(self):
        r = grade_manual(SCORING, [{"content": 2, "style": 1}, {"content": 1, "style": 1}], required_markers=2)
        assert r.score == pytest.approx(8.0)
        assert grade_manual(SCORING, [{"content": 2, "style": 1}], required_markers=2).is_pending_manual

    def test_third_marker_when_marks_differ(self):
        m1, m2, m3 = {"content": 2, "style": 1}, {"content": 0, "style": 0}, {"content": 1, "style": 1}
        r = grade_manual(SCORING, [m1, m2], required_markers=2, max_difference=3)
        assert r.is_pending_manual and r.detail["waiting_for"] == "third_marker"
        r = grade_manual(SCORING, [m1, m2, m3], required_markers=2, max_difference=3)
        assert r.score == pytest.approx((10 + 6) / 2) and not r.is_pending_manual  # closest pair: 10 and 6
        r = grade_manual(SCORING, [m1, m2, m3], required_markers=2, max_difference=3, third_rule="third_decides")
        assert r.score == 6

    @pytest.mark.parametrize("rule,expected", [("average", 5), ("highest", 7), ("lowest", 3), ("first", 3)])
    def test_resolution_rules(self, rule, expected):
        assert resolve_marks([3, 7], rule=rule, required_markers=2).score == expected

    def test_within_threshold_no_third(self):
        r = resolve_marks([3, 5], required_markers=2, max_difference=2)
        assert r.score == 4 and not r.needs_another_marker

    def test_bad_rules(self):
        with pytest.raises(InvalidScoringRule):
            resolve_marks([1, 2], rule="median")
        with pytest.raises(InvalidScoringRule):
            resolve_marks([1, 2], third_rule="coin")
