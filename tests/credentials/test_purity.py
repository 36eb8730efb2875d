"""credentials/ is pure: no web framework, no database, no network client."""

from __future__ import annotations

import ast
from pathlib import Path

import credentials

FORBIDDEN = {"flask", "flask_socketio", "sqlalchemy", "alembic", "requests", "httpx", "urllib3", "socket",
             "aiohttp", "exam_engine", "item_bank", "webclient", "redis", "psycopg"}


def test_credentials_imports_nothing_impure():
    root = Path(credentials.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
            if isinstance(node, ast.Attribute) and node.attr in ("urlopen", "urlretrieve"):
                offenders.append(f"{path.name}: {node.attr}")
    assert offenders == []
