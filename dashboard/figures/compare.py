"""Compare page figures: unit correlations (natural / matched order), the matched-correlation curve,
the matrix of a comparison metric over views (clickable cells), the "what moved" maps and table,
and metric trajectories against step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core._validation import plural

from ..literal import plot, plot_all
from .theme import OKABE_ITO, TEMPLATE, log_axis, wrap

__all__ = [
    "UnitHeatmapInfo", "unit_heatmap_info", "unit_heatmap_figure",
    "MatchCurveInfo", "match_curve_info", "match_curve_figure",
    "PairMatrixInfo", "pair_matrix_info", "pair_matrix_figure", "cell_size",
    "MoversMapInfo", "movers_map_info", "movers_map_figure", "movers_table",
    "TrajectoryInfo", "trajectory_info", "trajectory_figure",
]

DIVERGING = "RdBu_r"
"""Correlations on [-1, 1]: blue negative, white 0, red positive."""


def _dead_note(dead_a: int, dead_b: int, names: tuple[str, str]) -> str:
    parts = [f"{plural(d, 'dead unit')} in {name}" for d, name in zip((dead_a, dead_b), names, strict=True) if d]
    return ("; ".join(parts) + " (zero variance: correlation 0, never matched)") if parts else ""


# --------------------------------------------------------------------------- unit correlations


@dataclass(frozen=True)
class UnitHeatmapInfo:
    """The unit correlation matrix (units of A down, units of B across) in natural order and in the
    matching's order (:attr:`core.UnitMatch.order_a` / ``order_b``: matched pairs on the diagonal,
    unmatched units last), with the unit numbers of that order."""

    natural: np.ndarray
    matched: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    names: tuple[str, str]
    note: str


def unit_heatmap_info(match, names: tuple[str, str]) -> UnitHeatmapInfo:
    """Plain data for :func:`unit_heatmap_figure` from a :class:`core.UnitMatch`; ``names``: the two views' labels."""
    C = np.asarray(match.correlation_matrix, dtype=float)
    rows, cols = np.asarray(match.order_a), np.asarray(match.order_b)
    note = _dead_note(int(np.sum(match.dead_a)), int(np.sum(match.dead_b)), names)
    return UnitHeatmapInfo(C, C[np.ix_(rows, cols)], rows, cols, tuple(names), note)


def unit_heatmap_figure(info: UnitHeatmapInfo) -> go.Figure:
    """Two heatmaps side by side: natural order, matched order (the one-to-one matching on the diagonal)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("natural order", "matched order"))
    a, b = info.names
    for col, (z, rows, cols) in enumerate(((info.natural, np.arange(info.natural.shape[0]),
                                            np.arange(info.natural.shape[1])),
                                           (info.matched, info.rows, info.cols)), start=1):
        fig.add_trace(go.Heatmap(
            z=z, colorscale=DIVERGING, zmin=-1.0, zmax=1.0, zmid=0.0, showscale=col == 2,
            colorbar=dict(title="corr."), customdata=np.dstack(np.meshgrid(cols, rows)),
            hovertemplate="unit %{customdata[1]} of A · unit %{customdata[0]} of B<br>"
                          "correlation %{z:.3f}<extra></extra>",
        ), row=1, col=col)
        # the views' labels are data: shown as written (dashboard.literal.plot); the <br> of wrap are ours
        fig.update_yaxes(autorange="reversed", showgrid=False, row=1, col=col,
                         title_text=wrap(f"units of A: {plot(a)}", 30) if col == 1 else None)
        fig.update_xaxes(showgrid=False, title_text=wrap(f"units of B: {plot(b)}", 30), row=1, col=col)
    fig.update_layout(template=TEMPLATE, height=420, margin_t=60)
    return fig


@dataclass(frozen=True)
class MatchCurveInfo:
    """Matched correlations sorted from highest: one-to-one (Hungarian) and semi-matching (best per unit);
    ``n_units`` of A, ``n_dead`` of them dead, ``n_unmatched`` live ones left without a partner."""

    one_to_one: np.ndarray
    semi: np.ndarray
    n_units: int
    n_dead: int
    n_unmatched: int
    note: str


def match_curve_info(match, names: tuple[str, str]) -> MatchCurveInfo:
    """Plain data for :func:`match_curve_figure` from a :class:`core.UnitMatch`: the finite matched
    correlations of A's units, sorted descending (dead and unmatched units are counted, not drawn)."""
    one = np.asarray(match.correlation, dtype=float)
    semi = np.asarray(match.semi_correlation, dtype=float)
    dead = np.asarray(match.dead_a, dtype=bool)
    unmatched = int(np.sum((np.asarray(match.assignment) < 0) & ~dead))
    return MatchCurveInfo(np.sort(one[np.isfinite(one)])[::-1], np.sort(semi[np.isfinite(semi)])[::-1],
                          len(one), int(dead.sum()), unmatched,
                          _dead_note(int(dead.sum()), int(np.sum(match.dead_b)), names))


