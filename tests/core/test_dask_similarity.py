"""Feature-space comparisons (core.similarity) on dask arrays give the in-memory numbers.

Views are split into uneven chunks (37, 101, 500, 1, ... rows); references are the numpy path and
direct float64 formulas: Kornblith's n x n Gram CKA, Song et al.'s unbiased HSIC on n x n kernels,
scipy's orthogonal Procrustes, scikit-learn's LinearRegression, canonical correlations from QR.
Skipped where dask is absent.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.linalg

from core import EmbedLensInputError, NonFiniteRowsError, _dask, similarity
from core.similarity import cca_similarity, cka, linear_regression_r2, pairwise_matrix, procrustes_distance, rsa

pytestmark = pytest.mark.skipif(importlib.util.find_spec("dask") is None, reason="dask is not installed")

from .test_dask import RTOL, _uneven  # noqa: E402  (the uneven chunks of the other dask tests)

N = 1200


@pytest.fixture(scope="module")
def views():
    """X (1,200 x 24, correlated, mean 5), Y (1,200 x 7, a nonlinear function of X plus noise)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, 24)) @ rng.standard_normal((24, 24)) + 5.0
    Y = np.tanh(X[:, :10] / 4) @ rng.standard_normal((10, 7)) + 0.5 * rng.standard_normal((N, 7)) - 3.0
    return X, Y


def _pairs(X, Y):
    """(X dask, Y numpy) and (both dask, Y in other chunks)."""
    return [(_uneven(X, (37, 101, 500, 1)), Y), (_uneven(X, (37, 101, 500, 1)), _uneven(Y, (400, 3)))]


# --------------------------------------------------------------------------- direct references


def _centred(A):
    return A - A.mean(axis=0)


def _gram_cka(X, Y):
    """Kornblith et al. (2019), eq. (3) with n x n linear kernels: HSIC(K, L) = tr(K H L H)."""
    K, L = _centred(X) @ _centred(X).T, _centred(Y) @ _centred(Y).T
    return (K * L).sum() / np.sqrt((K * K).sum() * (L * L).sum())


def _song_hsic(K, L):
    """The unbiased HSIC estimator of Song et al. (2012), Theorem 2, on n x n kernels."""
    n = len(K)
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ K @ L @ one)) / (n * (n - 3))


def _song_cka(X, Y):
    K, L = X @ X.T, Y @ Y.T
    return _song_hsic(K, L) / np.sqrt(_song_hsic(K, K) * _song_hsic(L, L))


def _procrustes_nuclear(X, Y):
    """scipy.linalg.orthogonal_procrustes on the centred, unit-norm views zero-padded to one width:
    its ``scale`` is the nuclear norm of Xp^T Yp."""
    d = max(X.shape[1], Y.shape[1])
    Xp, Yp = np.zeros((len(X), d)), np.zeros((len(Y), d))
    Xp[:, :X.shape[1]], Yp[:, :Y.shape[1]] = _centred(X), _centred(Y)
    Xp /= np.linalg.norm(Xp)
    Yp /= np.linalg.norm(Yp)
    R, scale = scipy.linalg.orthogonal_procrustes(Yp, Xp)
    return scale, R


def _qr_cca(X, Y):
    """Canonical correlations: singular values of Qx^T Qy (Bjorck & Golub 1973)."""
    Qx, Qy = np.linalg.qr(_centred(X))[0], np.linalg.qr(_centred(Y))[0]
    return np.linalg.svd(Qx.T @ Qy, compute_uv=False)


# --------------------------------------------------------------------------- two views


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka(views, debiased):
    X, Y = views
    expected = cka(X, Y, debiased=debiased)
    direct = _song_cka(_centred(X), _centred(Y)) if debiased else _gram_cka(X, Y)
    assert float(expected) == pytest.approx(direct, rel=1e-10)
    for A, B in _pairs(X, Y):
        got = cka(A, B, debiased=debiased)
        assert float(got) == pytest.approx(float(expected), rel=RTOL)
        assert float(got) == pytest.approx(direct, rel=1e-10)
        assert got.params["engine"] == "dask" and got.params["chunks"] == 5 and got.params["passes"] == 1
        assert got.params["debiased"] is debiased and got.n == N and got.method == "feature space"
    got = cka(Y, _uneven(X, (37, 101, 500, 1)), debiased=debiased)  # only Y in memory, as the first argument
    assert float(got) == pytest.approx(float(expected), rel=RTOL)


