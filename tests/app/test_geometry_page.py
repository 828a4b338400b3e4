"""The real app (streamlit AppTest) on the Geometry page: numbers, parameters, links, odd data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core

from .apptest import metric, run_app

PAGE = "app_pages/geometry.py"


@pytest.fixture
def sample_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))


@pytest.fixture(scope="module")
def digits():
    return core.load(core.sample_data_dir() / "digits-mlp")


def card(at, label: str) -> tuple[str, str]:
    """(value, delta) of a metric card: the ± of an estimate is the delta, so the value fits a
    quarter-width card at 1000 px ("7.56 ±..." was cut off)."""
    m = next(m for m in at.metric if m.label == label)
    return m.value, m.delta


def test_cards_show_the_core_numbers(sample_env, digits):
    at = run_app(page=PAGE)
    X, labels = digits.views[0].X, digits.metadata["label"].to_numpy()
    graph = core.knn_graph(X, k=20, metric="cosine")
    est = core.intrinsic_dimension(X, metric="cosine", graph=graph)
    assert card(at, "ID · TwoNN") == (f"{est.value:.2f}", f"± {est.error:.2f}")
    assert metric(at, "Hubness skew (k=10, cosine)") == f"{core.hubness(X, k=10, metric='cosine').skewness:.2f}"
    purity = core.knn_purity(core.knn_graph(X, k=15, metric="cosine"), labels).mean()
    assert metric(at, "kNN purity (k=15, cosine)") == f"{purity:.3f}"
    assert metric(at, "NC1 (10 classes)") == f"{core.neural_collapse(X, labels).nc1:.3g}"
    captions = [c.value for c in at.caption]
    assert any(c.startswith("TwoNN (linear fit, 10% discarded, cosine): 1,797 distinct points") for c in captions)
    assert "kNN graph: exact (numpy matmul + numba top-k), k=20, cosine" in captions
    assert len(at.get("plotly_chart")) == 5  # scale, barcode, two class heatmaps, depthwise collapse
    hubs = at.dataframe[0].value
    top = core.hubness(X, k=10, metric="cosine")
    assert hubs["row"].tolist() == top.top[:10].tolist()
    assert hubs["N_k"].tolist() == top.k_occurrence[top.top[:10]].tolist() and "label" in hubs.columns
    assert "gk" not in at.query_params and "gl" not in at.query_params  # defaults stay out of the link


def test_changing_parameters_updates_numbers_and_link(sample_env, digits):
    at = run_app(page=PAGE)
    at.selectbox(key="w.geo_neighbors").set_value(5).run()
    X, labels = digits.views[0].X, digits.metadata["label"].to_numpy()
    purity = core.knn_purity(core.knn_graph(X, k=5, metric="cosine"), labels).mean()
    assert metric(at, "kNN purity (k=5, cosine)") == f"{purity:.3f}"
    assert at.query_params["gk"] == "5"
    at.selectbox(key="w.geo_metric").set_value("euclidean")
    at.selectbox(key="w.geo_id_method").set_value("mle").run()
    est = core.intrinsic_dimension(X, method="mle", metric="euclidean")
    assert card(at, "ID · MLE (Levina-Bickel)") == (f"{est.value:.2f}", f"± {est.error:.2f}")
    assert at.query_params["gm"] == "euclidean" and at.query_params["gid"] == "mle"
    assert not at.exception


def test_a_share_link_reopens_the_view(sample_env, digits):
    at = run_app({"ds": "digits-mlp", "view": "seed1/hidden2/epoch100", "gid": "pca", "gk": "30",
                  "gh": "5", "gm": "euclidean", "gl": "split"}, page=PAGE)
    assert at.selectbox(key="w.geo_label").value == "split"
    assert at.selectbox(key="w.geo_id_method").value == "pca"
    X = digits.view("seed1/hidden2/epoch100").X
    split = digits.metadata["split"].to_numpy()
    assert metric(at, "NC1 (2 classes)") == f"{core.neural_collapse(X, split).nc1:.3g}"
    est = core.intrinsic_dimension(X, method="pca", metric="euclidean")
    assert card(at, "ID · PCA (95% variance)") == (f"{est.value:.2f}", f"± {est.error:.2f}")
    assert metric(at, "Hubness skew (k=5, euclidean)") == f"{core.hubness(X, k=5, metric='euclidean').skewness:.2f}"
    assert not at.warning


def test_bad_link_parameters_fall_back_with_warnings(sample_env):
    at = run_app({"ds": "digits-mlp", "gk": "7", "gm": "manhattan", "gid": "lpca", "gl": "nope"}, page=PAGE)
    texts = [w.value for w in at.warning]
    assert "Ignored gk='7': geo neighbors must be one of [5, 10, 15, 20, 30, 50]." in texts
    assert "Ignored gm='manhattan': geo metric must be one of ['cosine', 'euclidean']." in texts
    assert "Ignored gid='lpca': geo id method must be one of ['twonn', 'mle', 'pca']." in texts
    assert "This dataset has no label column 'nope'; using 'label'." in texts
    assert at.selectbox(key="w.geo_neighbors").value == 15 and at.selectbox(key="w.geo_label").value == "label"
    assert metric(at, "NC1 (10 classes)")


def test_paired_dataset_without_layers(sample_env):
    at = run_app({"ds": "digits-paired", "view": "text"}, page=PAGE)
    assert any("carry no layer or step labels" in c.value for c in at.caption)
    # label-like columns first (ink, 164 numeric levels, is not), then every other column, then none
    assert at.selectbox(key="w.geo_label").options == ["label", "split", "caption", "ink", "— none —"]
    assert metric(at, "NC1 (10 classes)")


def test_data_without_metadata_duplicates_and_zero_rows(isolated_env):
    X = np.random.default_rng(0).standard_normal((80, 6)).astype(np.float32)
    X[3] = 0.0
    X[[10, 11]] = X[9]
    np.save(isolated_env / "plain.npy", X)
    at = run_app(page=PAGE)
    assert metric(at, "kNN purity") == "n/a" and metric(at, "NC1") == "n/a"
    assert ("kNN purity and NC1 not computed: this dataset has no metadata column to use as class labels"
            in [c.value for c in at.caption])
    assert any("77 distinct points (2 duplicates, 1 zero rows left out)" in c.value for c in at.caption)
    assert at.dataframe[0].value.columns.tolist() == ["rank", "row", "id", "N_k"]


def test_per_point_wrappers_for_the_map_page(sample_env, digits):
    """dashboard.data.geometry.knn_purity / local_intrinsic_dimension (the Map page colours points by them)."""
    from dashboard.data import geometry as data

    view = digits.views[0]
    labels = digits.metadata["label"].to_numpy()
    purity = data.knn_purity(view.fingerprint, view.X, "label", labels, 5, "cosine", 20)
    np.testing.assert_array_equal(purity, core.knn_purity(core.knn_graph(view.X, k=5), labels))
    local = data.local_intrinsic_dimension(view.fingerprint, view.X, 20, "cosine", 20)
    np.testing.assert_allclose(local, core.local_intrinsic_dimension(view.X, metric="cosine"))
    assert isinstance(pd.Series(local).median(), float)


def test_too_few_points_for_mle_leaves_the_other_sections(isolated_env):
    folder = isolated_env / "tiny"
    folder.mkdir()
    X = np.random.default_rng(1).standard_normal((16, 4)).astype(np.float32)
    X[0] = 0.0
    X[5] = X[4]
    np.save(folder / "x.npy", X)
    pd.DataFrame({"label": [0, 1, 2, 3] * 4}).to_csv(folder / "metadata.csv", index=False)
    at = run_app({"gid": "mle"}, page=PAGE)
    assert at.error[0].value == ("14 distinct points (of 16 rows: 1 duplicate, 1 zero row) are too few for "
                                 "20 neighbours each; load more points")
    assert len(at.dataframe[0].value) == 10  # the hubs table still shows
    assert len(at.get("plotly_chart")) >= 2  # class heatmaps


# --------------------------------------------------------------------------- kind: many classes


def test_kind_many_classes_label_column_is_offered_and_scored(isolated_env):
    from sklearn.neighbors import NearestNeighbors

    from tests.metadata_cases import write_many_classes

    X, labels = write_many_classes(isolated_env / "many")  # 200 named classes x 15 items
    at = run_app(page=PAGE)
    assert not at.error, [e.value for e in at.error]
    box = at.selectbox(key="w.geo_label")
    assert box.options[0] == "label" and box.value == "label"
    # scikit-learn's reference: the share of each point's 15 nearest neighbours (itself left out) with its label
    idx = NearestNeighbors(n_neighbors=16, metric="cosine").fit(X.astype(np.float64)).kneighbors()[1]
    reference = float((labels[idx[:, :15]] == labels[:, None]).mean())
    assert 0.9 < reference < 0.97
    assert metric(at, "kNN purity (k=15, cosine)") == f"{reference:.3f}"
    assert metric(at, "NC1 (200 classes)") != "n/a"


def test_kind_many_classes_a_column_that_cannot_be_labels_says_why(isolated_env):
    folder = isolated_env / "const"
    folder.mkdir()
    np.save(folder / "x.npy", np.random.default_rng(2).standard_normal((40, 4)).astype(np.float32))
    pd.DataFrame({"label": [0, 1] * 20, "batch": ["b1"] * 40}).to_csv(folder / "metadata.csv", index=False)
    at = run_app({"gl": "batch"}, page=PAGE)
    assert "batch" in at.selectbox(key="w.geo_label").options
    assert metric(at, "kNN purity") == "n/a"
    assert any(c.value.startswith("kNN purity and NC1 not computed: the label column 'batch' cannot serve as "
                                  "labels: ") and "1 class(es)" in c.value for c in at.caption)


# --------------------------------------------------------------------------- kinds (fresh-eyes review)


@pytest.mark.parametrize("metric_name", ["cosine", "euclidean"])
def test_kind_wrong_advice_geometry_identical_rows(isolated_env, metric_name):
    """50 identical rows: one error (not the same one twice), naming the duplicates, not "load
    more points"; the hubs are declared tie-breaking (all 50 rows have all-zero neighbour
    distances) instead of a top-hubs table with N_k = 49 and "78% anti-hubs"."""
    np.save(isolated_env / "constant.npy", np.ones((50, 8), dtype=np.float32) * 3)
    at = run_app({"ds": "constant.npy", "gm": metric_name}, page=PAGE)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "duplicate" in errors[0] and "load more points" not in errors[0]
    assert "1 distinct points" not in errors[0]
    warnings = [w.value for w in at.warning if "distance 0" in w.value]
    assert len(warnings) == 1 and warnings[0].startswith("all 50 rows have all 10 nearest neighbours at distance 0")
    assert not at.dataframe  # no hubs table built on ties
    assert not any("Anti-hubs" in c.value for c in at.caption)


def test_one_dimensional_positive_data_under_cosine_says_directions_not_identical_rows(isolated_env):
    """Found by a new user: 50 distinct positive numbers (d = 1) were called "all 50 rows are identical";
    under cosine they all point the same way, and euclidean measures them."""
    np.save(isolated_env / "onecol.npy", np.random.default_rng(0).uniform(1, 2, (50, 1)).astype(np.float32))
    at = run_app({"ds": "onecol.npy"}, page=PAGE)
    (error,) = [e.value for e in at.error]
    assert "all 50 rows point in the same direction" in error and "use the euclidean metric" in error
    assert "are identical" not in error
    at = run_app({"ds": "onecol.npy", "gm": "euclidean"}, page=PAGE)
    assert not any("same direction" in e.value for e in at.error)


def test_kind_wrong_advice_geometry_some_duplicates_declared(isolated_env):
    """A few duplicated rows among distinct ones: the hubs table stays, with a warning naming
    how many rows have all-zero neighbour distances (counted here by hand from the rows)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 6)).astype(np.float32)
    X[:12] = X[0]  # 12 copies of one row: each has >= 10 neighbours at distance 0
    np.save(isolated_env / "dups.npy", X)
    at = run_app({"ds": "dups.npy", "gm": "euclidean"}, page=PAGE)
    expected = sum(int((np.all(X == X[i], axis=1).sum() - 1) >= 10) for i in range(80))
    assert expected == 12
    warnings = [w.value for w in at.warning if "distance 0" in w.value]
    assert len(warnings) == 1 and warnings[0].startswith(f"{expected} of 80 rows have all 10 nearest neighbours")
    assert len(at.dataframe[0].value) == 10