def match_curve_figure(info: MatchCurveInfo) -> go.Figure:
    """Correlation (y) against rank (x): the gap between the curves is units without a partner of their own."""
    fig = go.Figure()
    for i, (y, name) in enumerate(((info.one_to_one, "one-to-one"), (info.semi, "semi-matching (best of B)"))):
        fig.add_trace(go.Scatter(
            x=np.arange(1, len(y) + 1), y=y, mode="lines", name=f"{name}, mean {np.mean(y):.3f}" if len(y) else name,
            line=dict(color=OKABE_ITO[i], width=2, dash="solid" if i == 0 else "dash"),
            hovertemplate="rank %{x}<br>correlation %{y:.3f}<extra></extra>",
        ))
    left = [f"{info.n_dead} dead"] if info.n_dead else []
    left += [f"{info.n_unmatched} without a partner (B has fewer live units)"] if info.n_unmatched else []
    title = f"Matched correlation of {plural(info.n_units, 'unit')} of A, sorted" + (
        f" ({', '.join(left)}: not drawn)" if left else "")
    title = wrap(title, 36)
    fig.update_layout(template=TEMPLATE, height=420, title=title, margin_t=40 + 20 * title.count("<br>"),
                      xaxis_title="units of A, best match first", yaxis_title="correlation",
                      yaxis_range=[min(-0.05, float(np.min(info.semi, initial=0.0)) - 0.05), 1.05],
                      legend=dict(orientation="h", y=-0.25))
    return fig


# --------------------------------------------------------------------------- the matrix over views


@dataclass(frozen=True)
class PairMatrixInfo:
    """A comparison metric for every pair of views, in display order; ``names`` are the views' link
    names (sent with each cell), ``labels`` what the axes show; ``chosen``: the (row, column) of the
    compared pair in that order, or None."""

    values: np.ndarray
    names: tuple[str, ...]
    labels: tuple[str, ...]
    title: str
    colorbar: str
    higher_is_similar: bool
    chosen: tuple[int, int] | None


def pair_matrix_info(values, names, labels, *, order, title: str, higher_is_similar: bool = True,
                     chosen: tuple[str, str] | None = None) -> PairMatrixInfo:
    """``values`` (m x m) over views ``names`` / ``labels`` in their computed order, shown in ``order``
    (indices into them); ``chosen``: the pair of view names to outline."""
    order = np.asarray(order, dtype=int)
    v = np.asarray(values, dtype=float)[np.ix_(order, order)]
    names = tuple(names[i] for i in order)
    labels = tuple(labels[i] for i in order)
    cell = None
    if chosen is not None and chosen[0] in names and chosen[1] in names:
        cell = (names.index(chosen[0]), names.index(chosen[1]))
    bar = "similarity" if higher_is_similar else "distance (0 = same)"
    return PairMatrixInfo(v, names, labels, title, bar, higher_is_similar, cell)


