"""What a reader stumbles on, checked on every figure of dashboard/figures (spectra, geometry, health):
log axes that label minor ticks with bare digits or write exponents as SI prefixes, text drawn on the
data, heatmaps without axis titles (issue 10, item 28)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import core
from dashboard.figures import geometry as fg
from dashboard.figures import health as fh
from dashboard.figures import spectra as fs

SI_OR_DEFAULT = {None, "B", "SI"}  # plotly's default "B" writes 1e-5 as "10μ"


def _figures() -> dict[str, go.Figure]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 12)) * np.geomspace(10, 0.001, 12)  # eigenvalues over 8 decades
    labels = pd.Series(np.repeat(list("abc"), 100))
    X[:100] += 3.0
    profile = core.spectral_profile(X)
    sce = core.schur_complement_entropy(X, X[:, ::-1] + rng.standard_normal(X.shape))
    rows = [{"run": f"seed{r}", "layer": "h1", "step": s, "value": float(s + r)} for r in range(2)
            for s in (1, 3, 10, 30, 100)]
    curves = (core.id_scale_curve(X), core.id_scale_curve(X, method="mle", k_max=10))
    nc = core.neural_collapse(X, labels)
    nc_rows = [{"run": f"r{r}", "layer": lay, "step": s, "nc1": 10.0 ** (-s / 30) * (1 + r)}
               for r in range(2) for lay in ("h1", "h2") for s in (1, 10, 100)]
    table = core.class_diversity(X, labels)
    return {
        "spectrum": fs.spectrum_figure(fs.spectrum_info(profile.covariance, profile.powerlaw)),
        "cumulative": fs.cumulative_figure(fs.cumulative_info(profile.covariance, profile.pca_90, profile.pca_95)),
        "hill": fs.hill_figure(fs.hill_info(profile.hill, profile.q, profile.vendi)),
        "class_bars": fs.class_bars_figure(fs.class_bars_info(table, "label", vendi_label="Vendi (cosine, q=1)",
                                                              coding_label="Coding rate (ε²=0.5)")),
        "trajectory": fs.trajectory_figure(fs.trajectory_info(rows, label="Vendi (cosine, q=1)")),
        "schur": fs.schur_figure(fs.schur_info(sce, title="Spectra of S and D (linear)", given="text")),
        "id_scale": fg.id_scale_figure(fg.id_scale_info(curves, core.intrinsic_dimension(X))),
        "barcode": fg.barcode_figure(fg.barcode_info(core.separability(X, labels))),
        "cosine_heatmap": fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cosine")),
        "cdnv_heatmap": fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cdnv")),
        "collapse": fg.collapse_trajectory_figure(fg.collapse_trajectory_info(nc_rows)),
        "norms": fh.norm_histogram_figure(fh.norm_histogram_info(np.linalg.norm(X, axis=1))),
    }


FIGURES = _figures()


def _axes(fig: go.Figure):
    for name in fig.layout:
        if name.startswith(("xaxis", "yaxis")):
            yield name, fig.layout[name]


def _effective(fig, name, axis, prop):
    value = axis[prop]
    if value is None:
        value = fig.layout.template.layout[name.rstrip("0123456789")][prop]
    return value


def _data_range(fig, name):
    """Positive values of the traces drawn on axis ``name`` (e.g. "yaxis2")."""
    letter, suffix = name[0], name[5:]
    ref = letter + (suffix if suffix not in ("", "1") else "")
    out = []
    for t in fig.data:
        if (getattr(t, f"{letter}axis", None) or letter) == ref and t[letter] is not None:
            v = np.asarray(t[letter], dtype=object)
            v = np.array([x for x in v.ravel() if isinstance(x, (int, float, np.number))], float)
            out.append(v[np.isfinite(v) & (v > 0)])
    return np.concatenate(out) if out else np.empty(0)


@pytest.mark.parametrize("key", list(FIGURES))
def test_kind_log_axes_label_powers_not_si_or_minor_digits(key):
    fig = FIGURES[key]
    for name, axis in _axes(fig):
        assert _effective(fig, name, axis, "exponentformat") not in SI_OR_DEFAULT, (key, name)
        if axis.type == "log":
            v = _data_range(fig, name)
            if len(v) and np.log10(v.max() / v.min()) >= 1:
                # labels on powers of ten: plotly's default ("D1" / "D2") writes bare digits "2 5" / "8 9"
                assert isinstance(axis.dtick, int) and axis.dtick >= 1, (key, name, axis.dtick)
                assert np.log10(v.max() / v.min()) / axis.dtick <= 7  # not crammed


@pytest.mark.parametrize("key", list(FIGURES))
def test_kind_no_text_drawn_on_the_data(key):
    """Labels go in legends, titles or outside the plotting area: no annotation inside it (in data
    coordinates, or in paper coordinates within [0, 1] x [0, 1]) and no text marks on traces."""
    fig = FIGURES[key]
    for a in fig.layout.annotations:
        paper_x = a.xref in ("paper",) or (a.xref or "").endswith("domain")
        paper_y = a.yref in ("paper",) or (a.yref or "").endswith("domain")
        assert paper_x and paper_y, (key, a.text, a.xref, a.yref)
        outside = a.y >= 1 or a.y <= 0 or a.x >= 1 or a.x <= 0
        assert outside, (key, a.text, a.x, a.y)
    for t in fig.data:
        assert "text" not in (getattr(t, "mode", None) or ""), (key, t.name)
    for shape in fig.layout.shapes:
        assert not (shape.label and shape.label.text), (key, shape.label.text)


@pytest.mark.parametrize("key", [k for k in FIGURES if k.endswith("heatmap")])
def test_kind_heatmaps_have_axis_titles(key):
    fig = FIGURES[key]
    assert any(isinstance(t, go.Heatmap) for t in fig.data)
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_kind_metric_labels_fit_a_card():
    """A card label longer than ~34 characters is cut off with an ellipsis at 1400 px (4 cards a row)."""
    long = {k: fs.metric_label(k) for k in fs.METRICS if len(fs.metric_label(k)) > 34}
    assert not long, long


def _texts(fig):
    if fig.layout.title.text:
        yield "title", fig.layout.title.text
    for name, axis in _axes(fig):
        if axis.title.text:
            yield name, axis.title.text
    for t in fig.data:
        if t.name and t.showlegend is not False:
            yield "legend", t.name


HALF_WIDTH = ("spectrum", "cumulative", "hill", "id_scale", "barcode", "cosine_heatmap", "cdnv_heatmap")


@pytest.mark.parametrize("key", HALF_WIDTH)
def test_kind_titles_fit_a_half_width_chart(key):
    """A chart in half of a 1000 px window's main column is ~270 px wide: about 36 characters a line
    of a (bold, larger) title, 30 of an axis title (centred on the plot area, right of the y axis:
    "median neighbour distance (unit sphere)", 38, lost its last 3 at 1000 px), 48 of a legend entry,
    or the end is cut off."""
    for where, text in _texts(FIGURES[key]):
        longest = max(len(line) for line in text.split("<br>"))
        assert longest <= {"title": 36, "legend": 48}.get(where, 30), (key, where, text)
