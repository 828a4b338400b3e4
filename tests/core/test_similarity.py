"""core.similarity: CKA, Procrustes, mutual kNN, RSA, CCA and the pairwise matrix against
independent computations (direct n x n float64 formulas, scipy, scikit-learn, brute force)."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.distance import pdist
from scipy.stats import ortho_group, spearmanr

import core.similarity as sim
from core import (
    COMPARISON_METRICS,
    EmbedLensInputError,
    View,
    cca_similarity,
    cka,
    knn_graph,
    linear_regression_r2,
    mutual_knn,
    pairwise_matrix,
    procrustes_distance,
    rsa,
    trajectory,
)


@pytest.fixture
def rng():
    return np.random.default_rng(12)


def _views(rng, n=150):
    """Three related views of n items (widths 20, 12, 20) plus noise, uncentred."""
    Z = rng.standard_normal((n, 8))
    X = Z @ rng.standard_normal((8, 20)) + 0.5 * rng.standard_normal((n, 20)) + 3.0
    Y = np.tanh(Z @ rng.standard_normal((8, 12))) + 0.3 * rng.standard_normal((n, 12)) - 1.0
    W = rng.standard_normal((n, 20))
    return X, Y, W


# --------------------------------------------------------------------------- direct n x n references


def _kornblith_cka(X, Y):
    """Linear CKA as Kornblith et al.'s reference code computes it: n x n Grams, centred, float64."""
    def center(G):
        G = G.copy()
        means = G.mean(axis=0)
        means -= means.mean() / 2
        G -= means[:, None]
        G -= means[None, :]
        return G

    Kx, Ky = center(X @ X.T), center(Y @ Y.T)
    return np.sum(Kx * Ky) / (np.linalg.norm(Kx) * np.linalg.norm(Ky))


def _hsic_unbiased(K, L):
    """Song et al. (2012), eq. (5), written out with n x n matrices."""
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))


def _hsic_biased(K, L):
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    return np.trace(K @ H @ L @ H)


def _direct_cka(K, L, debiased):
    h = _hsic_unbiased if debiased else _hsic_biased
    return h(K, L) / np.sqrt(h(K, K) * h(L, L))


# --------------------------------------------------------------------------- CKA


@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)])
def test_cka_of_a_view_with_itself_is_one_and_symmetric(rng, kernel, debiased):
    X, Y, _ = _views(rng)
    assert float(cka(X, X, kernel=kernel, debiased=debiased)) == pytest.approx(1.0, abs=1e-12)
    a, b = cka(X, Y, kernel=kernel, debiased=debiased), cka(Y, X, kernel=kernel, debiased=debiased)
    assert float(a) == pytest.approx(float(b), rel=1e-12)
    assert 0.2 < float(a) < 1.0


@pytest.mark.parametrize("kernel,debiased", [("linear", False), ("linear", True), ("rbf", False), ("rbf", True)])
def test_cka_is_invariant_to_rotation_isotropic_scaling_and_shift(rng, kernel, debiased):
    X, Y, _ = _views(rng)
    Q = ortho_group.rvs(X.shape[1], random_state=3)
    base = float(cka(X, Y, kernel=kernel, debiased=debiased))
    moved = float(cka(7.5 * X @ Q + 11.0, 0.01 * Y, kernel=kernel, debiased=debiased))
    assert moved == pytest.approx(base, rel=1e-9)
    # but not to an anisotropic scaling (the test can fail)
    stretched = float(cka(X * np.linspace(0.1, 5, X.shape[1]), Y, kernel=kernel, debiased=debiased))
    assert abs(stretched - base) > 1e-3


