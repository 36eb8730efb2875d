"""The app factory: configuration, database, API blueprints, sockets, error handlers, logging."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter

from .config import load_config
from .db import Database, close_db_session, db_session
from .errors import error_body, register_error_handlers
from .extensions import Api, Packet, socketio
from .logs import configure_logging

log = logging.getLogger("exam_engine.http")


class EngineFlask(Flask):
    """Flask, with a light request context for Socket.IO events.

    Flask-SocketIO pushes a request context for every event (every answer): Flask
    would match the URL against every route (to raise a 404 nobody reads) and open
    the cookie session that Flask-SocketIO then swaps for the socket's own session
    (its copy of the cookie session, taken at connect). After connect, both are
    skipped: the context starts with the socket's session and no URL adapter. The
    connect event itself gets a full context (the cookie login is read there).
    """

    def request_context(self, environ: dict):  # noqa: ANN201
        ctx = super().request_context(environ)
        saved = environ.get("saved_session")  # set by Flask-SocketIO once the socket has connected
        if saved is not None:
            ctx._session = saved
            ctx.url_adapter = None
        return ctx


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build one app; `test_config` overrides settings read from the environment."""
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("EXAM_ENGINE_INSTANCE")
    app = EngineFlask("exam_engine", instance_path=instance or None, instance_relative_config=True)
    app.session_interface = CachedSerializerSessionInterface()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)
    configure_logging(app.config["LOG_LEVEL"])
    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    # Ids in URLs are 32-bit: larger numbers are simply not found (never a database overflow).
    app.url_map.converters["int"] = BoundedIntConverter

    database = Database(app.config["DATABASE_URL"])
    app.extensions["exam_engine.db"] = database
    app.extensions["exam_engine.request_session"] = db_session
    app.extensions["exam_engine.find_user"] = _find_user
    app.teardown_appcontext(close_db_session)

    from .auth.guard import load_caller
    app.before_request(_limit_json_body)
    app.before_request(load_caller)
    app.before_request(lambda: setattr(g, "t0", time.perf_counter()))
    app.after_request(_log_request)
    app.after_request(_security_headers)

    register_error_handlers(app)
    api = Api(app)
    app.extensions["exam_engine.api"] = api
    from item_bank.api import blp as bank_blp
    from .auth.api import blp as auth_blp
    from .exams.api import blp as exams_blp
    from .grading.api import blp as grading_blp
    for blp in (auth_blp, bank_blp, exams_blp, grading_blp):
        api.register_blueprint(blp)
    from .credentials_engine import register as register_credentials; register_credentials(app, api)  # noqa: E702
    from .proctoring.api import register as register_proctoring; register_proctoring(app, api)  # noqa: E702
    _register_optional_blueprints(app, api)
    from .lti import init_app as init_lti
    init_lti(app, api)

    from .exams import interchange as exam_interchange
    from .sessions.services import register_privacy
    exam_interchange.register()
    register_privacy()
    _init_socketio(app)
    from .sessions import sockets, sweeper
    sockets.register(app)
    sweeper.register_jobs()
    from .monitor import sockets as monitor_sockets
    monitor_sockets.register(app)

    @app.get("/metrics")
    def metrics_endpoint():
        """Prometheus metrics of this worker."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from .sessions.metrics import REGISTRY
        return generate_latest(REGISTRY), 200, {"Content-Type": CONTENT_TYPE_LATEST}

    @app.get("/healthz")
    def healthz():
        """Health check for the load balancer: the database answers."""
        try:
            db_session().execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means unhealthy
            return jsonify({"status": "unhealthy", "database": "unreachable"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    from .cli import register_commands
    register_commands(app)
    return app


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with the signing serializer built once per secret key.

    Flask builds it for every request, and Flask-SocketIO pushes a request context (so opens the
    session) for every socket event: at a few thousand events a second that adds up.
    """

    def __init__(self) -> None:
        self._serializer: tuple[tuple, Any] | None = None

    def get_signing_serializer(self, app: Flask):  # noqa: ANN201
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer
        if cached is None or cached[0] != key:
            cached = self._serializer = (key, super().get_signing_serializer(app))
        return cached[1]


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to the range of a database integer id."""

    def __init__(self, url_map, *args, **kwargs):  # noqa: ANN001
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _register_optional_blueprints(app: Flask, api: Api) -> None:
    """Blueprints of the later features; each module registers itself when present."""
    from . import features
    features.register(app, api)


def _init_socketio(app: Flask) -> None:
    mode = app.config.get("ASYNC_MODE") or os.environ.get("EXAM_ENGINE_ASYNC_MODE") or "threading"
    socketio.init_app(app, async_mode=mode, message_queue=app.config.get("REDIS_URL"),
                      cors_allowed_origins=app.config.get("CORS_ORIGINS", []) or None,
                      ping_interval=10, ping_timeout=20, max_http_buffer_size=2_000_000, logger=False,
                      engineio_logger=False, serializer=Packet)


def _find_user(session, email: str):  # noqa: ANN001, ANN202
    from .auth.models import User
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def _limit_json_body():  # noqa: ANN202
    """Refuse oversized JSON bodies before parsing (413 with our error format)."""
    from flask import current_app

    limit = current_app.config["MAX_JSON_BYTES"]
    if request.is_json and request.content_length is not None and request.content_length > limit:
        return jsonify(error_body("payload_too_large", f"JSON bodies are limited to {limit} bytes")), 413
    return None


def _log_request(response):  # noqa: ANN001, ANN202
    t0 = g.get("t0")
    user = g.get("user")
    log.info("request", extra={"method": request.method, "path": request.path, "status": response.status_code,
                               "ms": round((time.perf_counter() - t0) * 1000, 2) if t0 else None,
                               "user_id": user.id if user is not None else None})
    return response


def _security_headers(response):  # noqa: ANN001, ANN202
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
