"""Readers of the shared IRT fixtures (read in place, never copied: GPL data)."""

from __future__ import annotations

import numpy as np

from tests._fixtures import fixture_path


def load_csv(name: str) -> np.ndarray:
    """A fixture CSV under irt/ as a float matrix (header skipped); skips when absent."""
    return np.loadtxt(fixture_path("irt", name), delimiter=",", skiprows=1)


def load_patterns(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Pattern CSV (items..., count) -> (patterns, counts)."""
    data = load_csv(name)
    return data[:, :-1], data[:, -1]
