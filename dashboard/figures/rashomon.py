"""Rashomon page figures: the FIS / main-effect swarm, the halo of one pair, the runs' set.

Built on the plain tables of :mod:`core.rashomon` (``swarm_data``, ``halo_data``) and of the page
(the runs' table), so they are tested on numbers without Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..literal import plot, plot_all
from .theme import OKABE_ITO, TEMPLATE, wrap

__all__ = ["LOSS_COLORSCALE", "beeswarm_offsets", "SwarmInfo", "swarm_info", "swarm_figure",
           "HaloInfo", "halo_info", "halo_figure", "RunsInfo", "runs_info", "runs_figure"]

LOSS_COLORSCALE = [[0.0, "#2166AC"], [0.5, "#762A83"], [1.0, "#B2182B"]]
"""Blue (the lowest loss) -> purple -> red (L* + epsilon), the paper's swarm colours."""

_HALO_RED, _HALO_BLUE = "#C0392B", "#1F5FAD"


def beeswarm_offsets(values, *, lo: float, hi: float, bins: int = 60, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread dots of equal (binned) value: a deterministic beeswarm.

    Hand-written because plotly has no beeswarm trace and a random jitter would move the dots on
    every redraw. The dots falling in one of ``bins`` equal value bins over ``[lo, hi]`` are
    stacked alternately above and below the row's centre, by value order; the step is chosen so
    the fullest bin reaches ``width``.

    Returns
    -------
    ndarray of shape (len(values),)
        Offsets in ``[-width, width]``.
    """
    v = np.asarray(values, dtype=float)
    out = np.zeros(len(v))
    if len(v) < 2:
        return out
    span = hi - lo if hi > lo else 1.0
    b = np.clip(((v - lo) / span * bins).astype(int), 0, bins - 1)
    order = np.lexsort((v, b))
    rank = np.empty(len(v), dtype=int)
    sorted_bins = b[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_bins)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(v)]))
    rank[order] = np.arange(len(v)) - first
    most = int(rank.max())
    if most == 0:
        return out
    step = min(0.08, width / ((most + 1) // 2))
    return np.where(rank % 2 == 1, 1.0, -1.0) * ((rank + 1) // 2) * step


# --------------------------------------------------------------------------- swarm


@dataclass(frozen=True)
class SwarmInfo:
    """Dots (value, row position, loss) of every model per row, the reference per row, the colour range."""

    rows: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    in_set: np.ndarray
    model: np.ndarray
    row_of: np.ndarray
    reference: np.ndarray
    """The reference model's value per row (NaN where it has none)."""
    cmin: float
    cmax: float
    box: bool
    selected: int | None
    n_hidden: int
    """Joint models outside the Rashomon set left out (``show_outside=False``)."""
    x_title: str


def swarm_info(data: pd.DataFrame, *, loss_max: float, loss_min: float | None = None, kind: str = "fis",
               absolute: bool = False, show_outside: bool = False, box: bool = False,
               selected: str | None = None) -> SwarmInfo:
    """Plain data for :func:`swarm_figure` from a ``core.rashomon.swarm_data`` table.

    Parameters
    ----------
    data : DataFrame
        Columns ``row, value, loss, reference, in_set, model`` (one line per model and row).
    loss_max : float
        The top of the colour scale: L* + epsilon.
    loss_min : float, optional
        The bottom: the lowest loss of the models drawn by default.
    kind : {"fis", "main"}
        Feature pairs (FIS) or single features (main effects); names the axis.
    absolute : bool
        The values are |FIS| (names the axis only: ``data`` carries the values to draw).
    show_outside : bool
        Also draw the joint models whose loss exceeds ``loss_max`` (``in_set`` False).
    box : bool
        A box plot over each row's models.
    selected : str, optional
        The row to highlight (the pair the halo shows).

    Returns
    -------
    SwarmInfo
    """
    rows = tuple(dict.fromkeys(data["row"].astype(str)))
    index = {r: i for i, r in enumerate(rows)}
    ref_rows = data[data["reference"].astype(bool)]
    reference = np.full(len(rows), np.nan)
    for r, v in zip(ref_rows["row"].astype(str), ref_rows["value"], strict=True):
        reference[index[r]] = float(v)
    dots = data[~data["reference"].astype(bool)]
    in_set = dots["in_set"].to_numpy(bool)
    n_hidden = 0 if show_outside else int((~in_set).sum())
    if not show_outside:
        dots = dots[in_set]
    x = dots["value"].to_numpy(float)
    row_of = np.array([index[r] for r in dots["row"].astype(str)], dtype=int)
    finite = np.concatenate([x[np.isfinite(x)], reference[np.isfinite(reference)]])
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    y = row_of.astype(float)
    for i in range(len(rows)):
        mask = row_of == i
        y[mask] += beeswarm_offsets(x[mask], lo=lo, hi=hi)
    losses = data["loss"].to_numpy(float)
    if loss_min is None:
        kept = data["in_set"].to_numpy(bool) | data["reference"].to_numpy(bool)
        loss_min = float(np.nanmin(losses[kept])) if kept.any() else float(np.nanmin(losses))
    what = "FIS" if kind == "fis" else "main effect (model reliance)"
    return SwarmInfo(rows=rows, x=x, y=y, loss=dots["loss"].to_numpy(float), in_set=dots["in_set"].to_numpy(bool),
                     model=dots["model"].to_numpy(int), row_of=row_of, reference=reference,
                     cmin=float(loss_min), cmax=float(loss_max), box=box,
                     selected=index.get(selected) if selected is not None else None, n_hidden=n_hidden,
                     x_title=f"|{what}|" if absolute else what)


def swarm_figure(info: SwarmInfo) -> go.Figure:
    """One row per pair (or feature), one dot per model coloured by its loss, the reference as a star.

    Every dot's ``customdata`` starts with its row's label (as written), so a click names the row; the
    hover shows the label through ``text`` (escaped: feature names are data, shown as written).
    """
    fig = go.Figure()
    labels = np.asarray(info.rows, dtype=object)
    shown = plot_all(labels)
    if info.box:
        for i, r in enumerate(info.rows):
            vals = info.x[(info.row_of == i) & info.in_set]
            if len(vals):
                fig.add_trace(go.Box(x=vals, y=np.full(len(vals), float(i)), orientation="h", boxpoints=False,
                                     width=0.7, line=dict(color="#8A919C", width=1), fillcolor="rgba(0,0,0,0)",
                                     name=plot(r), showlegend=False, hoverinfo="skip"))
    for inside in (True, False):
        m = info.in_set == inside
        if not m.any():
            continue
        custom = np.stack([labels[info.row_of[m]], info.model[m], info.loss[m]], axis=1)
        fig.add_trace(go.Scatter(
            x=info.x[m], y=info.y[m], mode="markers", customdata=custom, text=shown[info.row_of[m]],
            name="models in the Rashomon set" if inside else "joint models above L* + ε",
            marker=dict(color=info.loss[m], coloraxis="coloraxis", size=7 if inside else 8,
                        symbol="circle" if inside else "circle-open", line=dict(width=0.4 if inside else 1.2)),
            hovertemplate="%{text}<br>model %{customdata[1]}<br>value %{x:.4g}"
                          "<br>loss %{customdata[2]:.5g}<extra></extra>",
        ))
    ok = np.isfinite(info.reference)
    fig.add_trace(go.Scatter(
        x=info.reference[ok], y=np.flatnonzero(ok).astype(float), mode="markers", name="reference model",
        customdata=np.stack([labels[ok]], axis=1) if ok.any() else None, text=shown[ok],
        marker=dict(symbol="star", size=15, color="#F0E442", line=dict(color="#000000", width=1.2)),
        hovertemplate="%{text}<br>reference %{x:.4g}<extra></extra>",
    ))
    fig.add_vline(x=0, line=dict(color="#9AA0A6", width=1, dash="dot"))
    if info.selected is not None:
        fig.add_hrect(y0=info.selected - 0.5, y1=info.selected + 0.5, fillcolor="#FCEFD2", opacity=0.6,
                      line_width=0, layer="below")
    fig.update_layout(
        template=TEMPLATE, height=110 + 34 * max(len(info.rows), 2), xaxis_title=plot(info.x_title),
        clickmode="event+select", dragmode=False,
        coloraxis=dict(colorscale=LOSS_COLORSCALE, cmin=info.cmin, cmax=info.cmax,
                       colorbar=dict(title=dict(text="loss"), thickness=12)),
        yaxis=dict(tickvals=list(range(len(info.rows))), ticktext=list(shown), autorange="reversed",
                   range=None, showgrid=False, zeroline=False),
        legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),  # above: below, it met the axis title
        margin=dict(l=96, r=16, t=36, b=48),
    )
    return fig


