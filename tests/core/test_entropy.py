"""core.entropy: diffusion spectral entropy / mutual information and Schur-complement entropy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances
from sklearn.preprocessing import normalize

from core import (
    EmbedLensInputError,
    defocus,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_info,
    schur_complement_entropy,
)

CORNERS = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 100.0],
                    [100.0, 100.0, 100.0]])


def _clumps(rng, k: int, size: int, jitter: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """k tight clumps (spread ``jitter``) 100 apart: spacing >> sigma = 10 >> spread."""
    labels = np.repeat(np.arange(k), size)
    return CORNERS[labels] + jitter * rng.standard_normal((k * size, 3)), labels


def _reference_dse(X, sigma, t=1):
    """The reference's construction, directly: Gaussian with its 1/(sigma sqrt(2 pi)) factor,
    then the eigenvalues of the (non-symmetric) diffusion operator P = D^-1 G."""
    D = pairwise_distances(np.asarray(X, dtype=np.float64))
    G = np.exp(-(D**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))
    P = G / G.sum(axis=1, keepdims=True)
    a = np.abs(np.linalg.eigvals(P).real) ** t
    p = a / a.sum()
    p = p[p > 0]
    return -(p * np.log2(p)).sum()


# --------------------------------------------------------------------------- DSE


def test_identical_points_have_dse_zero():
    assert diffusion_spectral_entropy(np.ones((30, 4))).value == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_k_far_apart_groups_give_log2_k(rng, k):
    X, _ = _clumps(rng, k, 12, jitter=0.0)
    assert diffusion_spectral_entropy(X).value == pytest.approx(np.log2(k), abs=1e-9)


def test_sigma_to_zero_gives_log2_n(rng):
    X = rng.standard_normal((25, 3))
    dse = diffusion_spectral_entropy(X, sigma=1e-4)
    assert dse.value == pytest.approx(np.log2(25), abs=1e-9) and dse.max_value == pytest.approx(np.log2(25))


@pytest.mark.parametrize("t", [1, 2])
def test_dse_matches_the_reference_construction(rng, small_matrix, t):
    X = rng.standard_normal((60, 5)) * 4
    assert diffusion_spectral_entropy(X, sigma=3.0, t=t).value == pytest.approx(_reference_dse(X, 3.0, t), rel=1e-8)
    assert diffusion_spectral_entropy(small_matrix, sigma=1.0, t=t).value == pytest.approx(
        _reference_dse(small_matrix, 1.0, t), rel=1e-6)


def test_dse_is_invariant_to_row_order_and_rotation(rng, small_matrix):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    base = diffusion_spectral_entropy(small_matrix, sigma=1.5).value
    assert diffusion_spectral_entropy(small_matrix[rng.permutation(40)], sigma=1.5).value == pytest.approx(base, rel=1e-9)
    assert diffusion_spectral_entropy(small_matrix.astype(np.float64) @ Q, sigma=1.5).value == pytest.approx(base, rel=1e-6)


def test_subsample_and_median_sigma_are_recorded(rng):
    X = rng.standard_normal((500, 4))
    dse = diffusion_spectral_entropy(X, sigma="median", max_n=120, seed=3)
    assert (dse.n, dse.n_used, dse.seed) == (500, 120, 3)
    assert "deviation from the paper" in dse.sigma_rule
    again = diffusion_spectral_entropy(X, sigma="median", max_n=120, seed=3)
    assert again.value == dse.value and again.sigma == dse.sigma
    idx = np.sort(np.random.default_rng(3).choice(500, 120, replace=False))
    d = pairwise_distances(X[idx])[np.triu_indices(120, 1)]
    assert dse.sigma == pytest.approx(np.median(d))
    assert diffusion_spectral_entropy(X).sigma_rule == "given" and diffusion_spectral_entropy(X).sigma == 10.0


def test_dse_bad_parameters():
    with pytest.raises(EmbedLensInputError, match="sigma=0 is invalid: expected a number in"):
        diffusion_spectral_entropy(np.eye(3), sigma=0)
    with pytest.raises(EmbedLensInputError, match="sigma='mean'"):
        diffusion_spectral_entropy(np.eye(3), sigma="mean")
    with pytest.raises(EmbedLensInputError, match="t=0.5 is invalid: expected an integer >= 1"):
        diffusion_spectral_entropy(np.eye(3), t=0.5)


# --------------------------------------------------------------------------- DSMI


def test_dsmi_separated_classes_near_log2_k_and_permuted_near_zero(rng):
    X, labels = _clumps(rng, 4, 50)
    mi = diffusion_spectral_mutual_info(X, labels)
    assert mi.value == pytest.approx(2.0, abs=0.01)
    assert mi.table["dse_class"].max() < 0.01 and mi.table["n"].tolist() == [50] * 4
    permuted = diffusion_spectral_mutual_info(X, rng.permutation(labels))
    assert abs(permuted.value) < 0.1


def test_dsmi_continuous_labels_are_binned_and_missing_left_out(rng):
    X, labels = _clumps(rng, 2, 40)
    y = labels + rng.random(80) * 0.5  # continuous, two separated ranges
    y[3] = np.nan
    mi = diffusion_spectral_mutual_info(X, y, bins=2)
    assert mi.binned and mi.n_used == 79 and len(mi.table) == 2
    assert mi.value == pytest.approx(1.0, abs=0.02)
    assert not diffusion_spectral_mutual_info(X, labels).binned


def test_dsmi_subsamples_first_and_is_seeded(rng):
    X, labels = _clumps(rng, 3, 100)
    a = diffusion_spectral_mutual_info(X, labels, max_n=90, seed=1)
    b = diffusion_spectral_mutual_info(X, labels, max_n=90, seed=1)
    assert a.n_used == 90 and a.table["n"].sum() == 90 and a.value == b.value
    assert a.value == pytest.approx(np.log2(3), abs=0.05)


# --------------------------------------------------------------------------- SCE


def _direct_schur(I, T):
    """S and D from the definition with numpy's pinv on unit-length rows."""
    PI, PT = normalize(np.asarray(I, float)), normalize(np.asarray(T, float))
    n = len(PI)
    C_TT, C_TI, C_II = PT.T @ PT / n, PT.T @ PI / n, PI.T @ PI / n
    D = C_TI.T @ np.linalg.pinv(C_TT, hermitian=True) @ C_TI
    return C_II - D, D, C_II


