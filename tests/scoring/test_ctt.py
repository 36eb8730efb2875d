"""Classical item analysis: synthetic checks and the published LSAT figures."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import InvalidData
from scoring.ctt import cronbach_alpha, distractor_analysis, item_analysis, kr20, score_distribution, sem

from ._data import load_csv


def test_small_hand_computed():
    x = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    a = item_analysis(x)
    assert [i.p for i in a.items] == [0.75, 0.5, 0.25]
    # alpha = 3/2 * (1 - sum(var_i) / var(total)) with ddof 1
    var_i = x.var(axis=0, ddof=1).sum()
    var_t = x.sum(axis=1).var(ddof=1)
    assert a.test.alpha == pytest.approx(1.5 * (1 - var_i / var_t))
    assert a.test.kr20 == pytest.approx(a.test.alpha)
    assert a.test.distribution.frequencies == {0.0: 1, 1.0: 1, 2.0: 1, 3.0: 1}
    # 27 % of 4 -> groups of 1: upper is the row with 3, lower the row with 0
    assert a.items[0].discrimination_index == 1.0
    assert a.test.sem == pytest.approx(a.test.distribution.sd * np.sqrt(1 - a.test.alpha))


def test_corrected_point_biserial_excludes_item():
    rng = np.random.default_rng(1)
    x = (rng.random((300, 6)) < 0.6).astype(float)
    a = item_analysis(x)
    j = 2
    rest = x.sum(axis=1) - x[:, j]
    assert a.items[j].point_biserial_corrected == pytest.approx(np.corrcoef(x[:, j], rest)[0, 1])
    assert a.items[j].point_biserial == pytest.approx(np.corrcoef(x[:, j], x.sum(axis=1))[0, 1])
    assert a.items[j].alpha_if_deleted == pytest.approx(cronbach_alpha(np.delete(x, j, axis=1)))


def test_polytomous_and_missing():
    x = np.array([[2, 1, np.nan], [1, 1, 1], [0, 0, 1], [2, 0, 0], [1, 1, 1]], dtype=float)
    a = item_analysis(x, max_scores=[2, 1, 1], item_ids=["a", "b", "c"])
    assert a.items[0].p == pytest.approx(6 / 5 / 2)
    assert a.items[2].n == 4 and a.items[2].p == pytest.approx(0.75)
    assert a.test.n_complete == 4 and a.test.kr20 is None
    assert a.items[0].item_id == "a"
    a.to_dict()
    rows = a.to_rows()
    assert len(rows) == 3 and rows[0]["item_id"] == "a" and "point_biserial_corrected" in rows[0]


def test_degenerate_item_gives_nan_not_crash():
    x = np.array([[1, 0], [1, 1], [1, 0]], dtype=float)
    a = item_analysis(x)
    assert np.isnan(a.items[0].point_biserial_corrected)


@pytest.mark.parametrize("bad", [[], [[]], [1, 2, 3], [[1, np.inf]]])
def test_bad_matrices(bad):
    with pytest.raises(InvalidData):
        item_analysis(bad)


def test_kr20_refuses_polytomous():
    with pytest.raises(InvalidData):
        kr20([[0, 2], [1, 1]])


def test_sem_and_distribution():
    assert sem(10, 0.91) == pytest.approx(3.0)
    assert np.isnan(sem(10, float("nan")))
    d = score_distribution([1, 2, 2, 3, np.nan])
    assert d.n == 4 and d.median == 2 and d.frequencies == {1.0: 1, 2.0: 2, 3.0: 1}
    with pytest.raises(InvalidData):
        score_distribution([np.nan])


def test_distractors():
    choices = [["A", "B"], ["A", "C"], ["B", "B"], ["C", None], ["A", "B"]]
    out = distractor_analysis(choices, keys=["A", "B"])
    first = {o.option: o for o in out[0]}
    assert first["A"].is_key and first["A"].count == 3 and first["A"].proportion == 0.6
    assert first["C"].count == 1
    second = {o.option: o for o in out[1]}
    assert sum(o.count for o in out[1]) == 4  # one omitted
    assert second["B"].mean_total == pytest.approx((2 + 1 + 2) / 3)
    with pytest.raises(InvalidData):
        distractor_analysis(choices, keys=["A"])


@pytest.mark.fixtures
def test_lsat6_published_p_and_alpha():
    """LSAT6: proportions correct (Bock & Lieberman / mirt docs) and ltm's cronbach.alpha = 0.295."""
    x = load_csv("LSAT6_responses_ltm.csv")
    a = item_analysis(x)
    assert [round(i.p, 3) for i in a.items] == [0.924, 0.709, 0.553, 0.763, 0.870]
    # ltm::cronbach.alpha(LSAT) prints alpha 0.295 (KDE rkward's regression output for ltm)
    assert a.test.alpha == pytest.approx(0.295, abs=5e-4)
    assert a.test.kr20 == pytest.approx(a.test.alpha)
    assert all(0 < i.point_biserial_corrected < i.point_biserial for i in a.items)


@pytest.mark.fixtures
def test_lsat7_published_p():
    x = load_csv("LSAT7_responses.csv")
    a = item_analysis(x)
    assert [round(i.p, 3) for i in a.items] == [0.828, 0.658, 0.772, 0.606, 0.843]


@pytest.mark.fixtures
def test_sat12_distractors_agree_with_scored_file():
    """SAT12 raw choices with the documented key: the key's share equals the scored p."""
    raw = load_csv("SAT12_raw.csv")
    scored = load_csv("SAT12_scored_key_missing0.csv")
    key = [1, 4, 5, 2, 3, 1, 2, 1, 3, 1, 2, 4, 2, 1, 5, 3, 4, 4, 1, 4, 3, 3, 4, 1, 3, 5, 1, 3, 1, 5, 4, 5]
    out = distractor_analysis(raw, keys=[float(k) for k in key], missing=8.0)
    a = item_analysis(scored)
    for j, stats in enumerate(out):
        k = [o for o in stats if o.is_key][0]
        assert k.proportion == pytest.approx(a.items[j].p)
        # the key should discriminate better than any distractor on a working item
    good = sum(max(stats, key=lambda o: o.point_biserial).is_key for stats in out)
    assert good >= 28
    assert 0.7 < a.test.alpha < 0.9  # no published value; a sanity range
