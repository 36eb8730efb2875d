"""Imports flow one way: scoring, credentials (pure) <- item_bank <- exam_engine <- webclient."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "scoring": {"flask", "flask_socketio", "sqlalchemy", "item_bank", "exam_engine", "webclient", "credentials", "socketio"},
    "credentials": {"flask", "flask_socketio", "sqlalchemy", "item_bank", "exam_engine", "webclient", "socketio"},
    "item_bank": {"exam_engine", "webclient"},
    "exam_engine": {"webclient"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    bad = []
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        wrong = imported_roots(path) & FORBIDDEN[package]
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} imports {sorted(wrong)}")
    assert not bad, "\n".join(bad)
