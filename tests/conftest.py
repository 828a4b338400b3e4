"""Shared fixtures: small matrices with the sharp edges every fixture should carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_matrix(rng) -> np.ndarray:
    """40 x 6 float32 with a zero row (row 3) and an exact duplicate (row 7 == row 2)."""
    X = rng.standard_normal((40, 6)).astype(np.float32)
    X[3] = 0.0
    X[7] = X[2]
    return X


@pytest.fixture
def isolated_env(tmp_path, monkeypatch) -> Path:
    """A data folder of its own and an uploads folder inside it; env pointing at both."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("EMBEDLENS_DATA", str(data))
    monkeypatch.delenv("EMBEDLENS_UPLOADS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return data
