"""Fixtures of the system tests: a private PostgreSQL schema (migrated), Redis, and server processes killed at teardown."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_BASE, _service_missing

from ._server import DEMO_PASSWORD, Server, new_schema_name, run_cli, server_env


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A private, migrated schema in the machine's PostgreSQL for one test (dropped afterwards)."""
    from exam_engine.migrate import upgrade

    schema = new_schema_name()
    try:
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        _service_missing("PostgreSQL at " + PG_BASE, exc)
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    from exam_engine.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'system.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., Server]]:  # noqa: ANN001
    """start_server(database_url, redis_url=None, name="a", **env) -> a healthy Server; all killed at teardown."""
    started: list[Server] = []

    def start(database_url: str, *, redis_url: str | None = None, name: str = "a", port: int | None = None,
              **extra: str) -> Server:
        instance = tmp_path / f"instance-{name}"
        env = server_env(database_url, instance, redis_url=redis_url, **extra)
        server = Server(env, tmp_path / f"server-{name}.log", port=port)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


def seed_demo(database_url: str, tmp_path: Path) -> str:
    """`exam-engine demo` against the database: the demo accounts and exams."""
    return run_cli(server_env(database_url, tmp_path / "instance-seed"), "demo", "--password", DEMO_PASSWORD)
