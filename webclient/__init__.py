"""The browser pages: registered into the engine's app through the `exam_engine.features` entry point."""

from __future__ import annotations

from flask import Flask


def register(app: Flask, api) -> None:  # noqa: ANN001
    """Register the web client's blueprint(s) on `app`."""
