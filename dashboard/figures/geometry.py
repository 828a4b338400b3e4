"""Geometry page figures: ID against scale, the H0 barcode, class heatmaps, depthwise collapse, hubs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import IDScaleCurve, IntrinsicDimension, NeuralCollapse, Separability
from core._validation import plural

from ..literal import plot
from .theme import ACCENT, OKABE_ITO, TEMPLATE, log_axis, wrap

__all__ = [
    "IDScaleInfo", "id_scale_info", "id_scale_figure",
    "BarcodeInfo", "barcode_info", "barcode_figure",
    "ClassHeatmapInfo", "class_heatmap_info", "class_heatmap_figure",
    "CollapseTrajectoryInfo", "collapse_trajectory_info", "collapse_trajectory_figure",
    "hubs_table",
]

_CURVE_NAMES = {"twonn": "TwoNN, decimated", "mle": "MLE (Levina-Bickel), k = 3..{k}"}


# --------------------------------------------------------------------------- ID against scale


@dataclass(frozen=True)
class IDScaleInfo:
    """One series per estimator: name, scale, dimension, error, hover notes; the global estimate."""

    series: tuple[dict, ...]
    estimate: float | None
    estimate_label: str
    metric: str


def id_scale_info(curves, estimate: IntrinsicDimension | None = None) -> IDScaleInfo:
    """Plain data for :func:`id_scale_figure` from :class:`IDScaleCurve` s (NaN points dropped)."""
    series = []
    for c in curves:
        c: IDScaleCurve
        ok = np.isfinite(c.dimension) & np.isfinite(c.scale)
        if c.method == "twonn":
            notes = [f"{n:,} points per subset, {min(2 ** lv, c.params['max_subsets'])} subset(s)"
                     for n, lv in zip(c.n_points[ok], c.level[ok])]
        else:
            notes = [f"k = {k}" for k in c.level[ok]]
        series.append({
            "name": _CURVE_NAMES[c.method].format(k=int(c.level.max())),
            "scale": c.scale[ok], "dimension": c.dimension[ok],
            "error": np.nan_to_num(c.error[ok]), "notes": notes,
        })
    metric = curves[0].params["metric"] if curves else ""
    return IDScaleInfo(tuple(series), None if estimate is None else estimate.value,
                       "" if estimate is None else estimate.label, metric)


def id_scale_figure(info: IDScaleInfo) -> go.Figure:
    """Estimated dimension (y) against the median neighbour distance it looks at (x, log)."""
    fig = go.Figure()
    for i, s in enumerate(info.series):
        fig.add_trace(go.Scatter(
            x=s["scale"], y=s["dimension"], mode="lines+markers", name=s["name"],
            error_y=dict(type="data", array=s["error"], visible=True, thickness=1),
            marker_color=OKABE_ITO[i], customdata=s["notes"],
            hovertemplate="scale %{x:.3g}<br>ID %{y:.2f}<br>%{customdata}<extra></extra>",
        ))
    scales = [s["scale"] for s in info.series]
    if info.estimate is not None and any(len(x) for x in scales):
        # the card's value as a dotted line named in the legend, not as text on the curve
        x = np.concatenate(scales)
        fig.add_trace(go.Scatter(x=[x.min(), x.max()], y=[info.estimate] * 2, mode="lines",
                                 name=wrap(f"card: {info.estimate_label} = {info.estimate:.2f}", 44),
                                 line=dict(color="#555", dash="dot", width=1.5),
                                 hovertemplate=f"{info.estimate_label} = {info.estimate:.3g}<extra></extra>"))
    unit = "distance (unit sphere)" if info.metric == "cosine" else "Euclidean distance"
    fig.update_layout(template=TEMPLATE, height=340, xaxis=log_axis(*scales),
                      xaxis_title=wrap(f"median neighbour {unit}", 28),  # 38 characters lost their end at 1000 px
                      yaxis_title="intrinsic dimension", legend=dict(orientation="h", y=-0.45))  # below the 2-line title
    return fig


# --------------------------------------------------------------------------- H0 barcode


@dataclass(frozen=True)
class BarcodeInfo:
    """The longest bars (death times scaled so the longest is 1), how many are shown and of how many."""

    deaths: np.ndarray
    highlighted: int
    n_bars: int
    scale: float
    title: str


def barcode_info(sep: Separability, *, max_bars: int = 60) -> BarcodeInfo:
    """The ``max_bars`` longest H0 bars, normalised by the longest; the top K - 1 highlighted."""
    bars = sep.bars
    scale = float(bars[0]) if len(bars) and bars[0] > 0 else 1.0
    shown = bars[:max_bars] / scale
    sample = f" ({sep.params['n_used']:,}-point seeded sample)" if sep.params.get("subsampled") else ""
    if not len(bars) or bars[0] <= 0:  # every point coincides with another: no persistence to draw
        return BarcodeInfo(np.zeros(0), 0, len(bars), 1.0, "H0 barcode: no bar longer than 0 (the points "
                           "coincide: duplicates only)" + sample)
    title = f"H0 barcode: the {len(shown)} longest of {plural(len(bars), 'bar', thousands=True)}" + sample
    return BarcodeInfo(shown, min(sep.n_clusters - 1, len(shown)), len(bars), scale, title)


def persistence_caption(sep: Separability) -> str:
    """The barcode's summary line; "undefined" (with why) where a value is NaN, e.g. no persistence."""
    def num(v: float) -> str:
        return "undefined (no bar has a length)" if not np.isfinite(v) else f"{v:.3f}"

    top = sep.n_clusters - 1
    return (f"Persistent entropy {num(sep.persistent_entropy_normalized)} (normalised) · share of persistence "
            f"in the top {plural(top, 'bar')} {num(sep.top_share)}")


