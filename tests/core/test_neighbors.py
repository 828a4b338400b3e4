"""core.neighbors: the shared kNN graph against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from core import EmbedLensInputError
from core.neighbors import knn_graph


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
    with pytest.raises(EmbedLensInputError, match=r"k=.* must be an integer with 1 <= k < n = 40"):
        knn_graph(small_matrix, k=bad)


def test_metric_and_method_are_validated(small_matrix):
    with pytest.raises(EmbedLensInputError, match="metric='manhattan'"):
        knn_graph(small_matrix, metric="manhattan")
    with pytest.raises(EmbedLensInputError, match="method='fast'"):
        knn_graph(small_matrix, method="fast")