def test_linear_cka_in_feature_space_equals_the_n_by_n_gram_formula(rng):
    X, Y, W = _views(rng)
    for A, B in ((X, Y), (X, W), (Y, W)):
        assert float(cka(A, B)) == pytest.approx(_kornblith_cka(A - A.mean(0), B - B.mean(0)), rel=1e-12)
    s = cka(X, Y)
    assert (s.metric, s.variant, s.label, s.method) == ("cka", "linear, biased", "CKA (linear, biased)",
                                                          "feature space")
    assert (s.n, s.n_input, s.seed, s.higher_is_similar, s.message) == (150, 150, None, True, None)


def test_debiased_cka_equals_the_direct_unbiased_hsic_formula(rng):
    X, Y, W = _views(rng, n=60)
    for A, B in ((X, Y), (X, W)):
        # raw, uncentred Grams: the unbiased estimator is translation invariant for the linear kernel
        direct = _direct_cka(A @ A.T, B @ B.T, debiased=True)
        assert float(cka(A, B, debiased=True)) == pytest.approx(direct, rel=1e-10)
    assert cka(X, Y, debiased=True).label == "CKA (linear, debiased)"


def test_debiased_cka_is_near_zero_for_independent_views_with_n_close_to_d(rng):
    n, d = 200, 200
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    biased, debiased = float(cka(X, Y)), float(cka(X, Y, debiased=True))
    assert biased > 0.4  # the biased estimator's inflation at n ~ d
    assert abs(debiased) < 0.02
    assert _direct_cka(X @ X.T, Y @ Y.T, False) == pytest.approx(biased, rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_rbf_cka_equals_the_direct_kernel_formula_with_the_reported_bandwidth(rng, debiased):
    X, Y, _ = _views(rng, n=80)
    s = cka(X, Y, kernel="rbf", debiased=debiased, bandwidth=0.8)

    def kernel(A, sigma):
        D2 = ((A[:, None, :] - A[None, :, :]) ** 2).sum(-1)
        return np.exp(-D2 / (2 * sigma**2))

    for A, key in ((X, "sigma_x"), (Y, "sigma_y")):
        d = pdist(A)
        assert s.params[key] == pytest.approx(0.8 * np.median(d[d > 0]), rel=1e-9)
    direct = _direct_cka(kernel(X, s.params["sigma_x"]), kernel(Y, s.params["sigma_y"]), debiased)
    assert float(s) == pytest.approx(direct, rel=1e-9)
    assert s.label == f"CKA (RBF σ=0.8·median, {'debiased' if debiased else 'biased'})"


def test_rbf_cka_samples_visibly_above_max_n(rng):
    X, Y, _ = _views(rng, n=300)
    s = cka(X, Y, kernel="rbf", max_n=100, seed=4)
    assert (s.n, s.n_input, s.seed, s.sampled) == (100, 300, 4, True)
    assert s.method == "seeded uniform subsample of 100 rows (seed 4)"
    from core._sampling import subsample

    rows = subsample(300, 100, seed=4).rows
    assert float(s) == pytest.approx(float(cka(X[rows], Y[rows], kernel="rbf")), rel=1e-12)
    assert float(cka(X, Y, kernel="rbf", max_n=100, seed=5)) != float(s)


def test_cka_is_right_at_any_scale_and_on_memmaps(rng, tmp_path):
    X, Y, _ = _views(rng)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    base = float(cka(X32, Y32))
    for c in (1e-30, 1e30):
        assert float(cka(X32 * np.float32(c), Y32)) == pytest.approx(base, rel=1e-9)
        assert float(cka(X32 * np.float32(c), Y32, debiased=True)) == pytest.approx(
            float(cka(X32, Y32, debiased=True)), rel=1e-9)
    np.save(tmp_path / "x.npy", X32)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert float(cka(mm, Y32)) == base


def test_cka_in_row_blocks_equals_one_block(rng, monkeypatch):
    X, Y, _ = _views(rng)
    whole = float(cka(X, Y)), float(cka(X, Y, debiased=True))
    monkeypatch.setattr(sim, "_BLOCK_ELEMENTS", 7 * 32)  # 7-row blocks
    assert float(cka(X, Y)) == pytest.approx(whole[0], rel=1e-12)
    assert float(cka(X, Y, debiased=True)) == pytest.approx(whole[1], rel=1e-12)


def test_zero_variance_view_gives_nan_with_a_message(rng):
    X, _, _ = _views(rng)
    flat = np.full((150, 4), 0.1)  # its float64 column sums are inexact: must still centre to exactly 0
    for debiased in (False, True):
        s = cka(X, flat, debiased=debiased)
        assert np.isnan(s) and "Y has zero variance" in s.message
    p = procrustes_distance(flat, X)
    assert np.isnan(p.value) and "X has zero variance" in p.value.message
    c = cca_similarity(X, flat)
    assert np.isnan(c) and "zero variance" in c.message
    assert np.isnan(pairwise_matrix([X, flat], "cka").values[0, 1])


def test_unbiased_hsic_expansion_holds_for_uncentred_data(rng):
    """The feature-space expansion keeps the X^T 1 terms (row sums of K = X (X^T 1)), which vanish
    after centring: on uncentred views it must still equal the direct n x n formula."""
    X, Y, _ = _views(rng, n=50)
    raw = [sim._View(A, 1.0, np.zeros(A.shape[1]), np.zeros(A.shape[1], bool)) for A in (X, Y)]
    for budget in (None, 20):  # one group, and X and Y in separate groups
        c = sim._cross_stats(raw, 50, budget=budget)
        assert c.hsic_unbiased(0, 1) == pytest.approx(_hsic_unbiased(X @ X.T, Y @ Y.T), rel=1e-10)
        assert c.hsic_unbiased(1, 1) == pytest.approx(_hsic_unbiased(Y @ Y.T, Y @ Y.T), rel=1e-10)


def test_similarity_survives_pickling(rng):
    X, Y, _ = _views(rng)
    s = cka(X, Y, kernel="rbf", max_n=50)
    t = pickle.loads(pickle.dumps(s))
    assert float(t) == float(s) and t.label == s.label and t.params == s.params and t.seed == 0


# --------------------------------------------------------------------------- Procrustes


def test_procrustes_of_a_rotated_scaled_shifted_copy_is_zero(rng):
    X, _, _ = _views(rng)
    Q = ortho_group.rvs(20, random_state=1)
    Y = 3.7 * X @ Q - 5.0
    for kind in ("angular", "euclidean"):
        r = procrustes_distance(X, Y, kind=kind)
        assert float(r.value) == pytest.approx(0.0, abs=2e-7)
        assert r.value.higher_is_similar is False and r.kind == kind
        assert r.label == f"Procrustes distance ({kind})"
    # the rotation maps the normalised Y onto the normalised X
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Xn, Yn = Xc / np.linalg.norm(Xc), Yc / np.linalg.norm(Yc)
    np.testing.assert_allclose(Yn @ r.rotation, Xn, atol=1e-10)
    np.testing.assert_allclose(r.rotation.T @ r.rotation, np.eye(20), atol=1e-12)


def test_procrustes_agrees_with_scipy_spatial_procrustes_and_a_direct_fit(rng):
    X, Y, W = _views(rng)
    for A, B in ((X, W), (X, Y)):
        d = max(A.shape[1], B.shape[1])
        Ap, Bp = np.zeros((len(A), d)), np.zeros((len(B), d))
        Ap[:, : A.shape[1]], Bp[:, : B.shape[1]] = A, B
        _, _, disparity = scipy_procrustes(Ap, Bp)  # fits a scale too: disparity = 1 - ||Xc^T Yc||_*^2
        theta = float(procrustes_distance(A, B))
        e = float(procrustes_distance(A, B, kind="euclidean"))
        assert np.sin(theta) ** 2 == pytest.approx(disparity, rel=1e-10)
        assert 1 - (1 - e**2 / 2) ** 2 == pytest.approx(disparity, rel=1e-10)
        # euclidean = min_Q ||Xc - Yc Q||_F by the padded rotation
        r = procrustes_distance(A, B, kind="euclidean")
        Ac, Bc = Ap - Ap.mean(0), Bp - Bp.mean(0)
        Ac, Bc = Ac / np.linalg.norm(Ac), Bc / np.linalg.norm(Bc)
        assert np.linalg.norm(Ac - Bc @ r.rotation) == pytest.approx(e, rel=1e-10)
        assert r.rotation.shape == (d, d)


def test_angular_procrustes_obeys_the_triangle_inequality(rng):
    Z = rng.standard_normal((60, 5))
    views = [Z @ rng.standard_normal((5, w)) + rng.standard_normal((60, w)) * s
             for w, s in itertools.product((5, 8), (0.2, 1.0, 3.0))]
    D = np.array([[float(procrustes_distance(a, b)) for b in views] for a in views])
    np.testing.assert_allclose(D, D.T, rtol=1e-10)
    for i, j, k in itertools.permutations(range(len(views)), 3):
        assert D[i, k] <= D[i, j] + D[j, k] + 1e-12


# --------------------------------------------------------------------------- mutual kNN


def _brute_force_neighbours(A, k, metric):
    if metric == "cosine":
        U = A / np.linalg.norm(A, axis=1, keepdims=True)
        D = 1 - U @ U.T
    else:
        D = ((A[:, None] - A[None]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    return np.argsort(D, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_mutual_knn_against_a_brute_force_overlap(rng, metric):
    X, Y, _ = _views(rng)
    r = mutual_knn(X, Y, k=7, metric=metric)
    nx, ny = _brute_force_neighbours(X, 7, metric), _brute_force_neighbours(Y, 7, metric)
    expected = np.array([len(set(a) & set(b)) / 7 for a, b in zip(nx, ny)])
    np.testing.assert_array_equal(r.per_item, expected)
    assert float(r.value) == pytest.approx(expected.mean())
    assert 0 < float(r.value) < 1 and r.label == f"Mutual kNN (k=7, {metric})"
    assert float(mutual_knn(X, X, k=7, metric=metric).value) == 1.0


def test_mutual_knn_reuses_precomputed_graphs_restricted_to_k(rng):
    X, Y, _ = _views(rng)
    gx, gy = knn_graph(X, k=15), knn_graph(Y, k=15)
    a = mutual_knn(X, Y, k=5, graph_x=gx, graph_y=gy)
    b = mutual_knn(X, Y, k=5)
    np.testing.assert_array_equal(a.per_item, b.per_item)
    with pytest.raises(EmbedLensInputError, match="at least k neighbours"):
        mutual_knn(X, Y, k=20, graph_x=gx)
    with pytest.raises(EmbedLensInputError, match="metric='cosine'"):
        mutual_knn(X, Y, k=5, metric="euclidean", graph_x=gx)


# --------------------------------------------------------------------------- RSA


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_rsa_equals_spearman_of_scipy_pdist(rng, metric):
    X, Y, _ = _views(rng)
    s = rsa(X, Y, metric=metric)
    assert float(s) == pytest.approx(spearmanr(pdist(X, metric), pdist(Y, metric))[0], rel=1e-9)
    assert (s.n, s.seed, s.label) == (150, None, f"RSA (Spearman, {metric})")
    assert float(rsa(X, X, metric=metric)) == pytest.approx(1.0)


def test_average_ranks_equal_scipy_rankdata_with_ties(rng):
    from scipy.stats import rankdata

    d = np.round(rng.random(5000), 2)  # many ties
    np.testing.assert_array_equal(sim._average_ranks(d), rankdata(d))
    np.testing.assert_array_equal(sim._average_ranks(np.ones(4)), [2.5] * 4)


def test_rsa_samples_visibly_above_max_n(rng):
    from core._sampling import subsample

    X, Y, _ = _views(rng, n=400)
    s = rsa(X, Y, max_n=120, seed=2)
    rows = subsample(400, 120, seed=2).rows
    assert float(s) == pytest.approx(spearmanr(pdist(X[rows], "cosine"), pdist(Y[rows], "cosine"))[0], rel=1e-9)
    assert (s.n, s.n_input, s.seed, s.sampled) == (120, 400, 2, True)
    assert "subsample of 120 rows" in s.method


# --------------------------------------------------------------------------- CCA and regression


def _qr_cca(X, Y):
    """Canonical correlations by QR (Bjorck & Golub 1973), independent of the Gram route."""
    qx = np.linalg.qr(X - X.mean(0))[0]
    qy = np.linalg.qr(Y - Y.mean(0))[0]
    return np.linalg.svd(qx.T @ qy, compute_uv=False)


def test_cca_equals_the_qr_canonical_correlations_and_is_affine_invariant(rng):
    X, Y, _ = _views(rng)
    rho = _qr_cca(X, Y)
    s = cca_similarity(X, Y)
    assert float(s) == pytest.approx(np.mean(rho**2), rel=1e-9)
    assert s.params["rank_x"] == 20 and s.params["rank_y"] == 12 and s.params["n_components"] == 12
    assert float(cca_similarity(X, Y, n_components=3)) == pytest.approx(np.mean(rho[:3] ** 2), rel=1e-9)
    M = rng.standard_normal((20, 20))
    assert float(cca_similarity(X @ M + 4, Y)) == pytest.approx(float(s), rel=1e-8)
    assert float(cca_similarity(X, X)) == pytest.approx(1.0)


def test_linear_regression_r2_equals_scikit_learn(rng):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    X, Y, W = _views(rng)
    for A, B in ((X, Y), (Y, X), (W, Y)):
        pred = LinearRegression().fit(A, B).predict(A)
        assert float(linear_regression_r2(A, B)) == pytest.approx(
            r2_score(B, pred, multioutput="variance_weighted"), rel=1e-9)


# --------------------------------------------------------------------------- pairwise matrix


def _pair_value(metric, a, b, options):
    if metric == "cka":
        return float(cka(a, b, **options))
    if metric == "cka_debiased":
        return float(cka(a, b, debiased=True, **options))
    if metric == "procrustes":
        return float(procrustes_distance(a, b, **options).value)
    if metric == "mutual_knn":
        return float(mutual_knn(a, b, **options).value)
    if metric == "rsa":
        return float(rsa(a, b, **options))
    return float(cca_similarity(a, b, **options))


CASES = [(m, {}) for m in COMPARISON_METRICS] + [
    ("cka", {"kernel": "rbf", "max_n": 60}), ("cka_debiased", {"kernel": "rbf"}),
    ("procrustes", {"kind": "euclidean"}), ("mutual_knn", {"k": 4, "metric": "euclidean"}),
    ("rsa", {"metric": "euclidean", "max_n": 50, "seed": 1}), ("cca", {"n_components": 2}),
]


@pytest.mark.parametrize("metric,options", CASES)
def test_pairwise_matrix_equals_the_pairwise_calls(rng, metric, options, monkeypatch):
    X, Y, W = _views(rng, n=90)
    views = [X, Y, W, X[:, :5] * 2.0]
    monkeypatch.setattr(sim, "_GRAM_DIMS", 30)  # several groups of views: the cross-group passes too
    seen = []
    pm = pairwise_matrix(views, metric, names=list("abcd"), progress=seen.append, **options)
    expected = np.array([[_pair_value(metric, a, b, options) for b in views] for a in views])
    np.testing.assert_allclose(pm.values, expected, rtol=1e-9, atol=1e-7)
    np.testing.assert_array_equal(pm.values, pm.values.T)
    assert pm.names == ("a", "b", "c", "d") and pm.metric == metric
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    assert pm.higher_is_similar == (metric != "procrustes")


def test_pairwise_matrix_reads_views_and_their_names(rng):
    X, Y, _ = _views(rng)
    vs = [View("a", X.astype(np.float32), "f1"), View("b", Y.astype(np.float32), "f2")]
    pm = pairwise_matrix(vs, "cka")
    assert pm.names == ("a", "b") and pm.label == "CKA (linear, biased)"
    assert pm.params["method"] == "feature space" and pm.params["n"] == 150
    assert pm.values[0, 1] == pytest.approx(float(cka(X.astype(np.float32), Y.astype(np.float32))), rel=1e-12)


def test_trajectory_against_a_reference_and_of_a_single_view_metric(rng):
    from core import effective_rank

    X, Y, W = _views(rng)
    vs = [View(f"v{i}", A.astype(np.float32), f"f{i}", run="r", layer="l", step=s)
          for i, (A, s) in enumerate(((X, 1), (Y, 5), (W, 10)))]
    df = trajectory(vs, "cka", reference=2)
    assert list(df.columns) == ["name", "run", "layer", "step", "value", "metric", "label"]
    np.testing.assert_allclose(df["value"], [float(cka(v.X, W.astype(np.float32))) for v in vs], rtol=1e-12)
    assert df["value"].iloc[2] == pytest.approx(1.0) and list(df["step"]) == [1, 5, 10]
    knn = trajectory(vs, "mutual_knn", reference=vs[0], k=5)
    assert knn["value"].iloc[1] == float(mutual_knn(vs[1].X, vs[0].X, k=5).value)
    er = trajectory(vs, "effective_rank")
    np.testing.assert_allclose(er["value"], [effective_rank(v.X) for v in vs])
    with pytest.raises(EmbedLensInputError, match="needs reference="):
        trajectory(vs, "procrustes")


# --------------------------------------------------------------------------- bad input


FUNCS = [cka, lambda a, b: cka(a, b, debiased=True), procrustes_distance, mutual_knn, rsa, cca_similarity,
         linear_regression_r2]


@pytest.mark.parametrize("f", FUNCS)
def test_bad_input_is_refused_with_a_clear_message(f, rng):
    X = rng.standard_normal((20, 3))
    with pytest.raises(EmbedLensInputError, match=r"X has 20 rows but Y has 19; the two views must hold the same"):
        f(X, X[:19])
    with pytest.raises(EmbedLensInputError, match=r"Y: has 1 row; at least \d are needed"):
        f(X, X[:1])
    with pytest.raises(EmbedLensInputError, match=r"X: has 1 row; at least \d are needed"):
        f(X[:1], X[:1])
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(EmbedLensInputError, match=r"X: 1 of 20 rows holds NaN or inf \(row 4\)"):
        f(bad, X)


def test_bad_options_are_refused(rng):
    X = rng.standard_normal((20, 3))
    with pytest.raises(EmbedLensInputError, match="kernel='poly' is invalid"):
        cka(X, X, kernel="poly")
    with pytest.raises(EmbedLensInputError, match="only used by kernel='rbf'"):
        cka(X, X, bandwidth=0.3)
    with pytest.raises(EmbedLensInputError, match="debiased CKA needs at least 4 rows"):
        cka(X[:3], X[:3], debiased=True)
    with pytest.raises(EmbedLensInputError, match="k=20 is invalid"):
        mutual_knn(X, X, k=20)
    with pytest.raises(EmbedLensInputError, match="metric='spearman' is invalid"):
        pairwise_matrix([X, X], "spearman")
    with pytest.raises(EmbedLensInputError, match="not used by metric='procrustes'"):
        pairwise_matrix([X, X], "procrustes", k=3)
    with pytest.raises(EmbedLensInputError, match="views\\[0\\] has 20 rows but views\\[1\\] has 19"):
        pairwise_matrix([X, X[:19]], "cka")
    with pytest.raises(EmbedLensInputError, match="a list of"):
        pairwise_matrix(X, "cka")
