"""Fixtures shared by the map tests (projection, alignment)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    """300 x 12: five well separated clusters, with a zero row and an exact duplicate."""
    rng = np.random.default_rng(3)
    centers = rng.standard_normal((5, 12)) * 6
    X = (centers[rng.integers(0, 5, 300)] + rng.standard_normal((300, 12))).astype(np.float32)
    X[10] = 0.0
    X[11] = X[12]
    return X
