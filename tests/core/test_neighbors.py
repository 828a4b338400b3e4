"""core.neighbors: the shared kNN graph against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from core import EmbedLensInputError
from core.neighbors import NeighborGraph, knn_graph, sampled_recall


def _brute(X, k, metric):
    X = X.astype(np.float64)
    if metric == "cosine":
        U = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
        D = 1.0 - U @ U.T
    else:
        D = np.sqrt(np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0))
    np.fill_diagonal(D, np.inf)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(D, idx, axis=1)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_graph_matches_brute_force(rng, metric):
    X = rng.standard_normal((120, 7)).astype(np.float32)
    g = knn_graph(X, k=6, metric=metric, method="exact")
    idx, dist = _brute(X, 6, metric)
    np.testing.assert_allclose(g.distances, dist, rtol=1e-4, atol=1e-5)
    assert (g.indices == idx).mean() > 0.99  # ties aside, the same neighbours
    assert g.method == "exact" and g.metric == metric and g.k == 6


def test_self_is_excluded_even_with_duplicates(small_matrix):
    g = knn_graph(small_matrix, k=3, metric="euclidean")
    assert not (g.indices == np.arange(len(small_matrix))[:, None]).any()
    assert g.indices[7, 0] == 2 and g.indices[2, 0] == 7  # the duplicate pair finds each other
    assert g.distances[7, 0] == 0.0


def test_umap_knn_puts_self_first(small_matrix):
    g = knn_graph(small_matrix, k=5)
    idx, dist = g.umap_knn(4)
    assert idx.shape == (40, 4) and (idx[:, 0] == np.arange(40)).all() and (dist[:, 0] == 0).all()
    with pytest.raises(EmbedLensInputError, match="needs a graph with k >= 9"):
        g.umap_knn(10)


def test_restrict_is_a_prefix(small_matrix):
    g = knn_graph(small_matrix, k=5)
    r = g.restrict(2)
    np.testing.assert_array_equal(r.indices, g.indices[:, :2])


def test_auto_resolves_visibly(small_matrix):
    assert knn_graph(small_matrix, k=3).params["requested_method"] == "auto"
    assert knn_graph(small_matrix, k=3).method == "exact"


@pytest.mark.parametrize("bad", [0, 40, 2.5, True])
def test_k_is_validated_with_the_numbers(small_matrix, bad):
    with pytest.raises(EmbedLensInputError, match=r"k=.* is invalid: expected an integer in \[1, 40\)"):
        knn_graph(small_matrix, k=bad)


def test_metric_and_method_are_validated(small_matrix):
    with pytest.raises(EmbedLensInputError, match="metric='manhattan'"):
        knn_graph(small_matrix, metric="manhattan")
    with pytest.raises(EmbedLensInputError, match="method='fast'"):
        knn_graph(small_matrix, method="fast")


# --------------------------------------------------------------------------- issue 5: the fast exact path


def _with_edges(X: np.ndarray) -> np.ndarray:
    """X with a zero row (3), exact duplicates (7 == 2, 11 == 2) and a scaled copy (13 = 2 x row 5)."""
    X = X.copy()
    X[3] = 0.0
    X[7] = X[2]
    X[11] = X[2]
    X[13] = 2 * X[5]
    return X


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_blocks_match_float64_brute_force(rng, metric):
    # n > the 2048-row block, so block pairs and the column-wise kernel are both exercised
    X = _with_edges(rng.standard_normal((2300, 9)).astype(np.float32) + 3.0)
    g = knn_graph(X, k=7, metric=metric, method="exact")
    idx, dist = _brute(X, 7, metric)
    np.testing.assert_allclose(g.distances, dist, rtol=0, atol=1e-6)
    assert (g.indices == idx).mean() > 0.999  # only ties may be ordered differently
    assert not (g.indices == np.arange(len(X))[:, None]).any()


def test_cosine_distances_of_zero_rows_and_scaled_copies(rng):
    X = _with_edges(rng.standard_normal((60, 5)).astype(np.float32))
    g = knn_graph(X, k=4, metric="cosine", method="exact")
    np.testing.assert_array_equal(g.distances[3], 1.0)  # a zero row: cos = 0 to everything
    assert g.indices[13, 0] == 5 and g.distances[13, 0] == 0.0  # same direction
    assert set(g.indices[2, :2]) == {7, 11} and (g.distances[2, :2] == 0).all()


def test_progress_reaches_one(rng):
    seen = []
    knn_graph(rng.standard_normal((4200, 3)), k=3, method="exact", progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3


def test_sampled_recall_of_an_exact_graph_is_one(small_matrix):
    g = knn_graph(small_matrix, k=5, metric="euclidean")
    assert sampled_recall(small_matrix, g, n_queries=40) == 1.0
    broken = NeighborGraph(np.roll(g.indices, 1, axis=0), g.distances, g.metric, g.method)
    assert sampled_recall(small_matrix, broken, n_queries=40) < 0.5


def _low_dimensional(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Clusters on a curved 8-dim manifold in d dims, plus noise: how real embeddings look."""
    r = np.random.default_rng(seed)
    Z = r.standard_normal((10, 8))[r.integers(0, 10, n)] * 2 + r.standard_normal((n, 8))
    W = r.standard_normal((8, d)) / np.sqrt(8)
    X = (np.tanh(Z @ W) + 0.3 * Z @ W + 0.05 * r.standard_normal((n, d))).astype(np.float32)
    return _with_edges(X)