@pytest.mark.parametrize("kind", ["angular", "euclidean"])
def test_procrustes(views, kind):
    X, Y = views
    expected = procrustes_distance(X, Y, kind=kind)
    nuc, R = _procrustes_nuclear(X, Y)
    direct = np.arccos(nuc) if kind == "angular" else np.sqrt(2 - 2 * nuc)
    for A, B in _pairs(X, Y):
        got = procrustes_distance(A, B, kind=kind)
        assert float(got) == pytest.approx(float(expected), rel=RTOL)
        assert float(got) == pytest.approx(direct, rel=1e-10)
        assert got.nuclear_norm == pytest.approx(nuc, rel=1e-12)
        np.testing.assert_allclose(got.rotation, expected.rotation, atol=1e-9)
        np.testing.assert_allclose(got.rotation, R, atol=1e-9)
        assert got.value.params["engine"] == "dask" and got.value.params["chunks"] == 5


def test_cca_and_linear_regression(views):
    X, Y = views
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    rho = _qr_cca(X, Y)
    r2 = r2_score(Y, LinearRegression().fit(X, Y).predict(X), multioutput="variance_weighted")
    for A, B in _pairs(X, Y):
        got = cca_similarity(A, B)
        assert float(got) == pytest.approx(float(cca_similarity(X, Y)), rel=RTOL)
        assert float(got) == pytest.approx(np.mean(rho**2), rel=1e-10)
        assert (got.params["rank_x"], got.params["rank_y"], got.params["engine"]) == (24, 7, "dask")
        assert float(cca_similarity(A, B, n_components=3)) == pytest.approx(np.mean(rho[:3] ** 2), rel=1e-10)
        got = linear_regression_r2(A, B)
        assert float(got) == pytest.approx(float(linear_regression_r2(X, Y)), rel=RTOL)
        assert float(got) == pytest.approx(r2, rel=1e-10)
        assert got.params["engine"] == "dask"


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_any_scale_and_a_large_offset(views, scale):
    """1e6 + unit noise (centring must not cancel), then each view times 1e-30 or 1e30."""
    rng = np.random.default_rng(5)
    X = 1e6 + rng.standard_normal((N, 6)) @ rng.standard_normal((6, 6))
    Y = 1e6 + X[:, :3] - 1e6 + 0.3 * rng.standard_normal((N, 3))
    Xs, Ys = X * scale, Y / scale
    for debiased in (False, True):
        expected = float(cka(X, Y, debiased=debiased))
        direct = _song_cka(_centred(X), _centred(Y)) if debiased else _gram_cka(X, Y)
        assert expected == pytest.approx(direct, rel=1e-9)
        for A, B in _pairs(Xs, Ys):
            assert float(cka(A, B, debiased=debiased)) == pytest.approx(expected, rel=RTOL)
    for A, B in _pairs(Xs, Ys):
        assert float(procrustes_distance(A, B)) == pytest.approx(float(procrustes_distance(X, Y)), rel=RTOL)
        assert float(cca_similarity(A, B)) == pytest.approx(float(cca_similarity(X, Y)), rel=RTOL)
        assert float(linear_regression_r2(A, B)) == pytest.approx(float(linear_regression_r2(X, Y)), rel=RTOL)
    c = _dask.cross_moments([_uneven(Xs, (37, 101)), Ys])
    assert c.params["rescaled_by"] == (core_pow2(Xs[:_dask.PILOT_ROWS]), core_pow2(Ys[:_dask.PILOT_ROWS]))
    np.testing.assert_allclose(c.means[0], Xs.mean(axis=0), rtol=1e-14)


def core_pow2(A):
    from core._numerics import pow2_scale

    return pow2_scale(A)


