"""Spectra page figures: eigen-spectrum with its power-law fit, cumulative explained variance,
Hill curve, per-class bars, metric trajectories over training, and the Schur-complement spectra.

Also the labels naming each metric's variant; the titles, formulas and references the page's
cards and expander show come from :mod:`core.metric_text`. Everything here is pure: ``*_info``
returns plain data, ``*_figure`` a Figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import metric_text
from core.metric_text import metric_help

from ..literal import plot
from .theme import ACCENT, OKABE_ITO, TEMPLATE, log_axis

__all__ = [
    "METRICS",
    "Card",
    "metric_cards",
    "metric_label",
    "metric_help",
    "parameters_used",
    "fmt",
    "SpectrumInfo",
    "spectrum_info",
    "spectrum_figure",
    "alpha_label",
    "empty_note",
    "CumulativeInfo",
    "cumulative_info",
    "cumulative_figure",
    "HillInfo",
    "hill_info",
    "hill_figure",
    "ClassBarsInfo",
    "class_bars_info",
    "class_bars_figure",
    "TrajectoryInfo",
    "trajectory_info",
    "trajectory_figure",
    "SchurInfo",
    "schur_info",
    "schur_figure",
]


METRICS: dict[str, metric_text.MetricText] = {
    k: metric_text.METRICS[k] for k in ("participation_ratio", "stable_rank", "effective_rank", "rankme", "pca_95",
                                        "pca_90", "alpha", "vendi", "coding_rate", "rate_reduction", "dse", "dsmi", "sce")}
"""The Spectra page's metrics (cards, trajectories, paired views): entries of :data:`core.metric_text.METRICS`."""


def fmt(value, digits: int = 4) -> str:
    """A number for a card: 4 significant digits, thousands separators, "—" for NaN / None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    value = float(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value))))) if value else 0
    return f"{value:,.{decimals}f}"


def metric_label(name: str, **params) -> str:
    """The variant-naming label of metric ``name`` with its parameters, e.g. "Vendi (cosine, q=1)"."""
    title = METRICS[name].title
    if name == "vendi":
        return f"Vendi ({params.get('kernel', 'cosine')}, q={params.get('q', 1.0):g})"
    if name in ("coding_rate", "rate_reduction"):
        return f"{title} (ε²={params.get('eps2', 0.5):g})"
    if name in ("dse", "dsmi"):
        sigma = "median" if params.get("sigma_rule") == "median" else f"{params.get('sigma', 10.0):g}"
        return f"{title} (σ={sigma}, t={params.get('t', 1)})"
    if name == "sce":
        return f"SCE ({params.get('kernel', 'linear')})"
    return title


@dataclass(frozen=True)
class Card:
    """One metric card: the label naming the variant, the value, formula + reference as help."""

    name: str
    label: str
    value: str
    help: str


def metric_cards(profile, dse=None, *, sigma_rule: str = "fixed") -> list[Card]:
    """Cards for a :class:`core.SpectralProfile` (and a :class:`core.DiffusionEntropy`)."""
    fit = profile.powerlaw
    why = getattr(profile, "message", None)  # a degenerate covariance: its ratios are undefined

    def value(text: str, undefined: bool) -> str:
        return "undefined" if undefined else text

    def help_(name: str, undefined: bool, extra: str = "") -> str:
        return metric_help(name) + extra + (f"\n\nUndefined: {why}" if undefined else "")

    cov_undefined = why is not None
    cards = [
        Card("participation_ratio", metric_label("participation_ratio"),
             value(fmt(profile.participation_ratio), cov_undefined), help_("participation_ratio", cov_undefined)),
        Card("stable_rank", metric_label("stable_rank"), value(fmt(profile.stable_rank), cov_undefined),
             help_("stable_rank", cov_undefined)),
        Card("effective_rank", metric_label("effective_rank"), value(fmt(profile.effective_rank), cov_undefined),
             help_("effective_rank", cov_undefined)),
        Card("rankme", metric_label("rankme"), fmt(profile.rankme), metric_help("rankme")),
        Card("pca_95", "PCA-k (90% / 95%)",
             value(f"{fmt(profile.pca_90)} / {fmt(profile.pca_95)}", cov_undefined), help_("pca_95", cov_undefined)),
        Card("alpha", alpha_label(fit), value(fmt(fit.alpha), cov_undefined),
             help_("alpha", cov_undefined, f"\n\nR² = {fmt(fit.r2)} over {fit.n_points} eigenvalues"
                   if fit.n_points else "")),
        Card("vendi", metric_label("vendi", kernel=profile.kernel_spectrum.kernel, q=profile.q), fmt(profile.vendi),
             metric_help("vendi") + f"\n\nSpectrum: {profile.kernel_spectrum.label}"
             + (f" — {profile.vendi.n:,} of {profile.vendi.n_input:,} rows, {profile.vendi.method}, seed "
                f"{profile.vendi.seed}" if getattr(profile.vendi, "sampled", False) else "")),
        Card("coding_rate", metric_label("coding_rate", eps2=profile.eps2), fmt(profile.coding_rate),
             metric_help("coding_rate")),
    ]
    if dse is not None:
        warning = getattr(dse, "warning", None)
        cards.append(Card("dse", metric_label("dse", sigma=dse.sigma, t=dse.t, sigma_rule=sigma_rule),
                          fmt(dse.value), metric_help("dse") + f"\n\nσ = {dse.sigma:.4g} ({dse.sigma_rule}); "
                          f"{dse.n_used:,} of {dse.n:,} rows; at most log₂ n = {dse.max_value:.3g} bits"
                          + (f"\n\nWarning: {warning}" if warning else "")))
    return cards


def alpha_label(fit) -> str:
    """The α card's label: its fit range only when the range holds eigenvalues (not "i = 1–0")."""
    return f"Power-law α (i = {fit.start}–{fit.stop})" if fit.n_points else "Power-law α"