# --------------------------------------------------------------------------- halo


@dataclass(frozen=True)
class HaloInfo:
    """Per epsilon: the closed measured curve (degrees, loss rise) and the additive circle's radius."""

    pair: tuple[str, str]
    curves: tuple[dict, ...]
    """Each: ``epsilon``, ``theta`` (degrees, closed), ``measured`` (closed), ``quadrant``, ``alpha_i``,
    ``alpha_j`` (closed), ``main`` (the page's epsilon)."""
    quadrant_ticks: tuple[tuple[float, str], ...]
    r_min: float
    r_max: float


def halo_info(halos: Sequence[tuple[float, pd.DataFrame]], *, pair: tuple[str, str]) -> HaloInfo:
    """Plain data for :func:`halo_figure` from ``core.rashomon.halo_data`` tables, the first one the page's epsilon.

    Parameters
    ----------
    halos : sequence of (float, DataFrame)
        (epsilon, halo table with columns ``alpha_i, alpha_j, quadrant, theta, expected, measured``).
    pair : (str, str)

    Returns
    -------
    HaloInfo
        Each curve sorted by angle and closed (the first point repeated at the end).
    """
    curves, ticks = [], {}
    lo, hi = 0.0, 0.0
    for k, (eps, table) in enumerate(halos):
        t = table.assign(deg=np.degrees(table["theta"].to_numpy(float)) % 360.0).sort_values("deg", kind="stable")
        close = np.r_[np.arange(len(t)), 0]
        measured = t["measured"].to_numpy(float)
        curves.append({"epsilon": float(eps), "theta": t["deg"].to_numpy()[close], "measured": measured[close],
                       "quadrant": t["quadrant"].astype(str).to_numpy()[close],
                       "alpha_i": t["alpha_i"].to_numpy(float)[close], "alpha_j": t["alpha_j"].to_numpy(float)[close],
                       "main": k == 0})
        if k == 0:
            for q, g in t.groupby("quadrant", sort=False):
                ticks[str(q)] = float(np.degrees(np.angle(np.exp(1j * np.radians(g["deg"])).mean())) % 360)
        finite = measured[np.isfinite(measured)]
        lo = min(lo, float(finite.min()) if len(finite) else 0.0)
        hi = max(hi, float(eps), float(finite.max()) if len(finite) else 0.0)
    return HaloInfo(pair=tuple(pair), curves=tuple(curves),
                    quadrant_ticks=tuple(sorted(((a, q) for q, a in ticks.items()))), r_min=lo, r_max=hi)


