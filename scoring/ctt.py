"""Classical item analysis (classical test theory), vectorised with numpy.

Input is a score matrix: one row per attempt, one column per item, item
scores in points (0/1 for dichotomous items); ``NaN`` marks an item the
attempt was not given (pooled forms). Outputs are plain dataclasses.

* :func:`item_analysis` — per item: difficulty ``p`` (mean score / max),
  corrected point-biserial (item vs. total of the *other* items),
  uncorrected item-total correlation, upper-lower discrimination index
  (27 % groups by total score), alpha if the item is deleted; per test:
  Cronbach's alpha (= KR-20 for 0/1 items), SEM, the score distribution.
* :func:`cronbach_alpha`, :func:`kr20`, :func:`sem` — alone.
* :func:`distractor_analysis` — per item and option: how many chose it,
  the mean total score of those who did, its point-biserial with the total
  and its share in the upper and lower groups (a good distractor attracts the
  lower group, and correlates negatively).
* :func:`score_distribution` — mean, sd, quantiles and a frequency table.

Missing data: item statistics use the attempts that had the item; alpha,
KR-20 and alpha-if-deleted use the complete rows only (``n_complete``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InvalidData


def _as_matrix(scores: Any) -> np.ndarray:
    x = np.asarray(scores, dtype=float)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InvalidData(f"scores must be a non-empty 2-D matrix (attempts x items), got shape {x.shape}")
    if np.isinf(x).any():
        raise InvalidData("scores contain infinities")
    return x


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (NaN when either side has no variance)."""
    if x.size < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / den) if den > 0 else float("nan")


def cronbach_alpha(scores: Any) -> float:
    """Cronbach's alpha on the complete rows (NaN when fewer than 2 items or no variance)."""
    x = _as_matrix(scores)
    x = x[~np.isnan(x).any(axis=1)]
    k = x.shape[1]
    if k < 2 or x.shape[0] < 2:
        return float("nan")
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return float("nan")
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var))


def kr20(scores: Any) -> float:
    """Kuder-Richardson 20 for 0/1 items (equals Cronbach's alpha on them)."""
    x = _as_matrix(scores)
    x = x[~np.isnan(x).any(axis=1)]
    if not np.isin(x, (0.0, 1.0)).all():
        raise InvalidData("KR-20 needs dichotomous (0/1) scores; use cronbach_alpha")
    k = x.shape[1]
    if k < 2 or x.shape[0] < 2:
        return float("nan")
    p = x.mean(axis=0)
    total_var = x.sum(axis=1).var(ddof=0)
    if total_var <= 0:
        return float("nan")
    return float(k / (k - 1) * (1 - (p * (1 - p)).sum() / total_var))


def sem(sd_total: float, reliability: float) -> float:
    """Standard error of measurement: ``sd * sqrt(1 - reliability)``."""
    if not np.isfinite(reliability):
        return float("nan")
    return float(sd_total * np.sqrt(max(0.0, 1.0 - reliability)))


@dataclass(frozen=True)
class ScoreDistribution:
    n: int
    mean: float
    sd: float
    min: float
    max: float
    median: float
    q1: float
    q3: float
    skewness: float
    #: score value -> count (totals rounded to 6 decimals)
    frequencies: Mapping[float, int] = field(default_factory=dict)


def score_distribution(totals: Any) -> ScoreDistribution:
    """Summary and frequency table of total scores."""
    t = np.asarray(totals, dtype=float)
    t = t[~np.isnan(t)]
    if t.size == 0:
        raise InvalidData("no scores")
    sd = float(t.std(ddof=1)) if t.size > 1 else 0.0
    skew = float(((t - t.mean()) ** 3).mean() / t.std() ** 3) if t.std() > 0 else 0.0
    values, counts = np.unique(np.round(t, 6), return_counts=True)
    q1, med, q3 = np.percentile(t, [25, 50, 75])
    return ScoreDistribution(int(t.size), float(t.mean()), sd, float(t.min()), float(t.max()), float(med),
                             float(q1), float(q3), skew, {float(v): int(c) for v, c in zip(values, counts)})


@dataclass(frozen=True)
class ItemStats:
    index: int
    item_id: str | None
    #: attempts that had the item
    n: int
    #: difficulty: mean score / max score (proportion correct for 0/1 items)
    p: float
    mean: float
    sd: float
    #: correlation of the item with the total of the other items
    point_biserial_corrected: float
    #: correlation of the item with the total including itself
    point_biserial: float
    #: upper-group minus lower-group difficulty (27 % groups)
    discrimination_index: float
    p_upper: float
    p_lower: float
    #: alpha of the test without this item
    alpha_if_deleted: float


@dataclass(frozen=True)
class TestStats:
    n_examinees: int
    n_items: int
    #: complete rows used for alpha/KR-20
    n_complete: int
    alpha: float
    #: KR-20 (None when some item is not 0/1)
    kr20: float | None
    sem: float
    distribution: ScoreDistribution


@dataclass(frozen=True)
class ItemAnalysis:
    items: tuple[ItemStats, ...]
    test: TestStats

    def to_rows(self) -> list[dict]:
        """One flat dict per item (for a CSV export: the keys are the columns)."""
        return [{k: v for k, v in asdict(i).items()} for i in self.items]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["test"]["distribution"]["frequencies"] = {str(k): v for k, v in self.test.distribution.frequencies.items()}
        return d


