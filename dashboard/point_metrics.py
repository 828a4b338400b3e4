"""Per-point metrics a map can be coloured by: a registry, so new ones plug in with one call.

A :class:`PointMetric` names a number per item (its label names the variant, its help gives
the formula and reference) and says how to get it for a view: ``compute(ctx)`` returns an
array of shape (n,) for the dataset's n items (NaN where undefined). Computations go through
the cached wrappers of :mod:`dashboard.data`, so colouring twice costs nothing.

Registered here: the row norm and kNN preservation (which needs the map). Another page's
metric (local intrinsic dimension, hubness, kNN purity, ...) is added with::

    from dashboard.point_metrics import PointMetric, register
    register(PointMetric("lid", "Local ID (MLE, k=20)", "...", lambda ctx: data.local_id(...)))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import Dataset, View
from core.projection import Projection

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
    """

    key: str
    label: str
    help: str
    compute: Callable[[MetricContext], np.ndarray]
    needs_projection: bool = False


REGISTRY: dict[str, PointMetric] = {}


def register(metric: PointMetric) -> PointMetric:
    """Add (or replace) a metric; returns it."""
    REGISTRY[metric.key] = metric
    return metric


def available(*, with_projection: bool) -> list[PointMetric]:
    """Metrics that can be computed now, in registration order."""
    return [m for m in REGISTRY.values() if with_projection or not m.needs_projection]


def _row_norm(ctx: MetricContext) -> np.ndarray:
    from dashboard import data

    return data.map_row_norms(ctx.view.fingerprint, ctx.view.X)


def _preservation(ctx: MetricContext) -> np.ndarray:
    from dashboard import data

    p = ctx.projection
    if p is not None and p.preservation is not None:
        values = p.preservation
    else:
        values = data.map_preservation(ctx.view, p, ctx.rows)
    out = np.full(ctx.dataset.n, np.nan, dtype=np.float32)
    out[ctx.rows if ctx.rows is not None else slice(None)] = values
    return out


register(PointMetric(
    "norm", "Row norm (L2)",
    "||x_i||_2, the Euclidean length of the item's embedding. Cost O(n d).",
    _row_norm,
))
register(PointMetric(
    "knn_preservation", "kNN preservation (k=15)",
    "Share of the item's 15 nearest neighbours in the embedding (the shared kNN graph, in the "
    "map's metric) that are also among its 15 nearest in the map: |N_X(i) ∩ N_Y(i)| / 15. "
    "Low values mark items the map misplaces (Lee & Verleysen 2009). Cost O(n log n) given the graph.",
    _preservation,
    needs_projection=True,
))
