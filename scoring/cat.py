"""Computerised adaptive testing: item selection, ability updates, stop rules, simulation.

The adaptive exam keeps a tiny state per attempt (:class:`CatState`: the
items given and the 0/1 answers), stored by the engine wherever it stores
attempts; everything else is recomputed from it and the bank, so any
worker can serve the next request.

* :class:`ItemBank` — calibrated items (``a``, ``b``, ``c``), their ids and
  blueprint sections; :meth:`ItemBank.from_items` reads dicts such as the
  items' ``metadata.irt``.
* :class:`CatConfig` — max/min length, target SE, the blueprint (section ->
  share of the test, for content balancing), randomesque group size and
  Sympson-Hetter exposure parameters.
* :func:`estimate` — EAP ability and posterior SD (N(0,1) prior, fixed grid).
* :func:`select_next_item` — maximum Fisher information at the current
  estimate, restricted to the blueprint section furthest below its target
  share (Kingsbury & Zara), then randomesque (pick among the best k) and/or
  Sympson-Hetter (the best item is given with probability K_i, else the next).
* :func:`next_step` — stop rule (target SE reached after ``min_length``
  items, ``max_length`` reached, or the bank exhausted) and, if going on, the
  next item.
* :func:`simulate` — many simulated examinees in lockstep (vectorised):
  RMSE, bias, mean length, exposure rates; :func:`sympson_hetter_parameters`
  derives exposure parameters by iterated simulation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import InvalidData

GRID = np.linspace(-5.0, 5.0, 81)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class ItemBank:
    """Calibrated items for adaptive delivery."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    item_ids: tuple[str, ...]
    #: section index of every item (into ``section_names``)
    section_index: np.ndarray
    section_names: tuple[str, ...]

    @classmethod
    def from_arrays(cls, a: Any, b: Any, c: Any = 0.0, item_ids: Sequence[str] | None = None,
                    sections: Sequence[str] | None = None) -> "ItemBank":
        """Build a bank from parameter arrays (and optional ids and section names)."""
        a = np.atleast_1d(np.asarray(a, dtype=float))
        b = np.atleast_1d(np.asarray(b, dtype=float))
        c = np.broadcast_to(np.asarray(c, dtype=float), a.shape).copy()
        if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
            raise InvalidData("the bank needs one a and one b per item")
        if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()):
            raise InvalidData("item parameters must be finite")
        if (a <= 0).any() or ((c < 0) | (c >= 1)).any():
            raise InvalidData("adaptive items need a > 0 and 0 <= c < 1")
        ids = tuple(str(i) for i in (item_ids if item_ids is not None else range(a.size)))
        if len(ids) != a.size or len(set(ids)) != len(ids):
            raise InvalidData("item ids must be unique, one per item")
        secs = list(sections) if sections is not None else ["_"] * a.size
        if len(secs) != a.size:
            raise InvalidData("one section per item is needed")
        names = tuple(dict.fromkeys(str(s) for s in secs))
        pos = {n: i for i, n in enumerate(names)}
        return cls(a, b, c, ids, np.array([pos[str(s)] for s in secs], dtype=np.int64), names)

    @classmethod
    def from_items(cls, items: Sequence[Mapping[str, Any]]) -> "ItemBank":
        """From dicts ``{"item_id", "a", "b", "c" (optional), "section" (optional)}``."""
        return cls.from_arrays([i["a"] for i in items], [i["b"] for i in items], [i.get("c", 0.0) for i in items],
                               [i["item_id"] for i in items], [i.get("section", "_") for i in items])

    @property
    def size(self) -> int:
        return int(self.a.size)

    def index_of(self, item_id: str) -> int:
        try:
            return self.item_ids.index(item_id)
        except ValueError:
            raise InvalidData(f"unknown item {item_id!r}") from None

    def information(self, theta: float) -> np.ndarray:
        """Fisher information of every item at ``theta``."""
        s = _sigmoid(self.a * (theta - self.b))
        p = self.c + (1 - self.c) * s
        dp = (1 - self.c) * self.a * s * (1 - s)
        return dp * dp / (p * (1 - p))


