"""Item response theory: calibration (1PL/2PL/3PL by marginal maximum likelihood) and abilities.

Model (logistic, no 1.7 scaling)::

    P(x=1 | theta) = c + (1 - c) / (1 + exp(-a (theta - b)))

* ``rasch``: a = 1 for every item, b estimated;
* ``1PL``: one common a estimated, b per item;
* ``2PL``: a and b per item (c = 0);
* ``3PL``: a, b and c per item; an optional Beta prior on c (``c_prior``)
  makes it a marginal MAP estimate, the usual choice on small samples.

:func:`calibrate` runs Bock-Aitkin EM over a quadrature grid for
theta ~ N(0, 1) (Gauss-Hermite by default, or ``quadrature="fixed"``:
equally spaced nodes on [-6, 6]); the M-step is one vectorised Fisher
scoring step for all items at once. Response patterns are compressed and
counted first, and ``NaN`` marks a missing response. Standard errors come
from the cross-product of the examinees' score vectors (``se="xpd"``,
default) or from a finite-difference Hessian of the marginal log-likelihood
(``se="hessian"``, more accurate, one E-step per parameter).

Non-convergence is never silent: the result carries ``converged``,
``n_iter`` and ``message``; ``strict=True`` raises
:class:`~scoring.errors.CalibrationError` instead. Items that cannot be
calibrated (everyone right, or everyone wrong) are left out, with NaN
parameters and a flag.

Abilities: :func:`eap` (posterior mean and sd over the grid), :func:`mle`
and :func:`wle` (Warm's weighted likelihood, finite for perfect scores),
each with standard errors; :func:`probability` and :func:`information` are
the item response and Fisher information functions the adaptive module uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import CalibrationError, InvalidData

MODELS = ("rasch", "1PL", "2PL", "3PL")
A_BOUND = 20.0
D_BOUND = 40.0
C_BOUND = 12.0  # bound on logit(c)
#: patterns x items above which the E-step runs in float32 (see _estep)
SINGLE_PRECISION_CELLS = 200_000


# --- the model ------------------------------------------------------------------

def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def probability(theta: Any, a: Any, b: Any, c: Any = 0.0) -> np.ndarray:
    """P(correct) for every (theta, item): shape ``theta.shape + (n_items,)``."""
    theta = np.asarray(theta, dtype=float)[..., None]
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    return c + (1.0 - c) * _sigmoid(a * (theta - b))


def information(theta: Any, a: Any, b: Any, c: Any = 0.0) -> np.ndarray:
    """Fisher information of each item at each theta (shape ``theta.shape + (n_items,)``)."""
    theta = np.asarray(theta, dtype=float)[..., None]
    a, b, c = (np.asarray(v, dtype=float) for v in (a, b, c))
    s = _sigmoid(a * (theta - b))
    p = c + (1.0 - c) * s
    dp = (1.0 - c) * a * s * (1.0 - s)
    return dp * dp / np.clip(p * (1.0 - p), 1e-300, None)


def quadrature(n_points: int = 41, kind: str = "gauss_hermite", bound: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for a standard normal ability distribution."""
    if n_points < 5:
        raise InvalidData("at least 5 quadrature points are needed")
    if kind == "gauss_hermite":
        nodes, weights = np.polynomial.hermite_e.hermegauss(n_points)
    elif kind == "fixed":
        nodes = np.linspace(-bound, bound, n_points)
        weights = np.exp(-0.5 * nodes * nodes)
    else:
        raise InvalidData(f"unknown quadrature {kind!r}; gauss_hermite or fixed")
    return nodes, weights / weights.sum()


# --- data -----------------------------------------------------------------------

@dataclass
class _Data:
    y: np.ndarray       # patterns x items, 1 where correct (0 where wrong or missing)
    mask: np.ndarray    # patterns x items, 1 where answered
    freq: np.ndarray    # pattern counts
    complete: bool


