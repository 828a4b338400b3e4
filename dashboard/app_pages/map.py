"""Map page: PCA / UMAP / t-SNE maps of a view, coloured, filtered, selectable, side by side."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from core._validation import plural
from dashboard import context, data, map_panels, map_view
from dashboard import session as vs
from dashboard.errors import user_errors
from dashboard.figures.projection import MAX_POINTS
from dashboard.literal import md
from dashboard.views import job_progress
from dashboard.views import map as view_map
from dashboard.views import outofcore as view_ooc

METHODS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


def _retry() -> None:
    st.session_state["embedlens.map.retry"] = True


def controls(ds, view) -> None:
    # two rows of two: in one row of four, at 1000 px t-SNE and 3-D were cut off behind a scroll
    # arrow and "Dimensions" broke in two (tests/browser/test_layout_1000.py)
    c = [*st.columns(2), *st.columns(2)]
    c[0].segmented_control("Method", list(METHODS), format_func=METHODS.get, required=True,
                           **vs.widget_key("map_method"))
    c[1].segmented_control("Dimensions", [2, 3], format_func=lambda d: f"{d}-D", required=True,
                           **vs.widget_key("map_dims"))
    kinds = data.map_column_kinds(ds.fingerprint, ds.metadata)
    options = map_view.color_options(ds, kinds=kinds)
    auto = map_view.auto_color(ds, kinds=kinds)
    c[2].selectbox("Colour by", ["", *options],
                   format_func=lambda o: f"auto: {map_view.color_label(auto)}" if o == "" else map_view.color_label(o),
                   **vs.widget_key("map_color", options=["", *options]))
    others = [""] + [v for v in ds.view_names if v != view.name]
    labels = {v.name: v.label for v in ds.views}
    c[3].selectbox("Side by side with", others, format_func=lambda v: "— one map —" if v == "" else labels[v],
                   help="The same items in a second view (another checkpoint, layer or run), aligned to this "
                        "map; selections are linked.", **vs.widget_key("map_view2", options=others))
    with st.expander("Parameters, filter and drawing", icon=":material/tune:"):
        p = st.columns(5)
        state = vs.current()
        p[0].number_input("Seed", 0, 2**31 - 1, step=1, **vs.widget_key("map_seed"))
        p[1].selectbox("Metric", ["cosine", "euclidean"], help="Distance of the kNN graph (UMAP, t-SNE) and of "
                       "the quality scores.", **vs.widget_key("map_metric"))
        p[2].slider("UMAP n_neighbors", 2, 200, disabled=state.map_method != "umap",
                    **vs.widget_key("map_neighbors"))
        p[3].slider("UMAP min_dist", 0.0, 1.0, step=0.05, disabled=state.map_method != "umap",
                    **vs.widget_key("map_min_dist"))
        p[4].slider("t-SNE perplexity", 2.0, 200.0, step=1.0, disabled=state.map_method != "tsne",
                    **vs.widget_key("map_perplexity"))
        st.checkbox("UMAP on every core (not reproducible)", disabled=state.map_method != "umap" or bool(
            state.map_view2), help="umap-learn lays a seeded map out on one thread: its parallel updates race, "
            "so they cannot be replayed. On every core the seed is ignored: measured 1.3-1.7x faster on 2 "
            "cores (benchmarks/bench_projection.py), more on more cores; this server's cache keeps the map, "
            "so a link reopens it here, but a recomputation elsewhere gives another map. Not for two "
            "aligned views.", **vs.widget_key("map_parallel"))
        map_panels.filter_controls(ds)
        st.radio("Drawing", ["auto", "points", "density"], horizontal=True, help=(
            f"auto: every point up to {MAX_POINTS:,}, above that a density image of all points with a "
            "declared, seeded, stratified sample of 100,000 on top. Measured in Chromium on 2 cores "
            "(benchmarks/bench_projection.py --browser): 100k points draw 2.7 s after the app shell and a box "
            "over most of them reaches the panel in 2.7 s; 250k 3.8 s and 7.0 s; 1M points 7.9 s and 24 s, "
            "the density view of 1M 3.1 s and 4.9 s (box / lasso select every point under the shape)."),
            **vs.widget_key("map_render"))


ds, view = context.require_dataset()
st.title("Map")  # the link was validated once, at session start (context.check_link)
controls(ds, view)
state = vs.current()
with user_errors():
    shown = map_view.shown_rows(ds, state.map_filter)
    prow = shown if state.map_filter_mode == "project" and len(shown) < ds.n else np.arange(ds.n)
    if len(prow) < 5:
        st.warning(f"Only {plural(len(prow), 'item')} {'passes' if len(prow) == 1 else 'pass'} the filter; "
                   "a map needs at least 5." if state.map_filter else
                   f"This dataset has {plural(ds.n, 'item')}; a map needs at least 5.")
        st.stop()
    if state.map_filter and not len(shown):
        st.warning(md(f"No item passes the filter {', '.join(map(repr, state.map_filter))}: the map below is empty. Change or "
                      "clear the filter."), icon=":material/filter_alt_off:")
    views = view_map.views_of(ds, view, state)
    maps, job = view_map.compute_maps(ds, views, state, prow)
    if job is not None:
        if job.active:
            session = st.session_state.get("embedlens.map.session", "")  # its Stop leaves others' maps running
            job_progress(job, session, f"map_stop_{job.key[:8]}")
        else:
            st.error(md(f"{job.label} {job.state}: {job.error or job.message}"), icon=":material/error:")
            st.button("Run again", on_click=_retry, icon=":material/refresh:")
        preview = replace(state, map_method="pca")
        maps, _ = view_map.compute_maps(ds, views, preview, prow)
        st.caption("Showing PCA while the map is computed; it replaces this one when ready.")
    if len(maps) == 1:
        map_col, panel = st.columns([3, 2], gap="medium")
        cols = [map_col]
    else:
        cols, panel = st.columns(2), st.container()
    infos, nbrs = view_map.draw(ds, views, maps, state, prow, shown, cols)
    if state.map_dims == 3:
        cols[0].caption("Box, lasso and click selection work on 2-D maps; in 3-D, inspect items by id "
                        "(Item tab).")
    # short names: longer ones went behind a scroll arrow in the 2/5 panel at 1000 px
    tabs = panel.tabs(["Selection", "Item", "Details"], **vs.widget_key("map_tab"))  # in the link (mt=)
    selected = vs.decode_selection(state.map_selection, ds.n) if state.map_selection else None
    with tabs[0]:
        map_panels.selection_panel(ds, view, selected, shown, state.map_metric)
    with tabs[1]:
        map_panels.item_panel(ds, view, state.map_item, state.map_metric, nbrs)
    with tabs[2]:
        map_panels.details_panel(ds, views, maps, [i for i, _ in infos], prow, infos[0][1])
    view_ooc.map_all(ds, view, state)  # out of core: every item placed on the sample's UMAP, on request
