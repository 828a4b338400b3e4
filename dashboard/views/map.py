"""The Map page's logic: which views to map, their projections (or the job computing them), and
one selectable chart per map with its colour, hover texts, item and neighbours."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import streamlit as st

from core import Dataset
from core.tables import image_columns
from dashboard import data, map_panels, map_view
from dashboard import session as vs
from dashboard.data import maps as maps_data
from dashboard.figures.projection import hover_texts, projection_info
from dashboard.jobs import Job
from dashboard.literal import md
from dashboard.point_metrics import MetricContext

__all__ = ["views_of", "compute_maps", "hover_for", "draw"]


def views_of(ds: Dataset, view, state) -> list:
    """The view shown, and the side-by-side one when the state names it."""
    v2 = ds.view(state.map_view2) if state.map_view2 else None
    return [view] + ([v2] if v2 is not None else [])


def compute_maps(ds, views, state, prow):
    """Projections per view (aligned when two), or the running job and a PCA preview."""
    owner = st.session_state.setdefault("embedlens.map.session", uuid.uuid4().hex)
    retry = st.session_state.pop("embedlens.map.retry", False)
    rows = None if len(prow) == ds.n else prow
    kw = dict(dims=state.map_dims, seed=state.map_seed, params=map_view.map_params(state), rows=rows,
              retry=retry)
    if state.map_method == "umap" and len(views) == 2:
        result = maps_data.map_aligned_umap(views, owner=owner + ":pair", **kw)
        return (None, result) if isinstance(result, Job) else (result, None)
    maps, job = [], None
    for i, v in enumerate(views):
        r = maps_data.map_projection(v, method=state.map_method, owner=f"{owner}:{i}", metric=state.map_metric,
                                     **kw)
        if isinstance(r, Job):
            job = job or r
        maps.append(r)
    if job is not None:
        return None, job
    if len(maps) == 2:
        maps[1] = maps_data.map_procrustes(maps[1], maps[0])
    return maps, None


def hover_for(meta: pd.DataFrame) -> np.ndarray:
    """Per-item hover text: metadata and, up to 5,000 items, a sketch of the first image column."""
    images = image_columns(meta)
    return hover_texts(meta, image_column=images[0] if images and len(meta) <= 5_000 else None,
                       skip=tuple(images))


def draw(ds, views, maps, state, prow, shown, cols):
    """One chart per map, in ``cols``; returns the figure infos."""
    selected = vs.decode_selection(state.map_selection, ds.n) if state.map_selection else None
    item = state.map_item if state.map_item >= 0 else None
    nbrs = (np.empty(0, np.int64), np.empty(0)) if item is None else \
        maps_data.map_item_neighbors(views[0].fingerprint, views[0].X, item, 10, state.map_metric)
    keep = np.isin(prow, shown)
    hover = maps_data.map_hover_texts(ds.fingerprint, ds.metadata, hover_for) if len(shown) <= 20_000 else None
    infos = []
    for slot, (col, v, p) in enumerate(zip(cols, views, maps, strict=True)):
        ctx = MetricContext(ds, v, p, None if len(prow) == ds.n else prow, metric=state.map_metric)
        color = map_view.resolve_color(state.map_color, ctx, kinds=data.map_column_kinds(ds.fingerprint, ds.metadata))
        coords, rows = p.coords[keep], prow[keep]
        signature = (map_panels.digest(coords), state.map_color, state.map_render, state.map_seed, item,
                     tuple(nbrs[0].tolist()), len(maps))

        def build(selected_rows, coords=coords, rows=rows, color=color, p=p, v=v):
            return projection_info(coords, rows, color=color, hover=hover, selected_rows=selected_rows,
                                   item=item, neighbor_rows=nbrs[0], render=state.map_render, seed=state.map_seed,
                                   title=f"{p.label} · {v.label}" if len(maps) > 1 else "")

        info, fig = map_panels.map_chart(col, str(slot), build, signature, coords, rows, ds.n, selected,
                                         height=640 if len(maps) == 1 else 520)
        col.caption(md(info.sample_note) + (f" · {len(shown):,} of {ds.n:,} items pass the filter"
                                            if len(shown) < ds.n else "") + (" · " + md(" ".join(info.notes))
                                                                             if info.notes else ""))
        if color.help:
            col.caption(f"Colour: {md(color.title)} — {color.help}")
        infos.append((info, fig))
    return infos, nbrs