def _sce_formula(S):
    lam = np.clip(np.linalg.eigvalsh(S), 1e-10, None)
    return np.exp(-(lam * np.log(lam / lam.sum())).sum())


def test_identical_paired_views_give_sce_1(rng):
    X = rng.standard_normal((150, 7))
    sce = schur_complement_entropy(X, X)
    assert sce.score == pytest.approx(1.0, abs=1e-6)
    assert sce.trace_s == pytest.approx(0.0, abs=1e-9) and sce.trace_d == pytest.approx(1.0, abs=1e-9)


def test_zero_cross_covariance_gives_s_equal_c_ii():
    T = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]] * 5)
    I = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]] * 5)
    sce = schur_complement_entropy(I, T)
    _, _, C_II = _direct_schur(I, T)
    np.testing.assert_allclose(sce.eigenvalues, np.clip(np.sort(np.linalg.eigvalsh(C_II))[::-1], 1e-10, None),
                               atol=1e-12)
    assert sce.trace_s == pytest.approx(1.0) and sce.score == pytest.approx(2.0)  # two equal modes
    assert sce.text_score == pytest.approx(1.0, abs=1e-6)  # D = 0: nothing explained


def test_sce_matches_the_direct_definition_and_the_vendi_identity(rng):
    T = rng.standard_normal((300, 6))
    I = np.hstack([T[:, :3], rng.standard_normal((300, 4))]) + 0.3
    sce = schur_complement_entropy(I, T)
    S, D, _ = _direct_schur(I, T)
    assert sce.score == pytest.approx(_sce_formula(S), rel=1e-8)
    assert sce.text_score == pytest.approx(_sce_formula(D), rel=1e-8)
    assert sce.trace_s + sce.trace_d == pytest.approx(1.0, abs=1e-12)
    assert sce.score == pytest.approx(_vendi_of(sce.eigenvalues) ** sce.trace_s, rel=1e-8)
    assert sce.params["n"] == 300 and sce.params["d_image"] == 7 and sce.params["d_text"] == 6


