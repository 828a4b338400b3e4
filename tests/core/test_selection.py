"""core.selection: regions, filters, declared samples, group comparison, one item's neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import EmbedLensInputError, intrinsic_dimension, vendi_score
from core.selection import (
    compare_groups,
    filter_mask,
    group_diversity,
    item_neighbors,
    parse_filter,
    points_in_box,
    points_in_polygon,
    stratified_sample,
)


def _winding(point, poly) -> bool:
    """Winding number (an independent rule; equal to even-odd for simple polygons)."""
    wn = 0
    x, y = point
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0)):
        cross = (x1 - x0) * (y - y0) - (x - x0) * (y1 - y0)
        if y0 <= y < y1 and cross > 0:
            wn += 1
        elif y1 <= y < y0 and cross < 0:
            wn -= 1
    return wn != 0


def test_polygon_membership_matches_the_winding_number(rng):
    # a non-convex "L" and a star-shaped lasso like a hand would draw
    L = np.array([[0, 0], [4, 0], [4, 1], [1, 1], [1, 4], [0, 4]], float)
    t = np.linspace(0, 2 * np.pi, 41)[:-1]
    star = np.c_[np.cos(t), np.sin(t)] * (1.5 + 0.7 * np.sin(5 * t))[:, None]
    for poly in (L, star):
        P = rng.uniform(-3, 5, size=(3000, 2))
        expected = np.array([_winding(p, poly) for p in P])
        np.testing.assert_array_equal(points_in_polygon(P, poly), expected)


def test_polygon_in_blocks_equals_all_at_once(rng):
    P = rng.uniform(-2, 2, size=(1000, 2))
    poly = np.array([[-1, -1], [1.5, -0.5], [0.5, 1.7]])
    np.testing.assert_array_equal(points_in_polygon(P, poly, block=7), points_in_polygon(P, poly))


def test_box_membership_is_inclusive_and_order_free():
    P = [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert points_in_box(P, (2, 1), (1, 2)).tolist() == [False, True, True, False]


def test_regions_need_valid_shapes():
    with pytest.raises(EmbedLensInputError, match="at least 3 finite"):
        points_in_polygon([[0, 0]], [[0, 0], [1, 1]])
    with pytest.raises(EmbedLensInputError, match="regions need 2-D points"):
        points_in_box([[0.0], [1.0]], (0, 1), (0, 1))


META = pd.DataFrame({"label": [3, 5, 7, 3, 3], "split": ["train", "test", "test", "test", None],
                     "ink": [10.0, 250.0, 120.0, np.nan, 99.0]})


@pytest.mark.parametrize(
    ("clauses", "rows"),
    [
        ([], [0, 1, 2, 3, 4]),
        (["label=3"], [0, 3, 4]),
        (["label=3", "label=5"], [0, 1, 3, 4]),  # alternatives within a column
        (["label=3", "split=test"], [3]),  # and across columns
        (["split!=test"], [0, 4]),
        (["ink>=99"], [1, 2, 4]),
        (["ink>=99", "ink<=200"], [2, 4]),
        (["label=3.0"], [0, 3, 4]),  # numbers compare as numbers
    ],
)
def test_filters_select_the_expected_rows(clauses, rows):
    assert np.flatnonzero(filter_mask(META, clauses)).tolist() == rows


def test_filters_explain_their_mistakes():
    with pytest.raises(EmbedLensInputError, match=r"no column 'colour'; the columns are \['label', 'split', 'ink'\]"):
        filter_mask(META, ["colour=red"])
    with pytest.raises(EmbedLensInputError, match="needs a numeric column"):
        filter_mask(META, ["split>=3"])
    with pytest.raises(EmbedLensInputError, match="is not 'column=value'"):
        parse_filter(["label"])


def test_stratified_samples_are_proportional_seeded_and_declared_by_their_size():
    strata = np.repeat(["a", "b", "c", "d"], [500, 300, 190, 10])
    rows = stratified_sample(strata, 100, seed=1)
    counts = pd.Series(strata[rows]).value_counts().to_dict()
    assert len(rows) == 100 and counts == {"a": 50, "b": 30, "c": 19, "d": 1}
    assert len(np.unique(rows)) == 100 and (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(rows, stratified_sample(strata, 100, seed=1))
    assert not np.array_equal(rows, stratified_sample(strata, 100, seed=2))


def test_every_stratum_is_represented_and_small_inputs_are_kept_whole():
    strata = np.array([0] * 995 + [1, 2, 3, 4, 5])
    rows = stratified_sample(strata, 10, seed=0)
    assert len(rows) == 10 and set(strata[rows]) == {0, 1, 2, 3, 4, 5}
    np.testing.assert_array_equal(stratified_sample(strata, 5000), np.arange(1000))
    many = np.arange(1000) % 300  # more strata than sample points: the size still holds
    assert len(stratified_sample(many, 50, seed=0)) == 50


def test_group_comparison_matches_direct_formulas(small_matrix):
    X = small_matrix.astype(np.float64)
    mask = np.zeros(40, bool)
    mask[[1, 2, 3, 7, 20, 33]] = True  # includes the zero row (3) and the duplicate pair (2, 7)
    g = compare_groups(small_matrix, mask)
    norms = np.linalg.norm(X, axis=1)
    U = X / np.where(norms > 0, norms, 1)[:, None]

    def mean_cos(A):
        C = A @ A.T
        return (C.sum() - np.trace(C)) / (len(A) * (len(A) - 1))

    assert g.n_in == 6 and g.n_out == 34
    assert g.mean_norm_in == pytest.approx(norms[mask].mean())
    assert g.cosine_in == pytest.approx(mean_cos(U[mask]), abs=1e-6)
    assert g.cosine_out == pytest.approx(mean_cos(U[~mask]), abs=1e-6)
    a, b = X[mask].mean(0), X[~mask].mean(0)
    assert g.centroid_distance == pytest.approx(1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b), abs=1e-6)
    e = compare_groups(small_matrix, mask, metric="euclidean")
    assert e.centroid_distance == pytest.approx(np.linalg.norm(a - b), abs=1e-5)


def test_an_empty_group_gives_nan_not_an_error(small_matrix):
    g = compare_groups(small_matrix, np.zeros(40, bool))
    assert g.n_in == 0 and np.isnan(g.mean_norm_in) and np.isnan(g.centroid_distance)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_item_neighbors_match_a_full_sort(small_matrix, metric):
    X = small_matrix.astype(np.float64)
    for row in (0, 2, 3):
        rows, dist = item_neighbors(small_matrix, row, k=6, metric=metric, block=7)
        if metric == "euclidean":
            d = np.linalg.norm(X - X[row], axis=1)
        else:
            n = np.linalg.norm(X, axis=1)
            d = np.where((n > 0) & (n[row] > 0), 1 - X @ X[row] / np.maximum(n * n[row], 1e-300), 1.0)
        d[row] = np.inf
        order = np.lexsort((np.arange(40), d))[:6]
        np.testing.assert_array_equal(rows, order)
        np.testing.assert_allclose(dist, d[order], atol=1e-6)
    rows, dist = item_neighbors(small_matrix, 2, k=1, metric=metric)
    assert rows.tolist() == [7] and dist[0] == pytest.approx(0.0, abs=1e-6)  # its exact duplicate


def test_group_diversity_is_the_core_estimates_of_each_group():
    rng = np.random.default_rng(1)
    plane = rng.standard_normal((400, 2)) @ rng.standard_normal((2, 16))
    cloud = rng.standard_normal((400, 16))
    X = np.vstack([plane, cloud]).astype(np.float32)
    mask = np.arange(800) < 400
    g = group_diversity(X, mask, metric="euclidean")
    assert g.n_vendi == (400, 400) and g.n_id == (400, 400)  # below the caps: every row
    assert g.vendi_in == pytest.approx(vendi_score(X[:400]), rel=1e-12)
    assert g.vendi_out == pytest.approx(vendi_score(X[400:]), rel=1e-12)
    ref = intrinsic_dimension(X[400:], method="twonn", metric="euclidean", n_bootstrap=30)
    assert (g.id_out, g.id_error_out) == pytest.approx((ref.value, ref.error))
    assert g.id_in == pytest.approx(2, abs=0.3) and g.id_out > 10
    assert g.vendi_in < 2.5 < g.vendi_out  # a plane has about two distinct directions


def test_group_diversity_samples_declare_their_size_and_small_groups_give_nan(small_matrix):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((500, 8))
    mask = np.zeros(500, bool)
    mask[:5] = True
    g = group_diversity(X, mask, vendi_max=100, id_max=50, seed=3)
    assert g.n_vendi == (5, 100) and g.n_id == (5, 50)
    assert np.isnan(g.id_in) and np.isfinite(g.id_out)  # 5 rows < min_id_rows
    again = group_diversity(X, mask, vendi_max=100, id_max=50, seed=3)
    assert (again.vendi_out, again.id_out) == (g.vendi_out, g.id_out)  # seeded
    zeros = np.zeros_like(small_matrix)
    z = group_diversity(np.vstack([zeros, small_matrix]), np.arange(80) < 40)
    assert np.isnan(z.vendi_in) and np.isnan(z.id_in) and np.isfinite(z.vendi_out)  # cosine of zero rows


# --------------------------------------------------------------------------- kind: missing metadata values


@pytest.mark.parametrize("column", ["obj", "text", "score", "flag", "nflag", "kind", "count", "when"])
def test_kind_missing_metadata_values_filter(column):
    from tests.metadata_cases import ROW0, missing_meta

    meta = missing_meta()
    assert filter_mask(meta, [f"{column}=(missing)"]).tolist() == [False, True, False, False]
    assert filter_mask(meta, [f"{column}!=(missing)"]).tolist() == [True, False, True, True]
    # the literal cell of row 0 selects the rows holding it (rows 0 and 3 repeat it; score does not)
    expected = [True, False, False, column != "score"]
    assert filter_mask(meta, [f"{column}={ROW0[column]}"]).tolist() == expected
    # a missing value is one level among the others
    both = filter_mask(meta, [f"{column}=(missing)", f"{column}={ROW0[column]}"])
    assert both.tolist() == [True, True, False, column != "score"]


def test_kind_missing_metadata_values_range_filters_drop_missing():
    from tests.metadata_cases import missing_meta

    meta = missing_meta()
    assert filter_mask(meta, ["count>=1"]).tolist() == [True, False, True, True]
    assert filter_mask(meta, ["score<=1.5"]).tolist() == [True, False, True, False]


# --------------------------------------------------------------------------- issue 10: kinds


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30, 1e-200, 1e200])
def test_kind_scale_invariance_selection_metrics(scale):
    """Group comparison and item neighbours of X * s: scale-free values equal the unscaled ones,
    norms and distances scale with s (float64 reference)."""
    Y = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    Xs = Y.astype(np.float64) * scale if scale < 1e-40 or scale > 1e38 else Y * np.float32(scale)
    unit = float(scale) if scale < 1e-40 or scale > 1e38 else float(np.float32(scale))
    mask = np.arange(300) < 100
    for metric in ("cosine", "euclidean"):
        ref = compare_groups(Y, mask, metric=metric)
        got = compare_groups(Xs, mask, metric=metric)
        assert got.cosine_in == pytest.approx(ref.cosine_in, rel=1e-5, abs=1e-7)
        assert got.cosine_out == pytest.approx(ref.cosine_out, rel=1e-5, abs=1e-7)
        assert got.mean_norm_in / unit == pytest.approx(ref.mean_norm_in, rel=1e-5)
        cd = got.centroid_distance / (unit if metric == "euclidean" else 1.0)
        assert cd == pytest.approx(ref.centroid_distance, rel=1e-4)
        rows, dist = item_neighbors(Xs, 7, k=5, metric=metric)
        rows0, dist0 = item_neighbors(Y, 7, k=5, metric=metric)
        np.testing.assert_array_equal(rows, rows0)
        np.testing.assert_allclose(dist / (unit if metric == "euclidean" else 1.0), dist0, rtol=1e-5)


def test_kind_tie_rule_item_neighbors():
    """More tied rows than k: the lowest row numbers are kept."""
    rng = np.random.default_rng(0)
    X = np.zeros((5000, 3))
    X[:, 0] = 1.0
    X[rng.permutation(5000)[:2000], 0] = 3.0
    X[10] = [5.0, 0, 0]
    for metric in ("euclidean", "cosine"):
        rows, _ = item_neighbors(X, 10, k=5, metric=metric)
        expected = np.flatnonzero(X[:, 0] == 3.0)[:5] if metric == "euclidean" else [0, 1, 2, 3, 4]
        assert rows.tolist() == list(expected), metric
