"""Collusion screening (pure): binomial tails, the K-index on simulated tests, evidence of a copied pair."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from exam_engine.proctoring.collusion import AttemptAnswers, binom_sf, poisson_binomial_sf, screen


def test_binomial_tails():
    assert binom_sf(0, 10, 0.3) == 1.0 and binom_sf(11, 10, 0.3) == 0.0
    exact = sum(math.comb(10, k) * 0.3 ** k * 0.7 ** (10 - k) for k in range(4, 11))
    assert binom_sf(4, 10, 0.3) == pytest.approx(exact, rel=1e-12)
    assert binom_sf(200, 200, 0.5) == pytest.approx(0.5 ** 200, rel=1e-9)
    assert poisson_binomial_sf(2, [0.3] * 10) == pytest.approx(binom_sf(2, 10, 0.3), rel=1e-9)
    probs = [0.1, 0.5, 0.9]
    # P(X >= 2) by enumeration
    total = 0.0
    for bits in range(8):
        chosen = [(bits >> i) & 1 for i in range(3)]
        if sum(chosen) >= 2:
            total += math.prod(p if c else 1 - p for p, c in zip(probs, chosen))
    assert poisson_binomial_sf(2, probs) == pytest.approx(total)


def simulate(n, n_items=40, seed=0, copies=(), copy_rate=0.9):  # noqa: ANN001
    """A 2PL-like test with 4 distractors of uneven popularity per item; `copies` are (source, copier) pairs."""
    rng = np.random.default_rng(seed)
    theta, b = rng.normal(0, 1, n), rng.normal(0, 1, n_items)
    pop = rng.dirichlet([2, 2, 2, 2], n_items)
    answers = []
    for i in range(n):
        a = {}
        for j in range(n_items):
            if rng.random() < 1 / (1 + math.exp(-(theta[i] - b[j]))):
                a[j] = ("key", True)
            else:
                a[j] = (f"d{rng.choice(4, p=pop[j])}", False)
        answers.append(a)
    for s, c in copies:
        for j in range(n_items):
            if rng.random() < copy_rate:
                answers[c][j] = answers[s][j]
    return [AttemptAnswers(f"a{i}", answers[i]) for i in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_honest_groups_give_no_pairs(seed):
    assert [p for p in screen(simulate(120, seed=seed)) if p.is_flagged] == []


def test_copied_pairs_are_found_with_their_evidence():
    recs = simulate(150, seed=11, copies=[(3, 4), (10, 20)])
    flagged = [p for p in screen(recs) if p.is_flagged]
    assert {frozenset((p.a, p.b)) for p in flagged} == {frozenset(("a3", "a4")), frozenset(("a10", "a20"))}
    for p in flagged:
        assert p.k_p_adjusted < 0.05 and p.k_p_value < 0.05 / (150 * 149)
        assert p.identical_wrong == len(p.items) >= 3
        assert 0.01 <= p.k_match_p <= 0.99 and p.esa_p_value < 1e-3
        by_id = {r.attempt_id: r.answers for r in recs}
        for e in p.items:
            ra, rb = by_id[p.a][e["item"]], by_id[p.b][e["item"]]
            assert ra == rb == (e["response"], False)
    d = flagged[0].to_dict()
    assert set(d) >= {"a", "b", "source", "copier", "identical_wrong", "k_index", "error_similarity", "items"}


def test_blank_answers_and_different_forms():
    rng = random.Random(3)
    recs = []
    for i in range(30):
        items = rng.sample(range(60), 30)  # pool draws: forms overlap partly
        recs.append(AttemptAnswers(f"x{i}", {j: (None, False) if rng.random() < 0.1 else
                                             ("k", True) if rng.random() < 0.5 else (rng.choice("pqr"), False)
                                             for j in items}))
    assert [p for p in screen(recs) if p.is_flagged] == []
    assert screen(recs[:2]) == []  # too few attempts to estimate chance
    everything = screen(recs, include_unflagged=True)
    assert len(everything) > 0 and all(not p.is_flagged for p in everything)