def _vendi_of(eigenvalues):
    p = eigenvalues / eigenvalues.sum()
    return np.exp(-(p * np.log(p)).sum())


def test_sce_is_invariant_to_row_order_and_rotations(rng):
    T = rng.standard_normal((120, 4))
    I = T @ rng.standard_normal((4, 5)) + rng.standard_normal((120, 5))
    base = schur_complement_entropy(I, T)
    perm = rng.permutation(120)
    QI, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    QT, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    assert schur_complement_entropy(I[perm], T[perm]).score == pytest.approx(base.score, rel=1e-9)
    moved = schur_complement_entropy(I @ QI, T @ QT)
    assert moved.score == pytest.approx(base.score, rel=1e-6)
    assert moved.text_score == pytest.approx(base.text_score, rel=1e-6)


def test_rff_sce_on_identical_views_and_recorded_parameters(rng):
    X = rng.standard_normal((200, 5))
    # the exact pseudo-inverse (regularization=0): the text features explain everything
    sce = schur_complement_entropy(X, X, kernel="rff", n_features=64, sigma=1.0, regularization=0)
    assert sce.score == pytest.approx(1.0, abs=1e-4) and sce.trace_s == pytest.approx(0.0, abs=1e-8)
    assert sce.params["shared_frequencies"] and sce.params["n_features"] == 64
    # issue 10 item 13: RFF is ridge-regularised by default (lambda = tr C_TT / n), so identical views
    # leave a small tr S; 200 pairs for 128 features is below 2 per feature and says so
    auto = schur_complement_entropy(X, X, kernel="rff", n_features=64, sigma=1.0)
    assert auto.params["ridge"] == pytest.approx(1 / 200) and 0 < auto.trace_s < 0.15
    assert "use at least 256 pairs" in auto.params["warning"]
    other = schur_complement_entropy(X, X[:, :3], kernel="rff", n_features=64, sigma=1.0)
    assert not other.params["shared_frequencies"] and 0 < other.trace_s < 1


def test_defocused_embeddings_have_covariance_s(rng):
    T = rng.standard_normal((200, 4))
    I = np.hstack([T, rng.standard_normal((200, 2))])
    Xd = defocus(I, T)
    assert Xd.shape == (200, 6) and Xd.dtype == np.float32
    S, _, _ = _direct_schur(I, T)
    np.testing.assert_allclose(Xd.astype(np.float64).T @ Xd / 200, S, atol=1e-6)
    np.testing.assert_allclose(defocus(T, T), 0.0, atol=1e-6)
    for kernel in ("linear", "rff"):  # a precomputed SCE gives the same embeddings without a second pass
        sce = schur_complement_entropy(I, T, kernel=kernel, n_features=16, sigma=2.0)
        np.testing.assert_allclose(defocus(I, T, sce=sce), defocus(I, T, kernel=kernel, n_features=16, sigma=2.0),
                                   atol=1e-6)
    with pytest.raises(EmbedLensInputError, match="other views"):
        defocus(I[:, :3], T, sce=schur_complement_entropy(I, T))


def test_paired_views_must_have_the_same_rows():
    with pytest.raises(EmbedLensInputError, match="X_image has 5 rows but X_text has 4"):
        schur_complement_entropy(np.ones((5, 2)), np.ones((4, 2)))
    with pytest.raises(EmbedLensInputError, match="kernel='cosine' is invalid: expected one of 'linear', 'rff'"):
        schur_complement_entropy(np.eye(3), np.eye(3), kernel="cosine")


