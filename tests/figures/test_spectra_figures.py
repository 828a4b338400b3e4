"""dashboard.figures.spectra: the info data and the figures' traces and axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core
from dashboard.figures import spectra as figs


def test_fmt():
    assert figs.fmt(float("nan")) == "—" and figs.fmt(None) == "—"
    assert figs.fmt(12) == "12" and figs.fmt(np.int64(12345)) == "12,345"
    assert figs.fmt(2.1573005) == "2.157" and figs.fmt(1234.5678) == "1,235"
    assert figs.fmt(0.01234) == "0.01234" and figs.fmt(2.5e-5) == "2.500e-05" and figs.fmt(0.0) == "0"


def test_labels_name_the_variant():
    assert figs.metric_label("vendi", kernel="cosine", q=1.0) == "Vendi (cosine, q=1)"
    assert figs.metric_label("vendi", kernel="rbf", q=0.5) == "Vendi (rbf, q=0.5)"
    assert figs.metric_label("coding_rate", eps2=0.5) == "Coding rate (ε²=0.5)"
    assert figs.metric_label("dse", sigma=10.0, t=1) == "DSE (σ=10, t=1)"
    assert figs.metric_label("dsmi", sigma=3.2, t=2, sigma_rule="median") == "DSMI with the label (σ=median, t=2)"
    assert figs.metric_label("effective_rank") == "Effective rank (singular values)"


def test_metric_cards_carry_values_formulas_and_references(small_matrix):
    profile = core.spectral_profile(small_matrix)
    dse = core.diffusion_spectral_entropy(small_matrix, sigma="median")
    cards = figs.metric_cards(profile, dse, sigma_rule="median")
    by_name = {c.name: c for c in cards}
    assert len(cards) == 9
    assert by_name["stable_rank"].value == figs.fmt(core.stable_rank(small_matrix))
    assert by_name["vendi"].label == "Vendi (cosine, q=1)" and by_name["vendi"].value == figs.fmt(profile.vendi)
    assert by_name["pca_95"].value == f"{profile.pca_90} / {profile.pca_95}"
    assert by_name["dse"].label == "DSE (σ=median, t=1)" and "deviation from the paper" in by_name["dse"].help
    assert by_name["alpha"].label == f"Power-law α (i = {profile.powerlaw.start}–{profile.powerlaw.stop})"
    for card in cards:
        assert figs.METRICS[card.name].reference in card.help and figs.METRICS[card.name].formula in card.help


def test_parameters_used_names_forms_rows_and_dse_settings(small_matrix):
    profile = core.spectral_profile(small_matrix)
    dse = core.diffusion_spectral_entropy(small_matrix, max_n=30, seed=2)
    text = figs.parameters_used(profile, dse)
    assert text.startswith("Covariance: linear, centred, dual d x d, n = 40 · Vendi and Hill: cosine, uncentred")
    assert "n = 39 (1 zero row left out: cosine undefined)" in text and "DSE: σ = 10 (given), t = 1, 30 of 40 rows (seed 2)" in text


def test_spectrum_info_and_figure():
    spec = core.Spectrum.from_eigenvalues(np.r_[np.arange(1, 51, dtype=float) ** -1.2, [0.0] * 3])
    fit = core.powerlaw_alpha(spec)
    info = figs.spectrum_info(spec, fit)
    assert len(info.values) == 50 and info.rank[0] == 1  # zero eigenvalues cannot sit on a log axis
    np.testing.assert_allclose(info.fit_values, info.values[info.start - 1:info.stop], rtol=1e-9)
    fig = figs.spectrum_figure(info)
    assert [t.name.split("<br>")[0] for t in fig.data] == ["eigenvalues", "power-law fit"]
    assert fig.data[1].name.endswith(f"α = {fit.alpha:.3f}, R² = {fit.r2:.3f} (i = {fit.start}–{fit.stop})")
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    nan_fit = figs.spectrum_info(core.Spectrum.from_eigenvalues([1.0, 0.5]), core.powerlaw_alpha(
        core.Spectrum.from_eigenvalues([1.0, 0.5])))
    assert len(figs.spectrum_figure(nan_fit).data) == 1


def test_cumulative_and_hill():
    spec = core.Spectrum.from_eigenvalues([0.5, 0.3, 0.15, 0.05])
    info = figs.cumulative_info(spec, core.pca_k(spec, share=0.9), core.pca_k(spec, share=0.95))
    assert (info.k90, info.k95) == (3, 3) and info.cumulative[-1] == pytest.approx(1.0)
    fig = figs.cumulative_figure(info)
    assert [t.name for t in fig.data] == ["cumulative", "PCA-90%: k = 3", "PCA-95%: k = 3"] and fig.data[1].x == (3,)
    curve = core.hill_curve(np.eye(5), q=[0.5, 1.0, 2.0, np.inf])
    h = figs.hill_info(curve, 1.0, 5.0)
    assert h.q.tolist() == [0.5, 1.0, 2.0] and h.d_inf == pytest.approx(5.0)
    assert figs.hill_figure(h).layout.xaxis.type == "log"


def test_class_bars():
    table = pd.DataFrame({"class": [0, 1], "n": [5, 7], "vendi": [1.5, 2.5], "coding_rate": [0.3, 0.4]})
    info = figs.class_bars_info(table, "label", vendi_label="Vendi (cosine, q=1)", coding_label="Coding rate")
    fig = figs.class_bars_figure(info)
    assert [t.type for t in fig.data] == ["bar", "bar"] and list(fig.data[0].x) == ["0", "1"]
    assert fig.layout.annotations[0].text == "Vendi (cosine, q=1)"


def test_trajectory_lines_group_and_sort():
    rows = [{"run": r, "layer": layer, "step": s, "value": 10 * s + (r == "b")}
            for s in (100, 1, 10) for r in ("a", "b") for layer in ("h1", "h2")]
    info = figs.trajectory_info(rows, label="Vendi (cosine, q=1)")
    assert [ln.name for ln in info.lines] == ["a · h1", "a · h2", "b · h1", "b · h2"]
    assert info.lines[0].steps.tolist() == [1, 10, 100] and info.lines[2].values.tolist() == [11, 101, 1001]
    assert info.log_x
    fig = figs.trajectory_figure(info)
    assert fig.data[0].line.color == fig.data[2].line.color and fig.data[0].line.dash != fig.data[2].line.dash
    assert not figs.trajectory_info([{"step": s, "value": 1.0} for s in (0, 1, 2)], label="x").log_x


def test_schur_figure(rng):
    X = rng.standard_normal((100, 4))
    sce = core.schur_complement_entropy(X, X[:, :2])
    info = figs.schur_info(sce, title="S and D")
    fig = figs.schur_figure(info)
    assert len(fig.data) == 2 and fig.data[0].name.startswith("S: not explained")
    assert len(fig.data[1].x) == int((sce.text_eigenvalues > 1e-10).sum())


# --------------------------------------------------------------------------- kinds (fresh-eyes review)


def _identical_rows():
    return np.ones((50, 8), dtype=np.float32) * 3


def test_kind_degenerate_input_label_alpha_card_identical_rows():
    """Identical rows: α is NaN, its card reads "undefined" with the spectrum's message, and the
    label names no empty fit range ("i = 1–0" was shown)."""
    profile = core.spectral_profile(_identical_rows())
    assert np.isnan(profile.powerlaw.alpha) and profile.powerlaw.n_points == 0
    assert profile.message == "all rows are identical: the covariance is zero, so ratios are undefined"
    card = {c.name: c for c in figs.metric_cards(profile)}["alpha"]
    assert card.label == "Power-law α" and card.value == "undefined"
    assert f"Undefined: {profile.message}" in card.help and "over 0 eigenvalues" not in card.help


def test_kind_empty_figure_note_degenerate_spectrum():
    """The eigen-spectrum and cumulative charts of identical rows say why they are empty instead
    of showing bare axes (the log axes ran to 10^4)."""
    profile = core.spectral_profile(_identical_rows())
    note = "all rows are identical: nothing to plot"
    for fig in (figs.spectrum_figure(figs.spectrum_info(profile.covariance, profile.powerlaw)),
                figs.cumulative_figure(figs.cumulative_info(profile.covariance, profile.pca_90, profile.pca_95))):
        assert [a.text for a in fig.layout.annotations] == [note]
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
        assert all(len(t.x) == 0 for t in fig.data)
    # a spectrum with values carries no note
    spec = core.Spectrum.from_eigenvalues(np.arange(1, 11, dtype=float) ** -1.0)
    assert not figs.spectrum_figure(figs.spectrum_info(spec, core.powerlaw_alpha(spec))).layout.annotations


def test_kind_scale_dependent_bandwidth_dse_card_warning():
    """The DSE card's help carries the result's bandwidth warning (data at scale 1e20, sigma = 10)."""
    X = (np.random.default_rng(0).standard_normal((60, 16)) * 1e20).astype(np.float32)
    profile, dse = core.spectral_profile(X), core.diffusion_spectral_entropy(X)
    card = {c.name: c for c in figs.metric_cards(profile, dse)}["dse"]
    assert dse.warning and f"Warning: {dse.warning}" in card.help
