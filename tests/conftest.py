"""Fixtures: an app per test on SQLite and on PostgreSQL, clients, users, tokens.

The schema is created once per backend; each test leaves empty tables behind
(rows deleted at teardown), so tests are independent and the suite is fast.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests._fixtures import in_ci

PG_BASE = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"


def _service_missing(what: str, exc: Exception) -> None:
    reason = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if in_ci():
        pytest.fail(f"{reason}; CI needs it")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    deselected = []
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()) and "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
        # A test of PostgreSQL's row locks has no SQLite variant to run (not a skip: there is nothing to test).
        if item.get_closest_marker("postgres_only") and "[sqlite" in item.nodeid:
            deselected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A private schema in the machine's PostgreSQL for this test run."""
    schema = f"ee_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        _service_missing("PostgreSQL at " + PG_BASE, exc)
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:  # noqa: ANN001
    """The database URL of a backend with the schema created (once per backend)."""
    from exam_engine.db import make_engine
    from exam_engine.models import metadata

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return url


def _empty_tables(app) -> None:  # noqa: ANN001
    from exam_engine.models import metadata

    engine = app.extensions["exam_engine.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def app(db_url, tmp_path):  # noqa: ANN001
    """A fresh app on the parametrised backend; tables emptied afterwards."""
    from exam_engine.app import create_app

    app = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": db_url,
        "REDIS_URL": None,
        "BACKGROUND_JOBS": False,
        "ASYNC_MODE": "threading",
        "LOG_LEVEL": "WARNING",
    })
    yield app
    _empty_tables(app)


@pytest.fixture
def client(app):  # noqa: ANN001
    return app.test_client()


@pytest.fixture
def db(app):  # noqa: ANN001
    """A session outside any request, for arranging and checking rows.

    Its SQLite transactions are deferred, so a test holding it open never blocks the app's writers.
    """
    from exam_engine.db import Database

    database = Database(app.config["DATABASE_URL"], immediate=False)
    session = database.session()
    yield session
    session.close()
    database.engine.dispose()


@pytest.fixture
def make_user(app, db):  # noqa: ANN001
    """Factory: make_user(role="learner", email=None, **fields) -> User (committed)."""
    from exam_engine.auth.services import create_user

    def factory(role: str = "learner", email: str | None = None, **fields):
        user = create_user(db, email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org", password=PASSWORD,
                           role=role, **fields)
        db.commit()
        return user

    return factory


@pytest.fixture
def token_for(client):  # noqa: ANN001
    """token_for(user) -> bearer token obtained through the API."""

    def get(user) -> str:  # noqa: ANN001
        resp = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["access_token"]

    return get


@pytest.fixture
def auth(token_for):  # noqa: ANN001
    """auth(user) -> headers with a bearer token for that user."""

    def headers(user) -> dict:  # noqa: ANN001
        return {"Authorization": f"Bearer {token_for(user)}"}

    return headers


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        _service_missing("Redis at " + REDIS_URL, exc)
    return REDIS_URL


REPO = Path(__file__).resolve().parents[1]
