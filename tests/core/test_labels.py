"""core.labels: neural collapse, separability, kNN purity and hubness against closed forms and
independent computations (direct d x d formulas, scikit-learn, scipy, a hand-written Kruskal)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import skew
from sklearn.metrics import calinski_harabasz_score, silhouette_score
from sklearn.neighbors import NearestNeighbors

from core import EmbedLensInputError
from core.labels import hubness, knn_purity, neural_collapse, separability
from core.neighbors import knn_graph


def labelled(rng, n=300, d=12, K=5, spread=1.0):
    """Class means far apart plus noise; with a zero row and duplicate rows (in the same class)."""
    y = rng.integers(0, K, n)
    means = rng.standard_normal((K, d)) * 3
    X = means[y] + spread * rng.standard_normal((n, d))
    X[0] = 0.0
    X[[7, 8]] = X[6]
    y[[7, 8]] = y[6]
    return X, y


def direct_nc1(X, y):
    """The textbook d x d computation (Papyan et al. 2020)."""
    X = np.asarray(X, np.float64)
    classes = np.unique(y)
    K, N = len(classes), len(X)
    mu_G = X.mean(0)
    means = np.array([X[y == c].mean(0) for c in classes])
    Sw = sum((X[y == c] - means[i]).T @ (X[y == c] - means[i]) for i, c in enumerate(classes)) / N
    M = (means - mu_G).T
    Sb = M @ M.T / K
    return np.trace(Sw @ scipy.linalg.pinvh(Sb, rtol=1e-10)) / K, Sw, Sb


@pytest.mark.parametrize("d, K", [(12, 5), (3, 6), (40, 2)])
def test_nc1_equals_the_direct_d_by_d_formula(rng, d, K):
    X, y = labelled(rng, d=d, K=K)
    nc = neural_collapse(X, y)
    expected, Sw, Sb = direct_nc1(X, y)
    assert nc.nc1 == pytest.approx(expected, rel=1e-8)
    assert nc.trace_ratio == pytest.approx(np.trace(Sw) / np.trace(Sb), rel=1e-10)
    assert nc.params["rank_M"] == min(d, K - 1)


def test_exact_collapse_gives_zero(rng):
    means = rng.standard_normal((4, 6))
    means[2] = 0.0  # one class sits at the origin: its rows are zero rows
    y = np.repeat(np.arange(4), 25)
    X = means[y]  # every row repeats its class mean: all duplicates
    nc = neural_collapse(X, y)
    assert nc.nc1 == pytest.approx(0, abs=1e-20) and nc.trace_ratio == pytest.approx(0, abs=1e-20)  # rounding only
    off = ~np.eye(4, dtype=bool)
    assert (nc.cdnv[off] < 1e-20).all() and np.isnan(np.diag(nc.cdnv)).all()


def test_simplex_etf_means_give_cosine_minus_one_over_k_minus_one(rng):
    K, d = 5, 9
    P, _ = np.linalg.qr(rng.standard_normal((d, K)))
    etf = np.sqrt(K / (K - 1)) * (np.eye(K) - 1.0 / K) @ P.T * 4.0  # K x d, centred
    noise = rng.standard_normal((K, 10, d))
    X = np.concatenate([etf[k] + np.concatenate([noise[k], -noise[k]]) for k in range(K)])  # exact means
    y = np.repeat(np.arange(K), 20)
    # row i and row i + 10 of a class mirror each other about its mean; edits that keep each
    # mirrored pair's sum keep the means: a zero row (5, with 15 = 2 mu) and duplicates (1 = 2, 11 = 12)
    X[5], X[15] = 0.0, 2 * etf[0]
    X[1], X[11] = X[2], X[12]
    nc = neural_collapse(X, y)
    off = ~np.eye(K, dtype=bool)
    np.testing.assert_allclose(nc.cosines[off], -1 / (K - 1), atol=1e-12)
    assert nc.equiangularity == pytest.approx(0, abs=1e-12) and nc.equinorm == pytest.approx(0, abs=1e-12)


def test_cdnv_and_invariances(rng):
    X, y = labelled(rng, n=200, d=8, K=3)
    nc = neural_collapse(X, y)
    means = np.array([X[y == c].mean(0) for c in range(3)])
    var = np.array([((X[y == c] - means[c]) ** 2).sum(1).mean() for c in range(3)])
    for a in range(3):
        for b in range(3):
            if a != b:
                expected = (var[a] + var[b]) / (2 * ((means[a] - means[b]) ** 2).sum())
                assert nc.cdnv[a, b] == pytest.approx(expected, rel=1e-10)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    moved = neural_collapse(3.0 * X @ Q + 7.0, y)
    assert moved.nc1 == pytest.approx(nc.nc1, rel=1e-8) and moved.trace_ratio == pytest.approx(nc.trace_ratio)
    np.testing.assert_allclose(moved.cosines, nc.cosines, atol=1e-10)


def test_string_labels_and_missing_ones(rng):
    X, y = labelled(rng, n=120, K=3)
    names = np.array(["cat", "dog", "eel"], dtype=object)[y]
    names[[3, 4]] = None
    nc = neural_collapse(X, names)
    assert nc.classes.tolist() == ["cat", "dog", "eel"] and nc.n_unlabelled == 2
    keep = np.ones(120, bool)
    keep[[3, 4]] = False
    assert nc.nc1 == pytest.approx(neural_collapse(X[keep], y[keep]).nc1)
    with pytest.raises(EmbedLensInputError, match="labels have 119 entries but X has 120 rows"):
        neural_collapse(X, y[:119])
    with pytest.raises(EmbedLensInputError, match="1 class"):
        neural_collapse(X, np.zeros(120))


# --------------------------------------------------------------------------- separability


def kruskal(A):
    """Minimum spanning tree edge lengths by Kruskal with union-find: the slow independent check."""
    n = len(A)
    D = np.sqrt(((A[:, None] - A[None]) ** 2).sum(-1))
    edges = sorted((D[i, j], i, j) for i in range(n) for j in range(i + 1, n))
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    out = []
    for w, i, j in edges:
        a, b = find(i), find(j)
        if a != b:
            parent[a] = b
            out.append(w)
    return np.sort(out)[::-1]


def clusters(rng, K=4, per=40, d=6, spread=0.01, gap=100.0):
    centres = np.eye(K, d) * gap
    centres[0] = 0.0  # cluster 0 sits on the origin, so the zero row belongs to it
    y = np.repeat(np.arange(K), per)
    X = centres[y] + spread * rng.standard_normal((K * per, d))
    X[0] = 0.0
    X[[1, 2]] = X[3]
    return X, y


def test_k_far_apart_clusters_give_k_minus_one_long_bars_and_thornton_one(rng):
    X, y = clusters(rng)
    s = separability(X, y)
    long = s.bars > 1.0
    assert long.sum() == 3 and long[:3].all()  # exactly K - 1 long bars, first in the list
    assert s.n_clusters == 4 and s.top_share > 0.98 and s.gap_ratio > 100
    assert s.thornton == 1.0 and s.knn_purity == 1.0
    assert s.silhouette > 0.99 and s.fisher_ratio > 1e6
    assert s.params["n_duplicates"] == 2 and len(s.bars) == len(X) - 2 - 1


def test_barcode_equals_kruskal_and_entropy_is_closed_form(rng):
    X = rng.standard_normal((35, 4))
    X[[5, 6]] = X[4]
    X[9] = 0.0
    s = separability(X)
    D = np.unique(X, axis=0)
    np.testing.assert_allclose(s.bars, kruskal(D), rtol=1e-12)
    line = np.arange(5.0)[:, None] * [1.0, 0.0]  # equal bars of 1: entropy log 4
    flat = separability(line)
    assert flat.persistent_entropy == pytest.approx(np.log(4)) and flat.persistent_entropy_normalized == 1.0
    assert flat.top_share == pytest.approx(0.25) and flat.thornton is None


def test_label_scores_against_scikit_learn(rng):
    X, y = labelled(rng, n=250, d=6, K=4, spread=2.0)
    s = separability(X, y, k=5)
    K, n = 4, len(X)
    assert s.fisher_ratio == pytest.approx(calinski_harabasz_score(X, y) * (K - 1) / (n - K), rel=1e-10)
    assert s.silhouette == pytest.approx(silhouette_score(X, y), rel=1e-10)
    nn = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X, return_distance=False)
    assert s.thornton == pytest.approx(np.mean(y[nn[:, 1]] == y), abs=0.02)  # ties among duplicates aside
    cos = separability(X, y, metric="cosine")
    assert cos.silhouette == pytest.approx(silhouette_score(X, y, metric="cosine"), rel=1e-10)  # issue 10 item 15: was the euclidean silhouette of U


def test_large_inputs_are_subsampled_visibly(rng):
    X, y = labelled(rng, n=600, d=5, K=3)
    s = separability(X, y, max_points=200)
    assert s.params["subsampled"] and s.params["n_used"] == 200 and len(s.bars) == 199
    assert s.params["silhouette_points"] == 200


# --------------------------------------------------------------------------- purity and hubness


def test_knn_purity_per_point(rng):
    X, y = labelled(rng, n=150, K=3, spread=3.0)
    g = knn_graph(X, k=6, metric="euclidean")
    p = knn_purity(g, y)
    expected = (y[g.indices] == y[:, None]).mean(1)
    np.testing.assert_array_equal(p, expected)
    lab = y.astype(object)
    lab[10] = None
    p2 = knn_purity(g, lab, k=1)
    assert np.isnan(p2[10]) and p2[np.flatnonzero(g.indices[:, 0] == 10)].max(initial=0) == 0.0
    with pytest.raises(EmbedLensInputError, match="between 1 and the graph's k=6"):
        knn_purity(g, y, k=7)


def test_hubness_counts_agree_with_scikit_learn(rng):
    X = rng.standard_normal((400, 30))
    X[3] = 0.0
    X[7] = X[2]
    h = hubness(X, k=5, metric="euclidean")
    nn = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X, return_distance=False)
    # self is first except for the duplicate pair, whose two rows tie at distance 0
    others = [[j for j in row if j != i][:5] for i, row in enumerate(nn)]
    counts = np.bincount(np.ravel(others), minlength=400)
    np.testing.assert_array_equal(h.k_occurrence, counts)
    assert h.k_occurrence.sum() == 400 * 5 and h.skewness == pytest.approx(skew(counts))
    assert h.top[0] == np.argmax(counts) and h.antihub_share == pytest.approx(np.mean(counts == 0))


def test_hubness_of_a_regular_ring_is_zero():
    t = np.arange(24) * 2 * np.pi / 24
    ring = np.c_[np.cos(t), np.sin(t)]
    h = hubness(ring, k=2, metric="euclidean")
    assert (h.k_occurrence == 2).all() and h.skewness == 0.0 and h.antihub_share == 0.0
    g = knn_graph(ring, k=4, metric="euclidean")
    assert hubness(ring, k=2, graph=g).skewness == 0.0  # the graph's metric is used
    with pytest.raises(EmbedLensInputError, match="needs a graph with at least k neighbours"):
        hubness(ring, k=5, graph=g)


# --------------------------------------------------------------------------- issue 10: kinds

_SCALES = [1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30]


def _Y():
    return np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)


def _y300():
    return np.random.default_rng(1).integers(0, 4, 300)


@pytest.mark.parametrize("scale", _SCALES)
def test_kind_scale_invariance_purity_hubness_barcode(scale):
    """kNN purity, hubness and the H0 barcode of Y * s equal the unscaled ones (references:
    scikit-learn neighbours on the float64 data, a direct Kruskal)."""
    Y, y = _Y(), _y300()
    Ys = Y * np.float32(scale)
    nn = NearestNeighbors(n_neighbors=6, algorithm="brute").fit(Y.astype(np.float64))
    idx = nn.kneighbors(return_distance=False)[:, :5]
    ref_purity = (y[idx] == y[:, None]).mean(axis=1)
    g = knn_graph(Ys, k=5, metric="euclidean")
    np.testing.assert_array_equal(knn_purity(g, y), ref_purity)
    h = hubness(Ys, k=5, metric="euclidean")
    np.testing.assert_array_equal(h.k_occurrence, np.bincount(idx.ravel(), minlength=300))
    s = separability(Ys, metric="euclidean")
    np.testing.assert_allclose(s.bars, kruskal(Ys.astype(np.float64)), rtol=1e-12)


def test_kind_mst_short_edges_barcode():
    """H0 death times are the MST edge lengths even below 1e-8 (scipy's dense MST drops them)."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    X[1] = X[0] + np.array([1e-9, 0, 0])
    s = separability(X)
    np.testing.assert_allclose(s.bars, kruskal(X), rtol=1e-9)
    assert s.bars.min() == pytest.approx(1e-9, rel=1e-6)
    tiny = X * 1e-20
    st = separability(tiny)
    heights = np.sort(linkage(pdist(tiny), method="single")[:, 2])[::-1]
    np.testing.assert_allclose(st.bars, heights, rtol=1e-9)
    assert len(st.bars) == 29


def test_kind_metric_label_matches_distance_silhouette(rng):
    """'silhouette (cosine)' is scikit-learn's silhouette_score(metric="cosine"), at any scale."""
    X, y = labelled(rng, n=250, d=6, K=4, spread=2.0)
    ref = silhouette_score(X, y, metric="cosine")
    assert separability(X, y, metric="cosine").silhouette == pytest.approx(ref, rel=1e-10)
    for s in (1e-30, 1e30):
        X32 = (X * s).astype(np.float32)
        # scikit-learn's own cosine treats rows with norms below ~1e-15 as zero: its reference is
        # taken on the same float32 rows brought back to unit scale
        ref32 = silhouette_score(X32.astype(np.float64) / s, y, metric="cosine")
        assert separability(X32, y, metric="cosine").silhouette == pytest.approx(ref32, rel=1e-6)


def test_kind_incomplete_neighbour_graph_consumers():
    """Every consumer of a NeighborGraph refuses -1 neighbours with a clear message."""
    from core.intrinsic_dim import intrinsic_dimension
    from core.neighbors import NeighborGraph
    from core.quality import knn_preservation

    Y, y = _Y(), _y300()
    g = knn_graph(Y, k=5, metric="euclidean")
    idx = g.indices.copy()
    idx[299, 4] = -1
    bad = NeighborGraph(idx, g.distances, "euclidean", "approximate")
    for call in (lambda: knn_purity(bad, y), lambda: hubness(Y, k=5, graph=bad),
                 lambda: separability(Y, y, k=5, graph=bad),
                 lambda: intrinsic_dimension(Y, graph=bad, method="twonn"),
                 lambda: knn_preservation(bad, Y[:, :2])):
        with pytest.raises(EmbedLensInputError, match="-1"):
            call()


def test_kind_large_mean_neural_collapse(rng):
    """Class moments of float32 data with a large common offset: NC1 and the Fisher ratio equal
    the direct float64 computation on the centred data."""
    X, y = labelled(rng, n=250, d=6, K=4, spread=2.0)
    X = X[1:]
    y = y[1:]
    off = np.float32(1e6)
    Xb = X.astype(np.float32) + off
    ref_nc1, _, _ = direct_nc1(Xb.astype(np.float64) - 1e6, y)
    assert neural_collapse(Xb, y).nc1 == pytest.approx(ref_nc1, rel=1e-6)
    for s in (1e-30, 1e30):
        Xs = X.astype(np.float32) * np.float32(s)
        ref, _, _ = direct_nc1(Xs.astype(np.float64), y)
        assert neural_collapse(Xs, y).nc1 == pytest.approx(ref, rel=1e-6)