def test_approximate_recall_at_20k():
    """pynndescent against exact at n = 20,000 (about 40 s, most of it numba compiling pynndescent)."""
    X = _low_dimensional(20_000, 48)
    exact = knn_graph(X, k=15, metric="cosine", method="exact")
    approx = knn_graph(X, k=15, metric="cosine", method="approximate", seed=0)
    hits = (np.sort(approx.indices, 1)[:, :, None] == exact.indices[:, None, :]).any(2).sum(1)
    recall = hits.mean() / 15
    assert recall >= 0.95, recall
    assert approx.method == "approximate" and approx.params["library"] == "pynndescent"
    assert abs(approx.params["recall_estimate"] - recall) < 0.03  # the sampled check tells the truth
    # distances are recomputed the exact method's way, so where both found the same first
    # neighbour the distances agree exactly (an approximate search may miss a few first neighbours)
    assert (np.diff(approx.distances, axis=1) >= 0).all()
    same = approx.indices[:, 0] == exact.indices[:, 0]
    assert same.mean() > 0.99, same.mean()
    np.testing.assert_allclose(approx.distances[same, 0], exact.distances[same, 0], atol=1e-6)


# --------------------------------------------------------------------------- issue 10: kinds

_SCALES = [1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30]


def _Y():
    return np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", _SCALES)
def test_kind_scale_invariance_knn_graph(scale, metric):
    """Neighbours of Y * s equal those of Y and scikit-learn's on the float64 data; distances
    come back in the data's units."""
    from sklearn.neighbors import NearestNeighbors

    Y = _Y()
    Ys = Y * np.float32(scale)
    ref = knn_graph(Y, k=5, metric=metric, method="exact")
    g = knn_graph(Ys, k=5, metric=metric, method="exact")
    sk = NearestNeighbors(n_neighbors=6, metric=metric, algorithm="brute").fit(Y.astype(np.float64))
    sk_idx = sk.kneighbors(return_distance=False)[:, :5]
    np.testing.assert_array_equal(ref.indices, sk_idx)
    np.testing.assert_array_equal(g.indices, ref.indices)
    unit = float(np.float32(scale)) if metric == "euclidean" else 1.0
    np.testing.assert_allclose(g.distances / unit, ref.distances, rtol=1e-5)
    # the exact search of chosen rows (sampled_recall) at the same scale
    assert sampled_recall(Ys, g) == 1.0


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_kind_scale_invariance_knn_graph_approximate(scale):
    Y = _Y()
    ref = knn_graph(Y, k=5, metric="euclidean", method="approximate")
    g = knn_graph(Y * np.float32(scale), k=5, metric="euclidean", method="approximate")
    assert g.params["recall_estimate"] == pytest.approx(ref.params["recall_estimate"])
    np.testing.assert_allclose(g.distances / np.float32(scale), ref.distances, rtol=1e-5)


