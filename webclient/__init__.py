"""The browser pages: registered into the engine's app through the `exam_engine.features` entry point.

Server-rendered Jinja templates with small native ES modules (no build step).
The engine never imports this package; we import the engine and the item bank.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask, api) -> None:  # noqa: ANN001 - the engine's Api, unused: pages are not in the OpenAPI document
    """Register the web client's blueprints, HTML error pages and template helpers on `app`."""
    from . import author, core, errors, exams, learner, public

    app.register_blueprint(core.bp)
    app.register_blueprint(author.bp)
    app.register_blueprint(exams.bp)
    app.register_blueprint(learner.bp)
    app.register_blueprint(public.bp)
    errors.install(app)
