"""The Alembic migrations build exactly the schema the models declare, on both backends."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from exam_engine.db import make_engine
from exam_engine.migrate import upgrade
from exam_engine.models import metadata
from tests.conftest import PG_BASE, _service_missing


def _assert_no_diff(engine) -> None:  # noqa: ANN001
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], diff


def test_migrations_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    _assert_no_diff(engine)
    upgrade(url)  # idempotent
    engine.dispose()


@pytest.mark.postgres
def test_migrations_postgresql():
    schema = f"ee_mig_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        _service_missing("PostgreSQL", exc)
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        engine = make_engine(url)
        _assert_no_diff(engine)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