@dataclass(frozen=True)
class CatConfig:
    """How an adaptive test selects items and when it stops."""

    max_length: int = 20
    min_length: int = 1
    #: stop once the posterior SD is at or below this (None: only max_length)
    target_se: float | None = None
    #: section name -> target share of the test (content balancing); None: no balancing
    blueprint: Mapping[str, float] | None = None
    #: randomesque: choose at random among this many most informative items
    randomesque: int = 1
    #: Sympson-Hetter exposure parameters, one per bank item in [0, 1] (None: off)
    sympson_hetter: Sequence[float] | None = None
    #: prior of the EAP estimate
    prior_mean: float = 0.0
    prior_sd: float = 1.0

    def __post_init__(self) -> None:
        if self.max_length < 1 or self.min_length < 0 or self.min_length > self.max_length:
            raise InvalidData("need 0 <= min_length <= max_length and max_length >= 1")
        if self.target_se is not None and not self.target_se > 0:
            raise InvalidData("target_se must be > 0")
        if self.randomesque < 1:
            raise InvalidData("randomesque must be >= 1")
        if self.prior_sd <= 0:
            raise InvalidData("prior_sd must be > 0")
        if self.blueprint is not None:
            if not self.blueprint or any(v < 0 for v in self.blueprint.values()) or sum(self.blueprint.values()) <= 0:
                raise InvalidData("blueprint shares must be >= 0 and not all 0")


