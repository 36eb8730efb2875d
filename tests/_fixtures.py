"""Where the standards' files live (../shared/fixtures) and how tests ask for them.

Their licences forbid copying them into the repo, so conformance tests read
them in place. Outside this project's machines they are absent: the tests skip
with a reason. Under CI (CI=true) they must be there, so absence fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = Path(os.environ.get("EXAM_ENGINE_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))


def in_ci() -> bool:
    """True when running under CI, where nothing may be skipped for lack of a resource."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def fixture_path(*parts: str) -> Path:
    """Path of a file under ../shared/fixtures; skips (or fails under CI) when absent."""
    path = SHARED_FIXTURES.joinpath(*parts)
    if not path.exists():
        reason = f"standards fixture {path} is absent (../shared/fixtures is only on this project's machines)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return path