def empty_note(spec) -> str:
    """Why a spectrum chart has nothing to draw ("" when it has): a degenerate spectrum's message
    (e.g. "all rows are identical: nothing to plot"), or no eigenvalue above the rank tolerance."""
    message = getattr(spec, "message", None)
    if message:
        head = message.split(":")[0] if ":" in message else message.split(",")[0]
        return f"{head}: nothing to plot"
    if not len(spec.nonzero):
        return "no eigenvalue above the rounding tolerance: nothing to plot"
    return ""


def _note_only(fig: go.Figure, note: str) -> go.Figure:
    """``fig`` with its axes hidden and ``note`` written in the middle (an empty chart says why)."""
    fig.add_annotation(text=note, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=14, color="#555"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def parameters_used(profile, dse=None) -> str:
    """One line naming the spectra (kernel, centring, form, rows) and DSE settings behind the cards."""
    text = (f"Covariance: {profile.covariance.label}, n = {profile.covariance.n:,} · Vendi and Hill: "
            f"{profile.kernel_spectrum.label} · coding rate: {profile.coding_spectrum.label}, "
            f"n = {profile.coding_spectrum.n:,}")
    if getattr(profile, "message", None):
        text += f" · covariance ratios undefined: {profile.message}"
    zero = profile.coding_spectrum.params.get("zero_rows_left_out", 0)
    if zero:
        text += f" ({zero:,} zero {'row' if zero == 1 else 'rows'} left out: cosine undefined)"
    if dse is not None:
        text += (f" · DSE: σ = {dse.sigma:.4g} ({dse.sigma_rule}), t = {dse.t}, {dse.n_used:,} of {dse.n:,} rows "
                 f"(seed {dse.seed})")
    return text


# --------------------------------------------------------------------------- spectrum

_BELOW = dict(orientation="h", x=0, y=-0.28, yanchor="top")
"""A legend under the x-axis title: inside a log-log plot it sat on the spectrum's tail."""


@dataclass(frozen=True, eq=False)
class SpectrumInfo:
    """Non-zero eigenvalues by rank (1-based) and the power-law fit over its range."""

    rank: np.ndarray
    values: np.ndarray
    fit_rank: np.ndarray
    fit_values: np.ndarray
    start: int
    stop: int
    alpha: float
    r2: float
    title: str
    note: str = ""
    """Why nothing is drawn (a degenerate spectrum), shown on the chart; "" when there is a spectrum."""


def spectrum_info(spec, fit, *, title: str = "") -> SpectrumInfo:
    values = spec.nonzero
    rank = np.arange(1, len(values) + 1)
    if np.isfinite(fit.alpha):
        fit_rank = np.arange(fit.start, fit.stop + 1)
        fit_values = np.exp(fit.intercept) * fit_rank.astype(float) ** (-fit.alpha)
    else:
        fit_rank, fit_values = np.empty(0, int), np.empty(0)
    note = empty_note(spec)
    if note:
        rank, values = np.empty(0, int), np.empty(0)
    return SpectrumInfo(rank, values, fit_rank, fit_values, fit.start, fit.stop, fit.alpha, fit.r2,
                        title or f"Eigen-spectrum ({spec.kernel}{', centred' if spec.center else ''})", note)


def spectrum_figure(info: SpectrumInfo) -> go.Figure:
    """Eigenvalue against rank on log-log axes, the fitted power law dashed over its range."""
    fig = go.Figure(go.Scatter(x=info.rank, y=info.values, mode="lines+markers", marker_size=4,
                               line_color=ACCENT, name="eigenvalues",
                               hovertemplate="λ<sub>%{x}</sub> = %{y:.4g}<extra></extra>"))
    if len(info.fit_rank):
        # the fit's numbers go in its legend entry, not on the data
        fig.add_trace(go.Scatter(x=info.fit_rank, y=info.fit_values, mode="lines",
                                 name=f"power-law fit<br>α = {info.alpha:.3f}, R² = {info.r2:.3f} (i = {info.start}–{info.stop})",
                                 line=dict(color=OKABE_ITO[3], dash="dash", width=2),
                                 hovertemplate="fit %{y:.4g}<extra></extra>"))
        fig.add_vrect(x0=info.start, x1=info.stop, fillcolor=OKABE_ITO[3], opacity=0.07, line_width=0)
    fig.update_layout(template=TEMPLATE, title=info.title, height=380, legend=_BELOW,
                      xaxis=log_axis(info.rank, title="rank i"), yaxis=log_axis(info.values, title="eigenvalue λᵢ"))
    return _note_only(fig, info.note) if info.note else fig


@dataclass(frozen=True, eq=False)
class CumulativeInfo:
    k: np.ndarray
    cumulative: np.ndarray
    k90: int
    k95: int
    note: str = ""
    """Why nothing is drawn (a degenerate spectrum); "" when there is a curve."""


def cumulative_info(spec, k90: int, k95: int) -> CumulativeInfo:
    cum = spec.cumulative
    def count(k) -> int:  # NaN (a degenerate spectrum): no PCA-k marker
        return int(k) if k == k else 0

    note = empty_note(spec)
    if note:
        return CumulativeInfo(np.empty(0, int), np.empty(0), 0, 0, note)
    return CumulativeInfo(np.arange(1, len(cum) + 1), cum, count(k90), count(k95))


def cumulative_figure(info: CumulativeInfo) -> go.Figure:
    """Cumulative explained-variance ratio with PCA-k (90% and 95%) marked."""
    fig = go.Figure(go.Scatter(x=info.k, y=info.cumulative, mode="lines", line_color=ACCENT, name="cumulative",
                               hovertemplate="%{x} components: %{y:.1%}<extra></extra>"))
    for k, share, color in ((info.k90, 0.90, OKABE_ITO[1]), (info.k95, 0.95, OKABE_ITO[2])):
        if k > 0:
            fig.add_trace(go.Scatter(x=[k], y=[info.cumulative[k - 1]], mode="markers", name=f"PCA-{share:.0%}: k = {k}",
                                     marker=dict(color=color, size=10),
                                     hovertemplate=f"PCA-k ({share:.0%}) = {k}<extra></extra>"))
            fig.add_hline(y=share, line_dash="dot", line_color=color, opacity=0.6)
    fig.update_layout(template=TEMPLATE, title="Cumulative explained variance", height=380,
                      xaxis_title="principal components k", yaxis=dict(title="share of variance", tickformat=".0%",
                                                                       range=[0, 1.02]),
                      legend=dict(x=0.6, y=0.1))
    return _note_only(fig, info.note) if info.note else fig


@dataclass(frozen=True, eq=False)
class HillInfo:
    q: np.ndarray
    values: np.ndarray
    d_inf: float
    q_selected: float
    value_selected: float
    label: str


def hill_info(curve, q_selected: float, value_selected: float) -> HillInfo:
    finite = np.isfinite(curve.q)
    d_inf = float(curve.values[~finite][0]) if (~finite).any() else float("nan")
    return HillInfo(curve.q[finite], curve.values[finite], d_inf, float(q_selected), float(value_selected),
                    curve.label)


def hill_figure(info: HillInfo) -> go.Figure:
    """Hill numbers D_q against q (log axis), D_∞ dashed, the page's q marked."""
    fig = go.Figure(go.Scatter(x=info.q, y=info.values, mode="lines+markers", marker_size=4, line_color=ACCENT,
                               name="D_q", hovertemplate="q = %{x:.3g}: D = %{y:.4g}<extra></extra>"))
    if np.isfinite(info.d_inf) and len(info.q):
        fig.add_trace(go.Scatter(x=[info.q.min(), info.q.max()], y=[info.d_inf, info.d_inf], mode="lines",
                                 name=f"D_∞ = {info.d_inf:.3g}", line=dict(color="#555", dash="dash", width=1.5),
                                 hovertemplate=f"D_∞ = {info.d_inf:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[info.q_selected], y=[info.value_selected], mode="markers", name=f"q = {info.q_selected:g}",
                             marker=dict(color=OKABE_ITO[3], size=11, symbol="diamond")))
    fig.update_layout(template=TEMPLATE, title=f"Hill numbers D_q ({info.label.split(',')[0]})", height=340,
                      xaxis=log_axis(info.q, title="order q"), yaxis_title="Vendi score D_q",
                      legend=dict(x=0.98, y=0.98, xanchor="right"))
    return fig


# --------------------------------------------------------------------------- per class


@dataclass(frozen=True, eq=False)
class ClassBarsInfo:
    classes: list[str]
    n: np.ndarray
    vendi: np.ndarray
    coding_rate: np.ndarray
    column: str
    vendi_label: str
    coding_label: str


def class_bars_info(table, column: str, *, vendi_label: str, coding_label: str) -> ClassBarsInfo:
    return ClassBarsInfo([str(c) for c in table["class"]], table["n"].to_numpy(), table["vendi"].to_numpy(float),
                         table["coding_rate"].to_numpy(float), column, vendi_label, coding_label)


def class_bars_figure(info: ClassBarsInfo) -> go.Figure:
    """Vendi and coding rate of each class, side by side."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(info.vendi_label, info.coding_label))
    for col, (values, color) in enumerate(((info.vendi, OKABE_ITO[0]), (info.coding_rate, OKABE_ITO[1])), start=1):
        # class values and the column name are data: shown as written (dashboard.literal.plot)
        fig.add_trace(go.Bar(x=[plot(c) for c in info.classes], y=values, marker_color=color, customdata=info.n,
                             showlegend=False, hovertemplate=f"{plot(info.column)} = %{{x}}<br>%{{y:.4g}}<br>n = "
                                                             "%{customdata:,}<extra></extra>"),
                      row=1, col=col)
        fig.update_xaxes(title_text=plot(info.column), type="category", row=1, col=col)
    fig.update_layout(template=TEMPLATE, height=320, bargap=0.2)
    return fig


# --------------------------------------------------------------------------- over training


@dataclass(frozen=True, eq=False)
class TrajectoryLine:
    name: str
    run: str
    layer: str
    steps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class TrajectoryInfo:
    lines: tuple[TrajectoryLine, ...]
    label: str
    x_title: str
    log_x: bool


def trajectory_info(rows: list[dict], *, label: str, x_title: str = "step") -> TrajectoryInfo:
    """Group ``{"run", "layer", "step", "value"}`` rows into one line per (run, layer), sorted by step."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in rows:
        groups.setdefault((r.get("run", ""), r.get("layer", "")), []).append((r["step"], r["value"]))
    lines = []
    for (run, layer), pts in sorted(groups.items()):
        pts.sort()
        name = " · ".join(p for p in (run, layer) if p) or "view"
        lines.append(TrajectoryLine(name, run, layer, np.array([p[0] for p in pts], float),
                                    np.array([p[1] for p in pts], float)))
    steps = np.concatenate([ln.steps for ln in lines]) if lines else np.empty(0)
    positive = steps[steps > 0]
    log_x = bool(len(positive) == len(steps) and len(steps) and positive.max() / positive.min() >= 20)
    return TrajectoryInfo(tuple(lines), label, x_title, log_x)


_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def trajectory_figure(info: TrajectoryInfo) -> go.Figure:
    """One line per (run, layer): colour = layer, dash = run."""
    layers = sorted({ln.layer for ln in info.lines})
    runs = sorted({ln.run for ln in info.lines})
    fig = go.Figure()
    for ln in info.lines:
        color = OKABE_ITO[layers.index(ln.layer) % len(OKABE_ITO)]
        dash = _DASHES[runs.index(ln.run) % len(_DASHES)]
        fig.add_trace(go.Scatter(x=ln.steps, y=ln.values, mode="lines+markers", name=plot(ln.name),
                                 line=dict(color=color, dash=dash), legendgroup=ln.layer,
                                 hovertemplate=f"{plot(ln.name)}<br>{info.x_title} %{{x}}: %{{y:.4g}}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=f"{info.label} over training", height=380,
                      xaxis=log_axis(*[ln.steps for ln in info.lines], title=info.x_title) if info.log_x
                      else dict(title=info.x_title, type="linear"),
                      yaxis_title=info.label)
    return fig


# --------------------------------------------------------------------------- paired views


@dataclass(frozen=True, eq=False)
class SchurInfo:
    s: np.ndarray
    d: np.ndarray
    trace_s: float
    trace_d: float
    title: str
    given: str = "the paired view"


def schur_info(sce, *, title: str, given: str = "") -> SchurInfo:
    """``given``: the paired view's modality (or name), for the trace names."""
    return SchurInfo(np.asarray(sce.eigenvalues), np.asarray(sce.text_eigenvalues), sce.trace_s, sce.trace_d, title,
                     given or "the paired view")


def schur_figure(info: SchurInfo) -> go.Figure:
    """Eigenvalues of S (not explained by the paired view) and D (explained), log scale."""
    fig = go.Figure()
    given = plot(info.given)  # a modality from the manifest: shown as written
    for values, name, color in ((info.s, f"S: not explained by {given} (tr = {info.trace_s:.3f})", OKABE_ITO[0]),
                                (info.d, f"D: explained by {given} (tr = {info.trace_d:.3f})", OKABE_ITO[1])):
        shown = values[values > 1e-10]
        fig.add_trace(go.Scatter(x=np.arange(1, len(shown) + 1), y=shown, mode="lines+markers", marker_size=4,
                                 name=name, line_color=color, hovertemplate="λ<sub>%{x}</sub> = %{y:.4g}<extra></extra>"))
    shown = [v[v > 1e-10] for v in (info.s, info.d)]
    fig.update_layout(template=TEMPLATE, title=info.title, height=380,
                      xaxis=log_axis(*[np.arange(1, len(v) + 1) for v in shown], title="rank i"),
                      yaxis=log_axis(*shown, title="eigenvalue"), legend=_BELOW)
    if not any(len(v) for v in shown):
        return _note_only(fig, "no eigenvalue of S or D above 1e-10: nothing to plot")
    return fig
