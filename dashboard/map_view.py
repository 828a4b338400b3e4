"""The Map page's logic that needs no browser: selection events, colour and filter choices, links.

Pure functions over the view state, the dataset and plotly's selection payload, so they are
unit-tested directly; :mod:`dashboard.app_pages.map` only wires them to widgets.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from core import Dataset, EmbedLensInputError
from core.selection import filter_mask
from core.tables import image_columns

from . import point_metrics
from .data import column_kinds
from .figures.projection import MapColor
from .state import ViewState, validate

__all__ = [
    "SelectionEvent",
    "selection_from_event",
    "color_options",
    "auto_color",
    "color_label",
    "resolve_color",
    "shown_rows",
    "sanitize",
    "map_params",
]

from dashboard.selection_state import SelectionEvent, selection_from_event  # noqa: E402,F401  (moved)


# --------------------------------------------------------------------------- colour


def many_level_columns(ds: Dataset, *, kinds=None) -> list[str]:
    """Columns that are neither few-level nor numeric (e.g. 200 named classes, captions), not the ids
    or images: they colour as categories, the most frequent 9 coloured and the rest grouped as "other"."""
    cats, nums = kinds or column_kinds(ds.metadata)
    known = {*cats, *nums, ds.id_column}
    images = set(image_columns(ds.metadata)) if len(ds.metadata.columns) > len(known) else set()
    return [c for c in ds.metadata.columns if c not in known and c not in images]


def color_options(ds: Dataset, *, kinds=None, with_projection: bool = True) -> list[str]:
    """Every value the colour setting can take: "none", metadata columns (few-level, numeric, then
    many-level ones: :func:`many_level_columns`), then ``metric:<key>``."""
    cats, nums = kinds or column_kinds(ds.metadata)
    usable = point_metrics.available(with_projection=with_projection, dataset=ds)
    metrics = [point_metrics.PREFIX + m.key for m in usable]
    return ["none", *cats, *nums, *many_level_columns(ds, kinds=(cats, nums)), *metrics]


def auto_color(ds: Dataset, *, kinds=None) -> str:
    """The colour used when the link says nothing: a label-like column, else none."""
    cats, _nums = kinds or column_kinds(ds.metadata)
    for preferred in ("label", "labels", "class", "category", "target", "y"):
        if preferred in cats:
            return preferred
    small = [c for c in cats if 2 <= ds.metadata[c].nunique() <= 20]
    return small[0] if small else "none"


def color_label(choice: str) -> str:
    if choice == "none":
        return "one colour"
    if choice.startswith(point_metrics.PREFIX):
        m = point_metrics.REGISTRY.get(choice[len(point_metrics.PREFIX):])
        return m.label if m else choice
    return choice


def resolve_color(choice: str, ctx: point_metrics.MetricContext, *, kinds=None) -> MapColor:
    """The per-row values (and kind) for a colour choice; "" means :func:`auto_color`."""
    ds = ctx.dataset
    kinds = kinds or column_kinds(ds.metadata)
    choice = choice or auto_color(ds, kinds=kinds)
    if choice == "none":
        return MapColor()
    if choice.startswith(point_metrics.PREFIX):
        metric = point_metrics.REGISTRY.get(choice[len(point_metrics.PREFIX):])
        if metric is None:
            raise EmbedLensInputError(f"no per-point metric {choice!r}; choose another colour")
        values = np.asarray(metric.compute(ctx), dtype=np.float64)
        return MapColor("continuous", metric.label, values, metric.help)
    if choice not in ds.metadata.columns:
        raise EmbedLensInputError(f"no metadata column {choice!r} to colour by")
    _cats, nums = kinds
    s = ds.metadata[choice]
    if choice not in nums:  # few levels, or many (the most frequent coloured, the rest "other")
        return MapColor("categorical", choice, s.to_numpy(dtype=object))
    return MapColor("continuous", choice, s.to_numpy(dtype=np.float64, na_value=np.nan))


# --------------------------------------------------------------------------- filters


def shown_rows(ds: Dataset, clauses: tuple[str, ...]) -> np.ndarray:
    """Dataset rows kept by the filter (all rows for an empty filter)."""
    if not clauses:
        return np.arange(ds.n)
    return np.flatnonzero(filter_mask(ds.metadata, clauses))


# --------------------------------------------------------------------------- link hygiene


def sanitize(state: ViewState, ds: Dataset, *, kinds=None) -> tuple[dict, list[str]]:
    """Changes that bring a (linked) state back into range for ``ds``, and a warning for each:
    :func:`dashboard.state.validate` (the one check the app runs at session start) with the map's
    colour options, as a dict of the fields it changed."""
    fixed, warnings = validate(state, ds, options={"map_color": color_options(ds, kinds=kinds)})
    changes = {f.name: getattr(fixed, f.name) for f in fields(state)
               if getattr(fixed, f.name) != getattr(state, f.name)}
    return changes, warnings


def map_params(state: ViewState) -> dict:
    """The core parameters of the state's method (what :func:`core.projection.project` takes)."""
    if state.map_method == "umap":
        params = {"n_neighbors": state.map_neighbors, "min_dist": state.map_min_dist,
                  "metric": state.map_metric}
        # only when asked for (and never for the joint layout of two aligned views, which is
        # seeded and single-threaded), so the cache keys of reproducible maps do not change
        return {**params, "parallel": True} if state.map_parallel and not state.map_view2 else params
    if state.map_method == "tsne":
        return {"perplexity": state.map_perplexity, "metric": state.map_metric}
    return {}
