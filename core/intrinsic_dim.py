"""Intrinsic dimension: TwoNN, Levina-Bickel MLE and PCA; per point; against scale.

Every estimator works on the *distinct* points of the geometry it is asked for: with
``metric="euclidean"`` the rows of ``X``; with ``metric="cosine"`` the L2-normalised rows
(Euclidean distances on the unit sphere, ``sqrt(2 (1 - cos))``; zero rows have no direction
and are left out). Repeated points (distance 0) make the neighbour-distance ratios
undefined, so they are removed and counted, never silently kept.

The neighbour distances come from one :class:`~core.neighbors.NeighborGraph`: pass the
shared graph as ``graph=`` and nothing is searched again (unless the data has duplicates
the graph cannot see past, which the result's ``params["graph"]`` then says).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from ._memory import matrix_bytes, require_memory
from ._numerics import metric_rows, pow2_scale, unit_rows
from ._sampling import subsample
from ._validation import (EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param,
                          invalid_message, plural)
from .health import equal_row_groups
from .neighbors import METRICS, NeighborGraph, knn_graph

__all__ = [
    "IntrinsicDimension",
    "IDScaleCurve",
    "ID_METHODS",
    "intrinsic_dimension",
    "local_intrinsic_dimension",
    "id_scale_curve",
]

ID_METHODS = ("twonn", "mle", "pca")


@dataclass(frozen=True, eq=False)
class IntrinsicDimension:
    """A global intrinsic-dimension estimate.

    Attributes
    ----------
    value : float
        The estimate.
    error : float
        Its standard error: the standard deviation over ``params["n_bootstrap"]`` seeded
        bootstrap resamples of the points.
    method : {"twonn", "mle", "pca"}
    n_used : int
        Distinct points the estimate used.
    n_duplicates : int
        Rows left out because they repeat another row (distance 0 in the metric).
    n_zero : int
        Zero rows left out (cosine only: they have no direction).
    params : dict
        Everything else used: metric, discard fraction / k range / variance share, the
        bootstrap, where the neighbours came from (``"graph"``).
    """

    value: float
    error: float
    method: str
    n_used: int
    n_duplicates: int
    n_zero: int
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The estimator and its variant, e.g. ``"TwoNN (linear fit, 10% discarded, cosine)"``."""
        p = self.params
        if self.method == "twonn":
            return f"TwoNN (linear fit, {p['discard_fraction']:.0%} discarded, {p['metric']})"
        if self.method == "mle":
            k1, k2 = p["k_range"]
            return f"MLE (Levina-Bickel, k={k1}..{k2}, {p['metric']})"
        return f"PCA ({p['variance']:.0%} of variance, {p['metric']})"


@dataclass(frozen=True, eq=False)
class IDScaleCurve:
    """Intrinsic dimension against neighbourhood scale (data for a line plot with error bars).

    Attributes
    ----------
    scale : ndarray of shape (m,)
        The median neighbour distance the estimate looks at (r2 for TwoNN, r_k for MLE),
        in the metric's Euclidean units; increasing.
    dimension, error : ndarray of shape (m,)
        The estimate and its standard error at each scale.
    n_points : ndarray of shape (m,)
        Points per estimate (TwoNN: per subset; MLE: all distinct points).
    level : ndarray of shape (m,)
        TwoNN: points are split into ``2**level`` disjoint subsets; MLE: the neighbour count k.
    method : {"twonn", "mle"}
    params : dict
    """

    scale: np.ndarray
    dimension: np.ndarray
    error: np.ndarray
    n_points: np.ndarray
    level: np.ndarray
    method: str
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- distinct points


@dataclass(frozen=True, eq=False)
class _Distinct:
    """The distinct points of X in a metric's geometry and how every row maps onto them."""

    reps: np.ndarray  # row of X representing each distinct point (its first occurrence)
    inverse: np.ndarray  # for each row of X: its distinct point, or -1 (a zero row under cosine)
    n_zero: int
    n_duplicates: int


