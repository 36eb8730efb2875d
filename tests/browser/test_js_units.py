"""The web client's JavaScript unit tests (node's test runner): the exam page's outbox."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests._fixtures import REPO_ROOT, in_ci


def test_outbox_unit_tests_pass():
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed"
        if in_ci():
            pytest.fail(reason + "; CI needs it")
        pytest.skip(reason)
    run = subprocess.run([node, "--test", "tests/"], cwd=REPO_ROOT / "webclient", capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
