"""core.spectra: one spectrum (dual / primal / RBF forms) and the summaries read off it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.linalg

import core

from core import (
    EmbedLensInputError,
    Spectrum,
    effective_rank,
    participation_ratio,
    pca_k,
    powerlaw_alpha,
    rankme,
    spectrum,
)


def _power_law_data(a: float, *, n: int = 256, d: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """X (n x d) whose centred covariance has eigenvalues exactly l_i = i^-a (Hadamard design)."""
    H = scipy.linalg.hadamard(n) / np.sqrt(n)  # orthonormal columns; all but the first sum to 0
    l = np.arange(1, d + 1, dtype=np.float64) ** -a
    return H[:, 1:d + 1] * np.sqrt(n * l), l


def _direct_eigenvalues(X: np.ndarray, *, center: bool, normalize: bool = False) -> np.ndarray:
    """O(n^3) reference: eigenvalues of the n x n Gram matrix (X X^T / n), descending."""
    Z = np.asarray(X, dtype=np.float64)
    if normalize:
        norms = np.linalg.norm(Z, axis=1)
        Z = Z[norms > 0] / norms[norms > 0, None]
    if center:
        Z = Z - Z.mean(axis=0)
    return np.sort(np.linalg.eigvalsh(Z @ Z.T / len(Z)))[::-1]


@pytest.mark.parametrize("kernel", ["linear", "cosine"])
@pytest.mark.parametrize("center", [True, False])
def test_dual_and_primal_forms_agree_to_1e_6(small_matrix, kernel, center):
    dual = spectrum(small_matrix, kernel=kernel, center=center, form="dual")
    primal = spectrum(small_matrix, kernel=kernel, center=center, form="primal")
    direct = _direct_eigenvalues(small_matrix, center=center, normalize=kernel == "cosine")
    d = small_matrix.shape[1]
    assert dual.form == "dual" and primal.form == "primal"
    assert dual.eigenvalues.shape == (d,) and primal.eigenvalues.shape == (primal.n,)
    top = dual.eigenvalues[0]
    np.testing.assert_allclose(dual.eigenvalues, primal.eigenvalues[:d], rtol=1e-6, atol=1e-12 * top)
    np.testing.assert_allclose(dual.eigenvalues, direct[:d], rtol=1e-6, atol=1e-12 * top)
    assert np.abs(primal.eigenvalues[d:]).max() < 1e-12 * top  # rank <= d


def test_auto_form_picks_the_smaller_side(rng):
    assert spectrum(rng.standard_normal((50, 8))).form == "dual"
    assert spectrum(rng.standard_normal((8, 50))).form == "primal"
    assert spectrum(rng.standard_normal((8, 8))).form == "primal"


def test_cosine_leaves_out_zero_rows_and_says_so(small_matrix):
    s = spectrum(small_matrix, kernel="cosine", center=False)
    assert s.n == 39 and s.params["zero_rows_left_out"] == 1 and s.normalize
    assert s.total == pytest.approx(1.0, abs=1e-12)  # unit diagonal: trace K / n = 1


def test_with_center_needs_no_second_pass(small_matrix):
    for form in ("dual", "primal"):
        centred = spectrum(small_matrix, form=form)
        uncentred = spectrum(small_matrix, center=False, form=form)
        np.testing.assert_allclose(centred.with_center(False).eigenvalues, uncentred.eigenvalues,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(uncentred.with_center(True).eigenvalues, centred.eigenvalues,
                                   rtol=1e-9, atol=1e-12)
    with pytest.raises(EmbedLensInputError, match="keeps no moments"):
        Spectrum.from_eigenvalues([1.0, 0.5]).with_center(False)


def test_float32_blocks_match_float64_despite_a_large_mean(rng):
    # a mean 1,000 times the spread: without the pilot shift float32 products would lose it
    X = (rng.standard_normal((3000, 24)) * np.linspace(0.1, 1.0, 24) + 1000.0).astype(np.float32)
    exact = spectrum(X, precision="float64")
    fast = spectrum(X, precision="float32", block_rows=257)
    assert fast.params["block_dtype"] == "float32" and exact.params["block_dtype"] == "float64"
    assert fast.params["second_pass"] and fast.params["mean_to_variance"] > 1e6  # the mean is subtracted first
    np.testing.assert_allclose(fast.eigenvalues, exact.eigenvalues, rtol=1e-4, atol=1e-6 * exact.eigenvalues[0])
    np.testing.assert_allclose(fast.with_center(False).eigenvalues[0], exact.with_center(False).eigenvalues[0],
                               rtol=1e-6)


def test_dual_form_streams_x_without_copying_it(rng):
    X = rng.standard_normal((40_000, 32)).astype(np.float32)  # 5.1 MB
    tracemalloc.start()
    s = spectrum(X, precision="float32", block_rows=1024)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.05 * X.nbytes, f"peak {peak / 1e6:.2f} MB for a {X.nbytes / 1e6:.1f} MB matrix"
    assert not s.params["second_pass"]  # centred data: blocks are views of X, one pass
    np.testing.assert_allclose(s.eigenvalues, spectrum(X, precision="float64").eigenvalues, rtol=1e-5)
    tracemalloc.start()
    spectrum(X, kernel="cosine", precision="float32", block_rows=1024)  # scaled rows: one block buffer
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * X.nbytes, f"peak {peak / 1e6:.2f} MB for a {X.nbytes / 1e6:.1f} MB matrix"


def test_nan_rows_are_named_in_the_error(small_matrix):
    X = small_matrix.copy()
    X[[5, 11]] = np.nan
    for kernel in ("linear", "cosine", "rbf"):
        with pytest.raises(EmbedLensInputError, match=r"2 of 40 rows hold NaN or inf \(rows 5, 11\)"):
            spectrum(X, kernel=kernel)


def test_bad_options_say_what_to_do(small_matrix):
    with pytest.raises(EmbedLensInputError, match="kernel='poly' is invalid: expected one of"):
        spectrum(small_matrix, kernel="poly")
    with pytest.raises(EmbedLensInputError, match="form='rff'"):
        spectrum(small_matrix, form="rff")
    with pytest.raises(EmbedLensInputError, match="all 3 rows are zero vectors"):
        spectrum(np.zeros((3, 5)), kernel="cosine", form="dual")
    with pytest.raises(EmbedLensInputError, match="all 3 rows are zero vectors"):
        spectrum(np.zeros((3, 5)), kernel="cosine")  # the n x n form
    with pytest.raises(EmbedLensInputError, match="share=1.5"):
        pca_k(small_matrix, share=1.5)


# --------------------------------------------------------------------------- RBF


def test_rbf_exact_form_is_the_kernel_matrix_spectrum(small_matrix):
    from sklearn.metrics.pairwise import rbf_kernel

    s = spectrum(small_matrix, kernel="rbf", center=False, bandwidth=2.0)
    K = rbf_kernel(small_matrix.astype(np.float64), gamma=1 / 8.0)
    direct = np.sort(np.linalg.eigvalsh(K / len(K)))[::-1]
    assert s.form == "primal" and s.params["bandwidth"] == 2.0
    np.testing.assert_allclose(s.eigenvalues, direct, atol=1e-12)


def test_rbf_bandwidth_defaults_to_the_median_distance(small_matrix):
    from scipy.spatial.distance import pdist

    s = spectrum(small_matrix, kernel="rbf")
    dist = pdist(small_matrix.astype(np.float64))
    assert s.params["bandwidth"] == pytest.approx(np.median(dist[dist > 0]))
    assert s.params["bandwidth_rule"] == "median pairwise distance"


def test_rbf_above_the_size_limit_is_subsampled_or_approximated_and_recorded(rng):
    X = rng.standard_normal((600, 5))
    exact = spectrum(X, kernel="rbf", center=False, bandwidth=3.0)
    sub = spectrum(X, kernel="rbf", center=False, bandwidth=3.0, max_n=200, seed=1)
    assert sub.form == "subsample" and sub.n == 200 and sub.params["subsample"] == 200
    again = spectrum(X, kernel="rbf", center=False, bandwidth=3.0, max_n=200, seed=1)
    np.testing.assert_array_equal(sub.eigenvalues, again.eigenvalues)  # seeded
    rff = spectrum(X, kernel="rbf", center=False, bandwidth=3.0, max_n=200, approx="rff", n_features=400)
    assert rff.form == "rff" and rff.params["n_features"] == 400 and rff.n == 600
    # quality, not coordinates: unit diagonal kept, the leading eigenvalue of K / n is close
    assert rff.total == pytest.approx(1.0, abs=1e-9)
    assert rff.eigenvalues[0] == pytest.approx(exact.eigenvalues[0], rel=0.03)
    assert sub.eigenvalues[0] == pytest.approx(exact.eigenvalues[0], rel=0.05)


# --------------------------------------------------------------------------- summaries


def test_subspace_gaussian_has_pca95_k_and_pr_near_k(rng):
    k, D = 5, 40
    basis, _ = np.linalg.qr(rng.standard_normal((D, k)))
    X = (rng.standard_normal((4000, k)) @ basis.T).astype(np.float32)
    s = spectrum(X)
    assert pca_k(s, share=0.95) == k and pca_k(s, share=0.90) == k
    assert participation_ratio(s) == pytest.approx(k, rel=0.02)
    assert effective_rank(s) == pytest.approx(k, rel=0.02)


@pytest.mark.parametrize("a", [0.5, 1.0, 2.3])
def test_power_law_spectrum_gives_alpha_exactly(a):
    fit = powerlaw_alpha(Spectrum.from_eigenvalues(np.arange(1, 301, dtype=float) ** -a))
    assert fit.alpha == pytest.approx(a, abs=1e-10) and fit.r2 == pytest.approx(1.0, abs=1e-12)
    X, l = _power_law_data(a)
    s = spectrum(X)
    np.testing.assert_allclose(s.eigenvalues, l, rtol=1e-9)
    fit = powerlaw_alpha(s)
    cum = np.cumsum(l) / l.sum()
    assert (fit.start, fit.stop) == (1, int(np.searchsorted(cum, 0.99 - 1e-12) + 1))
    assert fit.alpha == pytest.approx(a, abs=1e-8) and fit.r2 == pytest.approx(1.0, abs=1e-10)


def test_power_law_range_and_degenerate_cases():
    l = np.r_[np.arange(1, 21, dtype=float) ** -1.0, [1e-20] * 5]
    fit = powerlaw_alpha(Spectrum.from_eigenvalues(l), fit_range=(3, 25))
    assert (fit.start, fit.stop) == (3, 20)  # eigenvalues below 1e-12 of the largest are dropped
    assert fit.alpha == pytest.approx(1.0, abs=1e-10)
    assert np.isnan(powerlaw_alpha(Spectrum.from_eigenvalues([1.0, 0.5])).alpha)
    with pytest.raises(EmbedLensInputError, match="fit_range"):
        powerlaw_alpha(Spectrum.from_eigenvalues(l), fit_range=(5, 2))


def test_known_spectra_give_closed_form_summaries():
    s = Spectrum.from_eigenvalues([4.0, 1.0])
    assert participation_ratio(s) == pytest.approx(25 / 17)
    # Roy & Vetterli use singular values: p = (2, 1) / 3, not the eigenvalues' (0.8, 0.2)
    assert effective_rank(s) == pytest.approx(np.exp(-(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))))
    assert effective_rank(s) != pytest.approx(np.exp(-(0.8 * np.log(0.8) + 0.2 * np.log(0.2))))
    equal = Spectrum.from_eigenvalues([0.25] * 4 + [0.0] * 3)
    assert participation_ratio(equal) == pytest.approx(4) and effective_rank(equal) == pytest.approx(4)
    assert pca_k(equal, share=0.95) == 4 and pca_k(equal, share=0.75) == 3
    assert pca_k(Spectrum.from_eigenvalues([0.5, 0.3, 0.1, 0.1]), share=0.9) == 3


def test_identical_points_have_a_zero_spectrum():
    X = np.tile(np.array([[0.3, -1.0, 2.0]], dtype=np.float32), (9, 1))
    s = spectrum(X)
    assert s.total == pytest.approx(0.0, abs=1e-12)
    # issue 10 item 9: a zero covariance is declared undefined (NaN with a message), not 0
    assert s.degenerate and "identical" in s.message
    assert np.isnan(participation_ratio(s)) and np.isnan(effective_rank(s)) and np.isnan(pca_k(s))
    assert rankme(X) == pytest.approx(1.0, abs=1e-5)  # uncentred: one direction


def test_effective_rank_and_rankme_match_a_direct_svd(small_matrix):
    X = small_matrix.astype(np.float64)
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    p = s[s > 1e-12 * s[0]] / s[s > 1e-12 * s[0]].sum()
    assert effective_rank(small_matrix) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-9)
    sigma = np.linalg.svd(X, compute_uv=False)
    p = sigma / sigma.sum() + 1e-7
    expected = np.exp(-(p * np.log(p)).sum())
    assert rankme(small_matrix) == pytest.approx(expected, rel=1e-9)
    assert rankme(spectrum(small_matrix)) == pytest.approx(expected, rel=1e-9)  # centred -> uncentred


@pytest.mark.parametrize("metric", [participation_ratio, effective_rank, rankme, pca_k,
                                    lambda X: powerlaw_alpha(X).alpha])
def test_summaries_are_invariant_to_row_order_and_rotation(rng, small_matrix, metric):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    base = metric(small_matrix)
    assert metric(small_matrix[rng.permutation(40)]) == pytest.approx(base, rel=1e-9)
    assert metric((small_matrix.astype(np.float64) @ Q)) == pytest.approx(base, rel=1e-6)


# --------------------------------------------------------------------------- issue 10: kinds


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [32, 120])  # dual (d < n) and primal (d >= n) forms
def test_kind_degenerate_spectrum_declared_undefined(dtype, d):
    """50 identical rows: every ratio off the centred spectrum is NaN with one message, never 0 or 1/3e-15."""
    row = np.random.default_rng(3).standard_normal(d) * 100 + 200
    X = np.tile(row.astype(dtype), (50, 1))
    s = spectrum(X)
    assert s.form == ("dual" if d < 50 else "primal")
    assert s.degenerate and s.message == "all rows are identical: the covariance is zero, so ratios are undefined"
    assert np.isnan(s.explained_variance_ratio).all() and np.isnan(s.cumulative).all()
    assert np.isnan(participation_ratio(s)) and np.isnan(effective_rank(s)) and np.isnan(pca_k(s))
    assert np.isnan(powerlaw_alpha(s).alpha)
    assert np.isnan(participation_ratio(X)) and np.isnan(pca_k(X, share=0.95))
    # uncentred, the same rows have one direction: defined (RankMe 1)
    assert not s.with_center(False).degenerate and rankme(s) == pytest.approx(1.0, abs=1e-3)
    # a real but small spread well inside float32's resolution is not degenerate
    Y = X + np.random.default_rng(4).standard_normal(X.shape).astype(dtype) * 1e-2
    assert not spectrum(Y).degenerate and np.isfinite(participation_ratio(Y))


def test_kind_degenerate_given_spectrum():
    s = Spectrum.from_eigenvalues([0.0, 0.0])
    assert s.degenerate and "undefined" in s.message and np.isnan(participation_ratio(s))


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("factor", [1e20, 1e-24, 1e-40])
def test_kind_scale_invariance_explained_variance_ratio(precision, factor):
    """Float32 data at any scale float32 holds: the same ratios as the unscaled data in float64."""
    X = np.random.default_rng(5).standard_normal((600, 24)) * np.linspace(0.5, 3, 24)
    ref = np.linalg.eigvalsh(np.cov(X.T, bias=True))[::-1]
    scaled = (X.astype(np.float32) * np.float32(factor)).astype(np.float32)
    s = spectrum(scaled, precision=precision)
    np.testing.assert_allclose(s.explained_variance_ratio, ref / ref.sum(), rtol=2e-3 if factor < 1e-30 else 1e-5,
                               atol=1e-7)
    assert participation_ratio(s) == pytest.approx(ref.sum() ** 2 / (ref**2).sum(), rel=2e-3)


# --------------------------------------------------------------------------- stable rank


def test_stable_rank_closed_forms_and_a_direct_float64_norm_ratio():
    """Flat spectrum of rank k -> k; rank one -> 1; any data -> ||Xc||_F^2 / ||Xc||_2^2 computed
    directly with numpy in float64; never above the participation ratio; identical rows NaN."""
    assert core.stable_rank(np.diag(np.ones(5))) == pytest.approx(4.0)  # 5 centred basis vectors: rank 4, flat
    rng = np.random.default_rng(3)
    line = rng.standard_normal((200, 1)) @ rng.standard_normal((1, 12))
    assert core.stable_rank(line) == pytest.approx(1.0, rel=1e-9)
    X = (rng.standard_normal((500, 24)) * np.linspace(0.2, 3.0, 24)).astype(np.float32)
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(0)
    direct = np.linalg.norm(Xc, "fro") ** 2 / np.linalg.norm(Xc, 2) ** 2
    assert core.stable_rank(X) == pytest.approx(direct, rel=1e-6)
    assert core.stable_rank(core.spectrum(X)) == core.stable_rank(X)
    assert core.stable_rank(X) <= core.participation_ratio(X)
    assert np.isnan(core.stable_rank(np.full((30, 4), 2.0, np.float32)))
    Z = rng.standard_normal((300, 8)).astype(np.float32)
    for s in (np.float32(1e-30), np.float32(1e30)):  # scale invariance over the float32 range
        assert core.stable_rank(Z * s) == pytest.approx(core.stable_rank(Z), rel=1e-5)