def cell_size(m: int) -> int:
    """Pixels per cell of an m x m matrix: about 560 px in all, between 8 and 40 px a cell."""
    return int(np.clip(560 // max(m, 1), 8, 40))


def pair_matrix_figure(info: PairMatrixInfo) -> go.Figure:
    """The matrix as a heatmap (undefined pairs grey), under one transparent square marker per cell
    (``customdata`` = [row view, column view]) that takes the hover and the click: Streamlit's selection
    does not report clicks on Heatmap traces (streamlit/streamlit#8760, #15042), so the heatmap itself
    skips hover. The compared pair is outlined (a shape, so not clickable)."""
    m = len(info.names)
    cell = cell_size(m)
    i, j = np.divmod(np.arange(m * m), m)  # row i (y), column j (x)
    z = info.values.ravel()
    finite = z[np.isfinite(z)]
    zmin, zmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    names = np.array(info.names, dtype=object)
    labels = np.array(info.labels, dtype=object)
    shown = plot_all(labels)  # the views' labels are data: shown as written (the cells' customdata keeps the names)
    text = [f"A: {a}<br>B: {b}<br>" + (f"{v:.4f}" if np.isfinite(v) else "undefined")
            for a, b, v in zip(shown[i], shown[j], z, strict=True)]
    fig = go.Figure(go.Heatmap(
        z=info.values, x=np.arange(m), y=np.arange(m), colorscale="Viridis", zmin=zmin, zmax=zmax,
        reversescale=not info.higher_is_similar, colorbar=dict(title=wrap(info.colorbar, 12)), hoverinfo="skip",
        name="matrix"))
    fig.add_trace(go.Scatter(
        x=j, y=i, mode="markers", customdata=np.stack([names[i], names[j]], axis=1), text=text, name="cells",
        marker=dict(symbol="square", size=cell, color="rgba(0,0,0,0)", line=dict(width=0)), showlegend=False,
        hovertemplate="%{text}<br>click: compare this pair<extra></extra>",
        selected=dict(marker=dict(opacity=1.0)), unselected=dict(marker=dict(opacity=1.0))))
    if info.chosen is not None:  # a rectangle in data units: exactly the cell at any width
        r, c = info.chosen
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, name="chosen",
                      line=dict(color="#D55E00", width=3), fillcolor="rgba(0,0,0,0)")
    ticks = dict(tickmode="array", tickvals=list(range(m)), ticktext=list(shown), showgrid=False,
                 zeroline=False, tickfont=dict(size=10 if m > 12 else 12))
    left, bottom, top = 190, 170, 50
    title = wrap(plot(info.title), 70)
    fig.update_layout(template=TEMPLATE, title=title, height=cell * m + bottom + top + 20 * title.count("<br>"),
                      margin=dict(l=left, b=bottom, t=top + 20 * title.count("<br>"), r=20),
                      plot_bgcolor="#C9CED6",  # the gaps of undefined pairs
                      xaxis=dict(**ticks, tickangle=-60, range=[-0.5, m - 0.5]),
                      yaxis=dict(**ticks, range=[m - 0.5, -0.5]),  # the first view on top, as a matrix is read
                      clickmode="event+select", dragmode=False, hovermode="closest")
    return fig


# --------------------------------------------------------------------------- what moved


@dataclass(frozen=True)
class MoversMapInfo:
    """Two aligned maps of the same items coloured by how much each item's neighbourhood changed
    (``change`` = 1 - the share of its k nearest neighbours kept); ``top``: the rows listed as movers."""

    coords: tuple[np.ndarray, np.ndarray]
    change: np.ndarray
    top: np.ndarray
    titles: tuple[str, str]
    colorbar: str


def movers_map_info(coords_a, coords_b, change, top, *, titles: tuple[str, str], k: int,
                    metric: str) -> MoversMapInfo:
    """Plain data for :func:`movers_map_figure`; both maps' first two columns, already aligned."""
    return MoversMapInfo((np.asarray(coords_a)[:, :2], np.asarray(coords_b)[:, :2]),
                         np.asarray(change, dtype=float), np.asarray(top, dtype=int), tuple(titles),
                         f"moved (1 − shared of {k} {metric} neighbours)")


def movers_map_figure(info: MoversMapInfo, *, height: int = 460) -> go.Figure:
    """Side by side, every item coloured by ``change`` (the items that moved most drawn on top), the
    listed movers ringed."""
    order = np.argsort(info.change, kind="stable")  # the movers last: on top
    fig = make_subplots(rows=1, cols=2, subplot_titles=tuple(wrap(plot(t), 30) for t in info.titles),
                        horizontal_spacing=0.06)
    for col, xy in enumerate(info.coords, start=1):
        fig.add_trace(go.Scattergl(
            x=xy[order, 0], y=xy[order, 1], mode="markers", customdata=order, showlegend=False,
            marker=dict(size=5, color=info.change[order], colorscale="Plasma", cmin=0.0, cmax=1.0,
                        showscale=col == 2, colorbar=dict(title=wrap(plot(info.colorbar), 16))),
            hovertemplate="row %{customdata}<br>moved %{marker.color:.2f}<extra></extra>",
        ), row=1, col=col)
        fig.add_trace(go.Scattergl(
            x=xy[info.top, 0], y=xy[info.top, 1], mode="markers", customdata=info.top,
            name=f"the {len(info.top)} listed movers", showlegend=col == 1, legendgroup="top",
            marker=dict(size=9, symbol="circle-open", color="#000000", line=dict(width=1.5)),
            hovertemplate="row %{customdata} (listed)<extra></extra>",
        ), row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
        fig.update_yaxes(showticklabels=False, scaleanchor=f"x{'' if col == 1 else col}", row=1, col=col)
    fig.update_layout(template=TEMPLATE, height=height, legend=dict(orientation="h", y=-0.05), margin_t=60)
    return fig


def movers_table(change, shared, top, ids, metadata: pd.DataFrame, *, k: int) -> pd.DataFrame:
    """The rows ``top`` (movers first): rank, row, id, moved (1 - shared / k), shared neighbours, metadata."""
    top = np.asarray(top, dtype=int)
    out = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "row": top, "id": np.asarray(ids)[top],
                        "moved": np.round(np.asarray(change, dtype=float)[top], 4),
                        f"shared of {k}": np.rint(np.asarray(shared, dtype=float)[top] * k).astype(int)})
    if len(metadata.columns):
        meta = metadata.iloc[top].reset_index(drop=True)
        meta = meta.drop(columns=[c for c in meta.columns if c in out.columns])
        out = pd.concat([out, meta], axis=1)
    return out


