"""The Map page's side panels: the selection, the inspected item and its neighbours, map details
and exports. Each takes what the page resolved and draws with Streamlit; no numerics here.
"""

from __future__ import annotations

import base64
import hashlib
import io
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import Dataset, View
from core.metric_text import metric_help, metric_title
from core.projection import Projection
from core.selection import parse_filter
from core.tables import MISSING_TEXT, image_columns, text_values

from . import data
from . import session as vs
from .data import maps as maps_data
from .figures.export import chart_config
from .figures.projection import ProjectionInfo, projection_figure
from .literal import md, plot
from .selection_state import ChartMemory, on_draw, on_event

_FILTER = "w.mf."
_FILTER_MISSING = "w.mf.missing."  # a numeric column's "only missing values" box (under _FILTER: reset with it)
_POINTS = "embedlens.map.points."  # (coords, rows, n) of each chart, for its selection callback
_FIGURE = "embedlens.map.figure."  # (info, figure) last drawn in each chart
_MEMORY = "embedlens.map.memory."  # each chart's selection_state.ChartMemory (what it drew, its own selection)


def digest(a: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=8).hexdigest()


def _on_select(slot: str) -> None:
    coords, rows, n = st.session_state[_POINTS + slot]
    memory, changes = on_event(st.session_state.get(_MEMORY + slot, ChartMemory()),
                               st.session_state.get(f"map_{slot}"), coords, rows, n)
    st.session_state[_MEMORY + slot] = memory
    vs.update(**changes)


def map_chart(col, slot: str, build, signature: tuple, coords: np.ndarray, rows: np.ndarray, n: int,
              selected: np.ndarray | None, *, height: int):
    """Draw one selectable map; returns (info, figure).

    A selection made in this very chart is already on screen: if nothing else about the
    chart changed, the previous figure is sent again unchanged, so Streamlit keeps the chart
    (and plotly's own selection) instead of redrawing it; any other change redraws it with
    the selection from the view state (:func:`dashboard.selection_state.on_draw`).
    """
    st.session_state[_POINTS + slot] = (coords[:, :2], rows, n)
    memory, redraw = on_draw(st.session_state.get(_MEMORY + slot, ChartMemory()), signature,
                             vs.current().map_selection)
    if redraw or _FIGURE + slot not in st.session_state:
        info = build(selected)
        fig = projection_figure(info, height=height)
        st.session_state[_FIGURE + slot] = (info, fig)
        memory = ChartMemory(signature=signature)
    else:
        info, fig = st.session_state[_FIGURE + slot]
    st.session_state[_MEMORY + slot] = memory
    if info.title:
        col.markdown(f"**{md(info.title)}**")
    col.plotly_chart(fig, key=f"map_{slot}", on_select=partial(_on_select, slot),
                     selection_mode=("points", "box", "lasso"), config=chart_config(f"map-{slot}"), theme=None)
    return info, fig

__all__ = [
    "filter_controls", "map_chart", "digest", "selection_panel", "item_panel", "details_panel", "TABLE_ROWS",
]

TABLE_ROWS = 1000
"""Rows of metadata shown in a table (the CSV export has them all)."""


def _filter_widgets(ds: Dataset) -> tuple[list[str], list[str]]:
    cats, nums = data.map_column_kinds(ds.fingerprint, ds.metadata)
    return cats[:6], nums[:4]


def _filter_changed(ds: Dataset) -> None:
    cats, nums = _filter_widgets(ds)
    clauses = []
    for c in cats:
        clauses += [f"{c}={v}" for v in st.session_state.get(_FILTER + c, [])]
    for c in nums:
        if st.session_state.get(_FILTER_MISSING + c):
            clauses.append(f"{c}={MISSING_TEXT}")
            continue
        lo, hi = st.session_state.get(_FILTER + c, (None, None))
        s = ds.metadata[c]
        if not s.notna().any():
            continue
        if lo is not None and lo > s.min():
            clauses.append(f"{c}>={lo}")
        if hi is not None and hi < s.max():
            clauses.append(f"{c}<={hi}")
    vs.update(map_filter=tuple(clauses))


def _clear_filter(ds: Dataset) -> None:
    for key in [k for k in st.session_state if str(k).startswith(_FILTER)]:
        del st.session_state[key]
    vs.update(map_filter=())