def test_centring_identities_after_a_pilot_shift():
    """10,000 rows, the pilot (first 4,096) 3 away from the rest: one pass (|m|^2 / tr C about 0.5),
    and every centred statistic follows from the shifted sums by the identities."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((10_000, 4)) @ rng.standard_normal((4, 4)) + 40.0
    X[:_dask.PILOT_ROWS] += 3.0
    Y = np.cos(X[:, :3]) + 0.1 * rng.standard_normal((10_000, 3)) - 7.0
    c = _dask.cross_moments([_uneven(X, (37, 101, 5000)), Y], hsic=True)
    assert c.params["passes"] == 1 and 0.1 < c.params["shift_ratio"] < 50
    sx, sy = c.scales
    Xc, Yc = _centred(X) / sx, _centred(Y) / sy
    a, b = (Xc * Xc).sum(axis=1), (Yc * Yc).sum(axis=1)
    for (i, j), G in {(0, 0): Xc.T @ Xc, (0, 1): Xc.T @ Yc, (1, 1): Yc.T @ Yc}.items():
        np.testing.assert_allclose(c.grams[(i, j)], G, rtol=1e-10, atol=1e-12 * np.abs(G).max())
    np.testing.assert_allclose(c.aa, [[a @ a, a @ b], [b @ a, b @ b]], rtol=1e-10)
    np.testing.assert_allclose(c.sq_norms, [a.sum(), b.sum()], rtol=1e-12)
    for i, A in enumerate((Xc, Yc)):
        za = A.T @ np.stack([a, b], axis=1)
        np.testing.assert_allclose(c.za[i], za, rtol=1e-9, atol=1e-10 * np.abs(za).max())
    np.testing.assert_allclose(c.means[0], X.mean(axis=0), rtol=1e-13)
    for debiased in (False, True):
        got = cka(_uneven(X, (37, 101, 5000)), Y, debiased=debiased)
        assert float(got) == pytest.approx(float(cka(X, Y, debiased=debiased)), rel=RTOL)


def test_a_poor_pilot_takes_a_second_pass():
    """The first 4,096 of 300,000 rows (the pilot) sit 1,000 away from the rest: ``|mean - shift|^2
    / tr C = (1 - p) / p`` is about 72 (p = 4096 / 300000), so the sums are made again about the
    mean found."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((300_000, 3))
    X[:_dask.PILOT_ROWS] += 1000.0
    Y = X[:, :2] ** 2 / 1000 + rng.standard_normal((300_000, 2))
    D = _uneven(X, (37, 101, 100_000))
    c = _dask.cross_moments([D, Y], hsic=True)
    assert c.params["passes"] == 2 and c.params["shift_ratio"] == pytest.approx(72.2, abs=0.5)
    sx, sy = c.scales  # the statistics are of X / sx and Y / sy
    Xc, Yc = _centred(X) / sx, _centred(Y) / sy
    np.testing.assert_allclose(c.grams[(0, 1)], Xc.T @ Yc, rtol=1e-10, atol=1e-10 * np.abs(Xc.T @ Yc).max())
    a, b = (Xc * Xc).sum(axis=1), (Yc * Yc).sum(axis=1)
    assert c.aa[0, 1] == pytest.approx(a @ b, rel=1e-10)
    assert c.sq_norms[0] == pytest.approx(a.sum(), rel=1e-12)
    np.testing.assert_allclose(c.za[0][:, 1], Xc.T @ b, rtol=1e-9, atol=1e-10 * np.abs(Xc.T @ b).max())
    np.testing.assert_allclose(c.za[1][:, 0], Yc.T @ a, rtol=1e-9, atol=1e-10 * np.abs(Yc.T @ a).max())
    for debiased in (False, True):
        assert float(cka(D, Y, debiased=debiased)) == pytest.approx(float(cka(X, Y, debiased=debiased)), rel=RTOL)