LARGE_SAMPLE_SCE_RFF_256 = 1.2584
"""SCE of two independent N(0, I_16) views, RFF sigma = 3.5, 256 frequencies (seed 0), from 100,000
pairs with the exact pseudo-inverse (n = 100x the 1,024 joint features, where regularisation does not
matter: 1.2584 exact, 1.2585 with lambda = 1e-8 tr / dim). Computed once with
``core.entropy._schur_parts(..., regularization=0)`` on rng(100000) views; 20,000 pairs gave 1.2524."""


@pytest.mark.parametrize("n_features, tol", [(256, 0.01), (512, 0.015)])
def test_kind_sce_rff_few_rows_per_feature(n_features, tol):
    """n <= 2 x n_features: the exact pseudo-inverse gives SCE = 1 for any data; the ridge gives the large-sample value."""
    rng = np.random.default_rng(7)
    XI, XT = rng.standard_normal((1000, 16)), rng.standard_normal((1000, 16))
    sce = schur_complement_entropy(XI, XT, kernel="rff", n_features=n_features)
    # 512 frequencies approximate the same Gaussian kernel with other random features: a looser tolerance
    assert sce.score == pytest.approx(LARGE_SAMPLE_SCE_RFF_256, abs=tol)
    assert sce.params["ridge"] == pytest.approx(1 / 1000) and "use at least" in sce.params["warning"]
    assert sce.trace_s + sce.trace_d == pytest.approx(1.0, abs=1e-9)


def test_kind_scale_invariance_sce_unit_rows(rng):
    I, T = rng.standard_normal((300, 6)), rng.standard_normal((300, 4))
    base = schur_complement_entropy(I, T)
    for f in (1e20, 1e-24):
        scaled = schur_complement_entropy((I * f).astype(np.float32), (T * f).astype(np.float32))
        assert scaled.score == pytest.approx(base.score, rel=1e-5)


# --------------------------------------------------------------------------- kinds (fresh-eyes review)


@pytest.mark.parametrize("n, d, value", [(50, 8, 3.0), (7, 2, -1e6), (200, 3, 1e-20)])
def test_kind_degenerate_input_exact_value_dse_identical_rows(n, d, value):
    """Identical rows: one diffusion eigenvalue 1, the rest exactly 0 -> DSE is 0 bits exactly
    (not the ~1e-13 the eigensolver's rounding noise gave), for DSE and the DSMI class terms."""
    X = np.full((n, d), value, dtype=np.float32)
    res = diffusion_spectral_entropy(X)
    assert res.value == 0.0 and str(res.value) == "0.0"
    mi = diffusion_spectral_mutual_info(X, np.arange(n) % 2)
    assert (mi.table["dse_class"] == 0.0).all() and (mi.table["dse_random"] == 0.0).all()


@pytest.mark.parametrize("scale, warned", [(1e20, "below"), (1e-30, "above"), (1.0, None)])
def test_kind_scale_dependent_bandwidth_dse_sigma_warning(scale, warned):
    """A fixed sigma = 10 on data whose median pairwise distance is 1e20 (or 1e-30) is warned
    about, naming the median rule; on unit-scale data it is not."""
    Z = np.random.default_rng(0).standard_normal((60, 16))
    X = (Z * scale).astype(np.float32)
    median = np.median(pairwise_distances(X.astype(np.float64))[np.triu_indices(60, 1)])  # independent: sklearn
    assert (median / 100 <= 10 <= median * 100) == (warned is None)
    for res in (diffusion_spectral_entropy(X), diffusion_spectral_mutual_info(X, np.arange(60) % 3)):
        if warned is None:
            assert res.warning is None
        else:
            assert warned in res.warning and "median" in res.warning and f"{median:.4g}" in res.warning
    assert diffusion_spectral_entropy(X, sigma="median").warning is None
