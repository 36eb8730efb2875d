"""LMS integration: an LTI 1.3 / LTI Advantage tool (pylti1p3) and OneRoster CSV roster import.

`init_app` registers the LTI endpoints (/lti/...), the REST API (/api/v1/lti, /api/v1/roster),
the grade-passback hook and the score publisher job. docs/lti.md tells how to register the
tool in Moodle and Canvas.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask, api) -> None:  # noqa: ANN001
    """Wire LTI into an app built by the factory."""
    from ..jobs import JOBS
    from ..sessions.services import AFTER_SCORE
    from .ags import after_score_hook, publisher_job
    from .api import blp
    from .views import bp

    app.register_blueprint(bp)
    api.register_blueprint(blp)
    if after_score_hook not in AFTER_SCORE:
        AFTER_SCORE.append(after_score_hook)
    JOBS["lti_score_publisher"] = publisher_job