def test_magnitudes_far_beyond_the_pilot_are_rescaled():
    """Rows after the pilot are 2^300 times larger: the squares of their squared norms (the
    unbiased HSIC's a_i . a_j) overflow at the pilot's scale."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((5000, 4))
    X[_dask.PILOT_ROWS:] *= 2.0**300
    Y = X[:, :2] * 3.0 + rng.standard_normal((5000, 2)) * np.abs(X[:, 2:])
    D = _uneven(X, (37, 101, 2000))
    got = cka(D, Y, debiased=True)
    assert got.params["passes"] == 2
    assert float(got) == pytest.approx(float(cka(X, Y, debiased=True)), rel=RTOL)
    assert float(cka(D, Y)) == pytest.approx(float(cka(X, Y)), rel=RTOL)


def test_constant_and_zero_variance_views(views):
    X, _ = views
    C = np.full((N, 3), 0.3)  # its float64 mean is not 0.3: a constant column shifts by its value, exactly
    got = cka(_uneven(X), _uneven(C))
    assert np.isnan(got) and "Y has zero variance" in got.message
    assert np.isnan(procrustes_distance(_uneven(C), X).value) and np.isnan(cca_similarity(_uneven(C), X))
    X2 = X.copy()
    X2[:, 5] = 7.3  # a constant column centres to exactly 0, as in memory
    assert float(cka(_uneven(X2), C[:, :1] + X[:, :1])) == pytest.approx(float(cka(X2, C[:, :1] + X[:, :1])),
                                                                         rel=RTOL)
    assert cca_similarity(_uneven(X2), X[:, :4]).params["rank_x"] == 23


def test_nonfinite_rows_are_named(views):
    X, Y = views
    Xb = X.copy()
    Xb[[800, 900]] = np.nan
    for fn in (cka, cca_similarity, linear_regression_r2, lambda A, B: cka(A, B, debiased=True),
               lambda A, B: procrustes_distance(A, B)):
        with pytest.raises(NonFiniteRowsError, match=r"X: 2 of 1,200 rows hold NaN or inf \(rows 800, 900\)") as e:
            fn(_uneven(Xb), Y)
        assert e.value.rows.tolist() == [800, 900]
    Yb = Y.copy()
    Yb[1199, 2] = np.inf
    with pytest.raises(NonFiniteRowsError, match=r"Y: 1 of 1,200 rows holds NaN or inf \(row 1199\)"):
        cka(_uneven(X), _uneven(Yb))
    with pytest.raises(NonFiniteRowsError, match=r"Y: 1 of 1,200 rows"):  # in memory: checked before any pass
        cka(_uneven(X), Yb)
    with pytest.raises(NonFiniteRowsError, match=r"views\[1\]: 1 of 1,200 rows holds NaN or inf \(row 1199\)"):
        pairwise_matrix([_uneven(X), _uneven(Yb)], "cka")
    with pytest.raises(NonFiniteRowsError, match=r"X: 2 of 1,200 rows"):  # RBF: NaN outside the sample too
        cka(_uneven(Xb), Y, kernel="rbf", max_n=50)
    with pytest.raises(EmbedLensInputError, match="X has 1,200 rows but Y has 1,199"):
        cka(_uneven(X), Y[:-1])


# --------------------------------------------------------------------------- sampled kernels


def test_rbf_cka_and_rsa_read_their_declared_sample(views):
    """The same seeded subsample as in memory, read from the chunks holding it: the same numbers."""
    X, Y = views
    for A, B in _pairs(X, Y):
        got, expected = cka(A, B, kernel="rbf", max_n=300, seed=4), cka(X, Y, kernel="rbf", max_n=300, seed=4)
        assert float(got) == pytest.approx(float(expected), rel=1e-12)
        assert (got.n, got.n_input, got.seed, got.method) == (300, N, 4, expected.method)
        assert got.params["engine"] == "dask"
        got = rsa(A, B, max_n=200, seed=1)
        assert float(got) == pytest.approx(float(rsa(X, Y, max_n=200, seed=1)), rel=1e-12)
        assert got.sampled and got.params["engine"] == "dask"


def test_mutual_knn_on_dask_names_the_sampled_metric(views):
    X, Y = views
    D = _uneven(X)
    with pytest.raises(EmbedLensInputError, match=r"core\.sampled_knn_metric\(X, kind='mutual_knn', Y=Y\)"):
        similarity.mutual_knn(D, Y)
    with pytest.raises(EmbedLensInputError, match="sampled_knn_metric"):
        pairwise_matrix([X, D], "mutual_knn")
    def unread(block):
        raise AssertionError("a chunk was read")

    vs = [SimpleNamespace(X=X, name="a"), SimpleNamespace(X=D.map_blocks(unread, dtype=D.dtype), name="b")]
    for reference in (0, 1):  # refused before the reference's kNN graph, without reading a chunk
        with pytest.raises(EmbedLensInputError, match="sampled_knn_metric"):
            similarity.trajectory(vs, "mutual_knn", reference=reference)


# --------------------------------------------------------------------------- many views


@pytest.fixture(scope="module")
def four(views):
    X, Y = views
    rng = np.random.default_rng(12)
    return [X, Y, np.sin(X[:, :5]) + 100.0, X[:, 10:22] @ rng.standard_normal((12, 12))]


@pytest.mark.parametrize("metric", ["cka", "cka_debiased", "procrustes", "cca"])
@pytest.mark.parametrize("gram_dims", [4096, 20])
def test_pairwise_matrix(four, metric, gram_dims, monkeypatch):
    """One pass over all views' chunks (the stacked Gram of 48 dimensions); with 20 dimensions per
    Gram block, the views fall into groups ([24], [7, 5], [12]) and each pair of groups is one pass."""
    monkeypatch.setattr(similarity, "_GRAM_DIMS", gram_dims)
    expected = pairwise_matrix(four, metric)
    lazy = [_uneven(four[0]), four[1], _uneven(four[2], (600,)), _uneven(four[3], (1, 1, 1))]
    got = pairwise_matrix(lazy, metric)
    off = ~np.eye(4, dtype=bool)  # the diagonal of Procrustes is arccos(1 - eps): 1e-8 either way
    np.testing.assert_allclose(got.values[off], expected.values[off], rtol=RTOL)
    np.testing.assert_allclose(np.diag(got.values), np.diag(expected.values), atol=1e-7)
    assert got.params["engine"] == "dask" and got.params["chunks"] == 6
    assert got.params["passes"] == (1 if gram_dims == 4096 else 6)
    for i in range(4):  # each value is the two-view function's
        for j in range(i + 1, 4):
            two = {"cka": lambda a, b: cka(a, b), "cka_debiased": lambda a, b: cka(a, b, debiased=True),
                   "procrustes": lambda a, b: procrustes_distance(a, b).value, "cca": cca_similarity}[metric]
            assert got.values[i, j] == pytest.approx(float(two(four[i], four[j])), rel=RTOL)
    if metric == "cka":
        assert got.values[0, 1] == pytest.approx(_gram_cka(four[0], four[1]), rel=1e-10)
    if metric == "cka_debiased":
        assert got.values[2, 3] == pytest.approx(_song_cka(_centred(four[2]), _centred(four[3])), rel=1e-10)


def test_pairwise_sampled_metrics_and_trajectory(four):
    lazy = [_uneven(v) for v in four]
    for metric, options in (("cka", {"kernel": "rbf", "max_n": 200}), ("rsa", {"max_n": 150})):
        got, expected = pairwise_matrix(lazy, metric, **options), pairwise_matrix(four, metric, **options)
        np.testing.assert_allclose(got.values, expected.values, rtol=1e-12)
        assert got.params["engine"] == "dask" and got.params["n"] == expected.params["n"]
    vs = [SimpleNamespace(X=v, name=f"v{i}", run="r", layer=str(i), step=i) for i, v in enumerate(lazy)]
    mem = [SimpleNamespace(X=v, name=f"v{i}", run="r", layer=str(i), step=i) for i, v in enumerate(four)]
    for metric in ("cka", "cka_debiased", "procrustes", "cca"):
        got = similarity.trajectory(vs, metric, reference=3)
        expected = similarity.trajectory(mem, metric, reference=3)
        np.testing.assert_allclose(got["value"].to_numpy(), expected["value"].to_numpy(), rtol=RTOL, atol=1e-7)


def test_a_real_two_worker_cluster(four):
    distributed = pytest.importorskip("distributed")
    lazy = [_uneven(v) for v in four]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        got = pairwise_matrix(lazy, "cka_debiased")
        two = cka(lazy[0], lazy[1])
    np.testing.assert_allclose(got.values, pairwise_matrix(four, "cka_debiased").values, rtol=RTOL)
    assert float(two) == pytest.approx(_gram_cka(four[0], four[1]), rel=1e-10)
