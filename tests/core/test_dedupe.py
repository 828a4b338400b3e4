"""Issue 11 item 5: one helper per idea in core (cosine distance, sampling, labels, median
distance, PCA-k). Each test takes its expected value from an independent source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from core import intrinsic_dim, spectra
from core.neighbors import knn_graph
from core.selection import compare_groups, item_neighbors

# two rows at angle t: the exact cosine distance is 1 - 1/sqrt(1 + t^2) = t^2/2 - 3t^4/8 + ...
T = 1e-7
EXACT = T * T / 2


def test_kind_near_duplicate_cosine_distance_one_formula():
    """Every cosine distance core forms agrees with the exact value on near-duplicates
    (``1 - u.v`` cancels to 0 or 1.1e-16 there)."""
    X = np.array([[1.0, 0.0], [1.0, T], [-1.0, 0.3]])
    from core._numerics import cosine_distances

    assert cosine_distances(X[:1], X[1:2])[0, 0] == pytest.approx(EXACT, rel=1e-6)
    assert cosine_distances(X[:1], X[1:2], paired=True)[0] == pytest.approx(EXACT, rel=1e-6)
    _, dist = item_neighbors(X, 0, k=1, metric="cosine")
    assert float(dist[0]) == pytest.approx(EXACT, rel=1e-6)
    g = compare_groups(X[:2], np.array([True, False]), metric="cosine")
    assert g.centroid_distance == pytest.approx(EXACT, rel=1e-6)
    assert float(knn_graph(X, k=1, metric="cosine").distances[0, 0]) == pytest.approx(EXACT, rel=1e-6)


def test_kind_cosine_distance_matrix_matches_float64_formula():
    """Far pairs: the matrix equals the direct float64 formula; zero rows are at distance 1."""
    from core._numerics import cosine_distances

    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((7, 5)), rng.standard_normal((4, 5))
    A[2] = 0.0
    with np.errstate(invalid="ignore"):  # the zero row: 0 / 0, set to 1 below
        direct = 1 - (A @ B.T) / np.outer(np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1))
    direct[2] = 1.0
    np.testing.assert_allclose(cosine_distances(A, B), direct, rtol=1e-12, atol=1e-15)


def test_kind_seeded_subsample_reports_rows():
    from core._sampling import subsample

    s = subsample(20_000, 3_000, seed=0)
    np.testing.assert_array_equal(s.rows, np.sort(np.random.default_rng(0).choice(20_000, 3_000, replace=False)))
    assert (s.n_input, s.seed, s.sampled, s.label) == (20_000, 0, True, "3,000 of 20,000 rows, seed 0")
    pool = np.array([3, 9, 11, 40])
    assert subsample(pool, 10, seed=0).rows.tolist() == [3, 9, 11, 40]
    assert subsample(pool, 10, seed=0).label == "all 4 rows"
    # the RBF spectrum's subsample is that sample (its documented rows: seeded, sorted)
    X = np.random.default_rng(2).standard_normal((60, 3))
    sub = spectra.spectrum(X, kernel="rbf", max_n=20, seed=5, bandwidth=1.0)
    rows = np.sort(np.random.default_rng(5).choice(60, 20, replace=False))
    ref = spectra.spectrum(X[rows], kernel="rbf", max_n=20, seed=5, bandwidth=1.0)
    np.testing.assert_allclose(sub.eigenvalues, ref.eigenvalues, rtol=1e-12, atol=1e-15)


def test_kind_one_label_encoding_missing_as_text_values():
    """One encoder; missing is what text_values calls missing (None, NaN, pd.NA, NaT)."""
    from core.tables import MISSING_TEXT, encode_labels, text_values

    s = pd.Series(["b", None, "a", pd.NA, np.nan, "b"], dtype=object)
    codes, classes = encode_labels(s, len(s))
    assert codes.tolist() == [1, -1, 0, -1, -1, 1] and classes.tolist() == ["a", "b"]
    np.testing.assert_array_equal(codes < 0, text_values(s) == MISSING_TEXT)
    nullable = pd.Series([2, None, 1], dtype="Int64")
    assert encode_labels(nullable, 3)[0].tolist() == [1, -1, 0]


def test_kind_median_pairwise_distance_any_scale():
    """The median heuristic: scipy's pdist median of the positive distances, at any scale."""
    from core._numerics import median_pairwise_distance

    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 4))
    X[5] = X[4]
    d = pdist(X)
    assert median_pairwise_distance(X) == pytest.approx(float(np.median(d[d > 0])), rel=1e-12)
    assert spectra._median_distance(X * 1e300, 0) == pytest.approx(1e300 * spectra._median_distance(X, 0), rel=1e-12)


def test_kind_pca_k_from_shared_spectrum(monkeypatch):
    """intrinsic_dimension(method="pca") reads PCA-k off core.spectra.spectrum (one covariance)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 6)) * np.array([10, 5, 3, 0.1, 0.1, 0.1])
    calls = []
    real = spectra.spectrum
    monkeypatch.setattr(spectra, "spectrum", lambda *a, **k: calls.append(k) or real(*a, **k))
    est = intrinsic_dim.intrinsic_dimension(X, method="pca", variance=0.95, n_bootstrap=2)
    assert calls, "PCA-k computed a second covariance instead of the shared spectrum"
    lam = np.linalg.eigvalsh(np.cov(X.T, bias=True))[::-1]
    assert est.value == int(np.searchsorted(np.cumsum(lam) / lam.sum(), 0.95) + 1) == 3
