"""core.diversity: Vendi of order q, Hill curves, coding rate and rate reduction."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import normalize
from vendi_score import vendi  # test-only dependency: the reference implementation

from core import (
    EmbedLensInputError,
    class_diversity,
    coding_rate,
    hill_curve,
    hill_number,
    rate_reduction,
    spectrum,
    vendi_score,
    vendi_score_K,
)

# the package compares against scipy.sparse.csr (deprecated namespace) on every call
pytestmark = pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")

README_K = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _orthogonal_clusters(sizes, d=None, rng=None):
    d = d or len(sizes)
    X = np.zeros((sum(sizes), d))
    start = 0
    for j, size in enumerate(sizes):
        X[start:start + size, j] = 1.0 + (rng.random(size) if rng is not None else 0.0)  # cosine ignores length
        start += size
    return X


# --------------------------------------------------------------------------- Vendi: closed forms


def test_readme_kernel_gives_2_1573005():
    assert vendi_score_K(README_K) == pytest.approx(2.1573005, abs=5e-8)
    # the same kernel realised by three vectors, through the dual form
    X = np.array([[1.0, 0.0, 0.0], [0.9, np.sqrt(0.19), 0.0], [0.0, 0.0, 1.0]])
    assert vendi_score(X) == pytest.approx(2.1573005, abs=5e-8)


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, np.inf])
def test_identical_rows_give_1(q):
    assert vendi_score(np.ones((7, 4), dtype=np.float32), q=q) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("q", [0.3, 1.0, 2.0, 7.0, np.inf])
@pytest.mark.parametrize("k", [2, 5])
def test_k_orthogonal_equal_clusters_give_k(rng, q, k):
    X = _orthogonal_clusters([6] * k, d=k + 3, rng=rng)
    assert vendi_score(X, q=q) == pytest.approx(k, rel=1e-9)


def test_two_orthogonal_clusters_10_30_give_exp_entropy():
    X = _orthogonal_clusters([10, 30])
    expected = np.exp(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    assert vendi_score(X) == pytest.approx(expected, rel=1e-12)
    assert vendi_score(X, q=2) == pytest.approx(1 / (0.25**2 + 0.75**2), rel=1e-12)
    assert vendi_score(X, q=np.inf) == pytest.approx(1 / 0.75, rel=1e-12)


def test_zero_rows_are_left_out_of_the_cosine_kernel(small_matrix):
    s = spectrum(small_matrix, kernel="cosine", center=False)
    assert s.params["zero_rows_left_out"] == 1
    assert vendi_score(small_matrix) == pytest.approx(vendi_score(np.delete(small_matrix, 3, axis=0)), rel=1e-12)


# --------------------------------------------------------------------------- Vendi: agreement


def test_agrees_with_the_vendi_score_package_for_q1(rng):
    X = rng.standard_normal((120, 16))
    X[7] = X[2]  # a duplicate
    Xn = normalize(X)
    reference = vendi.score_K(Xn @ Xn.T)
    assert vendi_score(X) == pytest.approx(reference, rel=1e-6)
    assert vendi.score_dual(X) == pytest.approx(reference, rel=1e-6)
    assert vendi_score(X.astype(np.float32)) == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0])
def test_vendi_score_K_agrees_with_the_package(rng, q):
    X = normalize(rng.standard_normal((40, 5)))
    K = X @ X.T
    assert vendi_score_K(K, q=q) == pytest.approx(vendi.score_K(K, q=q), rel=1e-6)
    p = rng.random(40)
    assert vendi_score_K(K, q=q, weights=p) == pytest.approx(vendi.score_K(K, q=q, p=p / p.sum()), rel=1e-6)
    assert vendi_score_K(K, q=q, weights=np.ones(40)) == pytest.approx(vendi_score_K(K, q=q), rel=1e-12)


def test_rbf_vendi_agrees_with_the_package_on_the_n_by_n_kernel(small_matrix):
    h = 1.7
    K = rbf_kernel(small_matrix.astype(np.float64), gamma=1 / (2 * h * h))
    assert vendi_score(small_matrix, kernel="rbf", bandwidth=h) == pytest.approx(vendi.score_K(K), rel=1e-6)


def test_dual_form_equals_a_direct_n_cubed_formula_for_every_q(rng):
    X = rng.standard_normal((60, 9))
    Xn = normalize(X)
    lam = np.linalg.eigvalsh(Xn @ Xn.T / 60)
    lam = lam[lam > 1e-12]
    for q in (0.5, 1.0, 3.0):
        direct = np.exp(-(lam * np.log(lam)).sum()) if q == 1 else (lam**q).sum() ** (1 / (1 - q))
        assert vendi_score(X, q=q) == pytest.approx(direct, rel=1e-6)
    wide = rng.standard_normal((8, 30))  # n < d: the n x n (primal) form
    wn = normalize(wide)
    assert spectrum(wide, kernel="cosine", center=False).form == "primal"
    assert vendi_score(wide) == pytest.approx(vendi.score_K(wn @ wn.T), rel=1e-6)


def test_vendi_is_invariant_to_row_order_and_rotation(rng, small_matrix):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    base = vendi_score(small_matrix, q=1.5)
    assert vendi_score(small_matrix[rng.permutation(40)], q=1.5) == pytest.approx(base, rel=1e-9)
    assert vendi_score(small_matrix.astype(np.float64) @ Q, q=1.5) == pytest.approx(base, rel=1e-6)
    rbf = vendi_score(small_matrix, kernel="rbf", bandwidth=2.0)
    assert vendi_score(small_matrix.astype(np.float64) @ Q, kernel="rbf", bandwidth=2.0) == pytest.approx(rbf, rel=1e-6)


def test_a_precomputed_spectrum_feeds_vendi_and_hill(small_matrix):
    centred = spectrum(small_matrix, kernel="cosine")  # centred: Vendi uncentres it from its moments
    assert vendi_score(centred) == pytest.approx(vendi_score(small_matrix), rel=1e-9)
    assert hill_curve(centred, q=[1.0]).values[0] == pytest.approx(vendi_score(small_matrix), rel=1e-9)


def test_vendi_bad_inputs():
    with pytest.raises(EmbedLensInputError, match=r"q=0 is invalid: expected a number in \(0, inf\]"):
        vendi_score(np.eye(3), q=0)
    with pytest.raises(EmbedLensInputError, match="k\\(x, x\\) = 1"):
        vendi_score(np.eye(3), kernel="linear")
    with pytest.raises(EmbedLensInputError, match=r"K\[0, 0\] = 2"):
        vendi_score_K(2 * np.eye(3))
    with pytest.raises(EmbedLensInputError, match="not symmetric"):
        vendi_score_K(np.array([[1.0, 0.5], [0.1, 1.0]]))
    with pytest.raises(EmbedLensInputError, match="square"):
        vendi_score_K(np.ones((2, 3)))


# --------------------------------------------------------------------------- Hill numbers


def test_hill_numbers_closed_forms():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    assert hill_number(p, q=1) == pytest.approx(np.exp(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25))))
    assert hill_number(p, q=2) == pytest.approx(1 / (0.25 + 2 * 0.0625))
    assert hill_number(p, q=np.inf) == pytest.approx(2.0)
    assert hill_number(p, q=1e-9) == pytest.approx(3.0, rel=1e-6)  # q -> 0 counts the non-zero entries
    assert hill_number(p, q=5000) == pytest.approx(2.0, rel=1e-3)  # no underflow at large q
    assert hill_number([0.0, 0.0]) == 0.0


def test_hill_curve_is_non_increasing_and_hits_the_named_orders(rng):
    X = rng.standard_normal((80, 12)) + 0.5
    curve = hill_curve(X)
    assert np.all(np.diff(curve.values) <= 1e-9)
    assert curve.at(1.0) == pytest.approx(vendi_score(X), rel=1e-12)
    lam = spectrum(X, kernel="cosine", center=False).nonzero
    p = lam / lam.sum()
    assert curve.at(2.0) == pytest.approx(1 / (p**2).sum(), rel=1e-9)
    assert curve.at(np.inf) == pytest.approx(1 / p.max(), rel=1e-9)
    assert curve.kernel == "cosine" and np.isinf(curve.q[-1])


# --------------------------------------------------------------------------- coding rate


def _direct_coding_rate(X, eps2):
    """R = 1/2 logdet(I_d + d / (n eps2) Z Z^T), Z = normalised columns, by slogdet in float64."""
    Z = normalize(np.asarray(X, dtype=np.float64)).T
    d, n = Z.shape
    return 0.5 * np.linalg.slogdet(np.eye(d) + d / (n * eps2) * Z @ Z.T)[1]


@pytest.mark.parametrize("eps2", [0.5, 0.01])
def test_coding_rate_closed_forms(eps2):
    d = 6
    assert coding_rate(np.tile(np.arange(1.0, d + 1), (9, 1)), eps2=eps2) == pytest.approx(0.5 * np.log(1 + d / eps2))
    for k in (2, 3):
        X = _orthogonal_clusters([5] * k, d=d)
        assert coding_rate(X, eps2=eps2) == pytest.approx(k / 2 * np.log(1 + d / (k * eps2)), rel=1e-12)


def test_coding_rate_matches_slogdet_both_sides_of_sylvester(rng, small_matrix):
    assert coding_rate(small_matrix) == pytest.approx(_direct_coding_rate(np.delete(small_matrix, 3, 0), 0.5), rel=1e-9)
    wide = rng.standard_normal((10, 50))  # n < d
    assert coding_rate(wide, eps2=0.2) == pytest.approx(_direct_coding_rate(wide, 0.2), rel=1e-9)


def test_coding_rate_is_invariant_to_row_order_and_rotation(rng, small_matrix):
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    base = coding_rate(small_matrix)
    assert coding_rate(small_matrix[rng.permutation(40)]) == pytest.approx(base, rel=1e-9)
    assert coding_rate(small_matrix.astype(np.float64) @ Q) == pytest.approx(base, rel=1e-6)


def test_coding_rate_needs_unit_rows():
    with pytest.raises(EmbedLensInputError, match="unit-length rows"):
        coding_rate(spectrum(np.eye(4)))
    with pytest.raises(EmbedLensInputError, match=r"eps2=-1 is invalid: expected a number in \(0, inf\)"):
        coding_rate(np.eye(3), eps2=-1)


def test_rate_reduction_closed_form_and_direct(rng):
    d, eps2 = 4, 0.5
    X = _orthogonal_clusters([7, 7, 7], d=d, rng=rng)
    labels = np.repeat(["a", "b", "c"], 7)
    rr = rate_reduction(X, labels, eps2=eps2)
    assert rr.r == pytest.approx(1.5 * np.log(1 + d / (3 * eps2)))
    assert rr.rc == pytest.approx(0.5 * np.log(1 + d / eps2))
    assert rr.delta_r == pytest.approx(rr.r - rr.rc) and float(rr) == rr.delta_r
    assert rr.classes == ("a", "b", "c") and rr.counts.tolist() == [7, 7, 7]
    # a direct formula with membership matrices Pi_j on random data
    Y = rng.standard_normal((30, 5))
    lab = rng.integers(0, 3, 30)
    Z = normalize(Y).T
    direct_rc = sum(
        (lab == j).sum() / 60 * np.linalg.slogdet(np.eye(5) + 5 / ((lab == j).sum() * eps2)
                                                  * Z[:, lab == j] @ Z[:, lab == j].T)[1]
        for j in range(3))
    rr = rate_reduction(Y, lab, eps2=eps2)
    assert rr.rc == pytest.approx(direct_rc, rel=1e-9)
    assert rr.delta_r == pytest.approx(_direct_coding_rate(Y, eps2) - direct_rc, rel=1e-9)
    perm = rng.permutation(30)
    assert rate_reduction(Y[perm], lab[perm]).delta_r == pytest.approx(rr.delta_r, rel=1e-9)


def test_missing_labels_are_left_out(rng):
    X = rng.standard_normal((20, 3))
    labels = np.array(["x", "y"] * 10, dtype=object)
    labels[[0, 5]] = None
    rr = rate_reduction(X, labels)
    kept = np.array([v is not None for v in labels])
    assert rr.n_unlabelled == 2 and rr.counts.sum() == 18
    assert rr.r == pytest.approx(coding_rate(X[kept]), rel=1e-12)
    with pytest.raises(EmbedLensInputError, match="labels have 3 entries but X has 20 rows"):
        rate_reduction(X, [1, 2, 3])


def test_class_diversity_is_each_metric_on_its_class(rng, small_matrix):
    labels = np.array(list("abcd") * 10)
    table = class_diversity(small_matrix, labels, q=2.0, eps2=0.3)
    assert table["class"].tolist() == list("abcd")
    for row in table.itertuples():
        part = small_matrix[labels == row[1]]
        assert row.vendi == pytest.approx(vendi_score(part, q=2.0), rel=1e-12)
        assert row.coding_rate == pytest.approx(coding_rate(part, eps2=0.3), rel=1e-12)
    assert table.loc[table["class"] == "d", "n"].item() == 9  # row 3 (zero) is in class "d"
    rbf = class_diversity(small_matrix, labels, kernel="rbf", bandwidth=1.5)
    assert rbf["vendi"].iloc[0] == pytest.approx(
        vendi_score(small_matrix[labels == "a"], kernel="rbf", bandwidth=1.5), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 6), seed=st.integers(0, 10_000),
       q=st.sampled_from([0.5, 1.0, 2.0, np.inf]))
def test_vendi_lies_between_1_and_the_rank_and_falls_with_q(n, d, seed, q):
    X = np.random.default_rng(seed).standard_normal((n, d))
    Xn = normalize(X)
    rank = np.linalg.matrix_rank(Xn)
    value = vendi_score(X, q=q)
    assert 1 - 1e-9 <= value <= rank + 1e-9
    profile = [vendi_score(X, q=v) for v in (0.25, 0.5, 1.0, 2.0, 8.0, np.inf)]
    assert np.all(np.diff(profile) <= 1e-9)  # Hill numbers never increase with q


# --------------------------------------------------------------------------- issue 10: kinds


@pytest.mark.parametrize("precision", ["auto", "float32"])
@pytest.mark.parametrize("factor", [1e20, 1e-24])
def test_kind_scale_invariance_cosine_vendi_and_coding_rate(precision, factor):
    """The cosine path of float32 data scaled by 1e20 / 1e-24 gives the unscaled values (vendi-score as reference)."""
    X = np.random.default_rng(6).standard_normal((800, 48))
    ref_vendi = vendi.score_dual(X, normalize=True)  # the reference, float64, unscaled
    Z = normalize(X)
    ref_rate = 0.5 * np.linalg.slogdet(np.eye(48) + 48 / (800 * 0.5) * Z.T @ Z)[1]  # direct logdet, float64
    scaled = (X.astype(np.float32) * np.float32(factor)).astype(np.float32)
    s = spectrum(scaled, kernel="cosine", center=False, precision=precision)
    assert s.n == 800 and s.params["zero_rows_left_out"] == 0  # no row taken for a zero row
    assert vendi_score(scaled) == pytest.approx(ref_vendi, rel=1e-5)
    assert vendi_score(s) == pytest.approx(ref_vendi, rel=1e-5)
    assert coding_rate(scaled) == pytest.approx(ref_rate, rel=1e-5)
    assert coding_rate(s) == pytest.approx(ref_rate, rel=1e-5)
    rr = rate_reduction(scaled, np.arange(800) % 3)
    assert rr.r == pytest.approx(ref_rate, rel=1e-5) and rr.counts.tolist() == [267, 267, 266]


def test_kind_unit_diagonal_spectrum_entry_points():
    """One rule: Vendi, Hill curve and coding rate refuse a spectrum whose kernel lacks k(x, x) = 1."""
    X = np.random.default_rng(7).standard_normal((100, 6))
    linear = spectrum(X)  # linear, not normalised: 1.28 where the cosine Vendi is 2.08 before the fix
    for fn in (vendi_score, hill_curve, coding_rate):
        with pytest.raises(EmbedLensInputError, match=r"k\(x, x\) = 1.*spectrum\(X, kernel='cosine'\)"):
            fn(linear)
        with pytest.raises(EmbedLensInputError, match=r"k\(x, x\) = 1"):
            fn(linear.with_center(False))
    cosine = spectrum(X, kernel="cosine")
    assert vendi_score(cosine) == pytest.approx(vendi.score_dual(X), rel=1e-9)
    assert hill_curve(cosine, q=[1.0]).values[0] == pytest.approx(vendi.score_dual(X), rel=1e-9)
    assert vendi_score(spectrum(X, normalize=True)) == pytest.approx(vendi.score_dual(X), rel=1e-9)


def test_kind_sampled_results_carry_rows_method_seed():
    """class_diversity (rbf) reports the rows the Vendi score used; vendi_score says its subsample and seed."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((460, 5))
    labels = np.array(["a"] * 400 + ["b"] * 60)
    table = class_diversity(X, labels, kernel="rbf", bandwidth=2.0, max_n=150, seed=4).set_index("class")
    assert table.loc["a", "n"] == 150 and table.loc["a", "n_class"] == 400
    assert table.loc["a", "vendi_method"] == "seeded uniform subsample" and table.loc["a", "seed"] == 4
    assert table.loc["b", "n"] == 60 and table.loc["b", "vendi_method"] == "exact n x n"
    # the value is that of the recorded subsample (independent: sklearn's kernel + the package)
    part = X[labels == "a"]
    idx = np.sort(np.random.default_rng(4).choice(400, size=150, replace=False))
    expected = vendi.score_K(rbf_kernel(part[idx], gamma=1 / (2 * 2.0**2)))
    assert table.loc["a", "vendi"] == pytest.approx(expected, rel=1e-9)
    vs = vendi_score(part, kernel="rbf", bandwidth=2.0, max_n=150, seed=4)
    assert (vs.n, vs.n_input, vs.method, vs.seed, vs.sampled) == (150, 400, "seeded uniform subsample", 4, True)
    assert "seed 4" in vs.label and float(vs) == pytest.approx(expected, rel=1e-9)
    rff = vendi_score(part, kernel="rbf", bandwidth=2.0, max_n=150, approx="rff", seed=2)
    assert (rff.method, rff.seed, rff.n) == ("random Fourier features", 2, 400)
    exact = vendi_score(part)
    assert (exact.method, exact.seed, exact.sampled) == ("dual d x d", None, False)
    curve = hill_curve(part, kernel="rbf", bandwidth=2.0, max_n=150, seed=4)
    assert (curve.n, curve.method, curve.seed) == (150, "seeded uniform subsample", 4)
    import pickle

    again = pickle.loads(pickle.dumps(vs))
    assert float(again) == float(vs) and again.seed == 4 and again.n == 150
