"""core.profile: every spectral summary of a view from its two spectra."""

from __future__ import annotations

import numpy as np
import pytest

import core


def test_profile_equals_each_metric_computed_on_its_own(small_matrix):
    p = core.spectral_profile(small_matrix, q=2.0, eps2=0.3)
    assert p.participation_ratio == pytest.approx(core.participation_ratio(small_matrix), rel=1e-12)
    assert p.stable_rank == pytest.approx(core.stable_rank(small_matrix), rel=1e-12)
    assert p.effective_rank == pytest.approx(core.effective_rank(small_matrix), rel=1e-12)
    assert p.rankme == pytest.approx(core.rankme(small_matrix), rel=1e-9)
    assert (p.pca_90, p.pca_95) == (core.pca_k(small_matrix, share=0.9), core.pca_k(small_matrix, share=0.95))
    assert p.powerlaw.alpha == pytest.approx(core.powerlaw_alpha(small_matrix).alpha, rel=1e-12)
    assert p.vendi == pytest.approx(core.vendi_score(small_matrix, q=2.0), rel=1e-12)
    assert p.coding_rate == pytest.approx(core.coding_rate(small_matrix, eps2=0.3), rel=1e-12)
    assert p.hill.at(2.0) == pytest.approx(p.vendi, rel=1e-12)
    assert p.coding_spectrum is p.kernel_spectrum and p.covariance.center and not p.kernel_spectrum.center
    assert set(p.values()) == {"participation_ratio", "stable_rank", "effective_rank", "rankme", "pca_90",
                               "pca_95", "alpha", "vendi", "coding_rate"}


def test_rbf_profile_keeps_the_cosine_coding_rate(small_matrix):
    p = core.spectral_profile(small_matrix, kernel="rbf", bandwidth=2.0)
    assert p.kernel_spectrum.kernel == "rbf" and p.coding_spectrum.kernel == "cosine"
    assert p.vendi == pytest.approx(core.vendi_score(small_matrix, kernel="rbf", bandwidth=2.0), rel=1e-12)
    assert p.coding_rate == pytest.approx(core.coding_rate(small_matrix), rel=1e-12)
    with pytest.raises(core.EmbedLensInputError, match="kernel='linear'"):
        core.spectral_profile(small_matrix, kernel="linear")


def test_profile_pickles_for_the_streamlit_cache(small_matrix):
    import pickle

    p = core.spectral_profile(small_matrix)
    back = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(back.covariance.eigenvalues, p.covariance.eigenvalues)
    assert dict(back.covariance.params) == dict(p.covariance.params)
    assert core.rankme(back.covariance) == pytest.approx(p.rankme)  # the moments came along


def test_kind_degenerate_spectrum_declared_undefined_profile():
    X = np.tile(np.array([[0.3, -1.0, 2.0, 5.0]], dtype=np.float32), (50, 1))
    p = core.spectral_profile(X)
    assert p.message == "all rows are identical: the covariance is zero, so ratios are undefined"
    for name in ("participation_ratio", "effective_rank", "pca_90", "pca_95", "alpha"):
        assert np.isnan(p.values()[name]), name
    assert p.vendi == pytest.approx(1.0) and np.isfinite(p.coding_rate)  # uncentred kernel: defined


def test_kind_degenerate_spectrum_declared_undefined_spectra_cards():
    from dashboard.figures import spectra as figs

    X = np.tile(np.array([[0.3, -1.0, 2.0, 5.0]], dtype=np.float32), (50, 1))
    p = core.spectral_profile(X)
    cards = {c.name: c for c in figs.metric_cards(p)}
    for name in ("participation_ratio", "effective_rank", "pca_95", "alpha"):
        assert cards[name].value == "undefined" and "all rows are identical" in cards[name].help, name
    assert "undefined: all rows are identical" in figs.parameters_used(p)
    info = figs.cumulative_info(p.covariance, p.pca_90, p.pca_95)
    assert (info.k90, info.k95) == (0, 0)
