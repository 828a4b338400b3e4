"""Geometry figures: the plain data (*_info) they draw, then the traces and axes of the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import id_scale_curve, intrinsic_dimension, neural_collapse, separability
from dashboard.figures import geometry as fg


def test_id_scale_info_and_figure(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((10, 2)))
    X = rng.standard_normal((600, 2)) @ Q.T
    X[3] = 0.0
    X[9] = X[8]
    curves = (id_scale_curve(X), id_scale_curve(X, method="mle", k_max=10))
    est = intrinsic_dimension(X)
    info = fg.id_scale_info(curves, est)
    names = [s["name"] for s in info.series]
    assert names == ["TwoNN, decimated", "MLE (Levina-Bickel), k = 3..10"]
    twonn = info.series[0]
    np.testing.assert_array_equal(twonn["dimension"], curves[0].dimension)
    assert twonn["notes"][0] == "599 points per subset, 1 subset(s)" and twonn["notes"][2].endswith("4 subset(s)")
    assert info.estimate == est.value and info.metric == "euclidean"
    fig = fg.id_scale_figure(info)
    assert [t.name.replace("<br>", " ") for t in fig.data] == [*names, f"card: {est.label} = {est.value:.2f}"]
    assert fig.layout.xaxis.type == "log"
    assert "Euclidean distance" in fig.layout.xaxis.title.text.replace("<br>", " ")  # wrapped to fit


def test_barcode_info_highlights_k_minus_one(rng):
    centres = np.eye(3, 4) * 50
    y = np.repeat(np.arange(3), 30)
    X = centres[y] + 0.01 * rng.standard_normal((90, 4))
    X[[1, 2]] = X[0]
    sep = separability(X, y)
    info = fg.barcode_info(sep, max_bars=20)
    assert info.highlighted == 2 and len(info.deaths) == 20 and info.n_bars == 87
    assert info.deaths[0] == 1.0 and info.deaths[2] < 0.01  # two long bars, then short ones
    assert info.title == "H0 barcode: the 20 longest of 87 bars"
    small = fg.barcode_info(separability(X, y, max_points=40))
    assert small.title.endswith("(40-point seeded sample)")
    fig = fg.barcode_figure(info)
    assert fig.data[0].orientation == "h" and len(fig.data[0].x) == 20
    assert list(fig.data[0].marker.color[:3]) == [fg.ACCENT, fg.ACCENT, "#B8C0CC"]


def test_class_heatmaps(rng):
    K = 4
    P, _ = np.linalg.qr(rng.standard_normal((6, K)))
    etf = np.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K) @ P.T
    noise = 0.1 * rng.standard_normal((K, 5, 6))
    X = np.concatenate([etf[k] + np.concatenate([noise[k], -noise[k]]) for k in range(K)])
    y = np.array(["a", "b", "c", "d"])[np.repeat(np.arange(K), 10)]
    nc = neural_collapse(X, y)
    cos = fg.class_heatmap_info(nc, "cosine")
    assert cos.labels == ["a", "b", "c", "d"] and cos.title == "Class-mean cosines (ETF: -0.333)"
    assert cos.z[0, 1] == pytest.approx(-1 / 3) and (cos.zmin, cos.zmax) == (-1.0, 1.0)
    cdnv = fg.class_heatmap_info(nc, "cdnv")
    assert np.isnan(np.diag(cdnv.z)).all()
    np.testing.assert_allclose(cdnv.z[0, 1], np.log10(nc.cdnv[0, 1]))
    fig = fg.class_heatmap_figure(cdnv)
    assert fig.data[0].type == "heatmap" and list(fig.data[0].x) == ["a", "b", "c", "d"]


def test_collapse_trajectory_aggregates_runs_in_layer_order():
    rows = [{"run": r, "layer": layer, "step": step, "nc1": base * (1 + 0.1 * ri) / step}
            for ri, r in enumerate(["s0", "s1"]) for layer, base in [("late", 2.0), ("early", 4.0)]
            for step in (1, 10, 100)]
    info = fg.collapse_trajectory_info(rows)
    assert info.layers == ["late", "early"] and info.steps == [1, 10, 100]
    first = info.table.iloc[0]
    assert (first["layer"], first["step"], first["runs"]) == ("late", 1, 2)
    assert first["mean"] == pytest.approx(2.1) and first["sd"] == pytest.approx(np.std([2.0, 2.2], ddof=1))
    fig = fg.collapse_trajectory_figure(info)
    assert [t.name for t in fig.data] == ["late", "early", "step 1", "step 10", "step 100"]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "category"
    assert fig.layout.yaxis.title.text == "NC1 (mean ± sd over 2 runs)"


def test_hubs_table_joins_metadata():
    meta = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [1, 2, 3, 4]})
    table = fg.hubs_table(np.array([0, 5, 2, 1]), np.array([1, 2, 3, 0]), meta["id"].to_numpy(), meta, n=2)
    assert table.to_dict("list") == {"rank": [1, 2], "row": [1, 2], "id": ["b", "c"], "N_k": [5, 2],
                                     "label": [2, 3]}
    bare = fg.hubs_table(np.array([3, 1]), np.array([0, 1]), np.arange(2), pd.DataFrame(index=range(2)))
    assert bare.columns.tolist() == ["rank", "row", "id", "N_k"]


def test_kind_empty_figure_note_barcode_of_identical_rows():
    """50 identical rows: every H0 bar has length 0. The barcode says so instead of "the 0 longest
    of 0 bars" on empty axes, and the caption says "undefined" instead of "nan"."""
    import core
    from dashboard.figures import geometry as fg

    sep = core.separability(np.full((50, 4), 3.0, np.float32))
    info = fg.barcode_info(sep)
    assert len(info.deaths) == 0 and "no bar longer than 0" in info.title
    fig = fg.barcode_figure(info)
    assert any("nothing to draw" in a.text for a in fig.layout.annotations)
    caption = fg.persistence_caption(sep)
    assert "nan" not in caption and "undefined" in caption


def test_collapse_trajectory_of_views_without_steps_has_no_step_minus_one():
    """Layers without steps (a one-checkpoint model): no 'step -1' anywhere, the layer panel names 'no step'."""
    from dashboard.figures.geometry import collapse_trajectory_figure, collapse_trajectory_info

    rows = [{"run": "", "layer": f"l{i}", "step": None, "nc1": 1.0 / (i + 1)} for i in range(3)]
    fig = collapse_trajectory_figure(collapse_trajectory_info(rows))
    names = [t.name for t in fig.data]
    assert names == ["no step"] and list(fig.data[0].x) == ["l0", "l1", "l2"]
    mixed = rows + [{"run": "", "layer": "l0", "step": 5, "nc1": 0.5}]
    fig = collapse_trajectory_figure(collapse_trajectory_info(mixed))
    step_panel = [t for t in fig.data if t.xaxis == "x"]
    assert [list(t.x) for t in step_panel] == [[5]]  # only the view with a step on the step axis
    assert sorted(t.name for t in fig.data if t.xaxis == "x2") == ["no step", "step 5"]
