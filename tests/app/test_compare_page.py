"""The real app (streamlit AppTest) on the Compare page: the cards against core, the second view, the
matrix over the 30 sample views and its click-through, what moved, trajectories, links, one view."""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest

import core
from dashboard.state import COMPARISON_METRICS, TRAJECTORY_METRICS, ViewState, encode_selection, page_fields
from dashboard.views import compare as view_compare

from .apptest import metric, run_app

PAGE = "app_pages/compare.py"
A0, B0 = "seed0/hidden1/epoch001", "seed1/hidden1/epoch001"  # the first view, and its default partner


@pytest.fixture(scope="module")
def mlp():
    return core.load(core.sample_data_dir() / "digits-mlp")


@pytest.fixture(autouse=True)
def sample_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))  # this test's own disk cache


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    if isinstance(value, dict):  # plotly typed array
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return a.reshape([int(s) for s in str(value["shape"]).split(",")]) if "shape" in value else a
    nested = isinstance(value, list) and value and isinstance(value[0], list)
    return np.asarray(value, dtype=float if nested else None)  # a matrix's null (NaN) cells as NaN


def _matrix_chart(at) -> dict:
    return next(c for c in _charts(at) if [t.get("name") for t in c["data"][:2]] == ["matrix", "cells"])


def _panels(fig: dict) -> list[str]:
    """The trajectory panels' metric labels (their y-axis titles, unwrapped), top to bottom."""
    axes = sorted((k for k in fig["layout"] if k.startswith("yaxis")), key=lambda k: int(k[5:] or 1))
    return [fig["layout"][k]["title"]["text"].replace("<br>", " ") for k in axes]


