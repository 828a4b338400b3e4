"""The scale-safe helpers every metric builds on: right at every float32 / float64 scale."""

from __future__ import annotations

import numpy as np
import pytest

from core._numerics import pow2_scale, rescaled, row_norms, unit_rows


@pytest.mark.parametrize("scale", [1e-40, 1e-30, 1e-20, 1.0, 1e19, 1e20, 1e30, 3e37])
def test_kind_scale_row_norms_float32(scale):
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((50, 16))
    X = (Y * scale).astype(np.float32)
    # independent: math.hypot over exact Python floats of the stored float32 values
    ref = np.array([np.hypot.reduce(row.astype(np.float64)) for row in X])
    np.testing.assert_allclose(row_norms(X), ref, rtol=1e-12)
    U, norms = unit_rows(X)
    assert U.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(U.astype(np.float64), axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_kind_scale_row_norms_float64(scale):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 8)) * scale
    ref = np.array([np.hypot.reduce(row) for row in X])
    np.testing.assert_allclose(row_norms(X), ref, rtol=1e-12)
    U, _ = unit_rows(X, dtype=np.float64)
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-12)


def test_zero_rows_stay_zero():
    X = np.zeros((3, 4), np.float32)
    X[1, 2] = 5.0
    U, norms = unit_rows(X)
    np.testing.assert_array_equal(norms, [0.0, 5.0, 0.0])
    np.testing.assert_array_equal(U[[0, 2]], 0.0)
    np.testing.assert_array_equal(U[1], [0, 0, 1, 0])


def test_pow2_scale_is_exact():
    X = np.array([[3.0, -1e20], [0.5, 2.0]], np.float32)
    s = pow2_scale(X)
    assert s == 2.0 ** 67 and 1e20 <= s < 2e20
    Z, s2 = rescaled(X)
    assert s2 == s and Z.dtype == np.float32
    np.testing.assert_array_equal(Z.astype(np.float64) * s, X.astype(np.float64))
    assert pow2_scale(np.zeros((2, 2))) == 1.0
    assert pow2_scale(np.array([[np.nan, 4.0]])) == 8.0
