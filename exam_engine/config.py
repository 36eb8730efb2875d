"""Configuration read from the environment by the app factory (never at import time)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else a random one persisted in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create with 0600 so the key is never world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(instance_path: Path) -> dict:
    """The settings of one deployment, from the environment with safe defaults."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'exam_engine.sqlite'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": env.get("REDIS_URL") or None,
        "TOKEN_TTL_S": int(env.get("EXAM_ENGINE_TOKEN_TTL_S", 12 * 3600)),
        "LOGIN_MAX_FAILURES": int(env.get("EXAM_ENGINE_LOGIN_MAX_FAILURES", 5)),
        "LOGIN_WINDOW_S": int(env.get("EXAM_ENGINE_LOGIN_WINDOW_S", 900)),
        "MAX_CONTENT_LENGTH": int(env.get("EXAM_ENGINE_MAX_BODY", 16 * 1024 * 1024)),
        "MAX_JSON_BYTES": int(env.get("EXAM_ENGINE_MAX_JSON", 1024 * 1024)),
        "MEDIA_MAX_BYTES": int(env.get("EXAM_ENGINE_MEDIA_MAX", 5 * 1024 * 1024)),
        "LOG_LEVEL": env.get("EXAM_ENGINE_LOG_LEVEL", "INFO"),
        # The official QTI 3.0 XSD folder: when set, every QTI export is validated before it is sent.
        "QTI_XSD_DIR": env.get("EXAM_ENGINE_QTI_XSD_DIR") or None,
        "KEYS_DIR": env.get("EXAM_ENGINE_KEYS_DIR") or str(instance_path / "keys"),
        "PUBLIC_URL": env.get("EXAM_ENGINE_PUBLIC_URL", "http://127.0.0.1:5000"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("EXAM_ENGINE_SECURE_COOKIES", "0") == "1",
        "SWEEP_INTERVAL_S": float(env.get("EXAM_ENGINE_SWEEP_INTERVAL_S", 0.5)),
        "TIME_SYNC_INTERVAL_S": float(env.get("EXAM_ENGINE_TIME_SYNC_S", 15)),
        # An outage shorter than the threshold is not credited: learners lose at most that much (docs/deploy.md).
        "HEARTBEAT_INTERVAL_S": float(env.get("EXAM_ENGINE_HEARTBEAT_S", 1)),
        "OUTAGE_THRESHOLD_S": float(env.get("EXAM_ENGINE_OUTAGE_THRESHOLD_S", 3)),
        # A worker silent this long has lost its connections (the websocket ping gives up after 30 s too).
        "WORKER_STALE_S": float(env.get("EXAM_ENGINE_WORKER_STALE_S", 30)),
        "BACKGROUND_JOBS": env.get("EXAM_ENGINE_BACKGROUND_JOBS", "1") == "1",
        # Behind a reverse proxy: take the learner's address from X-Forwarded-For (only if the proxy sets it).
        "TRUST_PROXY": env.get("EXAM_ENGINE_TRUST_PROXY", "0") == "1",
        "MONITOR_BATCH_S": float(env.get("EXAM_ENGINE_MONITOR_BATCH_S", 1.0)),
        # How often each worker runs the server-side proctoring rules (docs/proctoring.md).
        "PROCTORING_SCAN_S": float(env.get("EXAM_ENGINE_PROCTORING_SCAN_S", 5.0)),
        # flask-smorest / OpenAPI
        "API_TITLE": "Exam engine",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