def halo_figure(info: HaloInfo) -> go.Figure:
    """Polar: the red circle at radius epsilon (additive), the blue measured loss rise per sign quadrant.

    The angular labels are the quadrants: the signs of the two multipliers' moves from 1 (i, then j).

    Blue outside red in a quadrant: the two multipliers' moves add up to more than epsilon
    (super-additive interaction); inside: they cancel. Nested epsilons are drawn fainter.
    """
    fig = go.Figure()
    ring = np.linspace(0.0, 360.0, 181)
    n = len(info.curves)
    for k, c in enumerate(info.curves):
        main = c["main"]
        fade = 1.0 if main else 0.45
        tag = f"ε = {c['epsilon']:.4g}"
        fig.add_trace(go.Scatterpolar(
            r=np.full(len(ring), c["epsilon"]), theta=ring, mode="lines", name=f"additive: {tag}",
            line=dict(color=_HALO_RED, width=2 if main else 1.2, dash="solid" if main else "dash"),
            opacity=fade, hoverinfo="skip"))
        custom = np.stack([plot_all(c["quadrant"]), c["alpha_i"], c["alpha_j"]], axis=1)
        fig.add_trace(go.Scatterpolar(
            r=c["measured"], theta=c["theta"], mode="lines+markers" if main else "lines", name=f"measured: {tag}",
            line=dict(color=_HALO_BLUE, width=2.4 if main else 1.4, dash="solid" if main else "dash"),
            marker=dict(size=5), opacity=fade, customdata=custom,
            hovertemplate=(f"{tag}<br>quadrant %{{customdata[0]}}<br>budget a_i %{{customdata[1]:.1f}}, "
                           "a_j %{customdata[2]:.1f}<br>loss rise %{r:.4g}<extra></extra>")))
    i, j = (plot(p) for p in info.pair)  # feature names are data: shown as written (dashboard.literal.plot)
    fig.update_layout(
        template=TEMPLATE, height=460, showlegend=n > 0,
        title=wrap(f"Halo of {i} × {j}: loss rise of the 36 joint models", 36),
        polar=dict(
            radialaxis=dict(range=[info.r_min, info.r_max * 1.12 if info.r_max > 0 else 1.0],
                            exponentformat="power", angle=90, tickangle=90, nticks=4),
            angularaxis=dict(tickvals=[a for a, _ in info.quadrant_ticks],
                             ticktext=[plot(q) for _, q in info.quadrant_ticks], direction="counterclockwise",
                             rotation=0)),
        legend=dict(orientation="h", y=-0.12), margin=dict(l=40, r=40, t=70, b=40),
    )
    return fig


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunsInfo:
    """Views (runs) with their recorded score and metric value; members of the empirical set first."""

    names: tuple[str, ...]
    labels: tuple[str, ...]
    value: np.ndarray
    score: np.ndarray
    member: np.ndarray
    y: np.ndarray
    metric_title: str
    score_name: str


