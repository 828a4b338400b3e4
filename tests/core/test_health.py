"""core.health: each problem found exactly, on fixtures built to hold it."""

from __future__ import annotations

import numpy as np

from core import health_report
from core.health import duplicate_groups, equal_row_groups


def test_clean_matrix_has_no_warnings(rng):
    h = health_report(rng.standard_normal((50, 5)).astype(np.float32))
    assert h.warnings() == [] and h.n_unique == 50


def test_every_problem_is_found(small_matrix):
    X = small_matrix.copy()
    X[:, 4] = 0.0  # a dead dimension (zero, so row 3 stays a zero vector)
    X[11, 0] = np.nan
    X[30] = X[2]  # a third copy of row 2
    h = health_report(X)
    assert h.nonfinite_rows.tolist() == [11]
    assert h.zero_rows.tolist() == [3]
    assert h.duplicate_rows.tolist() == [7, 30] and h.n_duplicate_groups == 1
    assert h.dead_dims.tolist() == [4]
    assert np.isnan(h.norms[11]) and h.norms[3] == 0.0
    np.testing.assert_allclose(h.norms[0], np.linalg.norm(X[0].astype(np.float64)))
    text = " ".join(h.warnings())
    assert "1 row holds NaN or inf (row 11)" in text  # counts and nouns agree (was "1 rows hold")
    assert "1 row is a zero vector (row 3)" in text
    assert "2 rows exactly repeat an earlier row (1 group; rows 7, 30)" in text
    assert "1 of 6 dimensions is constant (dim 4)" in text


def test_duplicate_groups_agree_with_numpy_unique(rng):
    base = rng.integers(0, 3, size=(400, 3)).astype(np.float32)  # many collisions by design
    labels = duplicate_groups(base)
    _, first, inverse = np.unique(base, axis=0, return_index=True, return_inverse=True)
    expected = first[inverse.ravel()]
    # our label is the first row of the group; numpy's return_index is also the first occurrence
    np.testing.assert_array_equal(labels, expected)


def test_duplicates_are_bitwise_and_odd_widths_work(rng):
    X = rng.standard_normal((6, 3)).astype(np.float32)  # 12 bytes per row: padded to 16
    X[4] = X[1]
    X[5] = X[1]
    X[5, 2] = np.nextafter(X[5, 2], np.float32(1))  # one ulp away: not a duplicate
    assert duplicate_groups(X).tolist() == [0, 1, 2, 3, 1, 5]


def test_blocks_do_not_change_the_answer(rng):
    X = rng.standard_normal((40_000, 4)).astype(np.float32)  # > one 16,384-row block
    X[39_999] = X[5]
    X[20_000] = 0
    h = health_report(X)
    assert h.duplicate_rows.tolist() == [39_999]
    assert h.zero_rows.tolist() == [20_000]


def test_equal_row_groups_compare_transformed_rows_and_skip_unusable_ones():
    X = np.array([[1.0, 2.0], [0.0, 0.0], [2.0, 4.0], [1.0, 2.0], [3.0, 1.0], [0.0, 0.0]])

    def direction(block):  # unit rows; zero rows are unusable
        norms = np.linalg.norm(block, axis=1)
        ok = norms > 0
        return (block / np.where(ok, norms, 1)[:, None]).astype(np.float32) + np.float32(0), ok

    assert equal_row_groups(X).tolist() == [0, 1, 2, 0, 4, 1]
    assert equal_row_groups(X, transform=direction, block=2).tolist() == [0, -1, 0, 0, 4, -1]


def test_kind_scale_invariance_health_norms():
    """Row norms are right (float64 reference, scaled) from 1e-200 to 1e200 and never call a
    non-zero row zero."""
    Y = np.random.default_rng(0).standard_normal((300, 16))
    ref = np.sqrt((Y ** 2).sum(1))
    for s in (1e-30, 1e-24, 1e20, 1e30):
        h = health_report((Y * s).astype(np.float32))
        np.testing.assert_allclose(h.norms, ref * s, rtol=1e-6)
        assert len(h.zero_rows) == 0 and h.warnings() == []
    for s in (1e-200, 1e200):
        h = health_report(Y * s)
        np.testing.assert_allclose(h.norms / s, ref, rtol=1e-12)
        assert len(h.zero_rows) == 0
    assert h.norms.dtype == np.float64


def test_kind_plural_counts_agree_in_health_messages():
    from core._validation import plural

    assert [plural(n, "group") for n in (0, 1, 2)] == ["0 groups", "1 group", "2 groups"]
    assert plural(1797, "row", thousands=True) == "1,797 rows" and plural(np.int64(1), "entry", "entries") == "1 entry"
    X = np.arange(1, 41, dtype=np.float64).reshape(10, 4)
    X[:, 1] = 0.0  # two dead dimensions
    X[:, 2] = 0.0
    X[5], X[6] = X[0], X[1]  # two groups
    X[8] = 0.0
    X[9] = 0.0  # two zero vectors (one group of duplicates more)
    text = " ".join(health_report(X).warnings())
    assert "2 rows are zero vectors (rows 8, 9); cosine similarity is undefined for them." in text, text
    assert "3 rows exactly repeat an earlier row (3 groups; rows 5, 6, 9)" in text, text
    assert "2 of 4 dimensions are constant (dims 1, 2); they carry no information." in text, text
    for bad in ("1 rows", "1 groups", "1 dims", "1 dimensions are"):
        assert bad not in text
