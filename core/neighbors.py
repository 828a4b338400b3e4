"""One k-nearest-neighbour graph per (view, k, metric), shared by every metric that needs one.

:func:`knn_graph` is exact (scikit-learn, brute force in memory-bounded chunks) for small n
and approximate (pynndescent, which umap-learn already depends on) for large n; ``"auto"``
resolves visibly in ``NeighborGraph.method``. The graph excludes each point itself; UMAP's
``precomputed_knn`` wants it included, which :meth:`NeighborGraph.umap_knn` provides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import EmbedLensInputError, check_embeddings

__all__ = ["NeighborGraph", "knn_graph", "EXACT_MAX_N", "METRICS"]

EXACT_MAX_N = 20_000
"""``method="auto"`` is exact up to this many points, approximate above."""

METRICS = ("cosine", "euclidean")


@dataclass(frozen=True, eq=False)
class NeighborGraph:
    """The k nearest neighbours of every point (itself excluded), nearest first.

    Attributes
    ----------
    indices : ndarray of shape (n, k), int64
    distances : ndarray of shape (n, k), float32
        In the graph's metric: cosine distance ``1 - cos`` or Euclidean distance.
    metric : str
    method : {"exact", "approximate"}
        What ``"auto"`` resolved to.
    params : dict
        Everything else used (library, seed, NN-descent settings).
    """

    indices: np.ndarray
    distances: np.ndarray
    metric: str
    method: str
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.indices.shape[0])

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def restrict(self, k: int) -> NeighborGraph:
        """The same graph with only the ``k`` nearest neighbours (no recomputation)."""
        if not 1 <= k <= self.k:
            raise EmbedLensInputError(f"k={k} must be between 1 and the graph's k={self.k}")
        return NeighborGraph(self.indices[:, :k], self.distances[:, :k], self.metric, self.method,
                             {**self.params, "k": k})

    def umap_knn(self, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) with each point first at distance 0, as umap-learn builds them.

        ``UMAP(n_neighbors=m, precomputed_knn=graph.umap_knn(m))`` needs ``m - 1 <= k``.
        """
        if n_neighbors - 1 > self.k:
            raise EmbedLensInputError(
                f"UMAP with n_neighbors={n_neighbors} needs a graph with k >= {n_neighbors - 1}; "
                f"this one has k={self.k}"
            )
        m = n_neighbors - 1
        idx = np.hstack([np.arange(self.n)[:, None], self.indices[:, :m]])
        dist = np.hstack([np.zeros((self.n, 1), np.float32), self.distances[:, :m]])
        return idx, dist


def _drop_self(indices: np.ndarray, distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """From k+1 neighbours (self usually first, but a duplicate may tie it) keep k others."""
    n = indices.shape[0]
    is_self = indices == np.arange(n)[:, None]
    has_self = is_self.any(axis=1)
    # Where self is absent (ties among duplicates), drop the last column instead.
    is_self[~has_self, -1] = True
    keep = ~is_self
    return indices[keep].reshape(n, k), distances[keep].reshape(n, k)


def _exact(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray, dict]:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute")
    nn.fit(X)
    dist, idx = nn.kneighbors(X)
    return idx, dist, {"library": "scikit-learn", "algorithm": "brute"}


def _approximate(X: np.ndarray, k: int, metric: str, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    from pynndescent import NNDescent

    n = X.shape[0]
    n_trees = min(64, 5 + int(round(n**0.5 / 20.0)))
    n_iters = max(5, int(round(np.log2(n))))
    index = NNDescent(
        X,
        n_neighbors=k + 1,
        metric=metric,
        random_state=seed,
        n_trees=n_trees,
        n_iters=n_iters,
        max_candidates=60,
        low_memory=True,
        compressed=True,
        verbose=False,
    )
    idx, dist = index.neighbor_graph
    params = {"library": "pynndescent", "n_trees": n_trees, "n_iters": n_iters, "seed": seed}
    return idx, dist, params


def knn_graph(
    X,
    /,
    *,
    k: int = 15,
    metric: str = "cosine",
    method: str = "auto",
    seed: int = 0,
) -> NeighborGraph:
    """The k nearest neighbours of every row of ``X`` (the row itself excluded).

    Parameters
    ----------
    X : array-like of shape (n, d)
    k : int, default=15
        Neighbours per point, ``1 <= k < n``.
    metric : {"cosine", "euclidean"}, default="cosine"
        Cosine distance is ``1 - cos(x, y)``; a zero row is at distance 1 from every row.
    method : {"auto", "exact", "approximate"}, default="auto"
        ``"auto"``: exact up to :data:`EXACT_MAX_N` points, approximate above.
    seed : int, default=0
        Seeds the approximate search, so the same call gives the same graph.

    Returns
    -------
    NeighborGraph

    Notes
    -----
    Exact: scikit-learn ``NearestNeighbors(algorithm="brute")``, O(n^2 d) time in chunks
    bounded by scikit-learn's working memory. Approximate: pynndescent NN-descent, about
    O(n^1.14 d) empirically; recall against exact is measured in
    ``benchmarks/bench_neighbors.py``. Ties between equidistant neighbours may be ordered
    differently by the two methods.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> g = knn_graph(X, k=1, metric="euclidean")
    >>> g.indices.ravel().tolist(), g.method
    ([1, 0, 1, 2], 'exact')
    """
    X = check_embeddings(X, name="X", min_rows=2)
    n = X.shape[0]
    if metric not in METRICS:
        raise EmbedLensInputError(f"metric={metric!r}; expected one of {list(METRICS)}")
    if method not in {"auto", "exact", "approximate"}:
        raise EmbedLensInputError(f"method={method!r}; expected 'auto', 'exact' or 'approximate'")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k < n:
        raise EmbedLensInputError(f"k={k!r} must be an integer with 1 <= k < n = {n}; lower k or load more points")
    resolved = method if method != "auto" else ("exact" if n <= EXACT_MAX_N else "approximate")
    if resolved == "exact":
        idx, dist, params = _exact(X, int(k), metric)
    else:
        idx, dist, params = _approximate(X, int(k), metric, seed)
    idx, dist = _drop_self(np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float32), int(k))
    params.update({"k": int(k), "requested_method": method})
    for a in (idx, dist):
        a.flags.writeable = False
    return NeighborGraph(indices=idx, distances=dist, metric=metric, method=resolved, params=params)