_HASH_ROWS = 8192


def _comparable(block: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows as compared for equality, mask of usable rows): cosine -> float32 unit rows."""
    if metric == "cosine":
        out, norms = unit_rows(block, dtype=np.float32)  # right at any scale (core._numerics)
        keep = norms > 0
    else:
        out, keep = np.asarray(block), np.ones(len(block), bool)
    return out + out.dtype.type(0.0), keep  # + 0.0 turns -0.0 into 0.0, so equal rows have equal bytes


def _distinct(X: np.ndarray, metric: str) -> _Distinct:
    """Group equal rows (cosine: equal directions; zero rows left out) with
    :func:`core.health.equal_row_groups`: O(n d) time, O(n) memory beyond one block.

    Directions are compared in float32 so that x and 3x (whose float64 unit vectors may
    differ in the last bit) count as the same point.
    """
    n = len(X)
    first = equal_row_groups(X, transform=lambda b: _comparable(b, metric), block=_HASH_ROWS)
    usable = first >= 0
    reps = np.flatnonzero(first == np.arange(n))  # first occurrences, in row order
    rank = np.full(n, -1, np.int64)
    rank[reps] = np.arange(len(reps))
    inverse = np.where(usable, rank[np.maximum(first, 0)], -1)
    n_usable = int(usable.sum())
    return _Distinct(reps=reps, inverse=inverse, n_zero=n - n_usable, n_duplicates=n_usable - len(reps))


def _euclidean(dist: np.ndarray, metric: str) -> np.ndarray:
    """Graph distances in Euclidean units: cosine distance 1 - cos -> |u - v| = sqrt(2 (1 - cos))."""
    dist = np.asarray(dist, dtype=np.float64)
    return np.sqrt(2.0 * dist) if metric == "cosine" else dist


def _too_few_message(n_u: int, n: int, info: _Distinct, K: int, metric: str) -> str:
    """Why ``K`` neighbours per distinct point cannot be had, and the fix: more rows when the
    rows are too few anyway; dropping duplicates / zero rows when they are the cause."""
    head = (f"{plural(n_u, 'distinct point', thousands=True)} (of {plural(n, 'row', thousands=True)}: "
            f"{plural(info.n_duplicates, 'duplicate', thousands=True)}, "
            f"{plural(info.n_zero, 'zero row', thousands=True)}) {'is' if n_u == 1 else 'are'} too few for {K} "
            "neighbours each")
    if n < K + 1:
        return f"{head}; load more points"
    causes = " and ".join(w for w, c in (("duplicate rows", info.n_duplicates),
                                         (f"zero rows (no direction under {metric})", info.n_zero)) if c)
    if n_u == 1 and info.n_zero == 0 and metric == "cosine":
        return (f"{head}: all {n:,} rows point in the same direction (duplicates under cosine, which compares "
                "directions only; e.g. one-dimensional positive data), so there is no geometry to measure under "
                "cosine; use the euclidean metric when their lengths differ")
    if n_u == 1 and info.n_zero == 0:
        return (f"{head}: all {n:,} rows are identical (duplicate rows, not too few rows), so there is no "
                f"geometry to measure; the Data page's health report lists the duplicates")
    return (f"{head}: the cause is {causes}, not too few rows; drop them (the Data page's health report "
            f"lists them) to measure the intrinsic dimension")


def _neighbour_distances(
    X: np.ndarray, metric: str, K: int, graph: NeighborGraph | None, seed: int
) -> tuple[np.ndarray, _Distinct, str]:
    """Distances (Euclidean units) from each distinct point to its K nearest distinct others.

    Uses ``graph`` when it covers them: its neighbour lists are mapped onto distinct points
    (a point's own copies and repeated copies of a neighbour are skipped). Otherwise a graph
    on the distinct points is built.
    """
    info = _distinct(X, metric)
    n_u = len(info.reps)
    if n_u < K + 1:
        raise EmbedLensInputError(_too_few_message(n_u, len(X), info, K, metric))
    if graph is not None:
        graph.check(X.shape[0], metric=metric)
        if info.n_duplicates == 0 and info.n_zero == 0 and graph.k >= K:
            return _euclidean(graph.distances[:, :K], metric), info, f"shared ({graph.method}, k={graph.k})"
        got = _graph_onto_distinct(graph, info, K)
        if got is not None:
            return _euclidean(got, metric), info, f"shared ({graph.method}, k={graph.k}), duplicates skipped"
        note = f"rebuilt on the {n_u:,} distinct points (the shared k={graph.k} graph is too short)"
    else:
        note = f"built on the {n_u:,} distinct points"
    Xd = X if n_u == len(X) else X[info.reps]
    g = knn_graph(Xd, k=K, metric=metric, seed=seed)
    return _euclidean(g.distances, metric), info, f"{note}: {g.method}"


def _graph_onto_distinct(graph: NeighborGraph, info: _Distinct, K: int) -> np.ndarray | None:
    """The first K distinct neighbours of each distinct point in the graph, or None if short."""
    cls = info.inverse[graph.indices[info.reps]]  # (n_u, k): distinct point of each neighbour
    own = np.arange(len(info.reps))[:, None]
    cls = np.where(cls == own, -1, cls)
    order = np.argsort(cls, axis=1, kind="stable")
    srt = np.take_along_axis(cls, order, axis=1)
    repeat = np.zeros_like(cls, dtype=bool)
    np.put_along_axis(repeat, order[:, 1:], srt[:, 1:] == srt[:, :-1], axis=1)
    valid = (cls >= 0) & ~repeat
    if (valid.sum(axis=1) < K).any():
        return None
    pos = np.argsort(~valid, axis=1, kind="stable")[:, :K]  # the first K valid, in distance order
    return np.take_along_axis(graph.distances[info.reps], pos, axis=1)


def _check_common(X, metric: str | None, graph: NeighborGraph | None) -> tuple[np.ndarray, str]:
    X = check_embeddings(X, name="X", min_rows=3)
    if metric is None:
        metric = graph.metric if graph is not None else "euclidean"
    check_param("metric", metric, StrOptions(METRICS, order=METRICS))
    return X, metric


def _check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    return check_param(name, value, Interval(Integral, lo, hi))


# --------------------------------------------------------------------------- estimators


def _twonn_fit(log_mu_sorted: np.ndarray, n_total: int, n_keep: int) -> float:
    """Slope through the origin of -log(1 - F_emp) against log mu on the n_keep smallest."""
    x = log_mu_sorted[:n_keep]
    y = -np.log1p(-np.arange(1, n_keep + 1) / n_total)
    return float(x @ y / (x @ x))


def _twonn(r: np.ndarray, discard_fraction: float, n_bootstrap: int, seed: int) -> tuple[float, float, dict]:
    mu = r[:, 1] / r[:, 0]
    log_mu = np.sort(np.log(mu))
    N = len(log_mu)
    n_keep = int(N * (1 - discard_fraction))
    if n_keep < 2:
        raise EmbedLensInputError(
            f"TwoNN keeps {n_keep} of {N} ratios with discard_fraction={discard_fraction}; "
            "lower discard_fraction or load more points"
        )
    value = _twonn_fit(log_mu, N, n_keep)
    # Bootstrap: a resample of the ratios, sorted, is the sorted ratios repeated by multinomial counts.
    rng = np.random.default_rng(seed)
    boots = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        counts = np.bincount(rng.integers(0, N, N), minlength=N)
        boots[b] = _twonn_fit(np.repeat(log_mu, counts), N, n_keep)
    error = float(boots.std(ddof=1)) if n_bootstrap > 1 else float("nan")
    extra = {"mle_estimate": float((N - 1) / log_mu.sum()), "n_fitted": n_keep}
    return value, error, extra


def _mle_inverse(r: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """(N, k2 - k1 + 1): 1 / m_k(x_i) = (1 / (k - 1)) sum_{j<k} log(r_k / r_j) for k = k1..k2."""
    log_r = np.log(r[:, :k2])
    csum = np.cumsum(log_r, axis=1)
    ks = np.arange(k1, k2 + 1)
    # sum_{j<k} log(r_k / r_j) = (k - 1) log r_k - sum_{j<k} log r_j
    s = (ks - 1) * log_r[:, ks - 1] - csum[:, ks - 2]
    return s / (ks - 1)


def _mle(r: np.ndarray, k_range: tuple[int, int], n_bootstrap: int, seed: int) -> tuple[float, float, dict]:
    k1, k2 = k_range
    inv = _mle_inverse(r, k1, k2)  # per point and k
    per_k = 1.0 / inv.mean(axis=0)  # MacKay & Ghahramani (2005): average the inverses over points
    value = float(per_k.mean())  # Levina & Bickel (2004): average over k
    rng = np.random.default_rng(seed)
    N = len(inv)
    boots = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = rng.integers(0, N, N)
        boots[b] = (1.0 / inv[idx].mean(axis=0)).mean()
    error = float(boots.std(ddof=1)) if n_bootstrap > 1 else float("nan")
    return value, error, {"per_k": per_k.tolist()}


def _pca_k(s, variance: float) -> int:
    """:func:`core.spectra.pca_k` (the one PCA-k rule); 0 for a degenerate spectrum."""
    from .spectra import pca_k

    k = pca_k(s, share=variance)
    return 0 if isinstance(k, float) else k


_PCA_MAX_BOOTSTRAP = 30
_PCA_BOOTSTRAP_ROWS = 5000
"""PCA's bootstrap costs O(rows d^2) per resample: at most 30 resamples of at most 5,000 seeded
rows (on fewer rows than N the spread is larger: a conservative error bar)."""


def _pca(X: np.ndarray, rows: np.ndarray, metric: str, variance: float, n_bootstrap: int, seed: int,
         max_bootstrap_rows: int) -> tuple[float, float, dict]:
    """PCA-k of ``X[rows]`` read off the shared :func:`core.spectra.spectrum` (the covariance of
    :func:`core._numerics.metric_rows`; float64 moments), with a bootstrap error."""
    from .spectra import Spectrum, spectrum

    d = X.shape[1]  # the chosen rows (float32) and their float64 metric rows; the bootstrap's rows and moments
    require_memory(matrix_bytes(len(rows), d, itemsize=12) + matrix_bytes(min(len(rows), max_bootstrap_rows), d, copies=3)
                   + matrix_bytes(d, copies=4),
                   what=f"PCA intrinsic dimension of {len(rows):,} x {d:,} rows (a float64 copy)",
                   avoid="use a sample of the rows, or the TwoNN / MLE estimators (neighbour based)")
    scale = pow2_scale(X[rows]) if metric == "euclidean" else 1.0
    # unit rows (cosine) or the rows divided by an exact power of two (PCA-k is scale-free; the
    # moments of float64 data at 1e-200 would underflow): the covariance of metric_rows
    s = spectrum(metric_rows(X[rows], metric, scale=scale), kernel="linear", center=True, precision="float64")
    value = _pca_k(s, variance)
    rng = np.random.default_rng(seed)
    sub = subsample(rows, max_bootstrap_rows, seed=seed, rng=rng).rows
    B = metric_rows(X[sub], metric, scale=scale)
    B -= B.mean(axis=0)
    boots = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        w = np.bincount(rng.integers(0, len(B), len(B)), minlength=len(B)).astype(np.float64)
        m = w @ B / w.sum()
        Cb = (B * w[:, None]).T @ B / w.sum() - np.outer(m, m)
        boots[b] = _pca_k(Spectrum.from_eigenvalues(np.linalg.eigvalsh(Cb)), variance)
    error = float(boots.std(ddof=1)) if n_bootstrap > 1 else float("nan")
    return float(value), error, {"bootstrap_rows": len(B)}


def intrinsic_dimension(
    X,
    /,
    *,
    method: str = "twonn",
    metric: str | None = None,
    graph: NeighborGraph | None = None,
    discard_fraction: float = 0.1,
    k_range: tuple[int, int] = (5, 20),
    variance: float = 0.95,
    n_bootstrap: int = 100,
    seed: int = 0,
) -> IntrinsicDimension:
    """Global intrinsic dimension of the distinct points of ``X``, with a bootstrap error bar.

    Parameters
    ----------
    X : array-like of shape (n, d)
    method : {"twonn", "mle", "pca"}, default="twonn"
        ``"twonn"``: Facco et al. (2017). ``"mle"``: Levina & Bickel (2004) averaged over
        ``k_range``. ``"pca"``: the number of principal components holding ``variance``.
    metric : {"euclidean", "cosine"}, optional
        Default: the graph's metric, else Euclidean.
        ``"cosine"`` estimates on the L2-normalised rows (zero rows left out).
    graph : NeighborGraph, optional
        A kNN graph of ``X`` in ``metric`` (k >= 2 for TwoNN, k >= k_range[1] for MLE),
        reused instead of a new search. Ignored by ``"pca"``.
    discard_fraction : float, default=0.1
        TwoNN: share of the largest ratios left out of the fit.
    k_range : (int, int), default=(5, 20)
        MLE: the neighbour counts averaged over, 2 <= k1 <= k2.
    variance : float, default=0.95
        PCA: the share of variance the components must hold.
    n_bootstrap : int, default=100
        Resamples of the points for the error bar (0 or 1: no error bar, NaN); PCA uses at
        most 30.
    seed : int, default=0

    Returns
    -------
    IntrinsicDimension
        ``value`` and its bootstrap ``error`` (NaN with ``n_bootstrap`` < 2), the distinct
        points used, the duplicates and zero rows left out, and ``params`` (``"graph"``:
        where the neighbours came from).

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 3 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``metric`` not "euclidean" / "cosine"; ``method`` not
        in :data:`ID_METHODS`; ``n_bootstrap`` not an integer >= 0; PCA: ``variance`` not in
        (0, 1]; TwoNN: ``discard_fraction`` not in [0, 1), or fewer than 2 ratios kept; MLE:
        ``k_range`` not a pair of integers with ``2 <= k1 <= k2``; fewer distinct points than
        neighbours needed (3 for TwoNN, ``k2 + 1`` for MLE); a ``graph`` with another number
        of rows, another metric or invalid indices (:meth:`NeighborGraph.check`).
    TypeError
        From the comparisons when ``variance`` or ``discard_fraction`` is not a number.

    Notes
    -----
    Conventions: the metric defaults to the graph's, else Euclidean (the kNN graph itself
    defaults to cosine). Cosine estimates use the chordal distance ``sqrt(2 (1 - cos))``
    between unit rows (Euclidean distance on the sphere), not the cosine distance
    ``1 - cos``: TwoNN's ratios and MLE's log-ratios need a true metric that is locally
    Euclidean. ``k_range`` is skdim's ``n_neighbors`` for ``MLE``.

    TwoNN: with r1, r2 the distances to the first two neighbours, mu = r2 / r1 follows a
    Pareto law with shape d, so the line through the origin of
    ``-log(1 - F_emp(mu_(i)))`` against ``log mu_(i)`` over the smallest
    ``(1 - discard_fraction) N`` ratios has slope d; ``F_emp(mu_(i)) = i / N``. This equals
    ``skdim.id.TwoNN(discard_fraction=0.1)``. The plain maximum-likelihood
    ``(N - 1) / sum log mu_i`` is in ``params["mle_estimate"]``.

    MLE: per point ``m_k(x) = [(1 / (k - 1)) sum_{j<k} log(r_k(x) / r_j(x))]^-1``, combined
    over points by averaging the inverses (MacKay & Ghahramani 2005, the
    ``skdim.id.MLE(comb="mle")`` rule), then averaged over k in ``k_range``.

    PCA: the smallest k with ``sum_{i<=k} l_i / sum_i l_i >= variance`` for the eigenvalues
    ``l`` of the covariance of the distinct points. A linear count: it overestimates the
    dimension of curved data.

    Cost: the kNN graph (free when passed), then O(N log N + n_bootstrap N) for TwoNN,
    O(N k2 + n_bootstrap N (k2 - k1)) for MLE, O(n d^2 + d^3) for PCA plus its bootstrap:
    at most 30 resamples of at most 5,000 seeded rows (a conservative error bar when N is
    larger), O(30 (5000 d^2 + d^3)).

    References: Facco, d'Errico, Rodriguez & Laio, "Estimating the intrinsic dimension of
    datasets by a minimal neighborhood information", Sci. Rep. 2017. Levina & Bickel,
    "Maximum likelihood estimation of intrinsic dimension", NeurIPS 2004.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 3)) @ rng.standard_normal((3, 20))  # a 3-d subspace
    >>> est = intrinsic_dimension(X)
    >>> print(f"{est.value:.1f} ± {est.error:.1f}")
    3.0 ± 0.1
    """
    X, metric = _check_common(X, metric, graph)
    check_param("method", method, StrOptions(ID_METHODS, order=ID_METHODS))
    n_bootstrap = _check_int("n_bootstrap", n_bootstrap, 0)
    params: dict = {"metric": metric, "n_bootstrap": n_bootstrap, "seed": seed}
    if method == "pca":
        check_param("variance", variance, Interval(Real, 0, 1, closed="right"), hint="e.g. 0.95")
        info = _distinct(X, metric)
        n_boot = min(n_bootstrap, _PCA_MAX_BOOTSTRAP)
        value, error, extra = _pca(X, info.reps, metric, variance, n_boot, seed, _PCA_BOOTSTRAP_ROWS)
        params.update(variance=variance, n_bootstrap=n_boot, **extra)
        return IntrinsicDimension(value, error, method, len(info.reps), info.n_duplicates, info.n_zero, params)
    if method == "twonn":
        check_param("discard_fraction", discard_fraction, Interval(Real, 0, 1, closed="left"), hint="e.g. 0.1")
        K = 2
        params["discard_fraction"] = discard_fraction
    else:
        k1, k2 = _check_k_range(k_range)
        K = k2
        params["k_range"] = (k1, k2)
    r, info, note = _neighbour_distances(X, metric, K, graph, seed)
    r, n_near = _drop_zero_distance(r)
    params["graph"] = note
    if method == "twonn":
        value, error, extra = _twonn(r, discard_fraction, n_bootstrap, seed)
    else:
        value, error, extra = _mle(r, (k1, k2), n_bootstrap, seed)
    params.update(extra)
    return IntrinsicDimension(value, error, method, len(r), info.n_duplicates + n_near, info.n_zero, params)


def _check_k_range(k_range) -> tuple[int, int]:
    try:
        k1, k2 = k_range
    except (TypeError, ValueError):
        raise EmbedLensInputError(invalid_message("k_range", k_range, expected="a pair (k1, k2)",
                                                  hint="e.g. (5, 20)")) from None
    k1 = _check_int("k_range[0]", k1, 2)
    k2 = _check_int("k_range[1]", k2, k1)
    return k1, k2


def _drop_zero_distance(r: np.ndarray) -> tuple[np.ndarray, int]:
    """Leave out points whose nearest distinct neighbour is still at distance 0 (rounding)."""
    ok = r[:, 0] > 0
    return r[ok], int((~ok).sum())


def local_intrinsic_dimension(
    X,
    /,
    *,
    k: int = 20,
    metric: str | None = None,
    graph: NeighborGraph | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Per-point (local) intrinsic dimension: the Levina-Bickel MLE from each point's k neighbours.

    .. math:: \\hat m_k(x) = \\Big[\\frac{1}{k-1} \\sum_{j=1}^{k-1} \\log \\frac{r_k(x)}{r_j(x)}\\Big]^{-1}

    Parameters
    ----------
    X : array-like of shape (n, d)
    k : int, default=20
        Neighbours per point (>= 3). Small k is noisy (the estimate's relative standard
        error is about 1 / sqrt(k - 2)); large k mixes regions.
    metric : {"euclidean", "cosine"}, optional
        Default: the graph's metric, else Euclidean.
    graph : NeighborGraph, optional
        A kNN graph of ``X`` in ``metric`` with at least k neighbours.
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n,)
        Duplicate rows get the value of the row they repeat; zero rows under cosine and
        points whose nearest distinct neighbour is at distance 0 get NaN.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 3 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``metric`` not "euclidean" / "cosine"; ``k`` not an
        integer >= 3; fewer than ``k + 1`` distinct points; a ``graph`` with another number
        of rows, another metric or invalid indices.

    Notes
    -----
    Conventions: ``k`` here is skdim's ``n_neighbors`` (neighbours excluding the point);
    cosine uses the chordal distance ``sqrt(2 (1 - cos))`` between unit rows; the metric
    defaults to the graph's, else Euclidean. Levina & Bickel (2004); the same per-point estimate as ``skdim.id.MLE().fit(X,
    n_neighbors=k).dimension_pw_``. Cost: the kNN graph (free when passed) plus O(n k).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((1000, 2)) @ rng.standard_normal((2, 10))
    >>> print(f"{np.median(local_intrinsic_dimension(X)):.1f}")
    2.1
    """
    X, metric = _check_common(X, metric, graph)
    k = _check_int("k", k, 3)
    r, info, _note = _neighbour_distances(X, metric, k, graph, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_distinct = 1.0 / _mle_inverse(np.where(r > 0, r, np.nan), k, k)[:, 0]
    out = np.full(len(X), np.nan)
    rows = info.inverse >= 0
    out[rows] = per_distinct[info.inverse[rows]]
    return out


def id_scale_curve(
    X,
    /,
    *,
    method: str = "twonn",
    metric: str | None = None,
    graph: NeighborGraph | None = None,
    k_max: int = 20,
    min_points: int = 20,
    max_subsets: int = 8,
    n_bootstrap: int = 100,
    seed: int = 0,
) -> IDScaleCurve:
    """Intrinsic dimension against the neighbourhood scale it looks at.

    Parameters
    ----------
    X : array-like of shape (n, d)
    method : {"twonn", "mle"}, default="twonn"
        ``"twonn"``: decimation (Facco et al. 2017, as in DADApy's
        ``return_id_scaling_2NN``): at level j the distinct points are split, in a seeded
        random order, into 2^j disjoint subsets of N / 2^j points (at most ``max_subsets``
        of them are used) and TwoNN runs on each; fewer points are farther apart, so the
        estimate looks at a larger scale. The scale is the median r2 over the subsets.
        ``"mle"``: the Levina-Bickel estimate for each neighbour count k = 3..k_max from
        one graph, at scale median r_k.
    metric : {"euclidean", "cosine"}, optional
        Default: the graph's metric, else Euclidean.
    graph : NeighborGraph, optional
        The shared kNN graph of ``X`` (level 0 of TwoNN; all of MLE).
    k_max : int, default=20
        MLE: the largest neighbour count.
    min_points : int, default=20
        TwoNN: the smallest subset.
    max_subsets : int, default=8
        TwoNN: subsets used per level (their spread gives the error bar).
    n_bootstrap : int, default=100
        Error bars where one estimate is all there is (level 0, MLE).
    seed : int, default=0

    Returns
    -------
    IDScaleCurve
        One point per level (TwoNN) or per k (MLE), scales increasing.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 3 rows, NaN / inf rows; ``metric`` not
        "euclidean" / "cosine"; ``method`` not "twonn" / "mle" (no PCA curve);
        ``n_bootstrap`` not an integer >= 0; MLE: ``k_max`` not an integer >= 3; TwoNN:
        ``min_points`` not an integer >= 4 or ``max_subsets`` not an integer >= 1; too few
        distinct points for the neighbours needed; an unusable ``graph``.

    Notes
    -----
    Conventions: ``scale`` is in Euclidean units (cosine: the chordal distance
    ``sqrt(2 (1 - cos))`` between unit rows). The level-0 TwoNN error is a bootstrap
    standard deviation, the other levels' the standard error of the mean over the subsets.

    A plateau over a range of scales is the dimension worth reporting; a rise at small
    scales is noise, a fall at large scales is curvature or the data's extent. Cost (TwoNN):
    level j does at most ``max_subsets`` searches on N / 2^j points; with exact search
    about O(N^2 d) in all. MLE: O(N k_max) beyond the graph.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((800, 2)) @ rng.standard_normal((2, 10))
    >>> curve = id_scale_curve(X)
    >>> print(len(curve.scale), f"{curve.dimension[0]:.1f}")
    6 2.0
    """
    X, metric = _check_common(X, metric, graph)
    if method not in ("twonn", "mle"):
        raise EmbedLensInputError(invalid_message("method", method, StrOptions({}, order=("twonn", "mle"))))
    n_bootstrap = _check_int("n_bootstrap", n_bootstrap, 0)
    params: dict = {"metric": metric, "seed": seed}
    if method == "mle":
        k_max = _check_int("k_max", k_max, 3)
        r, info, note = _neighbour_distances(X, metric, k_max, graph, seed)
        r, _ = _drop_zero_distance(r)
        inv = _mle_inverse(r, 3, k_max)
        dims = 1.0 / inv.mean(axis=0)
        rng = np.random.default_rng(seed)
        boots = np.array([1.0 / inv[rng.integers(0, len(inv), len(inv))].mean(axis=0) for _ in range(n_bootstrap)])
        err = boots.std(axis=0, ddof=1) if n_bootstrap > 1 else np.full(len(dims), np.nan)
        ks = np.arange(3, k_max + 1)
        params.update(graph=note, k_max=k_max, n_bootstrap=n_bootstrap)
        return IDScaleCurve(np.median(r[:, ks - 1], axis=0), dims, err, np.full(len(ks), len(r)), ks, "mle", params)
    min_points = _check_int("min_points", min_points, 4)
    max_subsets = _check_int("max_subsets", max_subsets, 1)
    r, info, note = _neighbour_distances(X, metric, 2, graph, seed)
    r, _ = _drop_zero_distance(r)
    value, error, _extra = _twonn(r, 0.1, n_bootstrap, seed)
    scales, dims, errs, npts, levels = [float(np.median(r[:, 1]))], [value], [error], [len(r)], [0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(info.reps)
    Xd = X
    level = 1
    while len(order) // 2**level >= min_points:
        size = len(order) // 2**level
        n_sub = min(2**level, max_subsets)
        ests, r2s = [], []
        for s in range(n_sub):
            rows = order[s * size : (s + 1) * size]
            g = knn_graph(Xd[rows], k=2, metric=metric, seed=seed)
            rr = _euclidean(g.distances, metric)
            rr = rr[rr[:, 0] > 0]
            if len(rr) < 3:
                continue
            mu = np.sort(np.log(rr[:, 1] / rr[:, 0]))
            ests.append(_twonn_fit(mu, len(mu), int(len(mu) * 0.9)))
            r2s.append(rr[:, 1])
        if not ests:
            break
        scales.append(float(np.median(np.concatenate(r2s))))
        dims.append(float(np.mean(ests)))
        errs.append(float(np.std(ests, ddof=1) / np.sqrt(len(ests))) if len(ests) > 1 else float("nan"))
        npts.append(size)
        levels.append(level)
        level += 1
    params.update(graph=note, discard_fraction=0.1, min_points=min_points, max_subsets=max_subsets,
                  n_bootstrap=n_bootstrap)
    return IDScaleCurve(np.array(scales), np.array(dims), np.array(errs), np.array(npts), np.array(levels),
                        "twonn", params)
