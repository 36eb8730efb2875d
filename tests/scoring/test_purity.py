"""scoring/ stays pure: standard library and numpy only, no web, database or network."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import scoring

PACKAGE = Path(scoring.__file__).resolve().parent
ALLOWED_THIRD_PARTY = {"numpy"}
FORBIDDEN = ("flask", "sqlalchemy", "socketio", "flask_socketio", "gevent", "redis", "psycopg", "requests")


def test_imports_are_stdlib_or_numpy():
    stdlib = set(sys.stdlib_module_names)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or top in ALLOWED_THIRD_PARTY, f"{path.name} imports {name}"


def test_importing_everything_loads_no_web_or_database_module():
    code = ("import sys, scoring, scoring.batch, scoring.ctt, scoring.irt, scoring.cat; "
            f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"
