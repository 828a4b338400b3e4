"""How faithfully a 2-D / 3-D map keeps the neighbourhoods of the embedding it was made from.

Two scores, shown with every map:

- :func:`trustworthiness` (Venna & Kaski 2001; scikit-learn's implementation): penalises
  points that are close in the map but far in the embedding. Global, between 0 and 1.
  It needs full distance ranks, O(m^2 d) for m points, so above ``sample`` points it is
  computed on a seeded random sample and says so.
- :func:`knn_preservation`: per point, the share of its k nearest neighbours in the
  embedding that are also among its k nearest neighbours in the map. It reuses the shared
  kNN graph for the embedding side and a k-d tree for the map side, so it is available for
  every point at any n; as a per-point metric it colours the map.

:func:`map_quality` is the one place a map is scored with both (k = :data:`QUALITY_K`,
trustworthiness sampled above :data:`QUALITY_SAMPLE` points): :func:`core.projection.project`
and :func:`core.alignment.align_projections` call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple

import numpy as np

from ._memory import matrix_bytes, require_memory
from ._numerics import pow2_scale
from ._validation import (
    EmbedLensInputError,
    Interval,
    StrOptions,
    check_embeddings,
    check_paired,
    check_param,
    first_items,
)

__all__ = [
    "QUALITY_K",
    "QUALITY_SAMPLE",
    "QUALITY_MIN_POINTS",
    "MapQuality",
    "Trustworthiness",
    "trustworthiness",
    "knn_preservation",
    "map_neighbors",
    "map_quality",
]

QUALITY_K = 15
"""k of a map's quality scores (trustworthiness and kNN preservation)."""

QUALITY_SAMPLE = 2000
"""Trustworthiness needs all pairwise ranks: above this many points a map is scored on a sample."""

QUALITY_MIN_POINTS = 8
"""Maps of fewer points are not scored (k would be clipped below 4)."""


@dataclass(frozen=True)
class Trustworthiness:
    """A trustworthiness score and how it was computed.

    Attributes
    ----------
    value : float
        In [0, 1]; 1 means every map neighbour is a true neighbour.
    n_neighbors : int
    metric : str
        Distance in the embedding (the map side is always Euclidean).
    n_used : int
        Points it was computed on (all of them unless ``sampled``).
    sampled : bool
        Whether ``n_used`` is a seeded random sample of the points.
    seed : int
    """

    value: float
    n_neighbors: int
    metric: str
    n_used: int
    sampled: bool
    seed: int

    @property
    def label(self) -> str:
        base = f"Trustworthiness (k={self.n_neighbors}, {self.metric})"
        return base + (f" on {self.n_used:,} sampled points" if self.sampled else "")


