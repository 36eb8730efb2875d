"""Registers the blueprints and socket namespaces of each feature module."""

from __future__ import annotations

from flask import Flask


def register(app: Flask, api) -> None:  # noqa: ANN001
    """Called by the factory once the core blueprints are in."""
