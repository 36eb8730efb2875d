"""Pass decisions and scaled scores.

* :class:`PassPolicy` — the exam's rule: a cut on the percentage, the points,
  the scaled score or the IRT ability (``mode``), plus optional per-section
  minimums (each by percentage or points). :func:`decide` applies it.
* :class:`LinearScale` — raw points to a reporting scale (e.g. 0..max -> 200..800).
* :class:`ThetaScale` — an IRT ability to a reporting scale (intercept + slope * theta).

A cut is met when the value is >= the cut (to within 1e-9). A section
minimum for a section the attempt lacks is unmet (reason
``section_missing:<name>``) rather than an error, so a submit never fails on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import InvalidData

EPS = 1e-9
MODES = ("percentage", "points", "scaled", "theta")


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise InvalidData(f"{name} must be a finite number")
    return float(value)


@dataclass(frozen=True)
class SectionMinimum:
    """A minimum a section must reach for the attempt to pass."""

    value: float
    #: ``percentage`` (0..100) or ``points`` (weighted section points)
    mode: str = "percentage"

    def __post_init__(self) -> None:
        if self.mode not in ("percentage", "points"):
            raise InvalidData(f"section minimum mode must be percentage or points, not {self.mode!r}")
        _finite(self.value, "section minimum")


@dataclass(frozen=True)
class PassPolicy:
    """How an attempt passes."""

    cut_score: float
    #: what the cut applies to: percentage (0..100), points, scaled or theta
    mode: str = "percentage"
    #: section name -> SectionMinimum
    section_minimums: Mapping[str, SectionMinimum] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidData(f"pass mode must be one of {MODES}, not {self.mode!r}")
        _finite(self.cut_score, "cut_score")
        if self.mode == "percentage" and not 0 <= self.cut_score <= 100:
            raise InvalidData("a percentage cut must be within 0..100")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PassPolicy":
        """From ``{"mode", "cut_score", "section_minimums": {name: number | {"value", "mode"}}}``."""
        mins = {}
        for name, m in (data.get("section_minimums") or {}).items():
            mins[name] = SectionMinimum(**m) if isinstance(m, Mapping) else SectionMinimum(float(m))
        return cls(cut_score=data["cut_score"], mode=data.get("mode", "percentage"), section_minimums=mins)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "cut_score": self.cut_score,
                "section_minimums": {k: {"value": v.value, "mode": v.mode} for k, v in self.section_minimums.items()}}


@dataclass(frozen=True)
class PassDecision:
    passed: bool
    #: why it failed (empty when passed): e.g. ``below_cut``, ``section_minimum:algebra``
    reasons: tuple[str, ...] = ()
    #: the value compared with the cut, and the distance to it (value - cut)
    value: float = 0.0
    margin: float = 0.0


def percentage(score: float, max_score: float) -> float:
    """``100 * score / max_score`` (0 when the maximum is 0)."""
    return 100.0 * score / max_score if max_score > 0 else 0.0


def decide(policy: PassPolicy, *, score: float, max_score: float,
           sections: Mapping[str, tuple[float, float]] | None = None,
           scaled: float | None = None, theta: float | None = None) -> PassDecision:
    """Apply ``policy`` to an attempt's totals; ``sections`` maps name -> (score, max_score)."""
    if policy.mode == "percentage":
        value = percentage(score, max_score)
    elif policy.mode == "points":
        value = score
    elif policy.mode == "scaled":
        if scaled is None:
            raise InvalidData("the pass policy needs a scaled score")
        value = scaled
    else:
        if theta is None:
            raise InvalidData("the pass policy needs an ability estimate (theta)")
        value = theta
    reasons = []
    if value < policy.cut_score - EPS:
        reasons.append("below_cut")
    sections = sections or {}
    for name, minimum in policy.section_minimums.items():
        if name not in sections:
            # a misconfigured exam must not crash a submit: the minimum is unmet, and says why
            reasons.append(f"section_missing:{name}")
            continue
        s, m = sections[name]
        got = percentage(s, m) if minimum.mode == "percentage" else s
        if got < minimum.value - EPS:
            reasons.append(f"section_minimum:{name}")
    return PassDecision(not reasons, tuple(reasons), value, value - policy.cut_score)


@dataclass(frozen=True)
class LinearScale:
    """Raw points in [raw_min, raw_max] mapped linearly onto [scaled_min, scaled_max]."""

    raw_min: float
    raw_max: float
    scaled_min: float
    scaled_max: float
    #: decimals kept (None: no rounding)
    decimals: int | None = 0
    clip: bool = True

    def __post_init__(self) -> None:
        if not self.raw_max > self.raw_min:
            raise InvalidData("LinearScale needs raw_max > raw_min")

    def apply(self, raw: float) -> float:
        """The scaled score of ``raw``."""
        raw = _finite(raw, "raw score")
        x = self.scaled_min + (raw - self.raw_min) * (self.scaled_max - self.scaled_min) / (self.raw_max - self.raw_min)
        if self.clip:
            lo, hi = sorted((self.scaled_min, self.scaled_max))
            x = min(hi, max(lo, x))
        return round(x, self.decimals) if self.decimals is not None else x


@dataclass(frozen=True)
class ThetaScale:
    """An ability theta mapped to ``intercept + slope * theta``, optionally clipped to [lo, hi]."""

    intercept: float = 500.0
    slope: float = 100.0
    lo: float | None = None
    hi: float | None = None
    decimals: int | None = 0

    def apply(self, theta: float) -> float:
        """The scaled score of ``theta``."""
        theta = _finite(theta, "theta")
        x = self.intercept + self.slope * theta
        if self.lo is not None:
            x = max(self.lo, x)
        if self.hi is not None:
            x = min(self.hi, x)
        return round(x, self.decimals) if self.decimals is not None else x