def trustworthiness(
    X,
    Y,
    /,
    *,
    n_neighbors: int = 15,
    metric: str = "cosine",
    sample: int = 4000,
    seed: int = 0,
) -> Trustworthiness:
    """Trustworthiness of map ``Y`` for embedding ``X`` (scikit-learn), sampled above ``sample`` points.

    .. math::

        T(k) = 1 - \\frac{2}{n k (2n - 3k - 1)} \\sum_i \\sum_{j \\in U_k(i)} (r(i, j) - k)

    where :math:`U_k(i)` are the map's k nearest neighbours of i that are not among its k
    nearest in the embedding, and :math:`r(i, j)` is the rank of j among i's neighbours in
    the embedding.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The embedding.
    Y : array-like of shape (n, c)
        The map (row-aligned with ``X``).
    n_neighbors : int, default=15
        k; must be below half the number of points used. Clipped to that bound for small
        inputs (the value used is recorded).
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance in the embedding; the map is measured with Euclidean distance.
    sample : int, default=4000
        Above this many points, score a seeded random sample of this size (neighbours are
        then ranked within the sample).
    seed : int, default=0

    Returns
    -------
    Trustworthiness

    Raises
    ------
    EmbedLensInputError
        ``X`` and ``Y`` not finite numeric arrays with the same number of rows (at least 4);
        an unknown metric; ``sample`` not an integer >= 4; ``n_neighbors`` < 1.

    Notes
    -----
    Reference: J. Venna and S. Kaski, "Neighborhood preservation in nonlinear projection
    methods: an experimental study", ICANN 2001. Cost: O(m^2 (d + log m)) time and O(m^2)
    memory for m = min(n, sample) points.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> print(f"{trustworthiness(X, 5.0 + X[:, :5] / 10.0, metric='euclidean').value:.2f}")
    1.00
    >>> print(f"{trustworthiness(X, X[:, :2], metric='euclidean', n_neighbors=5).value:.2f}")
    0.71
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    X, Y = check_paired(X, Y, names=("X", "Y"), min_rows=4)  # float32 kept: the sample is widened below
    metric = check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    sample = check_param("sample", sample, Interval(Integral, 4, None, closed="left"))
    n = X.shape[0]
    sampled = n > sample
    m = min(n, int(sample))  # scikit-learn's m x m distances, their argsort and the inverse ranks
    require_memory(matrix_bytes(m, copies=3), what=f"trustworthiness on {m:,} points ({m:,} x {m:,} distances and ranks)",
                   avoid="use a smaller sample (sample)")
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=int(sample), replace=False))
        X, Y = X[rows], Y[rows]
    # Divided by exact powers of two: the ranks are unchanged, and scikit-learn's squared
    # distances and its cosine normalisation (which takes norms below ~1e-15 for zero rows)
    # see unit-scale data, so the value is the same at every data scale.
    X = X.astype(np.float64) / pow2_scale(X)
    Y = Y.astype(np.float64) / pow2_scale(Y)
    m = X.shape[0]
    k = check_param("n_neighbors", n_neighbors, Interval(Integral, 1, None, closed="left", whole_floats=True))
    k = min(k, (m - 1) // 2)
    value = float(sk_trustworthiness(X, Y, n_neighbors=k, metric=metric))
    return Trustworthiness(value=value, n_neighbors=k, metric=metric, n_used=m, sampled=sampled,
                           seed=int(seed))


def map_neighbors(Y, /, *, k: int) -> np.ndarray:
    """The k nearest neighbours of every point of map ``Y`` (itself excluded), by a k-d tree.

    Exact; O(n log n) for the low-dimensional maps this is meant for. With exact duplicates
    a point may not be returned first for itself; then the farthest of k + 1 is dropped.

    Parameters
    ----------
    Y : array-like of shape (n, c)
        The map.
    k : int
        Neighbours per point, ``1 <= k < n``.

    Returns
    -------
    ndarray of shape (n, k), int
        Row indices, nearest first.

    Raises
    ------
    EmbedLensInputError
        ``Y`` not a finite numeric array of at least 2 rows; ``k`` out of range.
    """
    from sklearn.neighbors import NearestNeighbors

    Y = check_embeddings(Y, name="Y", min_rows=2)
    n = Y.shape[0]
    if not 1 <= k < n:
        raise EmbedLensInputError(f"k={k} must satisfy 1 <= k < n = {n}")
    idx = NearestNeighbors(n_neighbors=k + 1, algorithm="kd_tree").fit(Y).kneighbors(Y, return_distance=False)
    is_self = idx == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(n, k)


def knn_preservation(neighbors, Y, /, *, k: int | None = None, block: int = 65536) -> np.ndarray:
    """Per point, the share of its k embedding neighbours that stay among its k map neighbours.

    .. math::

        p_i = |N_k^X(i) \\cap N_k^Y(i)| / k

    Parameters
    ----------
    neighbors : NeighborGraph or int array of shape (n, >= k)
        The embedding's nearest neighbours of every point, nearest first, itself excluded
        (the shared graph from :func:`core.neighbors.knn_graph`, or its ``indices``).
    Y : array-like of shape (n, c)
        The map.
    k : int, optional
        Default: every column of ``neighbors``.
    block : int, default=65536
        Rows compared at once (bounds the n x k x k temporary).

    Returns
    -------
    ndarray of shape (n,), float32, values in {0, 1/k, ..., 1}

    Raises
    ------
    EmbedLensInputError
        ``neighbors`` is not an integer (n, k) array, holds indices outside 0..n-1 (e.g. -1),
        or does not match ``Y``'s rows; bad ``k``.

    Notes
    -----
    Also called neighbourhood preservation or the k-NN recall of the map (e.g. Lee &
    Verleysen 2009, "Quality assessment of dimensionality reduction"). Written here on top
    of the shared graph because scikit-learn offers only the global trustworthiness.
    Cost: O(n log n) for the map's k-d tree plus O(n k^2) for the intersections.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10.0)[:, None]
    >>> nbrs = np.array([[i - 1 if i else 1, i + 1 if i < 9 else 8] for i in range(10)])
    >>> float(knn_preservation(nbrs, np.c_[X, 0 * X], k=1).mean())
    1.0
    """
    idx = getattr(neighbors, "indices", neighbors)
    idx = np.asarray(idx)
    if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise EmbedLensInputError(f"neighbors must be an (n, k) integer array; got {idx.dtype} {idx.shape}")
    bad = (idx < 0) | (idx >= idx.shape[0])
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        r = int(rows[0])
        raise EmbedLensInputError(
            f"neighbors has {len(rows)} rows with missing or out-of-range neighbours (first: "
            f"{int(idx[r][bad[r]][0])} at row {r}; rows {first_items(rows.tolist())}); expected indices "
            f"0 to {idx.shape[0] - 1}. -1 means an approximate search could not fill the row: use the "
            "graph from core.knn_graph, which completes such rows with an exact search"
        )
    Y = check_embeddings(Y, name="Y", min_rows=2)
    if idx.shape[0] != Y.shape[0]:
        raise EmbedLensInputError(
            f"neighbors has {idx.shape[0]} rows but the map has {Y.shape[0]}; they must be the same items"
        )
    k = idx.shape[1] if k is None else int(k)
    if not 1 <= k <= idx.shape[1]:
        raise EmbedLensInputError(f"k={k} must be between 1 and the neighbour lists' length {idx.shape[1]}")
    high = idx[:, :k]
    low = map_neighbors(Y, k=k)
    out = np.empty(Y.shape[0], dtype=np.float32)
    for start in range(0, Y.shape[0], block):
        h, lo = high[start:start + block], low[start:start + block]
        hits = (h[:, :, None] == lo[:, None, :]).any(axis=2).sum(axis=1)
        out[start:start + block] = hits / k
    return out


class MapQuality(NamedTuple):
    """A map's quality scores (each None when not computed; see :func:`map_quality`)."""

    trust: Trustworthiness | None
    preservation: np.ndarray | None
    preservation_k: int | None


