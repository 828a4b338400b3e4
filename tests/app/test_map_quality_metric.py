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


def test_kind_map_metric_control_sets_knn_preservation_metric_pca(map_env):
    """The kNN preservation a PCA map is coloured by uses the Map's metric too (its graph, its k)."""
    from core.neighbors import knn_graph
    from core.projection import project, projection_key
    from core.quality import knn_preservation
    from dashboard.data import maps as data

    ds = core.load(core.sample_data_dir() / "digits-mlp")
    view = ds.view(VIEW)
    p = project(view.X)
    key = projection_key(view.fingerprint, method="pca", n_components=2, seed=0, n=ds.n)
    got = {}
    for m in ("euclidean", "cosine"):
        scored = data.map_scored_in(p, key, view.X, m)
        assert scored.params["metric"] == m and scored.trust.metric == m
        got[m] = data.map_preservation(view, scored, None)
        expected = knn_preservation(knn_graph(view.X, k=20, metric=m).restrict(15), p.coords, k=15)
        np.testing.assert_allclose(got[m], expected, rtol=0, atol=1e-12)
    assert not np.allclose(got["euclidean"], got["cosine"])
