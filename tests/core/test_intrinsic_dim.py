"""core.intrinsic_dim: closed-form subspaces, scikit-dimension as an independent oracle, duplicates."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import skdim

from core import EmbedLensInputError
from core.intrinsic_dim import id_scale_curve, intrinsic_dimension, local_intrinsic_dimension
from core.neighbors import knn_graph


def subspace(n: int, k: int, d: int = 24, seed: int = 0) -> np.ndarray:
    """n isotropic Gaussian points on a random k-dim linear subspace of R^d, plus 3 duplicate
    rows (of row 1) and one zero row (row 0, which is also a point of the subspace)."""
    r = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(r.standard_normal((d, k)))
    X = (r.standard_normal((n, k)) @ Q.T).astype(np.float32)
    X[0] = 0.0
    X[[5, 9, 17]] = X[1]
    return X


def distinct(X: np.ndarray) -> np.ndarray:
    _, first = np.unique(X, axis=0, return_index=True)
    return X[np.sort(first)].astype(np.float64)


def skdim_quiet(estimator, X, **fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, **fit)


@pytest.mark.parametrize("k", [2, 5, 8])
def test_linear_subspace_gives_k_within_10_percent(k):
    X = subspace(2500, k, seed=k)
    twonn = intrinsic_dimension(X, method="twonn")
    mle = intrinsic_dimension(X, method="mle")
    pca = intrinsic_dimension(X, method="pca")
    assert abs(twonn.value - k) <= 0.1 * k, twonn.value
    assert abs(mle.value - k) <= 0.1 * k, mle.value
    assert pca.value == k  # isotropic within the subspace: 95% of the variance needs all k
    for est in (twonn, mle, pca):
        assert est.n_duplicates == 3 and est.n_zero == 0 and est.n_used == 2497
    assert 0 < twonn.error < 0.1 * k and 0 < mle.error < 0.05 * k


@pytest.mark.parametrize("k", [3, 7])
def test_agrees_with_scikit_dimension_on_the_same_points(k):
    X = subspace(1500, k, seed=10 + k)
    D = distinct(X)  # scikit-dimension drops r1 = 0 points; we drop duplicates: same point set
    ours = intrinsic_dimension(X, method="twonn")
    theirs = skdim_quiet(skdim.id.TwoNN(discard_fraction=0.1), D).dimension_
    assert ours.value == pytest.approx(theirs, rel=1e-6)
    mle = intrinsic_dimension(X, method="mle", k_range=(20, 20))
    assert mle.value == pytest.approx(skdim_quiet(skdim.id.MLE(), D, n_neighbors=20).dimension_, rel=1e-6)
    # the plain Pareto MLE (N - 1) / sum(log mu) against scikit-dimension's
    mle_2nn = skdim_quiet(skdim.id.TwoNN(discard_fraction=0.0, method="mle"), D).dimension_
    assert ours.params["mle_estimate"] == pytest.approx(mle_2nn, rel=1e-6)


def test_local_dimension_matches_scikit_dimension_pointwise():
    X = subspace(800, 4, seed=3)
    local = local_intrinsic_dimension(X, k=15)
    D = distinct(X)
    theirs = skdim_quiet(skdim.id.MLE(), D, n_neighbors=15).dimension_pw_
    keep = np.ones(len(X), bool)
    keep[[5, 9, 17]] = False  # the duplicates of row 1
    np.testing.assert_allclose(local[keep], theirs, rtol=1e-6)
    assert local[5] == local[9] == local[17] == local[1]  # a duplicate gets its original's value
    assert np.median(local) == pytest.approx(4, rel=0.15)


def test_cosine_works_on_directions_and_leaves_zero_rows_out(rng):
    # directions on a great 2-sphere inside R^10, each row scaled by a random positive factor
    Q, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    U = rng.standard_normal((2000, 3))
    X = (U / np.linalg.norm(U, axis=1, keepdims=True) * rng.uniform(0.5, 5, (2000, 1))) @ Q.T
    X[0] = 0.0
    X[1] = 3 * X[2]  # same direction as row 2: a duplicate under cosine, not under Euclidean
    est = intrinsic_dimension(X, metric="cosine")
    assert est.value == pytest.approx(2, rel=0.1) and est.n_zero == 1 and est.n_duplicates == 1
    local = local_intrinsic_dimension(X, metric="cosine")
    assert np.isnan(local[0]) and local[1] == local[2]
    assert intrinsic_dimension(X, metric="euclidean").value == pytest.approx(3, rel=0.1)


def test_a_shared_graph_gives_the_same_numbers(rng):
    X = subspace(1200, 5, seed=4)
    for metric in ("euclidean", "cosine"):
        g = knn_graph(X, k=25, metric=metric)
        for method in ("twonn", "mle"):
            with_graph = intrinsic_dimension(X, method=method, metric=metric, graph=g)
            without = intrinsic_dimension(X, method=method, metric=metric)
            assert with_graph.value == pytest.approx(without.value, rel=1e-9)
            assert with_graph.params["graph"].startswith("shared")
        np.testing.assert_allclose(
            local_intrinsic_dimension(X, metric=metric, graph=g), local_intrinsic_dimension(X, metric=metric)
        )
    # a graph too short to see past the duplicates is rebuilt, and the result says so
    short = knn_graph(X, k=3, metric="euclidean")
    est = intrinsic_dimension(X, method="mle", k_range=(3, 3), graph=short)
    assert "rebuilt" in est.params["graph"]
    assert est.value == pytest.approx(intrinsic_dimension(X, method="mle", k_range=(3, 3)).value, rel=1e-9)


def test_scale_curves_on_a_plane():
    X = subspace(2000, 2, d=10, seed=7)
    curve = id_scale_curve(X, method="twonn")
    assert curve.level.tolist() == list(range(len(curve.level))) and len(curve.level) == 7
    assert (np.diff(curve.scale) > 0).all()  # fewer points, larger neighbourhoods
    np.testing.assert_allclose(curve.dimension[:5], 2, rtol=0.1)
    assert curve.n_points.tolist()[:3] == [1997, 998, 499]
    assert curve.dimension[0] == pytest.approx(intrinsic_dimension(X).value)
    mle = id_scale_curve(X, method="mle", k_max=12)
    assert mle.level.tolist() == list(range(3, 13)) and (np.diff(mle.scale) > 0).all()
    np.testing.assert_allclose(mle.dimension, 2, rtol=0.1)
    assert mle.dimension[-1] == pytest.approx(intrinsic_dimension(X, method="mle", k_range=(12, 12)).value)


def test_bad_input_says_what_to_do(small_matrix):
    with pytest.raises(EmbedLensInputError, match="method='lpca'"):
        intrinsic_dimension(small_matrix, method="lpca")
    with pytest.raises(EmbedLensInputError, match=r"k_range\[1\]=3 is invalid: expected an integer >= 5"):
        intrinsic_dimension(small_matrix, method="mle", k_range=(5, 3))
    with pytest.raises(EmbedLensInputError, match="too few for 20 neighbours"):
        intrinsic_dimension(np.repeat(small_matrix[:10], 3, axis=0), method="mle")
    g = knn_graph(small_matrix, k=5, metric="cosine")
    with pytest.raises(EmbedLensInputError, match="the graph uses metric='cosine'"):
        intrinsic_dimension(small_matrix, metric="euclidean", graph=g)
    assert intrinsic_dimension(small_matrix, graph=g).params["metric"] == "cosine"  # unset: the graph's
    with pytest.raises(EmbedLensInputError, match="the graph has 40 rows but X has 39"):
        intrinsic_dimension(small_matrix[:39], metric="cosine", graph=g)
    with pytest.raises(EmbedLensInputError, match="discard_fraction=1.0"):
        intrinsic_dimension(small_matrix, discard_fraction=1.0)


# --------------------------------------------------------------------------- issue 10: kinds

_SCALES = [1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", _SCALES)
def test_kind_scale_invariance_intrinsic_dimension(scale, metric):
    """TwoNN, MLE, local ID and PCA-k of Y * s equal the unscaled values."""
    Y = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
    Ys = Y * np.float32(scale)
    for method in ("twonn", "mle"):
        ref = intrinsic_dimension(Y, method=method, metric=metric, n_bootstrap=5)
        got = intrinsic_dimension(Ys, method=method, metric=metric, n_bootstrap=5)
        assert np.isfinite(ref.value)
        assert got.value == pytest.approx(ref.value, rel=1e-5), method
    np.testing.assert_allclose(local_intrinsic_dimension(Ys, k=10, metric=metric),
                               local_intrinsic_dimension(Y, k=10, metric=metric), rtol=1e-4)
    assert (intrinsic_dimension(Ys, method="pca", metric=metric, n_bootstrap=2).value
            == intrinsic_dimension(Y, method="pca", metric=metric, n_bootstrap=2).value)


def test_kind_scale_invariance_intrinsic_dimension_float64_extremes():
    Y = np.random.default_rng(0).standard_normal((300, 16))
    for metric in ("euclidean", "cosine"):
        ref = intrinsic_dimension(Y, metric=metric, n_bootstrap=2).value
        pca = intrinsic_dimension(Y, method="pca", metric=metric, n_bootstrap=2).value
        for s in (1e-200, 1e200):
            assert intrinsic_dimension(Y * s, metric=metric, n_bootstrap=2).value == pytest.approx(ref, rel=1e-6)
            assert intrinsic_dimension(Y * s, method="pca", metric=metric, n_bootstrap=2).value == pca


def test_kind_large_mean_pca_dimension():
    """PCA-k of float32 data with a large mean equals the float64 count on the centred data."""
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((500, 3)) @ rng.standard_normal((3, 12))
    X = (Z + 1e4).astype(np.float32)
    lam = np.linalg.eigvalsh(np.cov(X.astype(np.float64) - 1e4, rowvar=False, bias=True))[::-1]
    ref = int(np.searchsorted(np.cumsum(lam) / lam.sum(), 0.95 - 1e-12) + 1)
    assert intrinsic_dimension(X, method="pca", metric="euclidean", n_bootstrap=2).value == ref


# --------------------------------------------------------------------------- kinds (fresh-eyes review)


@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_kind_wrong_advice_duplicates_named_as_the_cause(method):
    """50 identical rows: the message names the duplicates (not "load more points"), in
    singular grammar; 16 distinct rows under k = 20 still ask for more points."""
    with pytest.raises(EmbedLensInputError) as err:
        intrinsic_dimension(np.ones((50, 8), dtype=np.float32) * 3, method=method)
    text = str(err.value)
    assert "load more points" not in text and "1 distinct points" not in text
    assert text.startswith("1 distinct point (of 50 rows: 49 duplicates, 0 zero rows) is too few")
    assert "identical" in text and "duplicate" in text and "health report" in text
    X = np.repeat(np.random.default_rng(0).standard_normal((3, 4)), 15, axis=0)  # 3 points, 45 rows
    text = str(pytest.raises(EmbedLensInputError, intrinsic_dimension, X, method="mle").value)
    assert "cause is duplicate rows" in text and "load more points" not in text
    text = str(pytest.raises(EmbedLensInputError, intrinsic_dimension,
                             np.random.default_rng(0).standard_normal((16, 4)), method="mle").value)
    assert text.endswith("load more points") and "0 duplicates, 0 zero rows" in text