def map_quality(X, Y, /, *, metric: str, graph=None, seed: int = 0, k: int = QUALITY_K,
                sample: int = QUALITY_SAMPLE) -> MapQuality:
    """Score map ``Y`` of embedding ``X``: trustworthiness and, given the kNN graph, per-point preservation.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The embedding.
    Y : array-like of shape (n, c)
        The map (row-aligned with ``X``).
    metric : {"cosine", "euclidean"}
        Distance in the embedding.
    graph : NeighborGraph, optional
        The embedding's kNN graph; without it there is no per-point preservation.
    seed : int, default=0
        Seeds trustworthiness's sample.
    k : int, default=QUALITY_K
        Neighbours of both scores (preservation: ``min(k, graph.k)``).
    sample : int, default=QUALITY_SAMPLE
        Trustworthiness is computed on a seeded sample of this many points above it.

    Returns
    -------
    MapQuality
        ``(trust, preservation, preservation_k)``: :func:`trustworthiness`, then
        :func:`knn_preservation` of ``graph`` and its k (both None without a graph). All three
        are None for fewer than :data:`QUALITY_MIN_POINTS` points.

    Raises
    ------
    EmbedLensInputError
        As :func:`trustworthiness` and :func:`knn_preservation` (shapes, metric, graph).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> q = map_quality(X, X[:, :2], metric="euclidean")
    >>> round(q.trust.value, 2), q.preservation is None
    (0.74, True)
    """
    n = np.shape(Y)[0]
    if n < QUALITY_MIN_POINTS:
        return MapQuality(None, None, None)
    trust = trustworthiness(X, Y, n_neighbors=k, metric=metric, sample=sample, seed=seed)
    if graph is None:
        return MapQuality(trust, None, None)
    pres_k = min(k, graph.k)
    return MapQuality(trust, knn_preservation(graph, Y, k=pres_k), pres_k)
