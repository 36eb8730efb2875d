"""A private PostgreSQL schema for a benchmark run (created, then dropped)."""

from __future__ import annotations

import uuid


def make_schema(base: str, prefix: str = "bench") -> tuple[str, str]:
    """(schema name, URL whose search_path is that new schema)."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, f"{base}?options=-csearch_path%3D{schema}"


def drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
