"""The map: a 2-D / 3-D scatter of a projection, coloured, with selection, and a density mode.

``projection_info(...)`` decides what is drawn (every point, or a density image plus a
declared, seeded, stratified sample when there are more points than a browser draws and
selects smoothly), groups points into traces by colour and keeps dataset row numbers
alongside, for ``customdata``. ``projection_figure(info)`` turns that into WebGL traces.
Selections are by row number, never by a trace's point index.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.selection import stratified_sample
from core.tables import MISSING_TEXT, text_values

from ..literal import plot
from .theme import OKABE_ITO, TEMPLATE

__all__ = [
    "MAX_POINTS",
    "SAMPLE_SIZE",
    "HOVER_MAX",
    "MapColor",
    "MapTrace",
    "ProjectionInfo",
    "projection_info",
    "projection_figure",
    "category_colors",
    "hover_texts",
    "image_to_text",
]

MAX_POINTS = 250_000
"""Most points drawn one by one ("auto" drawing). Measured in headless Chromium with software
WebGL on 2 cores (``python benchmarks/bench_projection.py --browser``, 2026-11-24), from the app
shell to the drawn map / from releasing a box over most points to the panel: 2,000 points 2.1 s
/ 0.3 s (the page's own start-up), 100k 2.7 s / 2.7 s, 250k 3.8 s / 7.0 s, 500k 4.7 s / 13.3 s,
1M 7.9 s / 24.2 s. Above this, a density image with a 100k-point sample: 500k 3.2 s / 3.2 s,
1M 3.1 s / 4.9 s (box / lasso still select every point under the shape)."""

SAMPLE_SIZE = 100_000
"""Points drawn over the density image (seeded, stratified by colour or by map region)."""

HOVER_MAX = 20_000
"""Per-point hover text (metadata, image sketch) up to this many drawn points; row number above."""

# Paul Tol's "muted" scheme (https://personal.sron.nl/~pault/), distinct under colour-vision
# deficiency; used when Okabe-Ito's 8 colours are not enough.
TOL_MUTED = [
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
]
OTHER = "#BBBBBB"
MISSING = "#DDDDDD"
CONTINUOUS_SCALE = "Viridis"  # perceptually uniform and readable with colour-vision deficiency


@dataclass(frozen=True)
class MapColor:
    """How to colour: ``kind`` "none", "categorical" or "continuous", with one value per dataset row."""

    kind: str = "none"
    title: str = ""
    values: np.ndarray | None = None
    help: str = ""


@dataclass(frozen=True)
class MapTrace:
    """One group of drawn points (a category, or all of them)."""

    name: str
    idx: np.ndarray
    color: str | None = None


@dataclass(frozen=True)
class ProjectionInfo:
    """What the map draws (positions ``idx`` index the drawn arrays)."""

    coords: np.ndarray
    rows: np.ndarray
    traces: list[MapTrace]
    continuous: np.ndarray | None
    color_title: str
    color_range: tuple[float, float] | None
    hover: np.ndarray | None
    selected: np.ndarray | None
    highlight: dict
    density: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    n_shown: int
    n_drawn: int
    sample_note: str
    title: str
    axis_title: str
    dims: int
    marker_size: float
    notes: list[str] = field(default_factory=list)


def category_colors(levels: Sequence, counts: Sequence[int]) -> tuple[dict, list]:
    """Colours for categorical levels: Okabe-Ito up to 8, Tol's muted + black up to 10, else the
    9 most frequent coloured and the rest grouped as "other". Returns (level -> colour, others)."""
    order = [levels[i] for i in np.argsort(-np.asarray(counts), kind="stable")]
    k = len(order)
    if k <= len(OKABE_ITO):
        palette = OKABE_ITO
    elif k <= len(TOL_MUTED) + 1:
        palette = TOL_MUTED + ["#000000"]
    else:
        palette = TOL_MUTED
    colored = order[: len(palette)] if k > len(palette) else order
    # keep a natural order for the colours themselves (sorted levels), so 0..9 read in sequence
    natural = sorted(colored, key=_sort_key)
    return {lv: palette[i] for i, lv in enumerate(natural)}, [lv for lv in order if lv not in set(colored)]


def _sort_key(v):
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def _marker_size(n: int) -> float:
    return 7.0 if n <= 2_000 else 5.0 if n <= 20_000 else 3.0 if n <= 200_000 else 2.0


def projection_info(
    coords: np.ndarray,
    rows: np.ndarray,
    *,
    color: MapColor | None = None,
    hover: np.ndarray | None = None,
    selected_rows: np.ndarray | None = None,
    item: int | None = None,
    neighbor_rows: np.ndarray | None = None,
    render: str = "auto",
    max_points: int = MAX_POINTS,
    sample_size: int = SAMPLE_SIZE,
    seed: int = 0,
    title: str = "",
    axis_title: str = "",
    bins: int = 256,
) -> ProjectionInfo:
    """Decide what to draw for the map points ``coords`` (m x 2|3), which are dataset ``rows``.

    Parameters
    ----------
    color : MapColor, optional
        Values per dataset row (so they index with ``rows``).
    hover : array of str per dataset row, optional
        Plotly HTML (:func:`hover_texts`: the data in it already escaped), shown as it is.
        Used when at most :data:`HOVER_MAX` points are drawn.
    selected_rows : array of dataset rows, optional
        The selection (None: nothing selected, every point drawn normally).
    item, neighbor_rows : dataset rows, optional
        The inspected item and its neighbours, drawn as rings on top.
    render : {"auto", "points", "density"}
        "auto" draws every point up to ``max_points``, a density image with a sample above.
    """
    coords = np.asarray(coords, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    m, dims = coords.shape[0], coords.shape[1]
    color = color or MapColor()
    notes: list[str] = []
    use_density = render == "density" or (render == "auto" and m > max_points)
    if render == "auto" and m > max_points:
        notes.append(f"More than {max_points:,} points: above that, drawing and selecting every point stops "
                     "being smooth in a browser (measured), so the map shows their density and a sample; box / "
                     "lasso still select every point under the shape. Choose 'points' under Drawing to draw "
                     "them all.")
    density = None
    if use_density and m > 0:
        size = min(sample_size, m)
        strata, how = _strata(coords, rows, color)
        drawn = stratified_sample(strata, size, seed=seed)
        sample_note = (
            f"{len(drawn):,} of {m:,} points drawn: a seeded (seed {seed}) sample stratified by {how} "
            f"(proportional allocation, at least one per stratum)"
        )
        if dims == 2:
            counts, xe, ye = np.histogram2d(coords[:, 0], coords[:, 1], bins=bins)
            density = (counts, xe, ye)
            sample_note += f"; the grey density image shows all {m:,}"
        else:
            notes.append("3-D maps have no density image: only the sample is drawn.")
    else:
        drawn = np.arange(m)
        sample_note = f"all {m:,} points drawn"
    d_coords, d_rows = coords[drawn], rows[drawn]
    n_drawn = len(drawn)
    traces: list[MapTrace] = []
    continuous, crange = None, None
    if color.kind == "categorical" and color.values is not None:
        codes, uniques = pd.factorize(pd.Series(np.asarray(color.values, dtype=object)[d_rows]))
        names = [str(u) for u in uniques]
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        colors, others = category_colors(names, list(counts))
        code_of = {name: i for i, name in enumerate(names)}
        for lv in sorted(colors, key=_sort_key):
            traces.append(MapTrace(lv, np.flatnonzero(codes == code_of[lv]), colors[lv]))
        if others:
            idx = np.flatnonzero(np.isin(codes, [code_of[o] for o in others]))
            traces.append(MapTrace(f"other ({len(others)} levels)", idx, OTHER))
            notes.append(f"{color.title} has {len(names)} levels: the {len(colors)} most frequent have "
                         f"colours, the other {len(others)} are grey.")
        if (codes < 0).any():
            traces.append(MapTrace(MISSING_TEXT, np.flatnonzero(codes < 0), MISSING))
    elif color.kind == "continuous" and color.values is not None:
        values = np.asarray(color.values, dtype=np.float64)[d_rows]
        finite = np.isfinite(values)
        if finite.any():
            crange = (float(np.nanmin(values[finite])), float(np.nanmax(values[finite])))
        continuous = values.astype(np.float32)
        # values far from the median are drawn last, on top: the few low-purity or hub points
        # are what a user looks for, and in drawing order they would hide under the many
        idx = np.flatnonzero(finite)
        if len(idx):
            idx = idx[np.argsort(np.abs(values[idx] - np.median(values[idx])), kind="stable")]
        traces.append(MapTrace("points", idx))
        if (~finite).any():
            traces.append(MapTrace("no value", np.flatnonzero(~finite), MISSING))
    else:
        traces.append(MapTrace("points", np.arange(n_drawn), OKABE_ITO[0]))
    selected = None
    if selected_rows is not None:
        selected = np.flatnonzero(np.isin(d_rows, np.asarray(selected_rows, dtype=np.int64)))
    highlight = {}
    if item is not None and item >= 0:
        pos = {int(r): i for i, r in enumerate(rows.tolist())} if m <= 2_000_000 else {}
        if item in pos:
            highlight["item"] = (np.array([item]), coords[[pos[item]]])
        if neighbor_rows is not None and len(neighbor_rows):
            keep = [int(r) for r in neighbor_rows if int(r) in pos]
            if keep:
                highlight["neighbors"] = (np.array(keep), coords[[pos[r] for r in keep]])
    hover_drawn = None
    if hover is not None and n_drawn <= HOVER_MAX:
        hover_drawn = np.asarray(hover, dtype=object)[d_rows]
    return ProjectionInfo(
        coords=d_coords, rows=d_rows, traces=traces, continuous=continuous, color_title=color.title,
        color_range=crange, hover=hover_drawn, selected=selected, highlight=highlight, density=density,
        n_shown=m, n_drawn=n_drawn, sample_note=sample_note, title=title, axis_title=axis_title, dims=dims,
        marker_size=_marker_size(n_drawn), notes=notes,
    )


def _strata(coords: np.ndarray, rows: np.ndarray, color: MapColor) -> tuple[np.ndarray, str]:
    if color.kind == "categorical" and color.values is not None:
        return text_values(np.asarray(color.values, dtype=object)[rows]), color.title
    # map regions: a 32 x 32 grid over the first two coordinates
    lo, hi = coords[:, :2].min(axis=0), coords[:, :2].max(axis=0)
    cells = np.floor((coords[:, :2] - lo) / np.where(hi > lo, hi - lo, 1) * 31.999).astype(np.int64)
    return cells[:, 0] * 32 + cells[:, 1], "map region (32 x 32 grid)"


def projection_figure(info: ProjectionInfo, *, height: int = 640) -> go.Figure:
    """WebGL traces (``Scattergl`` / ``Scatter3d``) with dataset rows as ``customdata``."""
    fig = go.Figure()
    three_d = info.dims == 3
    if info.density is not None:
        counts, xe, ye = info.density
        fig.add_trace(go.Heatmap(
            z=np.log1p(counts.T).astype(np.float32), x=((xe[:-1] + xe[1:]) / 2).astype(np.float32),
            y=((ye[:-1] + ye[1:]) / 2).astype(np.float32),
            colorscale=[[0, "rgba(255,255,255,0)"], [1, "#4D4D4D"]],
            showscale=False, hoverinfo="skip", name="density (all points)",
        ))
    sel_mask = None
    if info.selected is not None:
        sel_mask = np.zeros(info.n_drawn, dtype=bool)
        sel_mask[info.selected] = True
    if info.hover is not None:
        template = "%{text}<extra></extra>"
    else:
        value = f"<br>{plot(info.color_title)}: %{{marker.color:.4g}}" if info.continuous is not None else ""
        template = "row %{customdata}" + value + "<extra>%{fullData.name}</extra>"
    for t in info.traces:
        idx = t.idx
        marker = dict(size=info.marker_size if not three_d else max(2.0, info.marker_size - 2), opacity=0.85,
                      line=dict(width=0))
        is_scale = info.continuous is not None and t.color is None
        if is_scale:
            lo, hi = info.color_range or (0.0, 1.0)
            marker.update(color=info.continuous[idx], colorscale=CONTINUOUS_SCALE, cmin=lo, cmax=hi,
                          colorbar=dict(title=dict(text=plot(info.color_title), side="right"), thickness=14))
        else:
            marker["color"] = t.color
        common = dict(
            mode="markers", name=f"{plot(t.name)} ({len(idx):,})" if len(info.traces) > 1 else plot(t.name),
            customdata=info.rows[idx].astype(np.int32), marker=marker, hovertemplate=template,
            text=info.hover[idx] if info.hover is not None else None,
            showlegend=len(info.traces) > 1 or t.name != "points",
        )
        if three_d and sel_mask is not None:
            # Scatter3d has no selected / unselected styles (and one opacity per trace): the
            # unselected points go in a faded trace of their own, the selected ones on top, as 2-D
            on = sel_mask[idx]
            parts = [(p, o) for p, o in ((idx[~on], 0.12), (idx[on], 1.0)) if len(p)]
            for k, (part, opacity) in enumerate(parts):
                last = k == len(parts) - 1  # one legend entry and one colour bar per group
                show = common["showlegend"] and last
                mk = dict(marker, opacity=opacity)
                if is_scale:
                    mk["color"] = info.continuous[part]
                    if not last:
                        mk.pop("colorbar", None)
                xyz = info.coords[part]
                fig.add_trace(go.Scatter3d(
                    x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], **dict(
                        common, marker=mk, customdata=info.rows[part].astype(np.int32), showlegend=show,
                        legendgroup=t.name, text=info.hover[part] if info.hover is not None else None)))
        elif three_d:
            xyz = info.coords[idx]
            fig.add_trace(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], **common))
        else:
            extra = {}
            if sel_mask is not None:
                extra = dict(selectedpoints=np.flatnonzero(sel_mask[idx]).tolist(),
                             selected=dict(marker=dict(opacity=1.0)),
                             unselected=dict(marker=dict(opacity=0.12)))
            fig.add_trace(go.Scattergl(x=info.coords[idx, 0], y=info.coords[idx, 1], **common, **extra))
    rings = (("neighbors", "circle-open", 13, "neighbours"), ("item", "circle-open", 20, "item"))
    for key, symbol, size, name in rings:
        if key in info.highlight:
            rws, xy = info.highlight[key]
            trace = go.Scatter3d if three_d else go.Scattergl
            kw = dict(x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, customdata=rws.astype(np.int32),
                      marker=dict(symbol=symbol, size=size, color="#D55E00" if key == "item" else "#000000",
                                  line=dict(width=2.5, color="#D55E00" if key == "item" else "#000000")),
                      hovertemplate=f"{name}: row %{{customdata}}<extra></extra>")
            if three_d:
                kw["z"] = xy[:, 2]
                kw["marker"]["symbol"] = "circle-open"
            fig.add_trace(trace(**kw))
    axis = dict(showticklabels=False, ticks="", title=None, zeroline=False, showgrid=False)
    fig.update_layout(
        template=TEMPLATE, height=height,
        # below the map: above it, the modebar (top right, on hover) covered the legend's first row
        legend=dict(itemsizing="constant", orientation="h", x=0, y=-0.01, yanchor="top",
                    title=dict(text=plot(info.color_title), side="top left") if info.traces and info.traces[0].color
                    else None),  # title above the entries: beside them, the row's last entry was cut off
        hoverlabel=dict(font=dict(family="DejaVu Sans Mono, Menlo, Consolas, monospace", size=11,
                                  color="#222222"),
                        bgcolor="rgba(255,255,255,0.95)", bordercolor="#888888", align="left"),
        margin=dict(l=8, r=8, t=40, b=8), uirevision="map",
    )
    if three_d:
        # no axis titles, as in 2-D: plotly's default x / y / z sat at the scene's edge, z cut off
        axis3 = dict(axis, title=dict(text=""))
        fig.update_layout(scene=dict(xaxis=axis3, yaxis=axis3, zaxis=axis3, aspectmode="data"))
    else:
        # no dragmode / clickmode here: Streamlit then lets a click select one point (pan by default);
        # setting dragmode makes it force clickmode="event", and clicks stop reaching the app
        fig.update_layout(xaxis=axis, yaxis=dict(axis, scaleanchor="x", scaleratio=1))
    return fig


# --------------------------------------------------------------------------- hover text


_SHADES = " ░▒▓█"


def image_to_text(uri: str, *, size: int = 8) -> str:
    """A ``size`` x ``size`` sketch of an image data URI in shade characters (two per pixel).

    Plotly's hover cannot show images; for small glyph-like images (digits, icons) this
    sketch is enough to recognise them. Empty string for anything that is not a decodable
    ``data:image/...;base64,`` URI.
    """
    if not isinstance(uri, str) or not uri.startswith("data:image/") or ";base64," not in uri:
        return ""
    try:
        from PIL import Image

        raw = base64.b64decode(uri.split(";base64,", 1)[1])
        img = Image.open(io.BytesIO(raw)).convert("L").resize((size, size), Image.Resampling.BOX)
    except Exception:  # noqa: BLE001 - a broken image just has no sketch
        return ""
    a = np.asarray(img, dtype=np.float64)
    if a.mean() > 127:  # dark ink on light paper: shade the ink
        a = 255 - a
    levels = np.clip((a / 255.0 * (len(_SHADES) - 1)).round().astype(int), 0, len(_SHADES) - 1)
    return "<br>".join("".join(_SHADES[v] * 2 for v in row) for row in levels)


def hover_texts(meta: pd.DataFrame, *, image_column: str | None = None, skip: tuple[str, ...] = (),
                max_columns: int = 6, max_chars: int = 60) -> np.ndarray:
    """One hover text per row: up to ``max_columns`` metadata columns (not ``skip``), then an image sketch.

    A missing value (None, NaN, pd.NA, NaT, of any dtype) reads :data:`core.tables.MISSING_TEXT`.
    """
    cols = [c for c in meta.columns if c != image_column and c not in skip][:max_columns]
    parts = []
    for c in cols:  # names and values shown as written (dashboard.literal.plot); the <b> and <br> are ours
        s = pd.Series(text_values(meta[c]), dtype=object).str.slice(0, max_chars)
        parts.append(f"<b>{plot(c)}</b>: " + s.map(plot).to_numpy(dtype=object))
    text = np.full(len(meta), "", dtype=object)
    for i, p in enumerate(parts):
        text = text + ("<br>" if i else "") + p
    if image_column is not None and image_column in meta.columns:
        sketches = np.array([image_to_text(u) for u in meta[image_column].tolist()], dtype=object)
        text = np.where(sketches != "", text + "<br>" + sketches, text)
    return text
