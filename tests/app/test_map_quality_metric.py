"""The Map's "Metric" control also sets the metric of a PCA map's quality scores (issue 10, item 20)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sk_trustworthiness

import core

from .apptest import run_app

MAP = "app_pages/map.py"
SUBSET = {"mf": "label%3D3,label%3D5", "mfm": "project"}  # 365 digits: all rows scored, no sample
VIEW = "seed0/hidden2/epoch100"


@pytest.fixture
def map_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMBEDLENS_WARMUP", "off")


def _trust_card(at):
    return next(m for m in at.metric if m.label.startswith("Trustworthiness"))


def test_kind_map_metric_control_sets_quality_metric_pca(map_env):
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    rows = np.flatnonzero(ds.metadata["label"].astype(str).isin(["3", "5"]).to_numpy())
    X = ds.view(VIEW).X[rows].astype(np.float64)
    coords = core.projection.project(ds.view(VIEW).X[rows]).coords.astype(np.float64)
    expected = {m: sk_trustworthiness(X, coords, n_neighbors=15, metric=m) for m in ("euclidean", "cosine")}
    assert f"{expected['euclidean']:.3f}" != f"{expected['cosine']:.3f}"  # the test can tell them apart
    for m in ("euclidean", "cosine"):
        at = run_app({"ds": "digits-mlp", "view": VIEW, "mx": m, **SUBSET}, page=MAP)
        card = _trust_card(at)
        assert card.value == f"{expected[m]:.3f}", (m, card.value, expected)
        # the metric is named where the score is shown and in the parameters used
        assert m in card.label or m in (card.help or "").split(".")[0]
        assert any(f"metric={m}" in c.value for c in at.caption if c.value.startswith("Parameters used"))