# --------------------------------------------------------------------------- trajectories


@dataclass(frozen=True)
class TrajectoryInfo:
    """One panel per metric (its label), one series per run / layer: name, steps, values, view names."""

    panels: tuple[tuple[str, tuple[dict, ...]], ...]
    series_names: tuple[str, ...]


def _series_name(run, layer) -> str:
    parts = [str(p) for p in (run, layer) if isinstance(p, str) and p]
    return " · ".join(parts) or "(unlabelled)"


def trajectory_info(frame: pd.DataFrame) -> TrajectoryInfo:
    """Plain data for :func:`trajectory_figure` from :func:`core.trajectory` frames (concatenated):
    columns name, run, layer, step, value, label. Views without a step are left out."""
    df = frame[frame["step"].notna()].copy()
    df["series"] = [_series_name(r, layer) for r, layer in zip(df["run"], df["layer"], strict=True)]
    series_names = tuple(dict.fromkeys(df.sort_values(["run", "layer"], kind="stable")["series"]))
    panels = []
    for label in dict.fromkeys(df["label"]):
        part = df[df["label"] == label]
        series = []
        for name in series_names:
            s = part[part["series"] == name].sort_values("step")
            if len(s):
                series.append({"name": name, "step": s["step"].to_numpy(float), "value": s["value"].to_numpy(float),
                               "views": s["name"].to_numpy(object)})
        panels.append((str(label), tuple(series)))
    return TrajectoryInfo(tuple(panels), series_names)


def trajectory_figure(info: TrajectoryInfo) -> go.Figure:
    """One row per metric (named by its y-axis title), value against step (log axis over a decade or
    more), one colour per run / layer."""
    rows = max(len(info.panels), 1)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.12 / rows)
    colour = {name: OKABE_ITO[i % len(OKABE_ITO)] for i, name in enumerate(info.series_names)}
    dash = {name: ("solid", "dash", "dot", "dashdot")[i // len(OKABE_ITO) % 4]
            for i, name in enumerate(info.series_names)}
    steps = []
    for r, (label, series) in enumerate(info.panels, start=1):
        for s in series:
            steps.append(s["step"])
            name = plot(s["name"])  # run / layer / view names are data: shown as written (dashboard.literal.plot)
            fig.add_trace(go.Scatter(
                x=s["step"], y=s["value"], mode="lines+markers", name=name, legendgroup=s["name"],
                showlegend=r == 1, line=dict(color=colour[s["name"]], dash=dash[s["name"]]),
                customdata=plot_all(s["views"]), hovertemplate=f"{name} · step %{{x}}<br>%{{y:.4g}}<br>%{{customdata}}"
                                                               "<extra></extra>",
            ), row=r, col=1)
        fig.update_yaxes(title_text=wrap(plot(label), 28), row=r, col=1)
    every = np.concatenate(steps) if steps else np.empty(0)
    if len(every) and (every > 0).all():  # a step 0 has no place on a log axis
        fig.update_xaxes(**log_axis(every))
    fig.update_xaxes(title_text="step", row=rows, col=1)
    fig.update_layout(template=TEMPLATE, height=100 + 280 * rows, margin_l=110,
                      legend=dict(orientation="h", y=-0.12 / rows * 2))
    return fig
