"""The pool checks a connection before use only when it sat idle: a dead one is replaced, a busy pool pings nothing."""

from __future__ import annotations

from sqlalchemy import text

from exam_engine.db import make_engine


def _backend_pid(conn) -> int:  # noqa: ANN001
    return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def test_idle_connection_killed_by_the_database_is_replaced_before_use(pg_schema_url):  # noqa: ANN001
    engine = make_engine(pg_schema_url, pool_size=1, max_overflow=0, ping_idle_s=0)
    other = make_engine(pg_schema_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            pid = _backend_pid(conn)
        with other.connect() as killer:  # as a database restart would
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killer.commit()
        with engine.connect() as conn:  # pinged, found dead, replaced: the caller sees no error
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert _backend_pid(conn) != pid
    finally:
        engine.dispose()
        other.dispose()


def _pings_over_checkouts(url: str, *, idle_s: float, checkouts: int) -> int:
    """How many pings `checkouts` checkouts in a row of one pooled connection cost."""
    engine = make_engine(url, pool_size=1, max_overflow=0, ping_idle_s=idle_s)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi_conn: pings.append(1) or real_ping(dbapi_conn)
    try:
        for _ in range(checkouts):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        return len(pings)
    finally:
        engine.dispose()


def test_connection_used_a_moment_ago_is_not_pinged(pg_schema_url):  # noqa: ANN001
    assert _pings_over_checkouts(pg_schema_url, idle_s=60, checkouts=5) == 0


def test_connection_idle_longer_than_the_limit_is_pinged(pg_schema_url):  # noqa: ANN001
    # not the first checkout of a new connection
    assert _pings_over_checkouts(pg_schema_url, idle_s=0, checkouts=3) == 2
