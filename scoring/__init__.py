"""Scoring: graders, aggregation, pass thresholds and psychometrics (pure library).

No Flask, no SQLAlchemy, no sockets: plain data in, plain data out. The
exam engine calls:

* ``grade_item(item_type, scoring, response, interaction=None) -> ItemScore``
  — grade one response by the rules of docs/items.md;
* ``validate_response(item_type, interaction, response)`` — check a
  response's shape on arrival; raises ``InvalidResponse`` with a stable code;
* ``validate_scoring(item_type, scoring, interaction=None)`` — check an
  item's key when it is authored; raises ``InvalidScoringRule``;
* ``scoring.aggregate.score_attempt(items, policy, ...)`` — totals,
  sections, percentage, pass/fail or pending;
* ``scoring.thresholds`` — ``PassPolicy``, ``LinearScale``, ``ThetaScale``;
* ``scoring.rubric`` — manual rubric grades and second marking;
* ``scoring.batch`` — vectorised regrading of many responses (numpy);
* ``scoring.ctt``, ``scoring.irt``, ``scoring.cat`` — item analysis, IRT
  calibration and abilities, adaptive item selection and simulation.

The numpy-based modules are imported on first use. docs/scoring.md is the
reference.
"""

from __future__ import annotations

import importlib

from . import aggregate, rubric, thresholds
from .errors import CalibrationError, InvalidData, InvalidResponse, InvalidScoringRule, ScoringError, UnknownItemType
from .registry import grade_item, item_types, register_item_type, validate_scoring
from .types import ItemKey, ItemScore, ScoredItem
from .validation import validate_response

__all__ = [
    "CalibrationError", "InvalidData", "InvalidResponse", "InvalidScoringRule", "ItemKey", "ItemScore",
    "ScoredItem", "ScoringError", "UnknownItemType", "aggregate", "grade_item", "item_types",
    "register_item_type", "rubric", "thresholds", "validate_response", "validate_scoring",
]

_LAZY = ("batch", "ctt", "irt", "cat")


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")