def upper_lower_groups(totals: np.ndarray, fraction: float = 0.27) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the lower and upper ``fraction`` of attempts by total (ties by row order)."""
    n = totals.size
    g = max(1, int(round(fraction * n)))
    order = np.argsort(totals, kind="stable")
    return order[:g], order[n - g:]


def item_analysis(scores: Any, max_scores: Sequence[float] | None = None, item_ids: Sequence[str] | None = None,
                  group_fraction: float = 0.27) -> ItemAnalysis:
    """Classical statistics of every item and of the test; see the module docstring."""
    x = _as_matrix(scores)
    n, k = x.shape
    if not 0 < group_fraction <= 0.5:
        raise InvalidData("group_fraction must be within (0, 0.5]")
    if max_scores is None:
        m = np.nanmax(np.where(np.isnan(x), -np.inf, x), axis=0)
        m = np.where(np.isfinite(m) & (m > 0), m, 1.0)
    else:
        m = np.asarray(max_scores, dtype=float)
        if m.shape != (k,) or not np.all(m > 0):
            raise InvalidData("max_scores must give one positive maximum per item")
    if item_ids is not None and len(item_ids) != k:
        raise InvalidData("item_ids must name every column")
    present = ~np.isnan(x)
    x0 = np.where(present, x, 0.0)
    totals = x0.sum(axis=1)
    lower, upper = upper_lower_groups(totals, group_fraction)
    complete = present.all(axis=1)
    xc = x[complete]
    alpha = cronbach_alpha(xc) if xc.shape[0] >= 2 else float("nan")
    dich = bool(np.isin(x[present], (0.0, 1.0)).all())
    k20 = kr20(xc) if dich and xc.shape[0] >= 2 else None
    items = []
    for j in range(k):
        rows = present[:, j]
        xj = x[rows, j]
        rest = totals[rows] - xj
        if k > 2 and xc.shape[0] >= 2:
            a_del = cronbach_alpha(np.delete(xc, j, axis=1))
        else:
            a_del = float("nan")
        up = x[upper, j]
        lo = x[lower, j]
        p_up = float(np.nanmean(up) / m[j]) if (~np.isnan(up)).any() else float("nan")
        p_lo = float(np.nanmean(lo) / m[j]) if (~np.isnan(lo)).any() else float("nan")
        items.append(ItemStats(
            index=j, item_id=None if item_ids is None else str(item_ids[j]), n=int(rows.sum()),
            p=float(xj.mean() / m[j]) if xj.size else float("nan"),
            mean=float(xj.mean()) if xj.size else float("nan"),
            sd=float(xj.std(ddof=1)) if xj.size > 1 else float("nan"),
            point_biserial_corrected=_corr(xj, rest), point_biserial=_corr(xj, totals[rows]),
            discrimination_index=p_up - p_lo, p_upper=p_up, p_lower=p_lo, alpha_if_deleted=a_del))
    dist = score_distribution(totals)
    test = TestStats(n, k, int(complete.sum()), alpha, k20, sem(dist.sd, alpha), dist)
    return ItemAnalysis(tuple(items), test)


@dataclass(frozen=True)
class OptionStats:
    option: str
    is_key: bool
    count: int
    proportion: float
    #: mean total score of those who chose the option
    mean_total: float
    #: correlation of "chose this option" with the total score
    point_biserial: float
    #: share of the upper / lower group that chose it
    p_upper: float
    p_lower: float


def distractor_analysis(choices: Any, keys: Sequence[Any], totals: Any | None = None,
                        group_fraction: float = 0.27, missing: Any = None) -> list[list[OptionStats]]:
    """Per item, per option chosen (plus the key): counts, shares and discrimination.

    ``choices`` is attempts x items of option ids (``missing`` or None/NaN =
    omitted); ``keys`` the key option of each item; ``totals`` the attempts'
    total scores (default: the number of keys chosen).
    """
    c = np.asarray(choices, dtype=object)
    if c.ndim != 2 or c.size == 0:
        raise InvalidData("choices must be a non-empty 2-D matrix (attempts x items)")
    n, k = c.shape
    if len(keys) != k:
        raise InvalidData("one key per item is needed")

    def is_missing(v):
        return v is None or (isinstance(v, float) and np.isnan(v)) or (missing is not None and v == missing)

    miss = np.vectorize(is_missing, otypes=[bool])(c)
    if totals is None:
        t = np.zeros(n)
        for j in range(k):
            t += (c[:, j] == keys[j]) & ~miss[:, j]
    else:
        t = np.asarray(totals, dtype=float)
        if t.shape != (n,):
            raise InvalidData("totals must have one value per attempt")
    lower, upper = upper_lower_groups(t, group_fraction)
    out = []
    for j in range(k):
        col = c[:, j]
        opts = sorted({v for v, mi in zip(col, miss[:, j]) if not mi} | {keys[j]}, key=str)
        stats = []
        for o in opts:
            chose = (col == o) & ~miss[:, j]
            cnt = int(chose.sum())
            stats.append(OptionStats(
                option=str(o), is_key=o == keys[j], count=cnt, proportion=cnt / n,
                mean_total=float(t[chose].mean()) if cnt else float("nan"),
                point_biserial=_corr(chose.astype(float), t),
                p_upper=float(chose[upper].mean()), p_lower=float(chose[lower].mean())))
        out.append(stats)
    return out
