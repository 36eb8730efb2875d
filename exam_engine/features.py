"""Registers feature modules that sit above the engine (the web client) via entry points.

The engine never imports the web client (imports flow one way); the web client
declares itself in setup.cfg under `exam_engine.features`, and the factory
calls each entry point with the app and the Api.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from flask import Flask

log = logging.getLogger("exam_engine.features")
GROUP = "exam_engine.features"


def register(app: Flask, api) -> None:  # noqa: ANN001
    """Call every `exam_engine.features` entry point: fn(app, api)."""
    disabled = set(app.config.get("DISABLED_FEATURES", ()))
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in disabled:
            continue
        ep.load()(app, api)