def filter_controls(ds: Dataset) -> None:
    """A multiselect per categorical column, a range per numeric one; they write ``map_filter``."""
    cats, nums = _filter_widgets(ds)
    if not cats and not nums:
        st.caption("No metadata columns to filter by.")
        return
    clauses = parse_filter(vs.current().map_filter)
    cols = st.columns(len(cats) + len(nums) + 1)
    for col, c in zip(cols, cats):
        # a missing value is a level of its own, "(missing)", listed last (filter clause "c=(missing)")
        levels = sorted(set(text_values(ds.metadata[c]).tolist()),
                        key=lambda v: (v == MISSING_TEXT, len(v), v))
        st.session_state.setdefault(_FILTER + c, [x.value for x in clauses if x.column == c and x.op == "="
                                                  and x.value in levels])
        col.multiselect(f"Filter: {md(c)}", levels, key=_FILTER + c, on_change=_filter_changed, args=(ds,),
                        placeholder="all")
    for col, c in zip(cols[len(cats):], nums):
        s = ds.metadata[c]
        n_missing = int(s.isna().sum())
        if n_missing:
            st.session_state.setdefault(_FILTER_MISSING + c, any(
                x.column == c and x.op == "=" and x.value == MISSING_TEXT for x in clauses))
            col.checkbox(f"only {md(c)} {md(MISSING_TEXT)}", key=_FILTER_MISSING + c, on_change=_filter_changed,
                         args=(ds,), help=f"{n_missing:,} items have no {md(c)}; a narrowed range leaves them out.")
        if n_missing == len(s):
            continue
        lo, hi = float(s.min()), float(s.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo == hi:
            continue
        cast = int if pd.api.types.is_integer_dtype(s) else float
        lo, hi = cast(lo), cast(hi)
        cur_lo = next((cast(float(x.value)) for x in clauses if x.column == c and x.op == ">="), lo)
        cur_hi = next((cast(float(x.value)) for x in clauses if x.column == c and x.op == "<="), hi)
        st.session_state.setdefault(_FILTER + c, (max(lo, cur_lo), min(hi, cur_hi)))
        col.slider(f"Filter: {md(c)}", lo, hi, key=_FILTER + c, on_change=_filter_changed, args=(ds,))
    cols[-1].radio("Filter applies to", ["display", "project"], format_func={
        "display": "the drawing", "project": "the projection"}.get,
        help="the drawing: the map of all items, filtered points hidden; the projection: a map of only the "
             "kept items (computed and cached separately).", **vs.widget_key("map_filter_mode"))
    if clauses:
        st.button("Clear filter", on_click=_clear_filter, args=(ds,), key="map_clear_filter")


def _image_config(meta: pd.DataFrame) -> dict:
    return {c: st.column_config.ImageColumn(c, width="small") for c in image_columns(meta)}


def _table(ds: Dataset, rows: np.ndarray, extra: dict | None = None) -> pd.DataFrame:
    table = ds.metadata.iloc[rows].copy() if len(ds.metadata.columns) else pd.DataFrame(index=rows)
    table.insert(0, "row", rows)
    for name, values in (extra or {}).items():
        table[name] = values
    return table


def _csv(make_table):
    """A deferred CSV download (built on click, image columns left out; a missing value of any
    dtype is an empty cell, pandas' ``to_csv`` default, so the file reads back as missing)."""
    def build() -> bytes:
        table = make_table()
        return table.drop(columns=image_columns(table)).to_csv(index=False).encode()
    return build


def _param(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_param(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_param(x)}" for k, x in v.items()) + "}"
    return str(v)


def parameters_text(params) -> str:
    """The details panel's "Parameters used" line; a degenerate PCA says "undefined" and why."""
    shown = {k: v2 for k, v2 in params.items() if k not in ("versions", "degenerate", "message")}
    if params.get("degenerate"):
        shown["explained_variance_ratio"] = f"undefined ({params.get('message')})"
    used = " · ".join(f"{k}={_param(v2)}" for k, v2 in shown.items())
    versions = ", ".join(f"{k} {v2}" for k, v2 in params.get("versions", {}).items())
    return f"Parameters used: {used} · {versions}"


def _pm(value: float, error: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.2f} ± {error:.2f}" if np.isfinite(error) else f"{value:.2f}"


def _fmt(x: float, digits: int = 4) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def selection_panel(ds: Dataset, view: View, selected: np.ndarray | None, shown: np.ndarray,
                    metric: str) -> None:
    """Count, the selection against the rest, its metadata rows, CSV export."""
    if selected is None or not len(selected):
        st.caption(
            "Draw a box or a lasso on the map (toolbar, top right of the map) to select items; hold shift "
            "to add a region, double-click the map or press Clear to start again. To inspect an item, "
            "click it in Pan mode (the default; after a box or lasso, pick Pan in the toolbar; inside a "
            "selection's outline clicks move the outline, so double-click to drop it first)."
        )
        return
    n = ds.n
    in_view = np.intersect1d(selected, shown)
    c1, c2 = st.columns([3, 1])
    c1.metric("Selected items", f"{len(selected):,}",
              help=f"of {n:,} items; {len(in_view):,} are on the map now")
    c2.button("Clear", icon=":material/deselect:", on_click=vs.update, kwargs={"map_selection": ""},
              key="map_clear_selection", width="stretch")
    mask = np.zeros(n, dtype=bool)
    mask[selected] = True
    g = maps_data.map_compare_groups(view.fingerprint, vs.current().map_selection, view.X, mask, metric)
    st.markdown(f"**Selection vs the rest** ({g.n_in:,} vs {g.n_out:,} items, {md(view.label)})")
    div = maps_data.map_group_diversity(view.fingerprint, vs.current().map_selection, view.X, mask, metric)
    table = pd.DataFrame(
        {
            "selection": [_fmt(g.mean_norm_in), _fmt(g.cosine_in), _fmt(div.vendi_in),
                          _pm(div.id_in, div.id_error_in)],
            "rest": [_fmt(g.mean_norm_out), _fmt(g.cosine_out), _fmt(div.vendi_out),
                     _pm(div.id_out, div.id_error_out)],
        },
        index=["mean norm", "mean cosine within", "Vendi (cosine, q=1)", f"TwoNN ID ({div.metric})"],
    )
    st.dataframe(table, width="stretch")
    sampled = [f"{name}: {used[0]:,} of the selection and {used[1]:,} of the rest (seeded sample, seed "
               f"{div.seed})" for name, used in (("Vendi", div.n_vendi), ("TwoNN", div.n_id))
               if used[0] < g.n_in or used[1] < g.n_out]
    st.caption(
        f"Centroid distance ({g.metric}): **{_fmt(g.centroid_distance)}**. " + metric_help("selection_groups")
        + (" Rows used: " + "; ".join(sampled) + "." if sampled else "")
    )
    rows = selected[:TABLE_ROWS]
    t = _table(ds, rows)
    st.dataframe(t, hide_index=True, width="stretch", height=260, column_config=_image_config(t))
    if len(selected) > TABLE_ROWS:
        st.caption(f"First {TABLE_ROWS:,} of {len(selected):,} selected rows shown; the CSV has them all.")
    st.download_button("Selection (CSV)", _csv(lambda: _table(ds, selected)),
                       file_name=f"{ds.name}-selection.csv",
                       mime="text/csv", icon=":material/download:", key="map_dl_selection", on_click="ignore")


def _image_bytes(uri) -> bytes | None:
    if isinstance(uri, str) and uri.startswith("data:image/") and ";base64," in uri:
        try:
            return base64.b64decode(uri.split(";base64,", 1)[1])
        except ValueError:
            return None
    return None


def _lookup_item(ds: Dataset) -> None:
    text = st.session_state.get("map_item_lookup", "").strip()
    if not text:
        return
    hits = np.flatnonzero(text_values(pd.Series(ds.ids)) == text)
    if not len(hits) and text.isdigit() and int(text) < ds.n:
        hits = np.array([int(text)])
    if len(hits):
        vs.update(map_item=int(hits[0]))
    else:
        st.session_state["map_item_missing"] = text


def item_cells(meta: pd.DataFrame, row: int, *, skip=()) -> dict[str, str]:
    """Column -> the text of row ``row``'s cell; a missing value of any dtype reads "(missing)"."""
    one = meta.iloc[[row]]
    return {str(c): str(text_values(one[c])[0]) for c in one.columns if c not in skip}


def item_panel(ds: Dataset, view: View, item: int, metric: str, neighbors) -> None:
    """The inspected item (metadata, image) and its nearest neighbours in the embedding."""
    st.text_input("Inspect an item by id or row", key="map_item_lookup", on_change=_lookup_item, args=(ds,),
                  placeholder=str(ds.ids[0]))
    missing = st.session_state.pop("map_item_missing", None)
    if missing:
        st.warning(f"No item with id or row {md(repr(missing))}.")
    if item < 0:
        st.caption("Click a point on the map, or type an id above, to see the item and its nearest "
                   "neighbours.")
        return
    images = image_columns(ds.metadata)
    c1, c2 = st.columns([1, 3]) if images else (None, st.container())
    if images:
        img = _image_bytes(ds.metadata[images[0]].iloc[item])
        if img is not None:
            c1.image(img, width=96, caption=md(ds.ids[item]))  # image captions render markdown
    c2.markdown(f"**Row {item}** · id {md(ds.ids[item])}  \n"
                + " · ".join(f"{md(k)}: **{md(v)}**" for k, v in item_cells(ds.metadata, item, skip=images).items()))
    c2.button("Stop inspecting", key="map_item_clear", on_click=vs.update, kwargs={"map_item": -1})
    rows, dist = neighbors
    st.markdown(f"**{len(rows)} nearest neighbours** in {md(view.label)} ({metric} distance, exact)")
    t = _table(ds, rows, {f"{metric} distance": np.round(dist.astype(np.float64), 5)})
    t.insert(0, "rank", np.arange(1, len(rows) + 1))
    first = ["rank", "row", f"{metric} distance"]
    cols = first + [c for c in t.columns if c not in first]
    t = t[cols]
    st.dataframe(t, hide_index=True, width="stretch", column_config=_image_config(t))
    st.caption("Rings on the map: the item (orange) and these neighbours (black).")


def details_panel(ds: Dataset, views: list[View], maps: list[Projection], infos: list[ProjectionInfo],
                  prow: np.ndarray, figure) -> None:
    """How each map was made, its quality, and exports (coordinates, figure)."""
    for v, p, info in zip(views, maps, infos, strict=True):
        st.markdown(f"**{md(p.label)}** — {md(v.label)}")
        cols = st.columns(3)
        if p.trust is not None:
            cols[0].metric(metric_title("trustworthiness"), f"{p.trust.value:.3f}",
                           help=f"{p.trust.label}. {metric_help('trustworthiness')}")
        if p.mean_preservation is not None:
            cols[1].metric(metric_title("knn_preservation", k=p.preservation_k), f"{p.mean_preservation:.3f}",
                           help=metric_help("knn_preservation"))
        cols[2].metric("Computed in", f"{p.seconds:.1f} s",
                       help="from the disk cache" if p.from_cache else None)
        if p.preservation is None:
            cols[1].caption("kNN preservation: colour the map by it to compute it (builds the kNN graph).")
        st.caption(parameters_text(p.params))
        st.caption(f"Drawn: {md(info.sample_note)}.")
        if p.params.get("reproducible") is False:
            st.caption(":material/warning: Laid out on every core with no seed: this server's cache keeps this "
                       "map for the link, but computing it again (elsewhere, or after the cache is pruned) "
                       "gives another one.")
    p = maps[0]

    def coords() -> pd.DataFrame:  # built when a download is clicked
        table = pd.DataFrame(p.coords, columns=[f"{p.method}_{i + 1}" for i in range(p.n_components)])
        table.insert(0, "row", prow)
        table.insert(1, "id", np.asarray(ds.ids)[prow])
        return table

    st.markdown("**Export**")
    c1, c2, c3 = st.container(), st.container(), st.container()
    c1.download_button("Coordinates with ids (CSV)", lambda: coords().to_csv(index=False).encode(),
                       file_name=f"{ds.name}-{p.method}.csv", mime="text/csv", key="map_dl_csv",
                       icon=":material/download:", on_click="ignore")

    def parquet() -> bytes:
        buf = io.BytesIO()
        coords().astype({"id": str}).to_parquet(buf, index=False)
        return buf.getvalue()

    c2.download_button("Coordinates with ids (Parquet)", parquet, file_name=f"{ds.name}-{p.method}.parquet",
                       mime="application/vnd.apache.parquet", key="map_dl_parquet",
                       icon=":material/download:", on_click="ignore")
    title = plot(f"{p.label} · {views[0].label} · {ds.name}")  # names from the data: shown as written
    def html() -> bytes:
        titled = go.Figure(figure).update_layout(title=title, margin_t=60)
        return titled.to_html(include_plotlyjs=True, full_html=True).encode()

    c3.download_button("Figure (HTML)", html,
                       file_name=f"{ds.name}-{p.method}.html", mime="text/html", key="map_dl_html",
                       icon=":material/download:",
                       help="A self-contained interactive page (plotly.js included).",
                       on_click="ignore")
