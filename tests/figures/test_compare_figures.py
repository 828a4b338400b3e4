"""Compare figures: the plain data (*_info) they draw from real core results, checked against
independent numbers (numpy correlations, the n x n Gram formula of CKA, scikit-learn neighbours),
then the traces and axes of the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

import core
from dashboard.figures import compare as fc


def _corr(A, B) -> np.ndarray:
    """Pearson correlation of every column of A with every column of B (numpy's corrcoef, float64)."""
    d = A.shape[1]
    return np.corrcoef(A.T.astype(np.float64), B.T.astype(np.float64))[:d, d:]


def test_unit_heatmap_natural_and_matched_order(rng):
    A = rng.standard_normal((300, 6))
    perm = np.array([3, 0, 5, 1, 4, 2])
    B = np.column_stack([A[:, perm] * np.array([2.0, 0.5, 1.0, 3.0, 1.5, 0.7]), np.full(300, 4.0)])  # + a dead unit
    match = core.match_units(A, B)
    info = fc.unit_heatmap_info(match, ("A view", "B view"))
    np.testing.assert_allclose(info.natural[:, :6], _corr(A, B[:, :6]), atol=1e-12)
    assert (info.natural[:, 6] == 0).all()  # the dead unit: 0, not NaN
    # matched order: unit i of A faces its own copy in B on the diagonal, correlation 1
    np.testing.assert_allclose(np.diag(info.matched)[:6], 1.0, atol=1e-12)
    assert [int(perm.tolist().index(r)) for r in info.rows[:6]] == info.cols[:6].tolist()
    assert info.cols[-1] == 6 and info.note == "1 dead unit in B view (zero variance: correlation 0, never matched)"
    fig = fc.unit_heatmap_figure(info)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"]
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1.0, 1.0)
    assert fig.layout.annotations[1].text.startswith("matched order")


def test_match_curve_one_to_one_against_semi_matching(rng):
    A = rng.standard_normal((400, 5))
    B = A[:, [0, 0, 1]] + 0.1 * rng.standard_normal((400, 3))  # units 0 and 1 of B copy unit 0 of A
    match = core.match_units(A, B)
    info = fc.match_curve_info(match, ("a", "b"))
    C = _corr(A, B)
    assert info.n_units == 5 and info.n_dead == 0 and info.n_unmatched == 2  # B has 3 units
    np.testing.assert_allclose(info.semi, np.sort(C.max(axis=1))[::-1], atol=1e-12)
    # one-to-one: the best assignment by brute force over every injective map of B's 3 units into A's 5
    from itertools import permutations
    best = max(permutations(range(5), 3), key=lambda rows: sum(C[r, j] for j, r in enumerate(rows)))
    np.testing.assert_allclose(info.one_to_one, np.sort([C[r, j] for j, r in enumerate(best)])[::-1], atol=1e-12)
    assert np.all(info.semi[:3] >= info.one_to_one - 1e-12)
    fig = fc.match_curve_figure(info)
    assert fig.data[0].name == f"one-to-one, mean {info.one_to_one.mean():.3f}"
    assert "2 without a partner" in fig.layout.title.text.replace("<br>", " ")


def _gram_cka(X, Y) -> float:
    """Linear CKA by the n x n Gram formula (Kornblith et al. 2019): HSIC of centred linear kernels."""
    X, Y = X - X.mean(0), Y - Y.mean(0)
    K, L = X @ X.T, Y @ Y.T
    return float(np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L)))


def test_pair_matrix_cells_are_clickable_squares_with_the_view_names(rng):
    base = rng.standard_normal((120, 8))
    rotation = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    views = [base, base @ rotation, base[:, :4] + 0.3 * rng.standard_normal((120, 4)), rng.standard_normal((120, 5))]
    names, labels = ["v0", "v1", "v2", "v3"], ["zero", "one", "two", "three"]
    result = core.pairwise_matrix(views, "cka", names=names)
    for i in range(4):
        for j in range(4):
            assert result.values[i, j] == pytest.approx(_gram_cka(views[i], views[j]), rel=1e-9)
    info = fc.pair_matrix_info(result.values, names, labels, order=[3, 0, 1, 2], title="CKA", chosen=("v0", "v2"))
    assert info.names == ("v3", "v0", "v1", "v2") and info.labels[0] == "three"
    assert info.values[1, 3] == pytest.approx(_gram_cka(views[0], views[2]), rel=1e-9)
    assert info.chosen == (1, 3) and info.colorbar == "similarity"
    fig = fc.pair_matrix_figure(info)
    heat, cells = fig.data
    outline = fig.layout.shapes[0]
    assert heat.type == "heatmap" and heat.hoverinfo == "skip"  # the clicks go to the cells' markers
    np.testing.assert_array_equal(heat.z, info.values)
    assert cells.type == "scatter" and cells.marker.symbol == "square" and len(cells.x) == 16
    assert cells.marker.size == fc.cell_size(4) and cells.marker.color == "rgba(0,0,0,0)"
    k = 1 * 4 + 3  # row 1 (v0), column 3 (v2)
    assert (cells.y[k], cells.x[k]) == (1, 3) and list(cells.customdata[k]) == ["v0", "v2"]
    assert cells.text[k] == f"A: zero<br>B: two<br>{_gram_cka(views[0], views[2]):.4f}"
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (2.5, 3.5, 0.5, 1.5) and outline.name == "chosen"
    assert list(fig.layout.yaxis.range) == [3.5, -0.5]  # the first view on top
    distance = fc.pair_matrix_info(result.values, names, labels, order=range(4), title="d", higher_is_similar=False)
    assert fc.pair_matrix_figure(distance).data[0].reversescale and distance.chosen is None