def _cards(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _expected_cards(X, Y, *, kernel="linear", debiased=False, k=10, metric="cosine", max_n=2000, seed=0):
    c = core.cka(X, Y, kernel=kernel, debiased=debiased, max_n=max_n, seed=seed)
    knn = core.mutual_knn(X, Y, k=k, metric=metric)
    p = core.procrustes_distance(X, Y)
    r = core.rsa(X, Y, metric=metric, max_n=max_n, seed=seed)
    return {c.label: f"{float(c):.3f}", knn.label: f"{float(knn.value):.3f}", p.label: f"{float(p.value):.3f}",
            r.label: f"{float(r):.3f}"}


def test_state_lists_agree_with_core():
    assert COMPARISON_METRICS == core.COMPARISON_METRICS
    assert set(TRAJECTORY_METRICS) == set(core.SINGLE_VIEW_METRICS)


def test_cards_show_the_core_numbers_and_the_matrix_is_30_by_30(mlp):
    at = run_app(page=PAGE)
    A, B = mlp.view(A0), mlp.view(B0)
    assert _cards(at) == _expected_cards(A.X, B.X) and not at.warning
    assert set(_cards(at)) == {"CKA (linear, biased)", "Mutual kNN (k=10, cosine)", "Procrustes distance (angular)",
                               "RSA (Spearman, cosine)"}
    captions = [c.value for c in at.caption]
    assert f"A: {A.label} (64 dims) · B: {B.label} (64 dims) · 1,797 items" in captions
    assert any(c.startswith("CKA (linear, biased): feature space, 1,797 rows · Mutual kNN (k=10, cosine): exact "
                            "kNN graphs") and "RSA (Spearman, cosine): all 1,797 rows" in c for c in captions)
    fig = _matrix_chart(at)
    heat, cells = fig["data"][:2]
    assert len(_array(cells["x"])) == len(_array(cells["y"])) == 900 and _array(heat["z"]).shape == (30, 30)
    # ordered by run, layer, step: seed0 hidden1 steps 1..100, seed0 hidden2 ..., seed2 hidden2 step 100
    order = view_compare.view_order(mlp.views, "run")
    names = [mlp.views[i].name for i in order]
    assert names[:3] == [A0, "seed0/hidden1/epoch003", "seed0/hidden1/epoch010"]
    assert names[5] == "seed0/hidden2/epoch001"
    expected = core.pairwise_matrix([v.X for v in mlp.views], "cka").values[np.ix_(order, order)]
    np.testing.assert_allclose(_array(heat["z"]), expected, rtol=1e-12)
    assert [list(c) for c in cells["customdata"][:2]] == [[A0, A0], [A0, names[1]]]
    outline = fig["layout"]["shapes"][0]
    assert (outline["y0"] + 0.5, outline["x0"] + 0.5) == (names.index(A0), names.index(B0))
    assert any(c.startswith("CKA (linear, biased): feature space, 1,797 rows. Click a cell") for c in captions)
    # the matrix was kept on disk (core.cache), under the dataset's fingerprints
    from dashboard.data import compare as data
    key = data.matrix_key([v.fingerprint for v in mlp.views], "cka", {"kernel": "linear"})
    assert data.compare_cache().load(key) is not None
    assert not [k for k in at.query_params if k.startswith("c")]  # defaults stay out of the link


def test_changing_the_second_view_changes_the_cards(mlp):
    at = run_app(page=PAGE)
    before = _cards(at)
    at.selectbox(key="w.cmp_view2").set_value("seed0/hidden1/epoch100").run()
    A, B = mlp.view(A0), mlp.view("seed0/hidden1/epoch100")
    assert _cards(at) == _expected_cards(A.X, B.X) != before
    assert at.query_params["cv2"] == "seed0/hidden1/epoch100"
    fig = _matrix_chart(at)
    names = [list(c)[1] for c in fig["data"][1]["customdata"][:30]]
    outline = fig["layout"]["shapes"][0]
    assert (outline["y0"] + 0.5, outline["x0"] + 0.5) == (0, names.index(B.name))
    at.toggle(key="w.cmp_cka_debiased").set_value(True)
    at.selectbox(key="w.cmp_k").set_value(5).run()
    assert _cards(at) == _expected_cards(A.X, B.X, debiased=True, k=5)
    assert at.query_params["ccd"] == "1" and at.query_params["ck"] == "5"


def test_a_clicked_cell_sets_the_pair(monkeypatch):
    """The selection event a click on a cell sends (its customdata) -> the sidebar's view and the second one.
    AppTest cannot send a chart event to the callback (tests/browser/test_compare.py clicks a real cell);
    here: the event's parsing, the callback on a stand-in session, and that the chart sends clicks."""
    event = {"selection": {"points": [{"curve_number": 0, "point_index": 41, "customdata": ["a/x", "b/y"]}],
                           "point_indices": [41], "box": [], "lasso": []}}
    assert view_compare.picked_pair(event) == ("a/x", "b/y")
    assert view_compare.picked_pair({"selection": {"points": [{"curve_number": 1, "point_index": 0}]}}) is None
    assert view_compare.picked_pair(None) is None
    updates = []
    monkeypatch.setattr(view_compare.vs, "update", lambda **kw: updates.append(kw))
    monkeypatch.setattr(view_compare.st, "session_state", {view_compare.MATRIX_KEY: event})
    view_compare.on_matrix_select()
    event["selection"]["points"][0]["customdata"] = ["a/x", "a/x"]  # the diagonal: a view with itself
    view_compare.on_matrix_select()
    assert updates == [{"view": "a/x", "cmp_view2": "b/y"}]
    monkeypatch.undo()
    at = run_app(page=PAGE)
    chart = next(c for c in at.get("plotly_chart") if json.loads(c.proto.spec)["data"][0].get("name") == "matrix")
    assert chart.proto.id and list(chart.proto.selection_mode) == [0]  # on_select set, points only


def test_a_link_with_every_compare_field_reopens_it(mlp):
    query = {"ds": "digits-mlp", "view": "seed2/hidden2/epoch030", "cv2": "seed0/hidden2/epoch030", "cck": "rbf",
             "ccd": "1", "ck": "20", "cm": "euclidean", "cn": "500", "cs": "3", "cmx": "mutual_knn", "co": "layer",
             "ctm": "rankme,participation_ratio", "ctc": "procrustes", "cref": "seed0/hidden2/epoch100",
             "cmt": "25", "cp": "trajectories"}  # every compare field but the maps' method (UMAP: a job)
    at = run_app(query, page=PAGE)
    assert not at.warning, [w.value for w in at.warning]
    A, B = mlp.view(query["view"]), mlp.view(query["cv2"])
    assert _cards(at) == _expected_cards(A.X, B.X, kernel="rbf", debiased=True, k=20, metric="euclidean",
                                         max_n=500, seed=3)
    rsa = core.rsa(A.X, B.X, metric="euclidean", max_n=500, seed=3)
    assert any(f"{rsa.label}: seeded uniform subsample of 500 rows (seed 3)" in c.value for c in at.caption)
    panels = _panels(_charts(at)[-1])
    assert panels[0] == "RankMe (uncentred, ε=1e-7)" and panels[-1].endswith("against seed0 · hidden2 · step 100")
    assert {k: v for k, v in at.query_params.items() if k in query} == query
    assert {f.metadata["key"] for f in dataclasses.fields(ViewState) if f.name.startswith("cmp_")} \
        == {k for k in query if k.startswith("c")} | {"cmm"}
    state, warnings = ViewState.from_query(at.query_params)
    assert not warnings
    expected = ViewState.from_query(query)[0]
    assert all(getattr(state, f) == getattr(expected, f) for f in page_fields("compare"))
    assert state.cmp_traj_metrics == ("rankme", "participation_ratio")
    # the other sections of the same link
    fig = _matrix_chart(run_app({**query, "cp": "matrix"}, page=PAGE))
    assert fig["layout"]["title"]["text"] == "Mutual kNN (k=20, euclidean) over 30 views"
    assert len(run_app({**query, "cp": "moved"}, page=PAGE).dataframe[0].value) == 25


def test_bad_compare_link_values_fall_back_with_warnings():
    at = run_app({"ds": "digits-mlp", "cv2": "nope", "cref": "gone", "ctm": "rankme,nope", "ck": "7", "cn": "3"},
                 page=PAGE)
    texts = [w.value for w in at.warning]
    assert "Ignored the compared view 'nope': dataset 'digits-mlp' has no such view." in texts
    assert "Ignored the reference view 'gone': dataset 'digits-mlp' has no such view." in texts
    assert any(t.startswith("Ignored ctm='nope': each cmp traj metrics must be one of") for t in texts)
    assert "Ignored ck='7': cmp k must be one of [5, 10, 15, 20, 30, 50]." in texts
    assert "Ignored sample size=3: it must be between 50 and 20000; using 2000." in texts
    assert at.selectbox(key="w.cmp_view2").value == "" and metric(at, "CKA (linear, biased)")


def test_what_moved_lists_the_items_and_opens_them_on_the_map(mlp):
    at = run_app({"cp": "moved"}, page=PAGE)
    A, B = mlp.view(A0), mlp.view(B0)
    knn = core.mutual_knn(A.X, B.X, k=10, metric="cosine")
    change = 1.0 - knn.per_item
    top = np.argsort(-change, kind="stable")[:50]
    table = at.dataframe[0].value
    assert table["row"].tolist() == top.tolist() and table["moved"].tolist() == np.round(change[top], 4).tolist()
    assert {"label", "image"} <= set(table.columns)
    maps = next(c for c in _charts(at) if c["data"][0]["type"] == "scattergl")
    assert len(_array(maps["data"][0]["x"])) == 1797
    at.button(key="cmp_open_map").click().run()
    assert at.query_params["msel"] == encode_selection(top, 1797) and at.query_params["mv2"] == B0
    assert at.title[0].value == "Map"


def test_trajectories_draw_the_chosen_metrics_against_step(mlp):
    at = run_app({"cp": "trajectories"}, page=PAGE)
    fig = _charts(at)[-1]
    assert _panels(fig) == ["Effective rank (singular values)",
                            "CKA (linear, biased) against each line's final checkpoint"]
    first = fig["data"][0]  # seed0 · hidden1, effective rank
    assert first["name"] == "seed0 · hidden1"
    views = [mlp.view(n) for n in first["customdata"]]
    np.testing.assert_allclose(_array(first["y"]), [core.effective_rank(v.X) for v in views], rtol=1e-9)


def test_units_show_the_correlations_in_natural_and_matched_order(mlp):
    at = run_app({"view": "seed0/hidden1/epoch100", "cv2": "seed0/hidden2/epoch100", "cp": "units"}, page=PAGE)
    match = core.match_units(mlp.view("seed0/hidden1/epoch100").X, mlp.view("seed0/hidden2/epoch100").X)
    heat, curve = _charts(at)
    natural, matched = (_array(t["z"]) for t in heat["data"])
    assert natural.shape == (64, 32)
    np.testing.assert_allclose(natural, match.correlation_matrix, atol=1e-12)
    np.testing.assert_allclose(matched, match.correlation_matrix[np.ix_(match.order_a, match.order_b)], atol=1e-12)
    live = np.isfinite(match.correlation)
    np.testing.assert_allclose(_array(curve["data"][0]["y"]), np.sort(match.correlation[live])[::-1], atol=1e-12)
    assert curve["data"][0]["name"] == f"one-to-one, mean {match.correlation[live].mean():.3f}"


def test_a_dataset_without_steps_compares_its_modalities(mlp):
    at = run_app({"ds": "digits-paired", "view": "image", "cp": "trajectories"}, page=PAGE)
    assert any(c.value.startswith("A: image (64 dims) · B: text (384 dims)") for c in at.caption)
    assert any("carry no training steps" in c.value for c in at.caption)
    assert metric(at, "CKA (linear, biased)")


def test_a_dataset_with_one_view_says_so(isolated_env):
    np.save(isolated_env / "single.npy", np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32))
    at = run_app(page=PAGE)
    assert at.info[0].value.startswith("Dataset 'single.npy' has one view (single), so there is nothing to compare")
    assert not at.metric and not at.get("plotly_chart") and not at.error


