"""A small interpreter of QTI response processing, used to check that custom processing
reduces to one of our scoring rules.

The importer proposes a scoring dict in our format (from the correct response,
the mapping and the constants the processing uses), then runs both the QTI
processing (here) and our rule (`reference_score`) on a set of probe responses.
Equal scores on every probe: the item imports with that rule. Otherwise the
item is reported. Operators outside the subset raise `Unsupported`.
Trees are normalised first (see normalize.py): tags are `qti-...` without namespace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scoring.errors import ScoringError
from scoring.registry import grade_item


class Unsupported(Exception):
    """The processing uses something this interpreter (and our rules) cannot express."""


class Multiple(tuple):
    """A QTI multiple container (a multiset): equal regardless of order."""

    def key(self):
        return sorted(map(repr, self))

    def __eq__(self, other):  # noqa: D105
        return isinstance(other, Multiple) and self.key() == other.key()

    def __hash__(self):  # noqa: D105
        return hash(tuple(self.key()))


class Ordered(tuple):
    """A QTI ordered container."""


@dataclass
class Declaration:
    """A response declaration, enough to evaluate processing against it."""

    identifier: str
    cardinality: str = "single"
    base_type: str = "identifier"
    correct: list[str] = field(default_factory=list)
    mapping: dict[str, float] | None = None
    mapping_case_sensitive: dict[str, bool] = field(default_factory=dict)
    default_value: float = 0.0
    lower_bound: float | None = None
    upper_bound: float | None = None
    has_area_mapping: bool = False
    #: no correct response declared: `correct` was read from the processing's comparison constant
    key_from_processing: bool = False


def parse_scalar(text: str, base_type: str) -> Any:
    """A QTI single value from its text."""
    text = (text or "").strip() if base_type != "string" else (text or "")
    if base_type in ("float", "duration"):
        return float(text)
    if base_type == "integer":
        return int(text)
    if base_type == "boolean":
        return text.strip().lower() == "true"
    if base_type == "pair":
        parts = text.split()
        return frozenset(parts) if len(parts) == 2 else None
    if base_type == "directedPair":
        parts = text.split()
        return tuple(parts) if len(parts) == 2 else None
    return text


def container(values: list[Any], cardinality: str) -> Any:
    """Wrap values by cardinality (single -> the value or None)."""
    if cardinality == "single":
        return values[0] if values else None
    if not values:
        return None
    return Ordered(values) if cardinality == "ordered" else Multiple(values)


def _is_null(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (Multiple, Ordered)) and len(v) == 0)


class _Exit(Exception):
    pass


class Interpreter:
    """Evaluates a normalised qti-response-processing element for given responses."""

    def __init__(self, declarations: dict[str, Declaration], outcome_defaults: dict[str, Any]):
        self.decls = declarations
        self.outcome_defaults = outcome_defaults

    def run(self, rp, responses: dict[str, Any]) -> dict[str, Any]:
        env = dict(self.outcome_defaults)
        env.update(responses)
        self.env = env
        try:
            self._rules(rp)
        except _Exit:
            pass
        return env

    # -- rules
    def _rules(self, parent) -> None:
        for rule in parent:
            if not isinstance(rule.tag, str):
                continue
            tag = rule.tag
            if tag == "qti-response-condition":
                for branch in rule:
                    if not isinstance(branch.tag, str):
                        continue
                    if branch.tag in ("qti-response-if", "qti-response-else-if"):
                        children = [c for c in branch if isinstance(c.tag, str)]
                        if not children:
                            continue
                        if self._truth(self.eval(children[0])):
                            self._rules_list(children[1:])
                            break
                    elif branch.tag == "qti-response-else":
                        self._rules(branch)
                        break
            elif tag == "qti-set-outcome-value":
                children = [c for c in rule if isinstance(c.tag, str)]
                self.env[rule.get("identifier")] = self.eval(children[0]) if children else None
            elif tag == "qti-exit-response":
                raise _Exit
            elif tag == "qti-response-processing-fragment":
                self._rules(rule)
            else:
                raise Unsupported(tag)

    def _rules_list(self, rules) -> None:
        self._rules(rules)

    @staticmethod
    def _truth(v: Any) -> bool:
        return bool(v) if v is not None else False

    def _args(self, el) -> list[Any]:
        return [self.eval(c) for c in el if isinstance(c.tag, str)]

    # -- expressions
    def eval(self, el) -> Any:  # noqa: C901 - one branch per operator
        tag = el.tag
        if tag == "qti-variable":
            ident = el.get("identifier")
            if ident not in self.env and ident not in self.decls:
                raise Unsupported(f"qti-variable {ident}")
            return self.env.get(ident)
        if tag == "qti-correct":
            d = self.decls.get(el.get("identifier"))
            if d is None:
                raise Unsupported("qti-correct of an unknown response")
            return container([parse_scalar(v, d.base_type) for v in d.correct], d.cardinality)
        if tag == "qti-base-value":
            return parse_scalar(el.text or "", el.get("base-type", "string"))
        if tag == "qti-null":
            return None
        if tag == "qti-is-null":
            (v,) = self._args(el)
            return _is_null(v)
        if tag == "qti-match":
            a, b = self._args(el)
            if a is None or b is None:
                return None
            return a == b
        if tag in ("qti-and", "qti-or"):
            vals = self._args(el)
            if tag == "qti-and":
                if any(v is False for v in vals):
                    return False
                return None if any(v is None for v in vals) else True
            if any(v is True for v in vals):
                return True
            return None if any(v is None for v in vals) else False
        if tag == "qti-not":
            (v,) = self._args(el)
            return None if v is None else not v
        if tag == "qti-map-response":
            return self._map_response(el.get("identifier"))
        if tag in ("qti-sum", "qti-product"):
            vals = self._args(el)
            if any(v is None for v in vals):
                return None
            flat = [x for v in vals for x in (v if isinstance(v, tuple) else (v,))]
            return sum(flat) if tag == "qti-sum" else math.prod(flat)
        if tag in ("qti-subtract", "qti-divide"):
            a, b = self._args(el)
            if a is None or b is None:
                return None
            if tag == "qti-subtract":
                return a - b
            return None if b == 0 else a / b
        if tag in ("qti-gt", "qti-lt", "qti-gte", "qti-lte"):
            a, b = self._args(el)
            if a is None or b is None:
                return None
            return {"qti-gt": a > b, "qti-lt": a < b, "qti-gte": a >= b, "qti-lte": a <= b}[tag]
        if tag == "qti-equal":
            a, b = self._args(el)
            if a is None or b is None:
                return None
            return numeric_equal(float(a), float(b), el.get("tolerance-mode", "exact"), el.get("tolerance"),
                                 el.get("include-lower-bound", "true") == "true", el.get("include-upper-bound", "true") == "true")
        if tag == "qti-string-match":
            a, b = self._args(el)
            if a is None or b is None:
                return None
            if el.get("case-sensitive", "true") == "true":
                return a == b
            return a.casefold() == b.casefold()
        if tag in ("qti-multiple", "qti-ordered"):
            vals = [v for v in self._args(el) if v is not None]
            flat = [x for v in vals for x in (v if isinstance(v, (Multiple, Ordered)) else (v,))]
            if not flat:
                return None
            return Multiple(flat) if tag == "qti-multiple" else Ordered(flat)
        if tag == "qti-member":
            a, b = self._args(el)
            if a is None or b is None:
                return None
            return a in b
        if tag == "qti-contains":
            a, b = self._args(el)
            if a is None or b is None:
                return None
            if isinstance(a, Ordered):
                n, m = len(a), len(b)
                return any(tuple(a[i:i + m]) == tuple(b) for i in range(n - m + 1))
            rest = list(a)
            for x in b:
                if x in rest:
                    rest.remove(x)
                else:
                    return False
            return True
        if tag in ("qti-round", "qti-truncate", "qti-integer-to-float"):
            (a,) = self._args(el)
            if a is None:
                return None
            if tag == "qti-round":
                return int(math.floor(a + 0.5))
            if tag == "qti-truncate":
                return int(a)
            return float(a)
        if tag in ("qti-min", "qti-max"):
            vals = [x for v in self._args(el) for x in (v if isinstance(v, tuple) else (v,))]
            if any(v is None for v in vals) or not vals:
                return None
            return min(vals) if tag == "qti-min" else max(vals)
        if tag == "qti-container-size":
            (a,) = self._args(el)
            return 0 if a is None else len(a)
        raise Unsupported(tag)

    def _map_response(self, ident: str) -> float:
        d = self.decls.get(ident)
        if d is None or d.mapping is None:
            raise Unsupported("qti-map-response without a mapping")
        v = self.env.get(ident)
        return apply_mapping(d, v)


def _map_key(value: Any) -> str:
    if isinstance(value, frozenset):
        return " ".join(sorted(value))
    if isinstance(value, tuple):
        return " ".join(value)
    return str(value)


def apply_mapping(d: Declaration, value: Any) -> float:
    """QTI mapResponse: sum of mapped values of the distinct values, clamped to the bounds."""
    mapping = d.mapping or {}

    def lookup(v: Any) -> float:
        if d.base_type == "pair" and isinstance(v, frozenset):
            for k, val in mapping.items():
                if frozenset(k.split()) == v:
                    return val
            return d.default_value
        key = _map_key(v)
        if key in mapping:
            return mapping[key]
        if d.base_type == "string":
            for k, val in mapping.items():
                if not d.mapping_case_sensitive.get(k, True) and k.casefold() == key.casefold():
                    return val
        if d.base_type in ("float", "integer"):
            for k, val in mapping.items():
                try:
                    if float(k) == float(v):
                        return val
                except ValueError:
                    pass
        return d.default_value

    if value is None:
        total = 0.0 if d.cardinality != "single" else d.default_value
    elif isinstance(value, tuple) and not isinstance(value, frozenset) and d.cardinality != "single":
        seen = []
        for v in value:
            if v not in seen:
                seen.append(v)
        total = sum(lookup(v) for v in seen)
    else:
        total = lookup(value)
    if d.lower_bound is not None:
        total = max(total, d.lower_bound)
    if d.upper_bound is not None:
        total = min(total, d.upper_bound)
    return float(total)


def numeric_equal(a: float, b: float, mode: str, tolerance: str | None, incl_lower: bool = True, incl_upper: bool = True) -> bool:
    """QTI equal: exact, absolute or relative (percent) tolerance; t0 below, t1 above."""
    if mode == "exact" or not tolerance:
        return a == b
    parts = [float(t) for t in tolerance.split()]
    t0 = parts[0]
    t1 = parts[1] if len(parts) > 1 else t0
    if mode == "absolute":
        lo, hi = b - t0, b + t1
    else:
        lo, hi = b * (1 - t0 / 100), b * (1 + t1 / 100)
        lo, hi = min(lo, hi), max(lo, hi)
    ok_lo = a >= lo if incl_lower else a > lo
    ok_hi = a <= hi if incl_upper else a < hi
    return ok_lo and ok_hi


# ---------------------------------------------------------------------------
# Our rules: the graders of scoring/ (docs/items.md), the single source of truth.


def reference_score(item_type: str, scoring: dict, response: Any) -> float:
    """Score `response` under our rule `scoring` with the real grader; NaN when it refuses the pair."""
    try:
        return grade_item(item_type, scoring, response).score
    except ScoringError:
        return math.nan