def _prepare(responses: Any, counts: Any | None) -> _Data:
    x = np.asarray(responses, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InvalidData(f"responses must be a non-empty 2-D matrix (examinees x items), got shape {x.shape}")
    if np.isinf(x).any():
        raise InvalidData("responses contain infinities")
    present = ~np.isnan(x)
    if not np.isin(x[present], (0.0, 1.0)).all():
        raise InvalidData("responses must be 0, 1 or NaN (missing)")
    code = np.where(present, x, -1.0).astype(np.int8)
    if counts is None:
        # rows as opaque byte strings: one 1-D sort instead of a lexicographic one
        rows = np.ascontiguousarray(code).view(np.dtype((np.void, code.shape[1])))[:, 0]
        uniq, freq = np.unique(rows, return_counts=True)
        patterns = uniq.view(np.int8).reshape(-1, code.shape[1])
        freq = freq.astype(float)
    else:
        freq = np.asarray(counts, dtype=float)
        if freq.shape != (x.shape[0],) or (freq < 0).any() or not np.isfinite(freq).all():
            raise InvalidData("counts must give one non-negative count per row")
        keep = freq > 0
        patterns, freq = code[keep], freq[keep]
    dt = np.float32 if patterns.size >= SINGLE_PRECISION_CELLS else np.float64
    mask = (patterns >= 0).astype(dt)
    y = (patterns == 1).astype(dt)
    return _Data(y, mask, freq, bool(mask.all()))


# --- parameters in slope-intercept form --------------------------------------------

def _curves(a, d, g, nodes):
    """P (k x Q), its derivatives dP/d(a, d, g) (k x Q x 3) with c = sigmoid(g)."""
    z = a[:, None] * nodes[None, :] + d[:, None]
    s = _sigmoid(z)
    c = _sigmoid(g)[:, None]
    p = c + (1.0 - c) * s
    ds = (1.0 - c) * s * (1.0 - s)
    deriv = np.stack([ds * nodes[None, :], ds, (1.0 - s) * c * (1.0 - c)], axis=-1)
    return np.clip(p, 1e-12, 1 - 1e-12), deriv


def _estep(data: _Data, p: np.ndarray, log_w: np.ndarray):
    """Posterior over nodes for each pattern and the marginal log-likelihood.

    The pattern x node products run in ``data.dtype`` (float32 on large data:
    half the memory traffic; the log-likelihood is summed in float64).
    """
    logp, logq = np.log(p), np.log1p(-p)
    dt = data.y.dtype
    base = log_w + (logq.sum(axis=0) if data.complete else 0.0)
    ll = data.y @ (logp - logq).astype(dt)
    if not data.complete:
        ll += data.mask @ logq.astype(dt)
    ll += base.astype(dt)[None, :]
    m = ll.max(axis=1, keepdims=True)
    ll -= m
    np.exp(ll, out=ll)
    tot = ll.sum(axis=1, keepdims=True, dtype=np.float64)
    ll /= tot.astype(dt)
    loglik = float((data.freq * (np.log(tot[:, 0]) + m[:, 0].astype(np.float64))).sum())
    return ll, loglik


def _expected_counts(data: _Data, post: np.ndarray):
    pf = post * data.freq.astype(post.dtype)[:, None]
    r = (data.y.T @ pf).astype(np.float64)
    if data.complete:
        n = np.broadcast_to(pf.sum(axis=0, dtype=np.float64)[None, :], r.shape)
    else:
        n = (data.mask.T @ pf).astype(np.float64)
    return r, n


def _log_prior_terms(g: np.ndarray, c_prior):
    """Gradient and negative Hessian of the Beta(alpha, beta) log-prior on c, in terms of g = logit(c)."""
    if c_prior is None:
        return np.zeros_like(g), np.zeros_like(g)
    al, be = c_prior
    c = _sigmoid(g)
    return (al - 1.0) * (1.0 - c) - (be - 1.0) * c, (al + be - 2.0) * c * (1.0 - c)


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`: item parameters, their SEs, and how the fit went."""

    model: str
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    se_a: np.ndarray
    se_b: np.ndarray
    se_c: np.ndarray
    loglik: float
    n_iter: int
    converged: bool
    message: str
    #: item index -> reason it was not (well) calibrated
    flags: Mapping[int, str] = field(default_factory=dict)
    n_examinees: float = 0.0

    def item_metadata(self, i: int) -> dict | None:
        """``{"a", "b", "c"}`` for item ``i`` (the ``metadata.irt`` of docs/items.md), None if flagged out."""
        if not np.isfinite(self.b[i]):
            return None
        return {"a": float(self.a[i]), "b": float(self.b[i]), "c": float(self.c[i])}

    def to_dict(self) -> dict:
        def lst(v):
            return [None if not np.isfinite(x) else float(x) for x in v]

        return {"model": self.model, "a": lst(self.a), "b": lst(self.b), "c": lst(self.c), "se_a": lst(self.se_a),
                "se_b": lst(self.se_b), "se_c": lst(self.se_c), "loglik": self.loglik, "n_iter": self.n_iter,
                "converged": self.converged, "message": self.message,
                "flags": {str(k): v for k, v in self.flags.items()}, "n_examinees": self.n_examinees}


def calibrate(responses: Any, model: str = "2PL", *, counts: Any | None = None, n_quad: int = 41,
              quadrature_kind: str = "gauss_hermite", max_iter: int = 2000, tol: float = 1e-4,
              c_prior: tuple[float, float] | None = None, se: str | None = "xpd", strict: bool = False,
              start: Mapping[str, Sequence[float]] | None = None, accelerate: bool = True) -> Calibration:
    """Calibrate item parameters by marginal maximum likelihood (EM); see the module docstring.

    ``responses``: examinees x items of 0/1/NaN (or distinct patterns with
    ``counts``). Convergence: the largest change of any parameter in one EM
    step below ``tol``. ``accelerate`` extrapolates EM steps (SQUAREM);
    ``n_iter`` counts EM steps either way.
    """
    if model not in MODELS:
        raise InvalidData(f"unknown model {model!r}; one of {', '.join(MODELS)}")
    if se not in (None, "xpd", "hessian"):
        raise InvalidData("se must be None, 'xpd' or 'hessian'")
    if c_prior is not None and (len(c_prior) != 2 or min(c_prior) < 1):
        raise InvalidData("c_prior must be (alpha, beta) with both >= 1")
    data_all = _prepare(responses, counts)
    k_all = data_all.y.shape[1]
    n_ans = data_all.freq @ data_all.mask
    n_right = data_all.freq @ data_all.y
    flags: dict[int, str] = {}
    for i in range(k_all):
        if n_ans[i] == 0:
            flags[i] = "no_responses"
        elif n_right[i] == 0:
            flags[i] = "no_correct_responses"
        elif n_right[i] == n_ans[i]:
            flags[i] = "no_incorrect_responses"
    keep = np.array([i not in flags for i in range(k_all)])
    if not keep.any():
        raise InvalidData("no item has both correct and incorrect responses")
    data = _Data(data_all.y[:, keep], data_all.mask[:, keep], data_all.freq, data_all.complete)
    k = int(keep.sum())
    nodes, weights = quadrature(n_quad, quadrature_kind)
    log_w = np.log(weights)

    # starting values
    p_obs = np.clip(n_right[keep] / n_ans[keep], 0.01, 0.99)
    a = np.ones(k)
    if model in ("2PL", "3PL"):
        # start a from the corrected item-rest correlation, all items at once
        y, mk, w = data.y.astype(float), data.mask.astype(float), data.freq
        rest = (y.sum(axis=1)[:, None] - y) * mk
        wm = w[:, None] * mk
        sw = np.maximum(wm.sum(axis=0), 1e-12)
        mx, mr = (wm * y).sum(axis=0) / sw, (wm * rest).sum(axis=0) / sw
        cov = (wm * y * rest).sum(axis=0) / sw - mx * mr
        vx = (wm * y * y).sum(axis=0) / sw - mx * mx
        vr = (wm * rest * rest).sum(axis=0) / sw - mr * mr
        sd = np.sqrt(np.maximum(vx * vr, 0.0))
        r = np.where(sd > 0, cov / np.where(sd > 0, sd, 1.0), 0.3)
        a = np.clip(1.7 * r / np.sqrt(np.maximum(1e-6, 1 - r * r)), 0.3, 2.5)
    d = np.log(p_obs / (1 - p_obs)) * np.sqrt(1.7 ** 2 + a * a) / 1.7
    g = np.full(k, -30.0)  # c = 0
    if model == "3PL" and start is None:
        # start from the 2PL fit: the 3PL likelihood has local maxima far from it
        two = calibrate(np.where(data.mask > 0, data.y, np.nan), "2PL", counts=data.freq, n_quad=n_quad,
                        quadrature_kind=quadrature_kind, max_iter=max_iter, tol=tol, se=None)
        if two.converged:
            a, d = np.clip(two.a, 0.2, 4.0), np.clip(-two.a * two.b, -D_BOUND, D_BOUND)
        c0 = 0.05 if c_prior is None else (c_prior[0] - 1) / max(1e-9, sum(c_prior) - 2)
        g = np.full(k, np.log(c0 / (1 - c0)))
    if start is not None:
        sa = np.asarray(start.get("a", a), dtype=float)[keep]
        sb = np.asarray(start.get("b", -d / a), dtype=float)[keep]
        a = sa.copy()
        d = -sb * sa
        if model == "3PL" and "c" in start:
            g = np.log(np.clip(np.asarray(start["c"], dtype=float)[keep], 1e-4, 0.9) /
                       (1 - np.clip(np.asarray(start["c"], dtype=float)[keep], 1e-4, 0.9)))
    if model == "rasch":
        a = np.ones(k)
    if model == "1PL":
        a = np.full(k, 1.0)

    def em_step(x):
        """One EM step from the packed parameters: (new parameters, log-likelihood at x)."""
        a_, d_, g_ = x[:k], x[k:2 * k], x[2 * k:]
        p_, deriv_ = _curves(a_, d_, g_, nodes)
        post_, ll_ = _estep(data, p_, log_w)
        r_, n_ = _expected_counts(data, post_)
        return np.concatenate(_mstep(model, a_, d_, g_, p_, deriv_, r_, n_, nodes, c_prior)), ll_

    def finite(x):
        return bool(np.isfinite(x).all())

    lo = np.concatenate([np.full(k, -A_BOUND), np.full(k, -D_BOUND), np.full(k, -C_BOUND if model == "3PL" else -np.inf)])
    hi = -lo
    conv_part = slice(None) if model == "3PL" else slice(0, 2 * k)
    x = np.concatenate([a, d, g])
    converged, it, message = False, 0, ""
    change = np.array([np.inf])
    # EM accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3), with a
    # fall back to the plain EM step whenever extrapolation lowers the likelihood.
    while it < max_iter:
        x1, ll0 = em_step(x)
        it += 1
        change = np.abs(x1 - x)[conv_part]
        if not finite(x1):
            message = "parameters diverged (non-finite) during EM"
            break
        if change.max() < tol:
            x, converged = x1, True
            break
        if not accelerate or it >= max_iter:
            x = x1
            continue
        x2, ll1 = em_step(x1)
        it += 1
        if not finite(x2):
            message = "parameters diverged (non-finite) during EM"
            break
        r_ = x1 - x
        v_ = x2 - x1 - r_
        nv = np.linalg.norm(v_)
        if nv == 0 or it >= max_iter:
            x = x2
            continue
        alpha = min(-1.0, -np.linalg.norm(r_) / nv)
        xp = np.clip(x - 2 * alpha * r_ + alpha * alpha * v_, lo, hi)
        if model == "1PL":
            xp[:k] = xp[:k].mean()
        x3, llp = em_step(xp)
        it += 1
        if finite(x3) and llp >= ll1 - 1e-9 * abs(ll1):
            change = np.abs(x3 - xp)[conv_part]
            x = x3
            if change.max() < tol:
                converged = True
                break
        else:
            x = x2
    a, d, g = x[:k], x[k:2 * k], x[2 * k:]
    p, deriv = _curves(a, d, g, nodes)
    post, loglik = _estep(data, p, log_w)
    if not message:
        message = f"converged in {it} iterations" if converged else f"not converged after {max_iter} iterations (max change {change.max():.2e})"
    if converged:
        for i in range(k):
            if abs(a[i]) >= A_BOUND * 0.999 or abs(d[i]) >= D_BOUND * 0.999:
                flags[int(np.flatnonzero(keep)[i])] = "parameter_at_bound"
            elif a[i] < 0:
                flags[int(np.flatnonzero(keep)[i])] = "negative_discrimination"
    if not converged and strict:
        raise CalibrationError(message, code="not_converged")

    se_a = np.full(k, np.nan)
    se_b = np.full(k, np.nan)
    se_c = np.full(k, np.nan)
    if se is not None and converged:
        cov, index = _covariance(se, model, data, a, d, g, nodes, log_w, c_prior)
        if cov is not None:
            se_a, se_b, se_c = _delta_se(model, cov, index, a, d, g)
    b = -d / a
    c = _sigmoid(g) if model == "3PL" else np.zeros(k)

    def full(v, fill=np.nan):
        out = np.full(k_all, fill)
        out[keep] = v
        return out

    return Calibration(model, full(a), full(b), full(c, 0.0), full(se_a), full(se_b), full(se_c), loglik, it,
                       converged, message, flags, float(data.freq.sum()))


def _mstep(model, a, d, g, p, deriv, r, n, nodes, c_prior):
    pq = p * (1.0 - p)
    u = (r - n * p) / pq          # k x Q
    w = n / pq                     # k x Q
    if model == "rasch":
        dd = deriv[..., 1]
        grad = (u * dd).sum(axis=1)
        info = (w * dd * dd).sum(axis=1)
        d = np.clip(d + np.clip(grad / info, -2, 2), -D_BOUND, D_BOUND)
        return a, d, g
    if model == "1PL":
        da, dd = deriv[..., 0], deriv[..., 1]
        g_a = (u * da).sum()
        g_d = (u * dd).sum(axis=1)
        i_aa = (w * da * da).sum()
        i_ad = (w * da * dd).sum(axis=1)
        i_dd = (w * dd * dd).sum(axis=1)
        # Schur complement of the arrow-shaped (1 + k) system
        s = i_aa - (i_ad * i_ad / i_dd).sum()
        step_a = (g_a - (i_ad * g_d / i_dd).sum()) / s
        step_a = float(np.clip(step_a, -1, 1))
        step_d = np.clip((g_d - i_ad * step_a) / i_dd, -2, 2)
        a = np.clip(a + step_a, -A_BOUND, A_BOUND)
        d = np.clip(d + step_d, -D_BOUND, D_BOUND)
        return a, d, g
    npar = 2 if model == "2PL" else 3
    D = deriv[..., :npar]
    grad = np.einsum("kq,kqp->kp", u, D)
    info = np.einsum("kq,kqp,kqr->kpr", w, D, D)
    if npar == 3:
        pg, ph = _log_prior_terms(g, c_prior)
        grad[:, 2] += pg
        info[:, 2, 2] += ph
    info += np.eye(npar)[None] * 1e-9
    step = np.linalg.solve(info, grad[..., None])[..., 0]
    # keep a Fisher step from leaping out of the sensible region
    scale = np.maximum(1.0, np.abs(step).max(axis=1) / 1.0)[:, None]
    step = step / scale
    if npar == 2:
        a = np.clip(a + step[:, 0], -A_BOUND, A_BOUND)
        d = np.clip(d + step[:, 1], -D_BOUND, D_BOUND)
        return a, d, g
    # 3PL: the expected log-likelihood is not concave in (a, d, logit c); halve
    # the step of any item whose objective would fall (a generalised EM step).
    nodes_ = nodes

    def objective(a_, d_, g_):
        pp, _ = _curves(a_, d_, g_, nodes_)
        val = (r * np.log(pp) + (n - r) * np.log1p(-pp)).sum(axis=1)
        if c_prior is not None:
            c_ = _sigmoid(g_)
            val += (c_prior[0] - 1) * np.log(c_) + (c_prior[1] - 1) * np.log1p(-c_)
        return val

    base = objective(a, d, g)
    t = np.ones(a.size)
    for _ in range(12):
        na = np.clip(a + t * step[:, 0], -A_BOUND, A_BOUND)
        nd = np.clip(d + t * step[:, 1], -D_BOUND, D_BOUND)
        ng = np.clip(g + t * step[:, 2], -C_BOUND, C_BOUND)
        worse = objective(na, nd, ng) < base - 1e-12
        if not worse.any():
            break
        t = np.where(worse, t * 0.5, t)
    else:
        t = np.where(worse, 0.0, t)
    a = np.clip(a + t * step[:, 0], -A_BOUND, A_BOUND)
    d = np.clip(d + t * step[:, 1], -D_BOUND, D_BOUND)
    g = np.clip(g + t * step[:, 2], -C_BOUND, C_BOUND)
    return a, d, g


def _free_index(model: str, k: int) -> list[tuple[str, int]]:
    if model == "rasch":
        return [("d", i) for i in range(k)]
    if model == "1PL":
        return [("a", -1)] + [("d", i) for i in range(k)]
    names = ("a", "d") if model == "2PL" else ("a", "d", "g")
    return [(nm, i) for i in range(k) for nm in names]


def _person_scores(model, data, a, d, g, nodes, log_w, c_prior):
    """Per-pattern gradient of the marginal log-likelihood (patterns x free parameters)."""
    p, deriv = _curves(a, d, g, nodes)
    post, _ = _estep(data, p, log_w)
    pq = p * (1.0 - p)
    cols = {}
    names = ("a", "d", "g") if model == "3PL" else ("a", "d")
    for j, nm in enumerate(names):
        uq = deriv[..., j] / pq                    # k x Q
        t1 = post @ uq.T                           # n x k
        t2 = post @ (p * uq).T
        cols[nm] = data.mask * (data.y * t1 - t2)  # n x k
    idx = _free_index(model, a.size)
    out = np.empty((data.y.shape[0], len(idx)))
    for col, (nm, i) in enumerate(idx):
        out[:, col] = cols[nm].sum(axis=1) if i < 0 else cols[nm][:, i]
    return out, idx


def _pack(model, a, d, g):
    idx = _free_index(model, a.size)
    vals = {"a": a, "d": d, "g": g}
    return np.array([vals[nm][0] if i < 0 else vals[nm][i] for nm, i in idx])


def _unpack(model, theta, a, d, g):
    a, d, g = a.copy(), d.copy(), g.copy()
    for v, (nm, i) in zip(theta, _free_index(model, a.size)):
        if nm == "a" and i < 0:
            a[:] = v
        else:
            {"a": a, "d": d, "g": g}[nm][i] = v
    return a, d, g


def _covariance(method, model, data, a, d, g, nodes, log_w, c_prior):
    if data.y.dtype != np.float64:  # differences of gradients need double precision
        data = _Data(data.y.astype(np.float64), data.mask.astype(np.float64), data.freq, data.complete)
    scores, idx = _person_scores(model, data, a, d, g, nodes, log_w, c_prior)
    if method == "xpd":
        info = (scores * data.freq[:, None]).T @ scores
    else:
        x0 = _pack(model, a, d, g)
        info = np.empty((x0.size, x0.size))
        for j in range(x0.size):
            h = 1e-5 * max(1.0, abs(x0[j]))
            cols = []
            for sgn in (1, -1):
                x = x0.copy()
                x[j] += sgn * h
                sc, _ = _person_scores(model, data, *_unpack(model, x, a, d, g), nodes, log_w, c_prior)
                cols.append(data.freq @ sc)
            info[:, j] = -(cols[0] - cols[1]) / (2 * h)
        info = 0.5 * (info + info.T)
    if model == "3PL" and c_prior is not None:
        _, ph = _log_prior_terms(g, c_prior)
        for col, (nm, i) in enumerate(idx):
            if nm == "g":
                info[col, col] += ph[i]
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None, idx
    if not np.isfinite(cov).all() or (np.diag(cov) <= 0).any():
        return None, idx
    return cov, idx


def _delta_se(model, cov, idx, a, d, g):
    k = a.size
    pos = {key: col for col, key in enumerate(idx)}
    se_a, se_b, se_c = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    for i in range(k):
        ia = pos.get(("a", -1), pos.get(("a", i)))
        id_ = pos[("d", i)]
        # b = -d / a
        if ia is None:
            se_b[i] = np.sqrt(cov[id_, id_]) / abs(a[i])
        else:
            se_a[i] = np.sqrt(cov[ia, ia])
            j = np.array([d[i] / a[i] ** 2, -1.0 / a[i]])
            sub = cov[np.ix_([ia, id_], [ia, id_])]
            se_b[i] = np.sqrt(max(0.0, j @ sub @ j))
        ig = pos.get(("g", i))
        if ig is not None:
            c = _sigmoid(g[i])
            se_c[i] = c * (1 - c) * np.sqrt(cov[ig, ig])
    return se_a, se_b, se_c


# --- abilities ----------------------------------------------------------------------

@dataclass(frozen=True)
class Abilities:
    """Ability estimates and their standard errors, one per examinee."""

    theta: np.ndarray
    se: np.ndarray
    method: str
    #: MLE only: the estimate sits at a bound (all right or all wrong)
    is_extreme: np.ndarray | None = None


def _resp(responses, k):
    x = np.asarray(responses, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != k:
        raise InvalidData(f"responses must have one column per item ({k})")
    if np.isinf(x).any():
        raise InvalidData("responses contain infinities")
    present = ~np.isnan(x)
    if not np.isin(x[present], (0.0, 1.0)).all():
        raise InvalidData("responses must be 0, 1 or NaN (missing)")
    return x, present


def _params(a, b, c):
    a, b = np.atleast_1d(np.asarray(a, dtype=float)), np.atleast_1d(np.asarray(b, dtype=float))
    c = np.broadcast_to(np.asarray(c, dtype=float), a.shape)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()):
        raise InvalidData("item parameters must be finite and of equal length")
    return a, b, c


def eap(responses: Any, a: Any, b: Any, c: Any = 0.0, *, n_quad: int = 61, prior_mean: float = 0.0,
        prior_sd: float = 1.0) -> Abilities:
    """Expected a posteriori abilities (normal prior) and posterior standard deviations."""
    a, b, c = _params(a, b, c)
    x, present = _resp(responses, a.size)
    nodes, w = quadrature(n_quad, "gauss_hermite")
    nodes = prior_mean + prior_sd * nodes
    p = np.clip(probability(nodes, a, b, c), 1e-12, 1 - 1e-12)  # Q x k
    y = np.where(present, x, 0.0)
    ll = y @ np.log(p).T + (present & (x == 0)) @ np.log1p(-p).T + np.log(w)[None, :]
    ll -= ll.max(axis=1, keepdims=True)
    post = np.exp(ll)
    post /= post.sum(axis=1, keepdims=True)
    mean = post @ nodes
    sd = np.sqrt(np.maximum(0.0, post @ nodes ** 2 - mean ** 2))
    return Abilities(mean, sd, "EAP")


def _score_terms(theta, x, present, a, b, c):
    s = _sigmoid(a[None, :] * (theta[:, None] - b[None, :]))
    p = np.clip(c + (1 - c) * s, 1e-12, 1 - 1e-12)
    dp = (1 - c) * a * s * (1 - s)
    d2p = dp * a * (1 - 2 * s)
    pq = p * (1 - p)
    m = present.astype(float)
    score = (m * np.where(present, x, 0.0) - m * p) * dp / pq
    info = m * dp * dp / pq
    j = m * dp * d2p / pq
    return score.sum(axis=1), info.sum(axis=1), j.sum(axis=1)


def _solve(fun, n, lo, hi, iters=60):
    """Vectorised bisection for a decreasing estimating function on [lo, hi]."""
    left, right = np.full(n, lo), np.full(n, hi)
    for _ in range(iters):
        mid = 0.5 * (left + right)
        f = fun(mid)
        pos = f > 0
        left = np.where(pos, mid, left)
        right = np.where(pos, right, mid)
    return 0.5 * (left + right)


def mle(responses: Any, a: Any, b: Any, c: Any = 0.0, *, bounds: tuple[float, float] = (-6.0, 6.0)) -> Abilities:
    """Maximum likelihood abilities; all-right/all-wrong patterns sit at a bound and are flagged."""
    a, b, c = _params(a, b, c)
    x, present = _resp(responses, a.size)
    theta = _solve(lambda t: _score_terms(t, x, present, a, b, c)[0], x.shape[0], *bounds)
    _, info, _ = _score_terms(theta, x, present, a, b, c)
    extreme = (theta <= bounds[0] + 1e-6) | (theta >= bounds[1] - 1e-6)
    se = np.where(info > 0, 1 / np.sqrt(np.maximum(info, 1e-300)), np.inf)
    return Abilities(theta, se, "MLE", extreme)


def wle(responses: Any, a: Any, b: Any, c: Any = 0.0, *, bounds: tuple[float, float] = (-6.0, 6.0)) -> Abilities:
    """Warm's weighted likelihood abilities (finite for perfect scores); SE from the test information."""
    a, b, c = _params(a, b, c)
    x, present = _resp(responses, a.size)

    def f(t):
        s, i, j = _score_terms(t, x, present, a, b, c)
        return s + j / (2 * np.maximum(i, 1e-300))

    theta = _solve(f, x.shape[0], *bounds)
    _, info, _ = _score_terms(theta, x, present, a, b, c)
    extreme = (theta <= bounds[0] + 1e-6) | (theta >= bounds[1] - 1e-6)
    se = np.where(info > 0, 1 / np.sqrt(np.maximum(info, 1e-300)), np.inf)
    return Abilities(theta, se, "WLE", extreme)


def simulate_responses(theta: Any, a: Any, b: Any, c: Any = 0.0, *, seed: int | None = None) -> np.ndarray:
    """Random 0/1 responses (examinees x items) from the model: for tests and benchmarks."""
    rng = np.random.default_rng(seed)
    p = probability(np.asarray(theta, dtype=float), *_params(a, b, c))
    return (rng.random(p.shape) < p).astype(float)