def test_kind_scale_invariance_knn_graph_float64_extremes():
    """float64 data beyond float32's range: squares would overflow / underflow float64 too."""
    Y = _Y().astype(np.float64)
    ref = knn_graph(Y, k=5, metric="euclidean", method="exact")
    for s in (1e-200, 1e200):
        g = knn_graph(Y * s, k=5, metric="euclidean", method="exact")
        np.testing.assert_array_equal(g.indices, ref.indices)
        gc = knn_graph(Y * s, k=5, metric="cosine", method="exact")
        np.testing.assert_array_equal(gc.indices, knn_graph(Y, k=5, metric="cosine").indices)


def test_kind_incomplete_neighbour_graph_completed(monkeypatch):
    """pynndescent may return -1 neighbours: knn_graph completes those rows exactly."""
    import pynndescent

    Y = _Y()
    real = pynndescent.NNDescent

    class Holey:
        def __init__(self, X, **kw):
            self._inner = real(X, **kw)

        @property
        def neighbor_graph(self):
            idx, dist = self._inner.neighbor_graph
            idx, dist = idx.copy(), dist.copy()
            idx[[0, 7, 250], -2:] = -1
            idx[3, 1:] = -1
            dist[idx < 0] = np.inf
            return idx, dist

    monkeypatch.setattr(pynndescent, "NNDescent", Holey)
    g = knn_graph(Y, k=5, metric="euclidean", method="approximate")
    assert (g.indices >= 0).all()
    assert g.params["completed_rows"] == 4
    exact = knn_graph(Y, k=5, metric="euclidean", method="exact")
    rows = [0, 3, 7, 250]
    np.testing.assert_array_equal(g.indices[rows], exact.indices[rows])
    np.testing.assert_array_equal(g.distances[rows], exact.distances[rows])


def test_kind_incomplete_neighbour_graph_refused():
    """A hand-made graph holding -1 (or any index outside 0..n-1) is refused by its checks."""
    idx = np.array([[1, 2], [0, -1], [0, 1]])
    g = NeighborGraph(idx, np.ones((3, 2), np.float32), "euclidean", "exact")
    with pytest.raises(EmbedLensInputError, match="row 1"):
        g.check(3)
    with pytest.raises(EmbedLensInputError, match="-1"):
        g.umap_knn(2)


def test_kind_tie_rule_knn_graph():
    """More than k + 4 points at exactly the same float64 distance from a query, with different
    float32 scores: the k kept are the lowest row numbers, as the docstring says."""
    import itertools

    rng = np.random.default_rng(1)
    d = 16
    q = rng.integers(-1000, 1000, d).astype(np.float64)
    offs = []
    for a, b in itertools.permutations(range(d), 2):
        for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            e = np.zeros(d)
            e[a], e[b] = 3 * sa, 4 * sb
            offs.append(e)
    offs = np.array(offs)[rng.permutation(len(offs))[:60]]  # 60 points at distance exactly 5
    far = q + rng.integers(-3000, 3000, (200, d))
    X = np.vstack([far[:100], q[None], q + offs, far[100:]]).astype(np.float32)
    rows = rng.permutation(len(X))
    Xp = X[rows]
    qi = int(np.flatnonzero(rows == 100)[0])
    tied = np.sort(np.flatnonzero((rows > 100) & (rows <= 160)))
    D = np.sqrt(((Xp.astype(np.float64) - Xp[qi].astype(np.float64)) ** 2).sum(1))
    assert np.all(D[tied] == 5.0)
    for k in (5, 10, 20):
        g = knn_graph(Xp, k=k, metric="euclidean", method="exact")
        np.testing.assert_array_equal(g.indices[qi], tied[:k])
