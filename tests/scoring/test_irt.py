"""IRT calibration and abilities: published LSAT estimates, recovery, bad input, non-convergence."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import CalibrationError, InvalidData
from scoring.irt import calibrate, eap, information, mle, probability, quadrature, simulate_responses, wle

from ._data import load_csv, load_patterns

# R ltm, ltm(LSAT ~ z1, IRT.param = TRUE): published 2PL (fixtures/irt/README.md)
LTM_2PL_A = [0.8253715, 0.7229499, 0.8904748, 0.6885502, 0.6574516]
LTM_2PL_B = [-3.3597341, -1.3696497, -0.2798983, -1.8659189, -3.1235725]
# R ltm, rasch(LSAT) (common discrimination), as printed in KDE rkward's regression output for ltm
LTM_1PL_A = 0.76
LTM_1PL_B = [-3.62, -1.32, -0.32, -1.73, -2.78]
LTM_1PL_LOGLIK = -2466.9
# R ltm, tpm(LSAT), same source
LTM_3PL_C = [0.037, 0.078, 0.012, 0.035, 0.053]
LTM_3PL_B = [-3.296, -1.145, -0.249, -1.766, -2.990]
LTM_3PL_A = [0.829, 0.760, 0.902, 0.701, 0.666]
LTM_3PL_LOGLIK = -2466.7


@pytest.mark.fixtures
def test_lsat6_2pl_matches_ltm():
    x, n = load_patterns("LSAT6_patterns.csv")
    r = calibrate(x, "2PL", counts=n, n_quad=61)
    assert r.converged, r.message
    np.testing.assert_allclose(r.a, LTM_2PL_A, atol=0.01)
    np.testing.assert_allclose(r.b, LTM_2PL_B, atol=0.01)
    assert r.loglik == pytest.approx(-2466.653, abs=0.01)
    assert (r.se_a > 0).all() and (r.se_b > 0).all()
    assert r.item_metadata(0) == {"a": pytest.approx(0.8254, abs=0.01), "b": pytest.approx(-3.36, abs=0.01), "c": 0.0}


@pytest.mark.fixtures
def test_lsat6_expanded_matrix_equals_patterns():
    x = load_csv("LSAT6_responses_ltm.csv")
    r = calibrate(x, "2PL", n_quad=61)
    np.testing.assert_allclose(r.b, LTM_2PL_B, atol=0.01)
    assert r.n_examinees == 1000


@pytest.mark.fixtures
def test_lsat6_1pl_matches_ltm_rasch():
    x, n = load_patterns("LSAT6_patterns.csv")
    r = calibrate(x, "1PL", counts=n, n_quad=61)
    assert r.converged
    assert np.ptp(r.a) == 0 and r.a[0] == pytest.approx(LTM_1PL_A, abs=0.006)
    np.testing.assert_allclose(r.b, LTM_1PL_B, atol=0.006)
    assert r.loglik == pytest.approx(LTM_1PL_LOGLIK, abs=0.05)


@pytest.mark.fixtures
def test_lsat6_rasch_a_fixed_matches_reproduction():
    """a = 1: the README's scipy reproduction (not a published figure, a cross-check)."""
    x, n = load_patterns("LSAT6_patterns.csv")
    r = calibrate(x, "rasch", counts=n, n_quad=61)
    np.testing.assert_allclose(r.b, [-2.872, -1.063, -0.258, -1.388, -2.219], atol=0.002)
    assert r.loglik == pytest.approx(-2473.054, abs=0.01)


@pytest.mark.fixtures
def test_lsat6_3pl_agrees_with_ltm_within_its_uncertainty():
    """LSAT6's 3PL likelihood is almost flat in c: agree on the log-likelihood, and within 2 SE."""
    x, n = load_patterns("LSAT6_patterns.csv")
    r = calibrate(x, "3PL", counts=n, n_quad=61, se="hessian")
    assert r.converged, r.message
    assert r.loglik == pytest.approx(LTM_3PL_LOGLIK, abs=0.06)
    for est, se, pub in ((r.a, r.se_a, LTM_3PL_A), (r.b, r.se_b, LTM_3PL_B), (r.c, r.se_c, LTM_3PL_C)):
        assert (np.abs(est - np.array(pub)) <= 2 * se + 0.05).all()
    assert ((r.c >= 0) & (r.c < 0.3)).all()


@pytest.mark.fixtures
def test_lsat7_2pl_matches_reproduction():
    """LSAT7: the README's reproduction (computed, not published)."""
    x = load_csv("LSAT7_responses.csv")
    r = calibrate(x, "2PL", n_quad=61)
    np.testing.assert_allclose(r.a, [0.988, 1.081, 1.707, 0.765, 0.736], atol=0.01)
    np.testing.assert_allclose(r.b, [-1.879, -0.748, -1.057, -0.635, -2.521], atol=0.01)
    assert r.loglik == pytest.approx(-2658.805, abs=0.01)