def test_pair_matrix_undefined_cells_are_grey_and_still_clickable(rng):
    views = [rng.standard_normal((50, 3)), np.ones((50, 2)), rng.standard_normal((50, 4))]  # view 1: no variance
    result = core.pairwise_matrix(views, "cka", names=["a", "b", "c"])
    assert np.isnan(result.values[1]).all() and np.isfinite(result.values[[0, 2]][:, [0, 2]]).all()
    fig = fc.pair_matrix_figure(fc.pair_matrix_info(result.values, ["a", "b", "c"], ["a", "b", "c"], order=range(3),
                                                    title="CKA", chosen=("a", "c")))
    heat, cells = fig.data
    assert np.isnan(np.asarray(heat.z, dtype=float)[1]).all() and fig.layout.plot_bgcolor == "#C9CED6"  # grey gaps
    assert len(cells.x) == 9 and fig.layout.shapes[0].name == "chosen"  # every cell clickable, undefined ones too
    assert [t.endswith("undefined") for t in cells.text] == [False, True, False, True, True, True, False, True, False]


def test_movers_maps_and_table_from_the_per_item_overlap(rng):
    n, k = 200, 8
    X = rng.standard_normal((n, 6))
    Y = X.copy()
    Y[:20] = rng.standard_normal((20, 6)) * 3  # the first 20 items move
    knn = core.mutual_knn(X, Y, k=k, metric="euclidean")
    # scikit-learn's neighbours, each item itself left out
    nx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[1][:, 1:]
    ny = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y)[1][:, 1:]
    shared = np.array([len(set(a) & set(b)) for a, b in zip(nx, ny, strict=True)]) / k
    np.testing.assert_allclose(knn.per_item, shared)
    change = 1.0 - knn.per_item
    top = np.argsort(-change, kind="stable")[:10]
    assert np.isin(top, np.arange(20)).mean() >= 0.8  # the moved items lead
    info = fc.movers_map_info(X[:, :2], Y[:, :2], change, top, titles=("A", "B"), k=k, metric="euclidean")
    fig = fc.movers_map_figure(info)
    assert [t.type for t in fig.data] == ["scattergl"] * 4
    drawn = fig.data[0]
    assert drawn.marker.color[-1] == change.max() and drawn.marker.color[0] == change.min()  # movers on top
    assert list(fig.data[1].customdata) == top.tolist() and fig.data[1].name == "the 10 listed movers"
    meta = pd.DataFrame({"label": np.arange(n) % 3, "rank": 0})
    table = fc.movers_table(change, knn.per_item, top, np.array([f"id{i}" for i in range(n)]), meta, k=k)
    assert table.columns.tolist() == ["rank", "row", "id", "moved", f"shared of {k}", "label"]
    assert table["row"].tolist() == top.tolist() and table["id"][0] == f"id{top[0]}"
    assert table[f"shared of {k}"].tolist() == np.rint(shared[top] * k).astype(int).tolist()
    assert table["moved"].tolist() == np.round(change[top], 4).tolist()


def test_trajectory_panels_and_lines_from_core_trajectory():
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    views = [v for v in ds.views if v.layer == "hidden2" and v.run in ("seed0", "seed1")]
    frame = core.trajectory(views, "effective_rank")
    last = {v.run: v for v in views if v.step == 100}
    ref = pd.concat([core.trajectory([v for v in views if v.run == run], "cka", reference=ref)
                     for run, ref in last.items()], ignore_index=True)
    info = fc.trajectory_info(pd.concat([frame, ref], ignore_index=True))
    assert info.series_names == ("seed0 · hidden2", "seed1 · hidden2")
    (er_label, er), (cka_label, ck) = info.panels
    assert er_label == "Effective rank (singular values)" and cka_label == "CKA (linear, biased)"
    assert er[0]["step"].tolist() == [1, 3, 10, 30, 100]
    by_name = {v.name: v for v in views}
    for s in er:
        for name, value in zip(s["views"], s["value"], strict=True):
            assert value == pytest.approx(core.effective_rank(by_name[name].X), rel=1e-9)
    for s, run in zip(ck, ("seed0", "seed1"), strict=True):
        assert s["value"][-1] == pytest.approx(1.0)  # the final checkpoint against itself
        assert s["value"][0] == pytest.approx(_gram_cka(by_name[s["views"][0]].X.astype(np.float64),
                                                        last[run].X.astype(np.float64)), rel=1e-6)
    fig = fc.trajectory_figure(info)
    assert len(fig.data) == 4 and [t.showlegend for t in fig.data] == [True, True, False, False]
    assert fig.layout.yaxis.title.text == "Effective rank (singular<br>values)" and fig.layout.yaxis2.title.text
    assert fig.layout.xaxis2.type == "log" and fig.layout.xaxis2.title.text == "step"