def runs_info(table: pd.DataFrame, *, metric_title: str, score_name: str) -> RunsInfo:
    """Plain data for :func:`runs_figure` from a table with columns ``name, label, score, value, member``."""
    value = table["value"].to_numpy(float)
    member = table["member"].to_numpy(bool)
    finite = value[np.isfinite(value)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    y = np.where(member, 0.0, 1.0)
    for row in (True, False):
        m = member == row
        y[m] += beeswarm_offsets(value[m], lo=lo, hi=hi, bins=30)
    return RunsInfo(names=tuple(table["name"].astype(str)), labels=tuple(table["label"].astype(str)), value=value,
                    score=table["score"].to_numpy(float), member=member, y=y, metric_title=metric_title,
                    score_name=score_name)


def runs_figure(info: RunsInfo) -> go.Figure:
    """The metric across the runs: the empirical Rashomon set's runs (top row) against the others."""
    fig = go.Figure()
    metric, score = plot(info.metric_title), plot(info.score_name)  # the score's name is the manifest's: data
    for row, (name, color) in enumerate((("within ε of the best", OKABE_ITO[0]), ("the other runs", "#9AA0A6"))):
        m = info.member == (row == 0)
        if not m.any():
            continue
        custom = np.stack([plot_all(info.labels)[m], info.score[m]], axis=1)  # view labels: shown as written
        fig.add_trace(go.Scatter(
            x=info.value[m], y=info.y[m], mode="markers", name=name, customdata=custom,
            marker=dict(size=10, color=color, line=dict(color="#333", width=0.6)),
            hovertemplate=(f"%{{customdata[0]}}<br>{metric} %{{x:.4g}}<br>{score} "
                           "%{customdata[1]:.4g}<extra></extra>")))
    fig.update_layout(template=TEMPLATE, height=250, xaxis_title=metric,
                      yaxis=dict(tickvals=[0, 1], ticktext=["in the set", "others"], range=[1.6, -0.6],
                                 showgrid=False, zeroline=False),
                      legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"), margin=dict(l=90, r=16, t=36, b=48))
    return fig
