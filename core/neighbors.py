"""One k-nearest-neighbour graph per (view, k, metric), shared by every metric that needs one.

:func:`knn_graph` is exact for small n (blocked float32 matrix products with a numba top-k,
re-ranked in float64) and approximate (pynndescent, which umap-learn already depends on) for
large n; ``"auto"``
resolves visibly in ``NeighborGraph.method``. The graph excludes each point itself; UMAP's
``precomputed_knn`` wants it included, which :meth:`NeighborGraph.umap_knn` provides.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral
from dataclasses import dataclass, field

import numpy as np

from ._memory import matrix_bytes, require_memory
from ._numerics import cosine_distances, pow2_scale, unit_rows
from ._sampling import subsample
from .health import equal_row_groups
from ._validation import EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param, first_items

__all__ = ["NeighborGraph", "knn_graph", "sampled_recall", "EXACT_MAX_N", "METRICS"]

EXACT_MAX_N = 20_000
"""``method="auto"`` is exact up to this many points, approximate above.

Measured on 2 shared cores (k=15, cosine, ``benchmarks/bench_neighbors.py`` data): at
n=20k x 384 exact took ~3 s against ~0.6 s for a warm pynndescent (recall 0.999), whose
first call in a process adds 35-41 s of numba compilation; at 100k, 105 s against 13 s.
Up to 20k exact costs a few seconds, never pays that compilation, and stays right where
NN-descent fails (recall 0.15 on an isotropic Gaussian in 384 dims at 20k)."""

METRICS = ("cosine", "euclidean")

_MARGIN = 4
"""Extra float32 candidates per row that the exact search re-ranks in float64."""
APPROX_MAX_CANDIDATES = 60
"""pynndescent ``max_candidates``: 60 instead of its default min(60, k + 1). Measured at n=20k,
k=15 (``bench_neighbors.py --tune``): recall 0.9991 vs 0.9972 on low-dimensional data, 0.778
vs 0.758 on a 32-d Gaussian, for 0-30% more time; more trees and iterations (32, 20) gained
little more on realistic data (0.9999) at 1.5x the time."""
_PREP_ROWS = 16384
_BLOCK = 2048
"""Rows per block of the exact search: one block pair's float32 scores take 16 MB."""


