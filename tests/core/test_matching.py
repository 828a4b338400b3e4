"""core.matching.match_units against numpy's correlations, scipy's assignment on them and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from core import EmbedLensInputError, match_units


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _corr(A, B):
    """Pearson correlations of A's columns with B's (numpy), the independent reference."""
    return np.corrcoef(A, B, rowvar=False)[: A.shape[1], A.shape[1]:]


def test_permuted_and_positively_rescaled_units_are_matched_back_with_correlation_one(rng):
    A = rng.standard_normal((200, 9)) @ rng.standard_normal((9, 9))  # correlated units
    perm = rng.permutation(9)
    s = rng.uniform(0.01, 100.0, 9)
    m = match_units(A, A[:, perm] * s)
    # B's unit j is A's unit perm[j]: A's unit perm[j] is matched to B's unit j
    np.testing.assert_array_equal(m.assignment[perm], np.arange(9))
    np.testing.assert_array_equal(m.semi_assignment[perm], np.arange(9))
    np.testing.assert_allclose(m.correlation, 1.0, atol=1e-12)
    np.testing.assert_allclose(m.semi_correlation, 1.0, atol=1e-12)
    assert not m.dead_a.any() and not m.dead_b.any() and m.n_matched == 9


def test_diagonal_positive_scaling_matches_each_unit_to_itself(rng):
    A = rng.standard_normal((100, 6)) + 5.0
    m = match_units(A, A * np.array([1, 2, 3, 0.5, 7, 1e-3]))
    np.testing.assert_array_equal(m.assignment, np.arange(6))
    np.testing.assert_allclose(m.correlation, 1.0, atol=1e-12)


def test_correlation_matrix_and_assignment_equal_numpy_and_scipy(rng):
    Z = rng.standard_normal((300, 4))
    A = Z @ rng.standard_normal((4, 7)) + rng.standard_normal((300, 7))
    B = Z @ rng.standard_normal((4, 5)) + rng.standard_normal((300, 5))
    for P, Q in ((A, B), (B, A)):  # rectangular both ways
        m = match_units(P, Q)
        C = _corr(P, Q)
        np.testing.assert_allclose(m.correlation_matrix, C, atol=1e-12)
        r, c = linear_sum_assignment(-C)
        expected = np.full(P.shape[1], -1)
        expected[r] = c
        np.testing.assert_array_equal(m.assignment, expected)
        np.testing.assert_array_equal(m.semi_assignment, C.argmax(axis=1))
        # brute force over every injective matching of the smaller side
        small = min(C.shape)
        if C.shape[0] <= C.shape[1]:
            best = max(sum(C[i, p[i]] for i in range(small)) for p in itertools.permutations(range(C.shape[1]), small))
        else:
            best = max(sum(C[p[j], j] for j in range(small)) for p in itertools.permutations(range(C.shape[0]), small))
        assert np.nansum(m.correlation) == pytest.approx(best, rel=1e-12)
        assert m.n_matched == small


def test_matched_order_puts_the_matches_on_the_diagonal(rng):
    A = rng.standard_normal((120, 6))
    B = np.hstack([A[:, [4, 0, 2]] + 0.1 * rng.standard_normal((120, 3)), rng.standard_normal((120, 2))])
    m = match_units(A, B)  # 6 units of A, 5 of B: one of A is unmatched
    M = m.correlation_matrix[np.ix_(m.order_a, m.order_b)]
    k = m.n_matched
    np.testing.assert_allclose(np.diag(M)[:k], m.correlation[m.order_a[:k]])
    assert sorted(m.order_a) == list(range(6)) and sorted(m.order_b) == list(range(5))
    assert m.assignment[4] == 0 and m.assignment[0] == 1 and m.assignment[2] == 2
    assert (m.assignment < 0).sum() == 1 and np.isnan(m.correlation[m.assignment < 0]).all()


def test_dead_units_are_flagged_not_nan(rng):
    A = rng.standard_normal((80, 5))
    A[:, 1] = 0.0  # a ReLU unit that never fires
    A[:, 3] = 2.5  # a constant unit
    B = A[:, ::-1].copy()
    m = match_units(A, B)
    np.testing.assert_array_equal(m.dead_a, [False, True, False, True, False])
    np.testing.assert_array_equal(m.dead_b, [False, True, False, True, False])
    assert np.isfinite(m.correlation_matrix).all()
    assert (m.correlation_matrix[[1, 3], :] == 0).all() and (m.correlation_matrix[:, [1, 3]] == 0).all()
    np.testing.assert_array_equal(m.assignment, [4, -1, 2, -1, 0])
    np.testing.assert_array_equal(m.semi_assignment, [4, -1, 2, -1, 0])
    np.testing.assert_allclose(m.correlation[[0, 2, 4]], 1.0, atol=1e-12)
    assert np.isnan(m.correlation[[1, 3]]).all()


def test_memmapped_float16_views(rng, tmp_path):
    A = rng.standard_normal((64, 4)).astype(np.float16)
    np.save(tmp_path / "a.npy", A)
    m = match_units(np.load(tmp_path / "a.npy", mmap_mode="r"), A[:, [2, 0, 3, 1]])
    np.testing.assert_array_equal(m.assignment, [1, 3, 0, 2])


def test_bad_input_is_refused_with_a_clear_message(rng):
    A = rng.standard_normal((10, 3))
    with pytest.raises(EmbedLensInputError, match="A has 10 rows but B has 9; the two views must hold the same items"):
        match_units(A, A[:9])
    with pytest.raises(EmbedLensInputError, match="A: has 1 row; at least 2 are needed"):
        match_units(A[:1], A[:1])
    bad = A.copy()
    bad[2, 0] = np.inf
    with pytest.raises(EmbedLensInputError, match=r"B: 1 of 10 rows holds NaN or inf \(row 2\)"):
        match_units(A, bad)