@pytest.mark.fixtures
def test_lsat6_standard_errors_two_ways_agree():
    x, n = load_patterns("LSAT6_patterns.csv")
    h = calibrate(x, "2PL", counts=n, n_quad=61, se="hessian")
    p = calibrate(x, "2PL", counts=n, n_quad=61, se="xpd")
    np.testing.assert_allclose(h.se_a, p.se_a, rtol=0.1)
    np.testing.assert_allclose(h.se_b, p.se_b, rtol=0.1)


@pytest.mark.fixtures
def test_sat12_2pl_converges():
    r = calibrate(load_csv("SAT12_scored_key_missing0.csv"), "2PL")
    assert r.converged and np.isfinite(r.b).all()


def _truth(k, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.7, 2.0, k), np.clip(rng.normal(0, 1, k), -2.2, 2.2), rng


def test_2pl_recovery_and_se_calibration():
    a, b, rng = _truth(15, 3)
    theta = rng.normal(size=4000)
    x = simulate_responses(theta, a, b, seed=4)
    r = calibrate(x, "2PL")
    assert r.converged
    assert np.sqrt(np.mean((r.a - a) ** 2)) < 0.08
    assert np.sqrt(np.mean((r.b - b) ** 2)) < 0.08
    # errors are of the size the SEs claim
    z = (r.b - b) / r.se_b
    assert np.mean(np.abs(z) < 2.5) > 0.85


def test_3pl_recovery_with_prior():
    a, b, rng = _truth(20, 5)
    c = rng.uniform(0.1, 0.25, 20)
    theta = rng.normal(size=8000)
    x = simulate_responses(theta, a, b, c, seed=6)
    r = calibrate(x, "3PL", c_prior=(5, 17))
    assert r.converged, r.message
    assert np.sqrt(np.mean((r.c - c) ** 2)) < 0.06
    assert np.sqrt(np.mean((r.b - b) ** 2)) < 0.2
    assert np.isfinite(r.se_c).all()


def test_missing_responses():
    a, b, rng = _truth(10, 8)
    x = simulate_responses(rng.normal(size=3000), a, b, seed=9)
    full = calibrate(x, "2PL")
    x2 = x.copy()
    x2[rng.random(x.shape) < 0.15] = np.nan
    part = calibrate(x2, "2PL")
    assert part.converged
    assert np.abs(part.b - full.b).max() < 0.25


def test_fixed_quadrature():
    a, b, rng = _truth(10, 10)
    x = simulate_responses(rng.normal(size=2000), a, b, seed=11)
    gh = calibrate(x, "2PL", n_quad=41)
    fx = calibrate(x, "2PL", n_quad=61, quadrature_kind="fixed")
    np.testing.assert_allclose(gh.b, fx.b, atol=0.02)


def test_non_convergence_is_reported_not_silent():
    a, b, rng = _truth(10, 12)
    x = simulate_responses(rng.normal(size=500), a, b, seed=13)
    r = calibrate(x, "2PL", max_iter=2)
    assert not r.converged and "not converged" in r.message and r.n_iter == 2
    assert np.isnan(r.se_a).all()  # no SEs from a fit that did not converge
    with pytest.raises(CalibrationError) as e:
        calibrate(x, "2PL", max_iter=2, strict=True)
    assert e.value.code == "not_converged"


def test_degenerate_items_are_flagged():
    a, b, rng = _truth(6, 14)
    x = simulate_responses(rng.normal(size=800), a, b, seed=15)
    x[:, 2] = 1
    x[:, 4] = 0
    r = calibrate(x, "2PL")
    assert r.flags[2] == "no_incorrect_responses" and r.flags[4] == "no_correct_responses"
    assert np.isnan(r.b[2]) and np.isfinite(r.b[0]) and r.item_metadata(2) is None
    r.to_dict()


@pytest.mark.parametrize("bad", [[], [[]], [[0, 1, 2]], [[0, np.inf]], [[1, 1], [1, 1]], np.zeros((3, 2))])
def test_bad_matrices(bad):
    with pytest.raises(InvalidData):
        calibrate(bad, "2PL")


def test_bad_options():
    x = np.array([[0, 1], [1, 0], [1, 1]])
    for kwargs in ({"model": "4PL"}, {"se": "bootstrap"}, {"c_prior": (0.5, 2)}, {"counts": [1, 2]},
                   {"n_quad": 3}, {"quadrature_kind": "simpson"}):
        with pytest.raises(InvalidData):
            calibrate(x, **{"model": "2PL", **kwargs})


# --- abilities -----------------------------------------------------------------------