def test_a_view_without_variance_shows_undefined_with_the_reason(isolated_env):
    folder = isolated_env / "flat"
    folder.mkdir()
    np.save(folder / "a.npy", np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32))
    np.save(folder / "b.npy", np.ones((60, 3), dtype=np.float32))
    at = run_app(page=PAGE)
    cards = {m.label: (m.value, m.help) for m in at.metric}
    cka = core.cka(np.load(folder / "a.npy"), np.ones((60, 3)))
    assert cards[cka.label] == ("undefined", cka.message) and cka.message
    rsa = core.rsa(np.load(folder / "a.npy"), np.ones((60, 3)))
    assert cards[rsa.label][0] == "undefined" and any(f"undefined: {rsa.message}" in c.value for c in at.caption)
    fig = _matrix_chart(at)
    assert [t.get("name") for t in fig["data"]] == ["matrix", "cells"]
    assert fig["layout"]["shapes"][0]["name"] == "chosen"
    assert np.isnan(_array(fig["data"][0]["z"])[1]).all()
    # B's 60 equal rows: every neighbour list is a tie-break, and the page says so (once)
    warnings = [w.value for w in at.warning if "distance 0" in w.value]
    assert len(warnings) == 1
    assert warnings[0].startswith("all 60 rows of B have all 10 nearest neighbours at distance 0")
    assert not at.error