@dataclass(frozen=True, eq=False)
class NeighborGraph:
    """The k nearest neighbours of every point (itself excluded), nearest first.

    Attributes
    ----------
    indices : ndarray of shape (n, k), int64
    distances : ndarray of shape (n, k), float32
        In the graph's metric: cosine distance ``1 - cos`` or Euclidean distance, in the data's
        units. float64 when float32 cannot hold them (float64 data beyond float32's range).
    metric : str
    method : {"exact", "approximate"}
        What ``"auto"`` resolved to.
    params : dict
        Everything else used (library, seed, NN-descent settings); ``completed_rows``: rows
        whose incomplete approximate neighbour lists were replaced by an exact search.

    Every consumer goes through :meth:`check`, which refuses neighbour indices outside
    ``0 .. n - 1`` (pynndescent's ``-1`` for a neighbour it could not find), so a graph
    built by hand cannot pass a missing neighbour on as the last row.
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

    def check_indices(self) -> NeighborGraph:
        """Raise ``EmbedLensInputError`` if any neighbour index lies outside ``0 .. n - 1``
        (e.g. ``-1``, a neighbour an approximate search did not find); returns the graph."""
        idx = np.asarray(self.indices)
        if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
            raise EmbedLensInputError(
                f"the graph's indices are a {idx.dtype} array of shape {idx.shape}; expected (n, k) integers"
            )
        bad = (idx < 0) | (idx >= idx.shape[0])
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            r = int(rows[0])
            value = int(idx[r][bad[r]][0])
            raise EmbedLensInputError(
                f"the neighbour graph has {len(rows)} rows with missing or out-of-range neighbours "
                f"(first: {value} at row {r}; rows {first_items(rows.tolist())}); expected indices 0 to "
                f"{idx.shape[0] - 1}. -1 means an approximate search could not fill the row: build "
                "the graph with knn_graph, which completes such rows with an exact search"
            )
        return self

    def check(self, n: int, *, metric: str | None = None, k: int | None = None) -> NeighborGraph:
        """Raise ``EmbedLensInputError`` unless this graph has ``n`` rows, ``metric``, at least
        ``k`` neighbours (each checked when given) and only valid neighbour indices (see
        :meth:`check_indices`); returns the graph."""
        if self.n != n:
            raise EmbedLensInputError(
                f"the graph has {self.n} rows but X has {n}; pass the graph built on this X"
            )
        if metric is not None and self.metric != metric:
            raise EmbedLensInputError(
                f"the graph uses metric={self.metric!r} but metric={metric!r} was asked for; "
                f"pass metric={self.metric!r} or a graph built with metric={metric!r}"
            )
        if k is not None and self.k < k:
            raise EmbedLensInputError(
                f"k={k} needs a graph with at least k neighbours; this one has k={self.k}"
            )
        return self.check_indices()

    def restrict(self, k: int) -> NeighborGraph:
        """The same graph with only the ``k`` nearest neighbours (no recomputation)."""
        k = check_param("k", k, Interval(Integral, 1, self.k), hint=f"between 1 and the graph's k={self.k}")
        self.check_indices()
        return NeighborGraph(self.indices[:, :k], self.distances[:, :k], self.metric, self.method,
                             {**self.params, "k": k})

    def tied_rows(self, k: int | None = None) -> int:
        """Rows whose ``k`` (default all) nearest neighbours are all at distance 0: duplicates, whose
        neighbour lists are picked by tie-breaking among equal rows, so per-row neighbour statistics
        (k-occurrence, mutual kNN overlap) are arbitrary for them.

        Parameters
        ----------
        k : int, optional
            Neighbours looked at (at most the graph's k).

        Returns
        -------
        int

        Raises
        ------
        Nothing
            Of its own.
        """
        k = self.k if k is None else min(int(k), self.k)
        return int((np.asarray(self.distances)[:, :k] == 0).all(axis=1).sum())

    def umap_knn(self, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, distances) with each point first at distance 0, as umap-learn builds them.

        ``UMAP(n_neighbors=m, precomputed_knn=graph.umap_knn(m))`` needs ``m - 1 <= k``.
        """
        if n_neighbors - 1 > self.k:
            raise EmbedLensInputError(
                f"UMAP with n_neighbors={n_neighbors} needs a graph with k >= {n_neighbors - 1}; "
                f"this one has k={self.k}"
            )
        self.check_indices()
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


def _prepare(X: np.ndarray, metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(float32 rows, bias): maximising ``a_i . a_j - bias_j`` over j finds i's nearest row.

    Cosine: normalised rows (:func:`core._numerics.unit_rows`, right at any scale; zero rows
    stay zero, so cos = 0 and the distance is 1), no bias. Euclidean: rows centred and divided
    by ``scale`` (an exact power of two, :func:`core._numerics.pow2_scale`), so the float32
    products and the bias ``|a_j|^2 / 2`` neither overflow nor underflow at any data scale.
    Built in row blocks through float64, so no n x d float64 copy is ever held.
    """
    n, d = X.shape
    if metric == "cosine":
        return unit_rows(X, dtype=np.float32)[0], np.zeros(n, np.float32)
    A = np.empty((n, d), np.float32)
    bias = np.zeros(n, np.float32)
    mean = X.mean(axis=0, dtype=np.float64) / scale if n else np.zeros(d)
    for s in range(0, n, _PREP_ROWS):
        block = np.asarray(X[s : s + _PREP_ROWS], dtype=np.float64) / scale - mean
        bias[s : s + _PREP_ROWS] = 0.5 * np.einsum("ij,ij->i", block, block)
        A[s : s + _PREP_ROWS] = block
    return A, bias


_U = 2.0**-24
"""float32 unit roundoff."""


def _tie_tolerance(A: np.ndarray, bias: np.ndarray, metric: str) -> np.ndarray:
    """Per row, a bound on the error of a float32 squared distance ``|a_i - a_j|^2`` (euclidean, in
    the rescaled units of :func:`_prepare`) or cosine distance, as the search compares them.

    A float32 dot product of length d is off by at most ``gamma_d |a_i| |a_j|`` with
    ``gamma_d ~ d u`` (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1); two
    scores are compared and the squared distance is ``|a_i|^2 - 2 score``, hence the 4.
    """
    d = A.shape[1]
    if metric == "cosine":
        return np.full(A.shape[0], 4.0 * (d + 2) * _U)
    norms = np.sqrt(2.0 * bias.astype(np.float64))
    R = float(norms.max()) if len(norms) else 0.0
    return 4.0 * (d + 2) * _U * (norms * R + R * R)


def _exact(X: np.ndarray, k: int, metric: str, scale: float, progress=None
           ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Blocked float32 matrix products, a running top-(k + margin) per row, exact re-ranking.

    Written by hand: scikit-learn's brute-force search (float64, each pair computed twice,
    argpartition per chunk) took 4.5x as long at 100k x 384 (``benchmarks/bench_neighbors.py``).

    Each block pair (I, J >= I) is multiplied once and serves the rows of both blocks, so the
    n^2 d products are done once per unordered pair. Candidates are chosen in float32 with
    a margin and re-ranked with float64 distances. Rows whose last candidate is within the
    float32 error bound (:func:`_tie_tolerance`) of their k-th (ties, or near ties, beyond
    the margin) are searched again in float64 over all rows, so the result is the exact
    float64 k nearest with ties going to the lower row index.
    """
    from ._knn_kernels import topk_update, topk_update_columns

    n, d = X.shape
    A, bias = _prepare(X, metric, scale)
    m = min(n - 1, k + _MARGIN)
    best_val = np.full((n, m), -np.inf, np.float32)
    best_idx = np.full((n, m), -1, np.int64)
    b = min(n, _BLOCK)
    starts = list(range(0, n, b))
    total, done = len(starts) * (len(starts) + 1) // 2, 0
    for bi, s in enumerate(starts):
        rows_i = np.arange(s, min(n, s + b))
        for t in starts[bi:]:
            S = A[s : s + b] @ A[t : t + b].T
            topk_update(S, bias, t, rows_i, rows_i, best_val, best_idx)
            if t != s:
                rows_j = np.arange(t, min(n, t + b))
                topk_update_columns(S, bias, s, rows_j, rows_j, best_val, best_idx)
            done += 1
        if progress is not None:
            progress(done / total)
    tol = _tie_tolerance(A, bias, metric)
    idx, dist = _rerank(X, np.arange(n), best_idx, metric, m, scale)
    redo = np.empty(0, np.int64)
    if m < n - 1:
        gap = _comparable_gap(dist[:, m - 1], dist[:, k - 1], metric, scale)
        redo = np.flatnonzero(gap <= tol)
    if len(redo):
        idx[redo, :k], dist[redo, :k] = _full_rows(X, A, bias, tol, redo, k, metric, scale)
    del A
    params = {"library": "numpy matmul + numba top-k", "block_rows": b, "candidates": m,
              "rerank": "float64", "researched_rows": int(len(redo)), "data_scale": scale}
    return idx[:, :k], dist[:, :k], params


def _comparable_gap(dm: np.ndarray, dk: np.ndarray, metric: str, scale: float) -> np.ndarray:
    """The gap between two float64 distances in the units of :func:`_tie_tolerance`."""
    if metric == "cosine":
        return dm - dk
    return (dm / scale) ** 2 - (dk / scale) ** 2


def _full_rows(X: np.ndarray, A: np.ndarray, bias: np.ndarray, tol: np.ndarray, rows: np.ndarray,
               k: int, metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 k nearest neighbours of ``rows`` (themselves excluded), ties to the lower row
    index, for the rows whose float32 candidates cannot decide.

    Each row's float32 scores against every row (one BLAS product per chunk of rows) give every
    column within the error bound of the k-th best score (``tol / 2``: half the squared-distance
    bound of :func:`_tie_tolerance`); those, and only those, get float64 distances, ordered by
    (distance, row). Any true k-nearest row (ties included) has a float32 score within twice
    the score error of the k-th, so none is missed. Copies of a row
    (:func:`core.health.equal_row_groups`) share one float64 distance, and a zero row under
    cosine is at distance 1 from every row. O(len(rows) n d) float32 products plus float64
    distances for the distinct tied candidates.
    """
    n = X.shape[0]
    out_i = np.empty((len(rows), k), np.int64)
    out_d = np.empty((len(rows), k), np.float64)
    score_tol = tol / 2.0 if metric == "euclidean" else tol
    same = equal_row_groups(X)  # the first copy of each row
    zero = ~A.any(axis=1)
    chunk = max(1, (16 * 2**20) // (8 * n))  # ~16 MB of scores at a time
    for s in range(0, len(rows), chunk):
        rr = rows[s : s + chunk]
        S = (A[rr] @ A.T).astype(np.float64) - bias.astype(np.float64)[None, :]
        if metric == "cosine":
            # a zero row is at distance 1 from everything: score it so that only the k
            # lowest rows are candidates (all at the same distance, so those are the answer)
            zr = zero[rr]
            S[zr] = 0.0
            S[zr, k + 1 :] = -np.inf
        S[np.arange(len(rr)), rr] = -np.inf
        kth = np.partition(S, n - k, axis=1)[:, n - k]  # each row's k-th largest score
        pr, pc = np.nonzero(S >= (kth - score_tol[rr])[:, None])  # by row, then column
        # copies of a row are at the same float64 distance: one distance per distinct row
        key = pr * n + same[pc]
        ukey, inverse = np.unique(key, return_inverse=True)
        dist = _pair_distances(X, rr[ukey // n], ukey % n, metric, scale)[inverse]
        if metric == "cosine":  # a zero row is at distance 1 from every row
            dist[zero[rr[pr]] | zero[pc]] = 1.0
        order = np.lexsort((pc, dist, pr))  # per row: by distance, ties to the lower column
        pr, pc, dist = pr[order], pc[order], dist[order]
        first = np.searchsorted(pr, np.arange(len(rr)))
        take = (first[:, None] + np.arange(k)[None, :]).ravel()
        out_i[s : s + len(rr)] = pc[take].reshape(-1, k)
        out_d[s : s + len(rr)] = dist[take].reshape(-1, k)
    return out_i, out_d


def _pair_distances(X: np.ndarray, pr: np.ndarray, pc: np.ndarray, metric: str, scale: float) -> np.ndarray:
    """float64 distances between rows ``pr[t]`` and ``pc[t]`` (the same formulas as
    :func:`_distances`), in blocks of ~8 MB."""
    out = np.empty(len(pr), np.float64)
    step = max(1, (8 * 2**20) // (2 * 8 * X.shape[1]))
    for s in range(0, len(pr), step):
        a, c = X[pr[s : s + step]], X[pc[s : s + step]]
        if metric == "cosine":
            out[s : s + step] = cosine_distances(a, c, paired=True)
        else:
            diff = np.asarray(c, dtype=np.float64) / scale - np.asarray(a, dtype=np.float64) / scale
            out[s : s + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff)) * scale
    return out


def _exact_rows(X: np.ndarray, A: np.ndarray, bias: np.ndarray, rows: np.ndarray, k: int,
                metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of ``rows`` only (themselves excluded): O(len(rows) n d)."""
    from ._knn_kernels import topk_update

    n = A.shape[0]
    m = min(n - 1, k + _MARGIN)
    best_val = np.full((len(rows), m), -np.inf, np.float32)
    best_idx = np.full((len(rows), m), -1, np.int64)
    local = np.arange(len(rows))
    Q = A[rows]
    for t in range(0, n, _BLOCK):
        S = Q @ A[t : t + _BLOCK].T
        topk_update(S, bias, t, local, rows, best_val, best_idx)
    idx, dist = _rerank(X, rows, best_idx, metric, m, scale)
    if m < n - 1:
        tol = _tie_tolerance(A, bias, metric)
        redo = np.flatnonzero(_comparable_gap(dist[:, m - 1], dist[:, k - 1], metric, scale) <= tol[rows])
        if len(redo):
            idx[redo, :k], dist[redo, :k] = _full_rows(X, A, bias, tol, rows[redo], k, metric, scale)
    return idx[:, :k], dist[:, :k]


def _distances(X: np.ndarray, rows: np.ndarray, cols: np.ndarray, metric: str, scale: float) -> np.ndarray:
    """float64 distances from each of ``rows`` to its ``cols`` (shape (len(rows), m)), in blocks.

    Euclidean: differences of the rows divided by ``scale`` (exact), the result multiplied back,
    so the squares stay in range for any data scale and the distances are in the data's units.
    """
    n, m = cols.shape
    dist = np.empty((n, m), np.float64)
    step = max(1, (8 * 2**20) // max(1, (m + 1) * X.shape[1] * 8))  # ~8 MB per temporary
    for s in range(0, n, step):
        a = X[rows[s : s + step]]
        c = X[cols[s : s + step]]
        if metric == "cosine":
            # 1 - cos = |u - v|^2 / 2 on unit rows, without the cancellation of 1 - u.v;
            # a zero row is at distance 1 from everything (core._numerics.cosine_distances).
            dist[s : s + step] = cosine_distances(a[:, None, :], c, paired=True)
        else:
            a, c = np.asarray(a, dtype=np.float64), np.asarray(c, dtype=np.float64)
            diff = c / scale - (a / scale)[:, None, :]
            dist[s : s + step] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)) * scale
    return dist


def _rerank(X: np.ndarray, rows: np.ndarray, cand: np.ndarray, metric: str, k: int, scale: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 distances from ``rows`` to their candidates; keep the k nearest (ties:
    lower row index first)."""
    dist = _distances(X, rows, cand, metric, scale)
    by_index = np.argsort(cand, axis=1, kind="stable")
    cand = np.take_along_axis(cand, by_index, axis=1)
    dist = np.take_along_axis(dist, by_index, axis=1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1), np.take_along_axis(dist, order, axis=1)


def _approximate(X: np.ndarray, k: int, metric: str, seed: int, scale: float
                 ) -> tuple[np.ndarray, np.ndarray, dict]:
    """pynndescent on the data divided by ``scale`` (its float32 distances overflow above row
    norms of ~1e19); rows it could not fill (``-1``) are completed by an exact search."""
    import warnings

    from pynndescent import NNDescent

    n = X.shape[0]
    n_trees = min(64, 5 + int(round(n**0.5 / 20.0)))
    n_iters = max(5, int(round(np.log2(n))))
    Xs = X if scale == 1.0 and X.dtype == np.float32 else np.asarray(X / scale, dtype=np.float32)
    with warnings.catch_warnings():
        # its warning about -1 entries is acted on below (completed, counted in params)
        warnings.filterwarnings("ignore", message="Failed to correctly find n_neighbors")
        index = NNDescent(
            Xs,
            n_neighbors=k + 1,
            metric=metric,
            random_state=seed,
            n_trees=n_trees,
            n_iters=n_iters,
            max_candidates=APPROX_MAX_CANDIDATES,
            low_memory=True,
            compressed=True,
            verbose=False,
        )
        idx, dist = index.neighbor_graph
    del Xs
    params = {"library": "pynndescent", "n_trees": n_trees, "n_iters": n_iters,
              "max_candidates": APPROX_MAX_CANDIDATES, "seed": seed, "data_scale": scale}
    idx = np.asarray(idx, dtype=np.int64)
    missing = ((idx < 0) | (idx >= n)).any(axis=1)
    # placeholders (distinct, at most one of them the row itself) for the rows searched exactly below
    filler = (np.arange(n)[:, None] + 1 + np.arange(idx.shape[1])[None, :]) % n
    idx = np.where(missing[:, None], filler, idx)
    idx, _ = _drop_self(idx, np.asarray(dist, dtype=np.float32), k)
    # Same distances as the exact method (float64, zero rows at cosine distance 1), re-sorted.
    idx, dist = _rerank(X, np.arange(n), idx, metric, k, scale)
    completed = np.flatnonzero(missing)
    if len(completed):
        A, bias = _prepare(X, metric, scale)
        idx[completed], dist[completed] = _exact_rows(X, A, bias, completed, k, metric, scale)
    params["completed_rows"] = int(len(completed))
    return idx, dist, params


def _as_reported(dist: np.ndarray) -> np.ndarray:
    """float32 distances, or float64 where float32 cannot hold them (float64 data beyond float32's
    range: a distance would become inf, or a non-zero one 0 or subnormal)."""
    d64 = np.asarray(dist, dtype=np.float64)
    with np.errstate(over="ignore"):
        d32 = d64.astype(np.float32)
    lost = (np.isinf(d32) & np.isfinite(d64)) | ((d64 > 0) & (np.abs(d32) < np.finfo(np.float32).tiny))
    return np.ascontiguousarray(d64 if lost.any() else d32)


def sampled_recall(X, graph: NeighborGraph, /, *, n_queries: int = 256, seed: int = 0) -> float:
    """Share of true k nearest neighbours that ``graph`` holds, on a seeded sample of rows.

    For each sampled row i, ``|{j in graph(i) : d(i, j) <= d_k(i)}| / k`` where ``d_k(i)``
    is the exact k-th neighbour distance (so ties count as hits), averaged over the sample.
    Cost: O(n_queries n d).

    Parameters
    ----------
    X : array-like of shape (n, d)
        The data the graph was built on (same rows, same order).
    graph : NeighborGraph
        The graph to score; its ``metric`` and ``k`` are used for the exact search.
    n_queries : int, default=256
        Rows sampled (uniformly, without replacement; all rows when ``n_queries >= n``).
    seed : int, default=0
        Seed of the row sample.

    Returns
    -------
    float
        Recall in [0, 1] (1.0: every sampled row holds its exact k nearest, ties included).
        NaN, with a numpy RuntimeWarning, when ``n_queries == 0``.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 2 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); from :meth:`NeighborGraph.check`: the graph has another
        number of rows than ``X`` or neighbour indices outside ``0 .. n - 1``.
    ValueError
        From :meth:`numpy.random.Generator.choice` for a negative ``n_queries`` (not checked).
    AttributeError
        When ``graph`` is not a :class:`NeighborGraph`.

    Notes
    -----
    Conventions: distances in the graph's own metric (cosine ``1 - cos``, or Euclidean), as
    :func:`knn_graph`; ``k`` is the graph's (neighbours excluding the point itself).

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_normal((300, 5))
    >>> print(f"{sampled_recall(X, knn_graph(X, k=5)):.2f}")
    1.00
    """
    X = check_embeddings(X, name="X", min_rows=2)
    graph.check(X.shape[0])
    rows = subsample(graph.n, n_queries, seed=seed).rows
    scale = pow2_scale(X)
    A, bias = _prepare(X, graph.metric, scale)
    _, exact_dist = _exact_rows(X, A, bias, rows, graph.k, graph.metric, scale)
    got = _distances(X, rows, graph.indices[rows], graph.metric, scale)
    kth = exact_dist[:, -1:]
    slack = 1e-6 * (np.maximum(kth, 1.0) if graph.metric == "cosine" else kth)  # euclidean: relative
    hits = (got <= kth + slack).sum(axis=1)
    return float(np.minimum(hits, graph.k).mean() / graph.k)


def knn_graph(
    X,
    /,
    *,
    k: int = 15,
    metric: str = "cosine",
    method: str = "auto",
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
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
        Seeds the approximate search and its recall check, so the same call gives the same
        graph.
    progress : callable, optional
        Called with the fraction done (0 to 1) as the search proceeds.

    Returns
    -------
    NeighborGraph
        ``params`` records what was used: ``data_scale`` (the power of two the data was
        divided by before any float32 product); exact: ``researched_rows`` (rows searched
        again in float64, see below); approximate: ``recall_estimate``, the
        :func:`sampled_recall` on 256 rows, and ``completed_rows``. The graph never holds
        ``-1``: rows pynndescent could not fill are completed by an exact search and counted
        in ``completed_rows``.

    Raises
    ------
    EmbedLensInputError
        Bad ``X`` (not a 2-D numeric matrix, fewer than 2 rows; NaN / inf rows as
        :class:`NonFiniteRowsError`), ``metric`` not "cosine" / "euclidean", ``method`` not
        "auto" / "exact" / "approximate", or ``k`` not an integer (a bool or a float such as
        ``2.0`` is refused) with ``1 <= k < n``.

    Notes
    -----
    Conventions: ``k`` counts neighbours *excluding* the point itself. umap-learn's and
    pynndescent's ``n_neighbors`` include it (``n_neighbors = k + 1``; see
    :meth:`NeighborGraph.umap_knn`), as does scikit-learn's ``NearestNeighbors(n_neighbors)
    .kneighbors(X)`` when queried with the fitted rows (``kneighbors()`` without ``X``
    excludes it). The default metric is cosine (``1 - cos``, as scikit-learn and
    pynndescent), unlike scikit-learn's Euclidean (Minkowski p=2) default; the
    intrinsic-dimension estimators convert it to the chordal distance ``sqrt(2 (1 - cos))``.

    Scale: every neighbour, and every distance ratio, is the same for ``X`` and ``c X``
    over the whole float32 range (and float64 data beyond it): the data is divided by an
    exact power of two (:func:`core._numerics.pow2_scale`) before the float32 products, and
    distances are multiplied back, so they come in the data's units.

    Exact: blocked float32 matrix products (BLAS, all cores) feed a parallel numba top-k
    that keeps k + 4 candidates per row, which are re-ranked with float64 distances. Each
    block pair is multiplied once for the rows of both blocks: n^2 d / 2 multiply-adds and
    O(n k) memory beyond X. The result is the exact k nearest by float64 distance, ties
    going to the lower row index: a row whose (k + 4)-th candidate lies within the float32
    error bound (``4 (d + 2) u |a_i| max|a|`` on the squared distance, Higham 2002, 3.1) of
    its k-th is searched again against every row: float32 scores pick every row within that
    bound, float64 distances decide (``params["researched_rows"]``). Measured on 2 shared
    cores, 20,000 x 384 Gaussian, k=15: 0 rows re-searched, process CPU 6.2 -> 6.5 s
    (cosine) and 6.0 -> 5.9 s (euclidean) against the search without rescaling or re-search;
    with 500 zero rows and 2,000 copies of one row (every euclidean row then ties among the
    zero rows, so all 20,000 are re-searched; 2,463 under cosine) it took 21 s (euclidean)
    and 9.2 s (cosine) of CPU.
    Approximate: pynndescent NN-descent (Dong et al. 2011), about O(n^1.14 d) empirically,
    with ``max_candidates`` = 60; measured recall in ``benchmarks/bench_neighbors.py``. On
    data of high intrinsic dimension (e.g. an isotropic Gaussian in 384 dimensions) its
    recall is poor, which ``params["recall_estimate"]`` shows. Ties among its candidates go
    to the lower row index.

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
    check_param("metric", metric, StrOptions(METRICS, order=METRICS))
    check_param("method", method, StrOptions({}, order=("auto", "exact", "approximate")))
    k = check_param("k", k, Interval(Integral, 1, n, closed="left"),
                    hint=f"n = {n} rows; lower k or load more points")
    resolved = method if method != "auto" else ("exact" if n <= EXACT_MAX_N else "approximate")
    # a float32 copy of the rows (prepared rows; pynndescent's own copy) and the candidate lists
    # (exact: k + margin float32 scores, int64 ids, float64 re-ranked distances; approximate: its heaps)
    d = X.shape[1]
    width = min(n - 1, int(k) + _MARGIN) if resolved == "exact" else max(int(k), 60)
    require_memory(matrix_bytes(n, d, itemsize=4) + matrix_bytes(n, width, itemsize=28)
                   + matrix_bytes(min(n, _BLOCK), itemsize=4),
                   what=f"the {resolved} kNN graph of {n:,} x {d:,} rows (k = {int(k)})",
                   avoid="use a sample of the rows")
    scale = pow2_scale(X)
    if resolved == "exact":
        idx, dist, params = _exact(X, int(k), metric, scale, progress)
    else:
        if progress is not None:
            progress(0.0)
        idx, dist, params = _approximate(X, int(k), metric, seed, scale)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    dist = _as_reported(dist)
    params.update({"k": int(k), "requested_method": method})
    graph = NeighborGraph(indices=idx, distances=dist, metric=metric, method=resolved, params=params)
    if resolved == "approximate":
        params["recall_estimate"] = sampled_recall(X, graph, seed=seed)
        params["recall_queries"] = min(256, n)
    if progress is not None:
        progress(1.0)
    for a in (idx, dist):
        a.flags.writeable = False
    return graph
