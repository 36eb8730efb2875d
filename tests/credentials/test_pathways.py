"""Stackable pathways: all-of, k-of-n, credits, two levels, and the revocation cascade."""

from __future__ import annotations

import pytest

from credentials.pathways import (
    HeldCredential,
    PathwayAward,
    PathwayError,
    PathwayRule,
    dependents,
    evaluate,
    newly_earned,
    revocation_cascade,
)

STATS = PathwayRule("cert:data-analyst", ["badge:stats", "badge:sql", "badge:python"])
ANY_TWO = PathwayRule("cert:web", ["badge:html", "badge:css", "badge:js"], required=2, min_credits=6)
DIPLOMA = PathwayRule("diploma:data", ["cert:data-analyst", "cert:web"], credits=30)


def held(*items, revoked=()):
    return [HeldCredential(f"c-{a}", a, credits, a in revoked) for a, credits in items]


def test_all_of_a_set():
    partial = evaluate(STATS, held(("badge:stats", 5), ("badge:sql", 5)))
    assert not partial.is_earned and partial.missing == ("badge:python",)
    assert "2 of the 3" in partial.reason
    full = evaluate(STATS, held(("badge:stats", 5), ("badge:sql", 5), ("badge:python", 5)))
    assert full.is_earned and [c.achievement_id for c in full.counted] == STATS.components
    assert full.credits == 15


def test_k_of_n_with_minimum_credits():
    assert not evaluate(ANY_TWO, held(("badge:html", 5))).is_earned
    short = evaluate(ANY_TWO, held(("badge:html", 2), ("badge:css", 2)))
    assert not short.is_earned and "credits" in short.reason
    enough = evaluate(ANY_TWO, held(("badge:html", 2), ("badge:css", 2), ("badge:js", 3)))
    assert enough.is_earned and enough.credits == 7 and len(enough.counted) == 3


def test_revoked_credentials_do_not_count():
    result = evaluate(STATS, held(("badge:stats", 5), ("badge:sql", 5), ("badge:python", 5), revoked={"badge:sql"}))
    assert not result.is_earned and result.missing == ("badge:sql",)


def test_a_retake_counts_once_with_its_best_credits():
    credentials = [HeldCredential("c1", "badge:html", 2), HeldCredential("c2", "badge:html", 4),
                   HeldCredential("c3", "badge:css", 3)]
    result = evaluate(ANY_TWO, credentials)
    assert result.is_earned and [c.credential_id for c in result.counted] == ["c2", "c3"]


def test_two_level_pathway_is_earned_in_order():
    rules = [DIPLOMA, STATS, ANY_TWO]
    components = held(("badge:stats", 5), ("badge:sql", 5), ("badge:python", 5), ("badge:html", 3), ("badge:css", 3))
    earned = newly_earned(rules, components)
    assert [r.achievement_id for r in earned] == ["cert:data-analyst", "cert:web", "diploma:data"]
    diploma = earned[-1]
    assert [c.credential_id for c in diploma.counted] == ["pending:cert:data-analyst", "pending:cert:web"]
    # Once the certificates are held, only the diploma is new; once it is held, nothing is.
    with_certs = components + [HeldCredential("c-cert1", "cert:data-analyst", 15), HeldCredential("c-cert2", "cert:web", 6)]
    assert [r.achievement_id for r in newly_earned(rules, with_certs)] == ["diploma:data"]
    assert newly_earned(rules, with_certs + [HeldCredential("c-dip", "diploma:data", 30)]) == []


def test_nothing_new_when_incomplete():
    assert newly_earned([STATS, DIPLOMA], held(("badge:stats", 5))) == []


def test_bad_rules_are_refused():
    with pytest.raises(PathwayError):
        PathwayRule("x", [])
    with pytest.raises(PathwayError):
        PathwayRule("x", ["a", "a"])
    with pytest.raises(PathwayError):
        PathwayRule("x", ["x", "a"])
    with pytest.raises(PathwayError):
        PathwayRule("x", ["a", "b"], required=3)
    with pytest.raises(PathwayError, match="cycle"):
        newly_earned([PathwayRule("a", ["b"]), PathwayRule("b", ["a"])], [])


def test_revocation_cascades_through_both_levels():
    awards = [
        PathwayAward("c-cert1", "cert:data-analyst", ["c-stats", "c-sql", "c-python"]),
        PathwayAward("c-cert2", "cert:web", ["c-html", "c-css"]),
        PathwayAward("c-dip", "diploma:data", ["c-cert1", "c-cert2"]),
    ]
    cascade = revocation_cascade("c-sql", awards, reason="academic misconduct")
    assert cascade == [
        ("c-cert1", "component c-sql was revoked (academic misconduct)"),
        ("c-dip", "component c-cert1 was revoked (academic misconduct)"),
    ]
    assert dependents("c-css", awards) == ["c-cert2", "c-dip"]
    assert dependents("c-dip", awards) == []
    assert dependents("c-unrelated", awards) == []