def barcode_figure(info: BarcodeInfo) -> go.Figure:
    """Horizontal bars from 0 to each death time, longest at the top."""
    y = np.arange(len(info.deaths))
    colors = [ACCENT if i < info.highlighted else "#B8C0CC" for i in y]
    fig = go.Figure(go.Bar(
        x=info.deaths, y=y, orientation="h", marker_color=colors, width=0.8,
        customdata=info.deaths * info.scale,
        hovertemplate="bar %{y}<br>dies at %{customdata:.3g} (%{x:.2f} of the longest)<extra></extra>",
    ))
    title = wrap(info.title)
    if not len(info.deaths):
        fig.add_annotation(text="nothing to draw: no bar has a length", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=14, color="#555"))
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    fig.update_layout(template=TEMPLATE, title=title, height=340, showlegend=False,
                      margin_t=40 + 20 * title.count("<br>"),
                      xaxis_title="death time / longest bar",
                      yaxis=dict(autorange="reversed", showticklabels=False, title="bars, longest first"))
    return fig


# --------------------------------------------------------------------------- class heatmaps


@dataclass(frozen=True)
class ClassHeatmapInfo:
    z: np.ndarray
    labels: list[str]
    title: str
    colorbar: str
    zmin: float | None
    zmax: float | None
    colorscale: str
    axis_title: str = "class"


def class_heatmap_info(nc: NeuralCollapse, kind: str, *, column: str = "") -> ClassHeatmapInfo:
    """``kind="cosine"``: cosines of the centred class means on [-1, 1] (ETF: -1/(K-1) off the
    diagonal); ``kind="cdnv"``: log10 CDNV (small = well separated), diagonal blank."""
    labels = [str(c) for c in nc.classes]
    K = len(labels)
    if kind == "cosine":
        return ClassHeatmapInfo(nc.cosines, labels, f"Class-mean cosines (ETF: {-1 / (K - 1):.3f})",
                                "cosine", -1.0, 1.0, "RdBu_r", column or "class")
    with np.errstate(divide="ignore"):
        z = np.log10(nc.cdnv)
    z[~np.isfinite(z)] = np.nan
    return ClassHeatmapInfo(z, labels, "CDNV (log10; lower = better separated)", "log10 CDNV",
                            None, None, "Viridis", column or "class")


def class_heatmap_figure(info: ClassHeatmapInfo) -> go.Figure:
    labels = [plot(c) for c in info.labels]  # class values and the column name are data: shown as written
    fig = go.Figure(go.Heatmap(
        z=info.z, x=labels, y=labels, colorscale=info.colorscale, zmin=info.zmin,
        zmax=info.zmax, colorbar=dict(title=info.colorbar), hoverongaps=False,
        hovertemplate="%{y} / %{x}: %{z:.3f}<extra></extra>",
    ))
    title = wrap(info.title)
    fig.update_layout(template=TEMPLATE, title=title, height=380, margin_t=40 + 20 * title.count("<br>"),
                      xaxis=dict(type="category", showgrid=False, title=plot(info.axis_title)),
                      yaxis=dict(type="category", autorange="reversed", showgrid=False, title=plot(info.axis_title)))
    return fig


