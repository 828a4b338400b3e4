"""The Map page's pure logic: selection events, colours, link hygiene, and the job registry."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

import core
from dashboard import map_view
from dashboard.jobs import JobRegistry
from dashboard.point_metrics import MetricContext
from dashboard.state import ViewState, encode_selection


@pytest.fixture(scope="module")
def digits():
    return core.load(core.sample_data_dir() / "digits-mlp")


COORDS = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.5], [10.0, 10.0]])
ROWS = np.array([100, 101, 102, 103, 104])


def _event(points=(), box=(), lasso=()):
    return {"selection": {"points": list(points), "point_indices": [], "box": list(box), "lasso": list(lasso)}}


def test_a_box_selects_every_point_inside_not_only_drawn_ones():
    ev = map_view.selection_from_event(_event(points=[{"customdata": 101}], box=[{"x": [0.5, 3.5], "y": [2.5, 0.2]}]),
                                       COORDS, ROWS)
    assert ev.kind == "region" and ev.rows.tolist() == [101, 102, 103]


def test_shift_added_shapes_are_a_union():
    ev = map_view.selection_from_event(
        _event(box=[{"x": [-1, 0.5], "y": [-1, 0.5]}], lasso=[{"x": [9, 11, 11, 9], "y": [9, 9, 11, 11]}]), COORDS, ROWS)
    assert ev.rows.tolist() == [100, 104]


def test_one_point_without_a_shape_is_a_click_and_nothing_clears():
    click = map_view.selection_from_event(_event(points=[{"customdata": 103, "x": 3, "y": 0.5}]), COORDS, ROWS)
    assert click.kind == "click" and click.rows.tolist() == [103]
    assert map_view.selection_from_event(_event(), COORDS, ROWS).kind == "clear"
    # AppTest and some Streamlit versions hand a list for customdata
    assert map_view.selection_from_event(_event(points=[{"customdata": [102]}]), COORDS, ROWS).rows.tolist() == [102]


def test_a_click_next_to_a_kept_outline_is_a_click():
    lasso = [{"x": [-1, 4, 4, -1], "y": [-1, -1, 3, 3]}]
    first = map_view.selection_from_event(_event(points=[{"customdata": 100}, {"customdata": 101}], lasso=lasso),
                                          COORDS, ROWS)
    assert first.kind == "region" and first.rows.tolist() == [100, 101, 102, 103]
    again = map_view.selection_from_event(_event(points=[{"customdata": 104}], lasso=lasso), COORDS, ROWS,
                                          previous_shapes=first.shapes)
    assert again.kind == "click" and again.rows.tolist() == [104]
    fresh = map_view.selection_from_event(_event(points=[{"customdata": 104}], lasso=lasso), COORDS, ROWS)
    assert fresh.kind == "region"  # without that memory a one-point lasso is still a region


def test_colour_options_and_the_automatic_choice(digits):
    opts = map_view.color_options(digits)
    assert opts[:4] == ["none", "label", "split", "ink"]
    assert "metric:norm" in opts and "metric:knn_preservation" in opts
    assert "image" not in opts and "id" not in opts  # images and unique ids do not colour
    assert map_view.auto_color(digits) == "label"
    assert map_view.color_label("metric:knn_preservation") == "kNN preservation (k=15)"
    assert {"metric:lid", "metric:hub", "metric:purity"} <= set(opts)
    unlabelled = dataclasses.replace(digits, metadata=digits.metadata[["id", "ink"]])
    assert "metric:purity" not in map_view.color_options(unlabelled)  # purity needs a label column
    assert "metric:lid" in map_view.color_options(unlabelled)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_geometry_colours_are_the_core_metrics_of_the_view(digits, metric):
    view = digits.view("seed0/hidden2/epoch100")
    ctx = MetricContext(digits, view, metric=metric)
    X, labels = view.X, digits.metadata["label"].to_numpy()
    graph = core.knn_graph(X, k=20, metric=metric)  # an independent search, not the page's cache
    expected = {
        "lid": core.local_intrinsic_dimension(X, k=20, metric=metric),
        "hub": core.hubness(X, k=10, metric=metric).k_occurrence,
        "purity": core.knn_purity(graph.restrict(15), labels),
    }
    for key, values in expected.items():
        color = map_view.resolve_color(f"metric:{key}", ctx)
        assert color.kind == "continuous" and color.values.shape == (1797,)
        np.testing.assert_allclose(color.values, values, rtol=1e-6, equal_nan=True, err_msg=key)
    assert expected["hub"].mean() == pytest.approx(10)  # k-occurrence averages to k


def test_link_values_out_of_range_fall_back_with_warnings(digits):
    state = ViewState(view="seed0/hidden1/epoch001", map_neighbors=1, map_seed=-3, map_color="nope",
                      map_filter=("shape=round",), map_selection="r5.99999", map_item=5000, map_view2="missing")
    changes, warnings = map_view.sanitize(state, digits)
    assert changes == {"map_neighbors": 15, "map_seed": 0, "map_color": "", "map_filter": (), "map_selection": "",
                       "map_item": -1, "map_view2": ""}
    assert len(warnings) == 7 and any("no column 'shape'" in w for w in warnings)
    ok = ViewState(view="seed0/hidden1/epoch001", map_selection=encode_selection([1, 2], 1797), map_item=3,
                   map_filter=("label=3",), map_color="metric:norm")
    assert map_view.sanitize(ok, digits) == ({}, [])


def test_params_follow_the_method():
    assert map_view.map_params(ViewState(map_method="pca")) == {}
    assert map_view.map_params(ViewState(map_method="umap", map_neighbors=30)) == {
        "n_neighbors": 30, "min_dist": 0.1, "metric": "cosine"}
    assert map_view.map_params(ViewState(map_method="tsne", map_metric="euclidean")) == {
        "perplexity": 30.0, "metric": "euclidean"}


def _wait(job, timeout=20.0):
    end = time.time() + timeout
    while job.active and time.time() < end:
        time.sleep(0.01)
    return job


def test_jobs_are_shared_by_key_and_superseded_ones_are_cancelled():
    reg = JobRegistry()
    gate = threading.Event()
    calls = []

    def slow(progress):
        calls.append(1)
        for i in range(1000):
            progress(i / 1000, "working")
            if gate.wait(0.001):
                return "slow done"
        return "slow done"

    a = reg.submit("k1", "first", slow, owner="alice")
    assert reg.submit("k1", "first", slow, owner="bob") is a  # computed once for both
    b = reg.submit("k2", "second", lambda p: "fast", owner="carol")
    c = reg.submit("k3", "third", lambda p: "mine", owner="carol")  # carol moved on from k2
    gate.set()
    assert _wait(a).result == "slow done" and len(calls) == 1
    assert _wait(b).state == "cancelled"
    assert _wait(c).result == "mine"


def test_a_stopped_job_stays_stopped_until_retried():
    reg = JobRegistry()

    def loop(progress):
        while True:
            progress(0.5, "looping")
            time.sleep(0.001)

    job = reg.submit("k", "loop", loop, owner="x")
    while job.state == "queued":
        time.sleep(0.001)
    job.cancel()
    assert _wait(job).state == "cancelled"
    assert reg.submit("k", "loop", loop, owner="x") is job  # not restarted behind the user's back
    again = reg.submit("k", "loop", lambda p: 42, owner="x", retry=True)
    assert again is not job and _wait(again).result == 42


def test_failures_are_kept_with_their_message():
    reg = JobRegistry()
    job = _wait(reg.submit("bad", "bad", lambda p: 1 / 0, owner="x"))
    assert job.state == "failed" and job.error == "ZeroDivisionError: division by zero"


def test_memo_computes_once_and_keeps_the_latest():
    reg = JobRegistry()
    calls = []
    for key in [1, 1, 2, 3, 4, 5, 1]:
        reg.memo(key, lambda key=key: calls.append(key) or key * 10, keep=4)
    assert calls == [1, 2, 3, 4, 5, 1]  # 1 was evicted by the fifth key, then recomputed


def test_one_search_serves_the_geometry_page_and_a_default_umap(digits, monkeypatch):
    from core.projection import graph_k
    from dashboard import data

    data.map_jobs.clear()  # a registry (and graph memo) of this test's own
    calls, real = [], core.knn_graph
    monkeypatch.setattr(core, "knn_graph", lambda X, **kw: calls.append(kw["k"]) or real(X, **kw))
    X = digits.view("seed0/hidden2/epoch100").X
    geometry = data.view_graph("fp-test", X, 20, "cosine")  # the Geometry page's default graph
    umap_k = graph_k("umap", len(X))  # what a default UMAP asks for
    umap = data.view_graph("fp-test", X, umap_k, "cosine")
    assert calls == [20] and umap_k == 15  # one search
    direct = real(X, k=15, metric="cosine")
    np.testing.assert_array_equal(umap.indices, direct.indices)  # restricting loses nothing
    np.testing.assert_allclose(umap.distances, direct.distances, rtol=1e-6)
    assert geometry.k == 20 and umap.k == 15
    data.view_graph("fp-test", X, 90, "cosine")  # t-SNE needs more: a search of its own
    data.view_graph("fp-test", X, 15, "euclidean")
    assert calls == [20, 90, 20]
    data.map_jobs.clear()


def test_kind_many_classes_every_column_can_colour_the_map(tmp_path):
    import pandas as pd

    from tests.metadata_cases import write_many_classes

    X, labels = write_many_classes(tmp_path / "many")
    ds = core.load(tmp_path / "many")
    opts = map_view.color_options(ds)
    assert "label" in opts and "id" not in opts
    color = map_view.resolve_color("label", MetricContext(ds, ds.views[0]))
    assert color.kind == "categorical"
    assert pd.Series(color.values).nunique() == 200 and (color.values == labels).all()
    paired = core.load(core.sample_data_dir() / "digits-paired")
    assert "caption" in map_view.color_options(paired)  # 84 levels: above the filters' 50, still a colour
    assert map_view.sanitize(ViewState(view="image", map_color="caption"), paired) == ({}, [])