A = np.array([1.0, 1.5, 0.8, 1.2, 2.0])
B = np.array([-1.0, 0.0, 0.5, 1.0, -0.5])


def test_probability_and_information():
    p = probability([0.0], A, B, 0.2)
    assert p.shape == (1, 5) and (p > 0.2).all()
    i = information(np.linspace(-3, 3, 61), A, B)
    # 2PL item information peaks at theta = b with a^2/4
    assert i[:, 1].max() == pytest.approx(1.5 ** 2 / 4)
    nodes, w = quadrature(41)
    assert w.sum() == pytest.approx(1) and (nodes @ w) == pytest.approx(0, abs=1e-12)
    assert (nodes ** 2 @ w) == pytest.approx(1)


def test_mle_solves_the_score_equation():
    x = np.array([[1, 1, 0, 0, 1], [1, 0, 0, 0, 0]], dtype=float)
    r = mle(x, A, B)
    p = probability(r.theta, A, B)
    score = (A * (x - p)).sum(axis=1)
    np.testing.assert_allclose(score, 0, atol=1e-6)
    assert (r.se > 0).all() and not r.is_extreme.any()


def test_extremes():
    x = np.array([[1] * 5, [0] * 5], dtype=float)
    m = mle(x, A, B)
    assert m.is_extreme.all()
    w = wle(x, A, B)
    assert not w.is_extreme.any() and w.theta[0] > 1.5 and w.theta[1] < -1.5
    e = eap(x, A, B)
    assert e.theta[0] > 0.5 and e.theta[1] < -0.5 and (e.se < 1).all()


def test_ordering_by_raw_score_under_rasch():
    x = np.array([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [0, 0, 1, 1, 1], [0, 1, 1, 1, 1]], dtype=float)
    for f in (eap, mle, wle):
        t = f(x, np.ones(5), B).theta
        assert (np.diff(t) > 0).all()


def test_wle_shrinks_less_than_eap_under_rasch():
    x = np.array([[1, 1, 1, 1, 0]], dtype=float)
    ones = np.ones(5)
    m, w, e = mle(x, ones, B).theta[0], wle(x, ones, B).theta[0], eap(x, ones, B).theta[0]
    assert e < w < m


def test_missing_items_in_ability():
    x = np.array([[1, np.nan, 0, np.nan, 1]])
    full = eap(np.array([[1, 0, 1]]), A[[0, 2, 4]], B[[0, 2, 4]])
    assert eap(x, A, B).theta[0] == pytest.approx(full.theta[0])


def test_eap_recovers_theta():
    a, b, rng = _truth(40, 16)
    theta = rng.normal(size=2000)
    x = simulate_responses(theta, a, b, seed=17)
    e = eap(x, a, b)
    rmse = np.sqrt(np.mean((e.theta - theta) ** 2))
    assert rmse < 0.4
    assert abs(rmse - np.sqrt(np.mean(e.se ** 2))) < 0.05  # posterior SDs are honest


@pytest.mark.parametrize("f", [eap, mle, wle])
def test_ability_bad_input(f):
    with pytest.raises(InvalidData):
        f([[0, 1]], A, B)
    with pytest.raises(InvalidData):
        f([[0, 1, 2, 0, 0]], A, B)
    with pytest.raises(InvalidData):
        f([[0, 1, 1, 0, 0]], A, [np.nan] * 5)


def test_single_precision_path_agrees_with_double(monkeypatch):
    """Large data runs the E-step in float32; with missing cells too, it must agree with float64."""
    import scoring.irt as irt_mod

    a, b, rng = _truth(10, 21)
    x = simulate_responses(rng.normal(size=25_000), a, b, seed=22)
    x[rng.random(x.shape) < 0.1] = np.nan
    single = calibrate(x, "2PL")
    monkeypatch.setattr(irt_mod, "SINGLE_PRECISION_CELLS", 10**12)
    double = calibrate(x, "2PL")
    assert single.converged and double.converged
    np.testing.assert_allclose(single.a, double.a, atol=2e-3)
    np.testing.assert_allclose(single.b, double.b, atol=2e-3)
    assert single.loglik == pytest.approx(double.loglik, rel=1e-5)
    np.testing.assert_allclose(single.se_b, double.se_b, rtol=0.02)


def test_plain_em_and_squarem_reach_the_same_optimum():
    a, b, rng = _truth(12, 23)
    x = simulate_responses(rng.normal(size=3000), a, b, seed=24)
    fast = calibrate(x, "2PL", tol=1e-6)
    slow = calibrate(x, "2PL", tol=1e-6, accelerate=False)
    assert fast.converged and slow.converged
    np.testing.assert_allclose(fast.b, slow.b, atol=1e-3)
    assert fast.n_iter < slow.n_iter