# --------------------------------------------------------------------------- depthwise collapse


@dataclass(frozen=True)
class CollapseTrajectoryInfo:
    """NC1 per (layer, step): mean and spread over runs, in the dataset's layer order."""

    table: pd.DataFrame  # layer, step, mean, sd, runs
    layers: list[str]
    steps: list[int]


def collapse_trajectory_info(rows: list[dict]) -> CollapseTrajectoryInfo:
    """``rows``: one dict per view with ``run``, ``layer``, ``step`` and ``nc1``."""
    df = pd.DataFrame(rows)
    df["layer"] = df["layer"].fillna("").astype(str)
    df["step"] = df["step"].fillna(-1).astype(int)
    layers = list(dict.fromkeys(df["layer"]))
    table = (df.groupby(["layer", "step"], sort=False)["nc1"]
               .agg(mean="mean", sd="std", runs="count").reset_index())
    table["sd"] = table["sd"].fillna(0.0)
    table["layer"] = pd.Categorical(table["layer"], categories=layers, ordered=True)
    table = table.sort_values(["layer", "step"]).reset_index(drop=True)
    table["layer"] = table["layer"].astype(str)
    return CollapseTrajectoryInfo(table, layers, sorted(set(table["step"])))


def _step_name(step: int) -> str:
    return "no step" if step < 0 else f"step {step}"  # -1 stands for a view without a step


def collapse_trajectory_figure(info: CollapseTrajectoryInfo) -> go.Figure:
    """Left: NC1 against step, one line per layer. Right: NC1 against layer, one line per step."""
    t = info.table
    fig = make_subplots(rows=1, cols=2, subplot_titles=("NC1 against step", "NC1 against layer"))
    for i, layer in enumerate(info.layers):
        part = t[(t["layer"] == layer) & (t["step"] >= 0)]  # views without a step have no place on a step axis
        if not len(part):
            continue
        fig.add_trace(go.Scatter(
            x=part["step"], y=part["mean"], error_y=dict(array=part["sd"], thickness=1),
            mode="lines+markers", name=plot(layer) or "(no layer)", legendgroup="layers",
            legendgrouptitle_text="layer", marker_color=OKABE_ITO[i % len(OKABE_ITO)],
            hovertemplate=f"{plot(layer)} · step %{{x}}<br>NC1 %{{y:.3g}}<extra></extra>",
        ), row=1, col=1)
    greys = np.linspace(0.75, 0.1, max(len(info.steps), 1))
    for j, step in enumerate(info.steps):
        part = t[t["step"] == step]
        g = int(greys[j] * 255)
        fig.add_trace(go.Scatter(
            x=[plot(v) for v in part["layer"]], y=part["mean"], error_y=dict(array=part["sd"], thickness=1),
            mode="lines+markers", name=_step_name(step), legendgroup="steps", legendgrouptitle_text="step",
            marker_color=f"rgb({g},{g},{min(255, g + 60)})",
            hovertemplate=f"{_step_name(step)} · %{{x}}<br>NC1 %{{y:.3g}}<extra></extra>",
        ), row=1, col=2)
    runs = int(t["runs"].max()) if len(t) else 0
    lows, highs = (t["mean"] - t["sd"]).to_numpy(float), (t["mean"] + t["sd"]).to_numpy(float)
    y = log_axis(t["mean"], lows, highs)
    fig.update_yaxes(**y, title_text=f"NC1 (mean ± sd over {runs} run{'s' * (runs != 1)})", col=1)
    fig.update_yaxes(**y, col=2)
    fig.update_xaxes(**log_axis(t["step"][t["step"] >= 0]), title_text="step", col=1)
    fig.update_xaxes(type="category", title_text="layer", col=2)
    fig.update_layout(template=TEMPLATE, height=380)
    return fig


# --------------------------------------------------------------------------- hubs


def hubs_table(k_occurrence: np.ndarray, top: np.ndarray, ids: np.ndarray, metadata: pd.DataFrame,
               *, n: int = 10) -> pd.DataFrame:
    """The ``n`` most frequent neighbours: rank, row, id, N_k, then the item's metadata."""
    top = np.asarray(top)[:n]
    out = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "row": top, "id": np.asarray(ids)[top],
                        "N_k": np.asarray(k_occurrence)[top]})
    if len(metadata.columns):
        meta = metadata.iloc[top].reset_index(drop=True)
        meta = meta.drop(columns=[c for c in meta.columns if c in out.columns])
        out = pd.concat([out, meta], axis=1)
    return out