@dataclass(frozen=True)
class CatState:
    """What an adaptive attempt has seen: bank indices given, 0/1 answers, items passed over."""

    administered: tuple[int, ...] = ()
    responses: tuple[int, ...] = ()
    #: items excluded for this examinee (Sympson-Hetter rejections)
    excluded: tuple[int, ...] = ()

    def record(self, item_index: int, correct: bool | int) -> "CatState":
        """A new state with one more answered item."""
        if item_index in self.administered:
            raise InvalidData(f"item {item_index} was already administered")
        return CatState(self.administered + (int(item_index),), self.responses + (int(bool(correct)),), self.excluded)

    def to_dict(self) -> dict:
        return {"administered": list(self.administered), "responses": list(self.responses),
                "excluded": list(self.excluded)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CatState":
        adm, res = tuple(int(i) for i in data.get("administered", ())), tuple(int(r) for r in data.get("responses", ()))
        if len(adm) != len(res) or any(r not in (0, 1) for r in res):
            raise InvalidData("a CAT state needs one 0/1 response per administered item")
        return cls(adm, res, tuple(int(i) for i in data.get("excluded", ())))


@dataclass(frozen=True)
class CatStep:
    """The decision after an answer: the next item (or None when the test stops)."""

    item_index: int | None
    item_id: str | None
    theta: float
    se: float
    length: int
    #: None while going on; ``target_se``, ``max_length`` or ``bank_exhausted``
    stop_reason: str | None


def _log_prior(config: CatConfig) -> np.ndarray:
    z = (GRID - config.prior_mean) / config.prior_sd
    return -0.5 * z * z


def estimate(bank: ItemBank, state: CatState, config: CatConfig | None = None) -> tuple[float, float]:
    """EAP ability and posterior SD after the answers in ``state``."""
    config = config or CatConfig()
    lp = _log_prior(config)
    if state.administered:
        idx = np.asarray(state.administered)
        x = np.asarray(state.responses, dtype=float)
        p = bank.c[idx, None] + (1 - bank.c[idx, None]) * _sigmoid(bank.a[idx, None] * (GRID[None, :] - bank.b[idx, None]))
        p = np.clip(p, 1e-12, 1 - 1e-12)
        lp = lp + x @ np.log(p) + (1 - x) @ np.log1p(-p)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = float(w @ GRID)
    return mean, float(np.sqrt(max(0.0, w @ (GRID - mean) ** 2)))


def _section_target(bank: ItemBank, config: CatConfig, administered: np.ndarray, available: np.ndarray) -> int | None:
    """The section furthest below its blueprint share that still has items (Kingsbury-Zara)."""
    if config.blueprint is None:
        return None
    shares = np.array([config.blueprint.get(n, 0.0) for n in bank.section_names], dtype=float)
    shares = shares / shares.sum()
    counts = np.bincount(bank.section_index[administered], minlength=len(bank.section_names)) if administered.size else np.zeros(len(shares))
    t = max(1, administered.size)
    gap = shares - counts / t if administered.size else shares.copy()
    has = np.bincount(bank.section_index[available], minlength=len(shares)) > 0
    gap = np.where(has & (shares > 0), gap, -np.inf)
    if not np.isfinite(gap).any():
        return None
    return int(np.argmax(gap))


def select_next_item(bank: ItemBank, state: CatState, config: CatConfig | None = None, *,
                     theta: float | None = None, rng: np.random.Generator | None = None,
                     unavailable: Sequence[int] = ()) -> tuple[int | None, tuple[int, ...]]:
    """Bank index of the next item (None if none is left) and the items Sympson-Hetter passed over."""
    config = config or CatConfig()
    rng = rng or np.random.default_rng()
    if theta is None:
        theta, _ = estimate(bank, state, config)
    avail = np.ones(bank.size, dtype=bool)
    blocked = list(state.administered) + list(state.excluded) + list(unavailable)
    if blocked:
        avail[np.asarray(blocked, dtype=np.int64)] = False
    if not avail.any():
        return None, ()
    sec = _section_target(bank, config, np.asarray(state.administered, dtype=np.int64), np.flatnonzero(avail))
    if sec is not None:
        avail &= bank.section_index == sec
    info = np.where(avail, bank.information(theta), -np.inf)
    n_avail = int(avail.sum())
    passed: list[int] = []
    k = min(config.randomesque, n_avail)
    if config.sympson_hetter is None:
        if k == 1:
            return int(np.argmax(info)), ()
        top = np.argpartition(-info, k - 1)[:k]
        return int(rng.choice(top)), ()
    sh = np.asarray(config.sympson_hetter, dtype=float)
    order = np.argsort(-info)[:n_avail]
    if k > 1:
        # randomesque within Sympson-Hetter: shuffle each block of k candidates
        order = np.concatenate([rng.permutation(order[i:i + k]) for i in range(0, order.size, k)])
    for i in order:
        if rng.random() < sh[i]:
            return int(i), tuple(passed)
        passed.append(int(i))
    return int(order[0]), tuple(passed[1:])  # everything refused: give the best, as SH prescribes


def next_step(bank: ItemBank, state: CatState, config: CatConfig | None = None, *,
              rng: np.random.Generator | None = None) -> tuple[CatStep, CatState]:
    """Estimate, apply the stop rule, and (if going on) choose the next item.

    Returns the step and the state to store (it may list newly excluded items).
    """
    config = config or CatConfig()
    theta, se = estimate(bank, state, config)
    n = len(state.administered)
    reason = None
    if n >= config.max_length:
        reason = "max_length"
    elif config.target_se is not None and n >= config.min_length and n > 0 and se <= config.target_se:
        reason = "target_se"
    if reason is None:
        item, passed = select_next_item(bank, state, config, theta=theta, rng=rng)
        if item is None:
            reason = "bank_exhausted"
        else:
            new_state = CatState(state.administered, state.responses, state.excluded + passed)
            return CatStep(item, bank.item_ids[item], theta, se, n, None), new_state
    return CatStep(None, None, theta, se, n, reason), state


# --- simulation --------------------------------------------------------------------

@dataclass(frozen=True)
class SimulationResult:
    true_theta: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    lengths: np.ndarray
    rmse: float
    bias: float
    mean_length: float
    #: share of examinees who saw each item
    exposure: np.ndarray
    max_exposure: float
    #: items never administered / share of the bank
    unused_share: float
    seconds: float
    administered: np.ndarray = field(repr=False, default=None)
    #: share of examinees for whom each item was the selection (before Sympson-Hetter's lottery)
    selection_rate: np.ndarray = field(repr=False, default=None)

    def summary(self) -> dict:
        return {"examinees": int(self.true_theta.size), "rmse": self.rmse, "bias": self.bias,
                "mean_length": self.mean_length, "max_exposure": self.max_exposure,
                "unused_share": self.unused_share, "seconds": self.seconds}


def simulate(bank: ItemBank, true_theta: Any, config: CatConfig | None = None, *, seed: int | None = 0,
             progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Run adaptive tests for simulated examinees (all in lockstep, vectorised).

    Each examinee's answers are drawn from the model at their true theta. The
    rules are those of :func:`next_step`. ``progress(step, max_length)`` is
    called after each step.
    """
    config = config or CatConfig()
    rng = np.random.default_rng(seed)
    theta_true = np.asarray(true_theta, dtype=float).ravel()
    if theta_true.size == 0 or not np.isfinite(theta_true).all():
        raise InvalidData("true_theta must be a non-empty array of finite numbers")
    n, m, L = theta_true.size, bank.size, config.max_length
    # log P and log Q of every item on the grid: the posterior update is a row gather
    pg = np.clip(bank.c[:, None] + (1 - bank.c[:, None]) * _sigmoid(bank.a[:, None] * (GRID[None, :] - bank.b[:, None])),
                 1e-12, 1 - 1e-12)
    logp, logq = np.log(pg), np.log1p(-pg)
    logpost = np.tile(_log_prior(config), (n, 1))
    used = np.zeros((n, m), dtype=bool)       # administered or refused: out of the pool
    excluded = np.zeros((n, m), dtype=bool)   # refused by Sympson-Hetter
    selected = np.zeros(m)                    # times each item was the selection (before SH)
    administered = np.full((n, L), -1, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    sh = None if config.sympson_hetter is None else np.asarray(config.sympson_hetter, dtype=float)
    if sh is not None and sh.shape != (m,):
        raise InvalidData("one Sympson-Hetter parameter per bank item is needed")
    shares = None
    if config.blueprint is not None:
        shares = np.array([config.blueprint.get(s, 0.0) for s in bank.section_names], dtype=float)
        shares /= shares.sum()
        sec_counts = np.zeros((n, len(shares)))
        sec_onehot = np.eye(len(shares), dtype=bool)[bank.section_index]  # m x S
    a, b, c = bank.a, bank.b, bank.c
    rows_all = np.arange(n)

    def posterior():
        w = np.exp(logpost - logpost.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        mean = w @ GRID
        return mean, np.sqrt(np.maximum(0.0, w @ GRID ** 2 - mean ** 2))

    t0 = time.perf_counter()
    est, se = posterior()
    for step in range(L):
        if config.target_se is not None and step >= max(1, config.min_length):
            active &= se > config.target_se
        active &= ~used.all(axis=1)
        rows = rows_all[active]
        if rows.size == 0:
            break
        th = est[rows, None]
        s = _sigmoid(a * (th - b))
        p = c + (1 - c) * s
        dp = (1 - c) * a * s * (1 - s)
        info = dp * dp / (p * (1 - p))
        info[used[rows]] = -np.inf
        if shares is not None:
            avail_sec = (~used[rows]) @ sec_onehot  # rows x S counts of available items
            gap = shares[None, :] - (sec_counts[rows] / max(1, step) if step else 0.0)
            gap = np.where((avail_sec > 0) & (shares[None, :] > 0), gap, -np.inf)
            target = np.argmax(gap, axis=1)
            ok = np.isfinite(gap[np.arange(rows.size), target])
            info[ok[:, None] & (bank.section_index[None, :] != target[:, None])] = -np.inf
        k = config.randomesque
        if sh is None and k == 1:
            chosen = np.argmax(info, axis=1)
        else:
            depth = min(m, k if sh is None else max(k * 8, 40))
            top = np.argpartition(-info, depth - 1, axis=1)[:, :depth]
            topinfo = np.take_along_axis(info, top, axis=1)
            order = np.argsort(-topinfo, axis=1)
            top = np.take_along_axis(top, order, axis=1)
            topinfo = np.take_along_axis(topinfo, order, axis=1)
            valid = np.isfinite(topinfo)
            if k > 1:
                # shuffle within blocks of k by a random key
                key = (np.arange(depth) // k)[None, :] + rng.random(top.shape) * 0.5
                key = np.where(valid, key, np.inf)
                o2 = np.argsort(key, axis=1)
                top = np.take_along_axis(top, o2, axis=1)
                valid = np.take_along_axis(valid, o2, axis=1)
            if sh is not None:
                accept = valid & (rng.random(top.shape) < sh[top])
                any_ok = accept.any(axis=1)
                first = np.where(any_ok, accept.argmax(axis=1), 0)
                # every candidate up to the accepted one was selected; the refused
                # ones leave this examinee's pool (Sympson & Hetter, 1985)
                considered = valid & (np.arange(depth)[None, :] <= np.where(any_ok, first, depth)[:, None])
                np.add.at(selected, top[considered], 1)
                refused = considered & ~accept
                r_idx, c_idx = np.nonzero(refused)
                excluded[rows[r_idx], top[r_idx, c_idx]] = True
                used[rows[r_idx], top[r_idx, c_idx]] = True
            else:
                first = np.zeros(rows.size, dtype=np.int64)
            chosen = top[np.arange(rows.size), first]
        x = rng.random(rows.size) < (c[chosen] + (1 - c[chosen]) * _sigmoid(a[chosen] * (theta_true[rows] - b[chosen])))
        used[rows, chosen] = True
        excluded[rows, chosen] = False
        if sh is None:
            np.add.at(selected, chosen, 1)
        administered[rows, step] = chosen
        lengths[rows] += 1
        if shares is not None:
            sec_counts[rows, bank.section_index[chosen]] += 1
        logpost[rows] += np.where(x[:, None], logp[chosen], logq[chosen])
        est, se = posterior()
        if progress is not None:
            progress(step + 1, L)
    seconds = time.perf_counter() - t0
    err = est - theta_true
    exposure = (used & ~excluded).sum(axis=0) / n
    return SimulationResult(theta_true, est, se, lengths, float(np.sqrt(np.mean(err ** 2))), float(err.mean()),
                            float(lengths.mean()), exposure, float(exposure.max()), float(np.mean(exposure == 0)),
                            seconds, administered, selected / n)


def sympson_hetter_parameters(bank: ItemBank, config: CatConfig, r_max: float = 0.25, *, n_examinees: int = 2000,
                              iterations: int = 10, seed: int = 0) -> np.ndarray:
    """Exposure parameters K by the Sympson-Hetter iterations: simulate, then K_i *= r_max / P(selected_i)."""
    if not 0 < r_max <= 1:
        raise InvalidData("r_max must be within (0, 1]")
    rng = np.random.default_rng(seed)
    k = np.ones(bank.size)
    for it in range(iterations):
        theta = rng.normal(size=n_examinees)
        cfg = CatConfig(**{**config.__dict__, "sympson_hetter": k})
        res = simulate(bank, theta, cfg, seed=seed + it + 1)
        p_sel = res.selection_rate
        k = np.where(p_sel > r_max, r_max / np.maximum(p_sel, 1e-12), 1.0)
    return k
