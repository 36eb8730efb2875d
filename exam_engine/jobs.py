"""Background jobs of a serving worker (the sweeper, time sync, heartbeat), started by `serve`."""

from __future__ import annotations

from flask import Flask

#: name -> function(app) started as a socketio background task; feature modules add theirs.
JOBS: dict = {}


def start_background_jobs(app: Flask) -> None:
    """Start every registered job (no-op when EXAM_ENGINE_BACKGROUND_JOBS=0)."""
    if not app.config.get("BACKGROUND_JOBS", True):
        return
    from .extensions import socketio
    for _name, job in sorted(JOBS.items()):
        socketio.start_background_task(job, app)
