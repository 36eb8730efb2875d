"""The engine side of credentials: storage, issuing on a pass, revocation, publication, the wallet, the CLI.

The pure `credentials` package builds, signs and verifies; this package
decides what to issue and when, keeps it in the database and serves it.
`register(app, api)` (called by the app factory) mounts the REST routes, the
AFTER_SCORE hook that issues on a pass, and the outbox job.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app, has_app_context

log = logging.getLogger("exam_engine.credentials")


def on_attempt_scored(session, attempt, now) -> None:  # noqa: ANN001
    """AFTER_SCORE hook: a final pass writes the pending credential and signs it (see services.record_pass)."""
    from . import services
    ctx = services.issuer_context(current_app) if has_app_context() else None
    try:
        with session.begin_nested():
            services.record_pass(session, attempt, now=now, ctx=ctx)
    except Exception:  # noqa: BLE001 - a credentials fault must not lose the learner's submission
        log.exception("could not record the credential of a pass", extra={"session_id": attempt.id})


def run_outbox_once(app: Flask) -> list[str]:
    """Sign the credentials left pending (a crash, no key yet); returns their ids."""
    from ..db import get_db, utcnow
    from . import services
    with app.app_context():
        session = get_db().session()
        try:
            done = services.issue_pending(session, services.issuer_context(app), now=utcnow())
            session.commit()
        except Exception:  # noqa: BLE001
            session.rollback()
            log.exception("credential outbox failed")
            return []
        finally:
            session.close()
    return done


def outbox_job(app: Flask) -> None:
    """Background job: retry pending credentials every CREDENTIALS_OUTBOX_INTERVAL_S seconds (default 30)."""
    from ..extensions import socketio
    interval = float(app.config.get("CREDENTIALS_OUTBOX_INTERVAL_S", 30))
    while True:
        t0 = time.monotonic()
        run_outbox_once(app)
        socketio.sleep(max(1.0, interval - (time.monotonic() - t0)))


def register(app: Flask, api) -> None:  # noqa: ANN001
    """Mount the credentials feature on one app (idempotent for the module-level registries)."""
    from ..jobs import JOBS
    from ..sessions.services import AFTER_SCORE
    from .api import blp, public_blp
    api.register_blueprint(blp)
    api.register_blueprint(public_blp)
    if on_attempt_scored not in AFTER_SCORE:
        AFTER_SCORE.append(on_attempt_scored)
    JOBS["credentials_outbox"] = outbox_job
