"""Shared helpers of the QTI tests: fixture locations (read in place, never copied)."""

from __future__ import annotations

import pytest

from tests._fixtures import fixture_path


@pytest.fixture(scope="session")
def qti3_xsd_dir():
    """The official QTI 3.0.1 XSD folder under ../shared/fixtures (skips when absent, fails under CI)."""
    return fixture_path("qti3", "xsd")
