"""Collusion screening: pairs of attempts with more identical wrong answers than chance predicts.

Pure (numpy and the standard library). Two published indices, computed for
every pair:

- The K-index (Holland, 1996, ETS RR-96-7), in the regression form K1 of
  Sotaridona & Meijer (2002, J. Educ. Meas. 39(2)): for a source s with W_s
  wrong answers, the number of a copier c's wrong answers identical to s's is
  modelled as Binomial(W_s, p), where p is predicted from c's proportion of
  wrong answers by a linear regression, over all other examinees j, of
  m_sj / W_s on j's proportion wrong. The p-value is P(X >= m_sc). Both
  directions are tested; the smaller counts.
- Error-similarity analysis (Bellezza & Bellezza, 1989, Teaching of
  Psychology 16(3)): on the items both got wrong, the chance of the same wrong
  response is sum_k pi_ik^2 (pi_ik: share of the wrong answers to item i that
  chose response k); the number of matches is a sum of independent Bernoulli
  variables (Poisson-binomial) and its upper tail is the p-value.

A pair is listed when its K p-value is below `alpha` divided by the number of
tests (Bonferroni over both directions of every pair), so with hundreds of
attempts the expected number of honest pairs listed stays below `alpha`.
Listing is evidence for a human review, never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class AttemptAnswers:
    """One attempt: item -> (response key or None when blank, is_correct). Response keys compare by equality."""

    attempt_id: str
    answers: Mapping[Hashable, tuple[Hashable | None, bool]]


@dataclass(frozen=True)
class PairEvidence:
    a: str
    b: str
    #: The direction with the stronger evidence: (source, copier).
    source: str
    copier: str
    #: Identical wrong answers, and the source's wrong answers on items both saw.
    identical_wrong: int
    source_wrong: int
    #: K-index: the binomial p of a match, the p-value, and the Bonferroni-adjusted p-value.
    k_match_p: float
    k_p_value: float
    k_p_adjusted: float
    #: Error-similarity analysis on the items both got wrong.
    both_wrong: int
    esa_expected: float
    esa_p_value: float
    #: [{"item", "response"}] of the identical wrong answers.
    items: list[dict] = field(default_factory=list)
    is_flagged: bool = False

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "source": self.source, "copier": self.copier,
                "identical_wrong": self.identical_wrong, "source_wrong": self.source_wrong,
                "k_index": {"match_probability": round(self.k_match_p, 6), "p_value": self.k_p_value,
                            "p_adjusted": self.k_p_adjusted},
                "error_similarity": {"both_wrong": self.both_wrong, "expected_identical": round(self.esa_expected, 3),
                                     "p_value": self.esa_p_value},
                "items": self.items, "is_flagged": self.is_flagged}


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (exact for the sizes of a test)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
             for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def poisson_binomial_sf(k: int, probs: Sequence[float]) -> float:
    """P(X >= k) for X a sum of independent Bernoulli(probs) (dynamic programming)."""
    if k <= 0:
        return 1.0
    if k > len(probs):
        return 0.0
    dist = np.zeros(len(probs) + 1)
    dist[0] = 1.0
    for i, p in enumerate(probs, start=1):
        dist[1:i + 1] = dist[1:i + 1] * (1 - p) + dist[0:i] * p
        dist[0] *= 1 - p
    return float(min(1.0, max(0.0, dist[k:].sum())))


def _encode(records: Sequence[AttemptAnswers]) -> tuple[list, np.ndarray, np.ndarray, list[dict]]:
    """Items, a present matrix (item on the attempt and answered), a code matrix (0 correct/blank, k>0 wrong response k)."""
    items = sorted({i for r in records for i in r.answers}, key=repr)
    col = {item: j for j, item in enumerate(items)}
    present = np.zeros((len(records), len(items)), dtype=bool)
    codes = np.zeros((len(records), len(items)), dtype=np.int32)
    vocab: list[dict] = [{} for _ in items]
    for r_i, rec in enumerate(records):
        for item, (response, correct) in rec.answers.items():
            j = col[item]
            if response is None:
                continue
            present[r_i, j] = True
            if not correct:
                codes[r_i, j] = vocab[j].setdefault(response, len(vocab[j]) + 1)
    return items, present, codes, vocab


def screen(records: Sequence[AttemptAnswers], *, alpha: float = 0.05, min_identical: int = 3,
           include_unflagged: bool = False) -> list[PairEvidence]:
    """Pairs whose identical wrong answers are improbable under independent work, strongest first."""
    n = len(records)
    if n < 3:
        return []
    items, present, codes, vocab = _encode(records)
    wrong = codes > 0
    n_answered = present.sum(axis=1)
    prop_wrong = np.divide(wrong.sum(axis=1), n_answered, out=np.zeros(n), where=n_answered > 0)
    # identical[a, b]: items both got wrong with the same response.
    identical = np.zeros((n, n), dtype=np.int64)
    match_prob = np.zeros(len(items))  # ESA: chance that two wrong answers to the item coincide
    for j in range(len(items)):
        k = len(vocab[j])
        if k == 0:
            continue
        onehot = np.zeros((n, k), dtype=np.int64)
        rows = np.nonzero(codes[:, j])[0]
        onehot[rows, codes[rows, j] - 1] = 1
        identical += onehot @ onehot.T
        shares = onehot.sum(axis=0) / max(len(rows), 1)
        match_prob[j] = float((shares ** 2).sum())
    np.fill_diagonal(identical, 0)
    # source_wrong[s, c]: the source's wrong answers on items the copier answered.
    source_wrong = wrong.astype(np.int64) @ present.T.astype(np.int64)

    # K1: per source, regress m_sj / W_sj on j's proportion wrong.
    k_match = np.full((n, n), np.nan)
    for s in range(n):
        mask = source_wrong[s] > 0
        mask[s] = False
        if mask.sum() < 2:
            continue
        y = identical[s, mask] / source_wrong[s, mask]
        x = prop_wrong[mask]
        if np.ptp(x) > 1e-12:
            slope, intercept = np.polyfit(x, y, 1)
        else:
            slope, intercept = 0.0, float(y.mean())
        # A floor keeps a degenerate fit from declaring every single match impossible.
        k_match[s] = np.clip(intercept + slope * prop_wrong, 0.01, 0.99)

    # Exact tails only where a normal approximation says the pair could matter (or when asked for all).
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = source_wrong * k_match
        z = (identical - expected) / np.sqrt(expected * (1 - k_match))
    z = np.nan_to_num(z, nan=-np.inf)
    z_pair = np.maximum(z, z.T)
    candidates = np.triu(identical >= (0 if include_unflagged else min_identical), 1)
    if not include_unflagged:
        candidates &= z_pair > 2.0
    n_tests = n * (n - 1)
    out: list[PairEvidence] = []
    for a, b in zip(*np.nonzero(candidates)):
        a, b = int(a), int(b)
        m = int(identical[a, b])
        best = None
        for s, c in ((a, b), (b, a)):
            w = int(source_wrong[s, c])
            p = k_match[s, c]
            if w == 0 or math.isnan(p):
                continue
            pv = binom_sf(m, w, float(p))
            if best is None or pv < best[0]:
                best = (pv, s, c, w, float(p))
        if best is None:
            continue
        pv, s, c, w, p = best
        adjusted = min(1.0, pv * n_tests)
        flagged = m >= min_identical and adjusted < alpha
        if not flagged and not include_unflagged:
            continue
        shared = np.nonzero(wrong[a] & wrong[b])[0]
        probs = [match_prob[j] for j in shared]
        same = [j for j in shared if codes[a, j] == codes[b, j]]
        inverse = {j: {v: k for k, v in vocab[j].items()} for j in same}
        out.append(PairEvidence(
            a=records[a].attempt_id, b=records[b].attempt_id, source=records[s].attempt_id,
            copier=records[c].attempt_id, identical_wrong=m, source_wrong=w, k_match_p=p, k_p_value=pv,
            k_p_adjusted=adjusted, both_wrong=len(shared), esa_expected=float(sum(probs)),
            esa_p_value=poisson_binomial_sf(m, probs),
            items=[{"item": items[j], "response": inverse[j][codes[a, j]]} for j in same], is_flagged=flagged))
    out.sort(key=lambda e: (not e.is_flagged, e.k_p_value))
    return out
