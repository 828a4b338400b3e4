"""Per-point metrics a map can be coloured by: a registry, so new ones plug in with one call.

A :class:`PointMetric` names a number per item (its label names the variant, its help gives
the formula and reference) and says how to get it for a view: ``compute(ctx)`` returns an
array of shape (n,) for the dataset's n items (NaN where undefined). Computations go through
the cached wrappers of :mod:`dashboard.data` (its ``geometry``, ``health`` and ``maps``
modules), so colouring twice costs nothing.

Registered here: the row norm, local intrinsic dimension, hubness (k-occurrence) and kNN
purity (the Geometry page's metrics, on the same cached kNN graph, so a map coloured by them
costs nothing once that page has run), and kNN preservation (which needs the map). Another
metric is added with::

    from dashboard.point_metrics import PointMetric, register
    register(PointMetric("key", "Label (variant)", "formula, reference, cost", compute))

The labels and help texts of the metrics registered here come from :mod:`core.metric_text`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import Dataset, View
from core.metric_text import metric_help, metric_title
from core.projection import Projection
from dashboard import data
from dashboard.data import geometry as geometry_data
from dashboard.data import health as health_data
from dashboard.data import maps as maps_data

__all__ = ["MetricContext", "PointMetric", "REGISTRY", "register", "available", "PREFIX"]

PREFIX = "metric:"
"""How a metric is written in the colour field of the view state: ``metric:<key>``."""


@dataclass(frozen=True)
class MetricContext:
    """What a metric may use: the dataset, the view, and the map being coloured (if any)."""

    dataset: Dataset
    view: View
    projection: Projection | None = None
    rows: np.ndarray | None = None
    """Dataset rows of the map's points when it was made from a subset (filter before projecting)."""
    metric: str = "cosine"
    """The distance the embedding's neighbours are taken in (the map's metric)."""


@dataclass(frozen=True)
class PointMetric:
    """A number per item.

    Attributes
    ----------
    key : str
        Short, stable; appears in links (``mc=metric:<key>``).
    label : str
        Names the variant, e.g. "kNN preservation (k=15, cosine)".
    help : str
        Formula, reference and cost, shown next to the colour bar.
    compute : callable ``(MetricContext) -> ndarray of shape (n,)``
    needs_projection : bool
        Only offered when a map exists (it describes the map, not the embedding).
    applies : callable ``(Dataset) -> bool``, optional
        Only offered for datasets where it returns True (e.g. kNN purity needs labels).
    """

    key: str
    label: str
    help: str
    compute: Callable[[MetricContext], np.ndarray]
    needs_projection: bool = False
    applies: Callable[[Dataset], bool] | None = None


REGISTRY: dict[str, PointMetric] = {}


def register(metric: PointMetric) -> PointMetric:
    """Add (or replace) a metric; returns it."""
    REGISTRY[metric.key] = metric
    return metric


def available(*, with_projection: bool, dataset: Dataset | None = None) -> list[PointMetric]:
    """Metrics that can be computed now (for ``dataset``, when given), in registration order."""
    return [m for m in REGISTRY.values() if (with_projection or not m.needs_projection)
            and (dataset is None or m.applies is None or m.applies(dataset))]


GRAPH_K = 20
"""Neighbours of the kNN graph behind the neighbour-based metrics: the Geometry page's default
graph (max of its purity k, hubness k and 20), so both pages share one cached search."""
LID_K, HUB_K, PURITY_K = 20, 10, 15


def _graph_k(ctx: MetricContext) -> int:
    return min(GRAPH_K, ctx.view.n - 1)


def _local_id(ctx: MetricContext) -> np.ndarray:
    v, gk = ctx.view, _graph_k(ctx)
    geometry_data.knn(v.fingerprint, v.X, k=gk, metric=ctx.metric)  # with a spinner, once
    return geometry_data.local_intrinsic_dimension(v.fingerprint, v.X, min(LID_K, gk), ctx.metric, gk)


def _k_occurrence(ctx: MetricContext) -> np.ndarray:
    v, gk = ctx.view, _graph_k(ctx)
    geometry_data.knn(v.fingerprint, v.X, k=gk, metric=ctx.metric)
    return geometry_data.hubness(v.fingerprint, v.X, min(HUB_K, gk), ctx.metric, gk).k_occurrence.astype(np.float64)


def purity_column(ds: Dataset) -> str | None:
    """The label column kNN purity uses: "label" if present, else the first label-like column."""
    columns = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
    return columns[0] if columns else None


def _purity(ctx: MetricContext) -> np.ndarray:
    ds, v, gk = ctx.dataset, ctx.view, _graph_k(ctx)
    column = purity_column(ds)
    geometry_data.knn(v.fingerprint, v.X, k=gk, metric=ctx.metric)
    labels = ds.metadata[column].to_numpy()
    return geometry_data.knn_purity(v.fingerprint, v.X, f"{ds.fingerprint}:{column}", labels, min(PURITY_K, gk),
                           ctx.metric, gk)


def _row_norm(ctx: MetricContext) -> np.ndarray:
    return health_data.view_health(ctx.view.fingerprint, ctx.view.X).norms  # the Data page's, cached


def _preservation(ctx: MetricContext) -> np.ndarray:
    p = ctx.projection
    if p is not None and p.preservation is not None:
        values = p.preservation
    else:
        values = maps_data.map_preservation(ctx.view, p, ctx.rows)
    out = np.full(ctx.dataset.n, np.nan, dtype=np.float32)
    out[ctx.rows if ctx.rows is not None else slice(None)] = values
    return out


register(PointMetric("norm", metric_title("point_norm"), metric_help("point_norm"), _row_norm))
register(PointMetric("lid", metric_title("point_lid", k=LID_K), metric_help("point_lid", k=LID_K), _local_id))
register(PointMetric("hub", metric_title("point_hub", k=HUB_K), metric_help("point_hub", k=HUB_K), _k_occurrence))
register(PointMetric("purity", metric_title("point_purity", k=PURITY_K), metric_help("point_purity", k=PURITY_K),
                     _purity, applies=lambda ds: purity_column(ds) is not None))
register(PointMetric("knn_preservation", metric_title("point_knn_preservation", k=15),
                     metric_help("point_knn_preservation", k=15), _preservation, needs_projection=True))
