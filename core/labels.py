"""Labels and neighbourhoods: neural collapse, class separability, kNN purity and hubness.

Neural collapse (Papyan, Han & Donoho 2020) measures how far each class has shrunk onto its
mean and how close the class means are to a simplex equiangular tight frame. Separability
reads the 0-dimensional persistent homology of the points (the edge lengths of the
Euclidean minimum spanning tree) with or without labels. Hubness (Radovanovic et al. 2010)
counts how often each point is someone's neighbour. Functions that need neighbours take the
shared :class:`~core.neighbors.NeighborGraph` as ``graph=``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _dask
from ._memory import matrix_bytes, require_memory
from ._numerics import cosine_distances, metric_rows, pow2_scale
from ._sampling import subsample
from .tables import encode_labels
from numbers import Integral

from ._validation import EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param
from .intrinsic_dim import _distinct
from .neighbors import METRICS, NeighborGraph, knn_graph

__all__ = [
    "NeuralCollapse",
    "Separability",
    "Hubness",
    "neural_collapse",
    "separability",
    "hubness",
    "knn_purity",
    "encode_labels",
]

PINV_RTOL = 1e-10
"""Eigenvalues of the class-mean Gram matrix below this share of the largest count as zero."""


# --------------------------------------------------------------------------- labels


def _labelled(X: np.ndarray, labels, min_classes: int = 2):
    codes, classes = encode_labels(labels, len(X))
    present = np.bincount(codes[codes >= 0], minlength=len(classes))
    if (present > 0).sum() < min_classes:
        raise EmbedLensInputError(
            f"{(present > 0).sum()} class(es) among the labelled rows; at least {min_classes} are needed "
            "(pick a label column with several values)",
            source="labels",
        )
    return codes, classes, present


def _resolve_metric(metric: str | None, graph: NeighborGraph | None, default: str) -> str:
    resolved = metric if metric is not None else (graph.metric if graph is not None else default)
    check_param("metric", resolved, StrOptions(METRICS, order=METRICS))
    if graph is not None and graph.metric != resolved:
        raise EmbedLensInputError(
            f"the graph uses metric={graph.metric!r} but metric={resolved!r} was asked for; "
            f"pass metric={graph.metric!r} or leave metric unset"
        )
    return resolved


def _graph_for(X: np.ndarray, k: int, metric: str, graph: NeighborGraph | None, seed: int = 0) -> NeighborGraph:
    """``graph`` restricted to k neighbours, or a new one; checks that it belongs to X."""
    if graph is None:
        k = check_param("k", k, Interval(Integral, 1, len(X), closed="left", whole_floats=True),
                        hint=f"n = {len(X)} rows; lower k or load more points")
        return knn_graph(X, k=k, metric=metric, seed=seed)
    graph.check(len(X), k=k)
    return graph.restrict(k) if graph.k > k else graph


def _silhouette(X: np.ndarray, labels: np.ndarray, metric: str, scale: float) -> float:
    """Mean silhouette (scikit-learn) in the metric: cosine on the precomputed
    :func:`core._numerics.cosine_distances`, Euclidean on the rows divided by ``scale``."""
    from sklearn.metrics import silhouette_score

    if metric == "cosine":
        D = cosine_distances(X, X)
        np.fill_diagonal(D, 0.0)
        return silhouette_score(D, labels, metric="precomputed")
    return silhouette_score(metric_rows(X, metric, scale=scale), labels, metric="euclidean")


def _scale(X: np.ndarray, metric: str) -> float:
    """The exact power of two the rows are divided by before squares (1 for cosine)."""
    return pow2_scale(X) if metric == "euclidean" else 1.0


# --------------------------------------------------------------------------- class moments

_BLOCK_ROWS = 8192


@dataclass(frozen=True, eq=False)
class _Moments:
    means: np.ndarray  # K x d class means
    counts: np.ndarray  # K
    mu_G: np.ndarray  # d, the mean of all rows used
    ss: np.ndarray  # K: sum over the class of |x - mu_k|^2
    CtC: np.ndarray | None  # K x K: C^T C for C = (X - mu_y) M, M = [mu_k - mu_G]


def _class_moments(X: np.ndarray, rows: np.ndarray, y: np.ndarray, K: int, metric: str, *, gram: bool,
                   scale: float = 1.0) -> _Moments:
    """Class means, within-class sums of squares (and C^T C) in two passes over row blocks.

    float64 throughout, on rows divided by ``scale`` (an exact power of two: the moments are in
    those units); the class means are subtracted in float64 before any product, so a large
    common mean costs no accuracy. Memory O(block d + K d + K^2), never an n x d copy.
    """
    from scipy.sparse import csr_matrix

    d = X.shape[1]
    sums = np.zeros((K, d))
    for s in range(0, len(rows), _BLOCK_ROWS):
        A = metric_rows(X[rows[s : s + _BLOCK_ROWS]], metric, scale=scale)
        yb = y[s : s + _BLOCK_ROWS]
        sums += csr_matrix((np.ones(len(yb)), (yb, np.arange(len(yb)))), shape=(K, len(yb))) @ A
    counts = np.bincount(y, minlength=K)
    means = sums / np.maximum(counts, 1)[:, None]
    mu_G = sums.sum(axis=0) / len(rows)
    M = (means - mu_G).T
    ss = np.zeros(K)
    CtC = np.zeros((K, K)) if gram else None
    for s in range(0, len(rows), _BLOCK_ROWS):
        yb = y[s : s + _BLOCK_ROWS]
        R = metric_rows(X[rows[s : s + _BLOCK_ROWS]], metric, scale=scale) - means[yb]
        ss += np.bincount(yb, weights=np.einsum("ij,ij->i", R, R), minlength=K)
        if gram:
            C = R @ M
            CtC += C.T @ C
    return _Moments(means, counts, mu_G, ss, CtC)


# --------------------------------------------------------------------------- neural collapse


@dataclass(frozen=True, eq=False)
class NeuralCollapse:
    """Neural-collapse statistics of labelled features (Papyan et al. 2020).

    Attributes
    ----------
    nc1 : float
        ``tr(Sigma_W pinv(Sigma_B)) / K``; 0 when every class sits on its mean.
    trace_ratio : float
        ``tr(Sigma_W) / tr(Sigma_B)``: the same idea without the whitening.
    equinorm : float
        NC2: coefficient of variation (std / mean) of ``||mu_k - mu_G||``; 0 for equal norms.
    equiangularity : float
        NC2: mean over pairs k != l of ``|cos(mu_k - mu_G, mu_l - mu_G) + 1 / (K - 1)|``; 0
        for a simplex equiangular tight frame.
    cosines : ndarray of shape (K, K)
        Cosines between the centred class means.
    cdnv : ndarray of shape (K, K)
        Class-distance normalised variance ``(var_k + var_l) / (2 ||mu_k - mu_l||^2)``;
        NaN on the diagonal.
    cdnv_mean : float
        Mean of ``cdnv`` over pairs k != l.
    classes : ndarray of shape (K,)
    counts : ndarray of shape (K,)
    n_unlabelled : int
        Rows left out because their label is missing.
    params : dict
    """

    nc1: float
    trace_ratio: float
    equinorm: float
    equiangularity: float
    cosines: np.ndarray
    cdnv: np.ndarray
    cdnv_mean: float
    classes: np.ndarray
    counts: np.ndarray
    n_unlabelled: int
    params: dict = field(default_factory=dict)


def neural_collapse(X, labels, /) -> NeuralCollapse:
    """NC1, the trace ratio, NC2 (equinorm, equiangularity) and the CDNV matrix.

    .. math::

        \\Sigma_W = \\frac1N \\sum_i (h_i - \\mu_{y_i})(h_i - \\mu_{y_i})^\\top,\\quad
        \\Sigma_B = \\frac1K M M^\\top,\\quad M = [\\mu_k - \\mu_G]_{k=1..K},\\quad
        \\mathrm{NC1} = \\frac1K \\operatorname{tr}(\\Sigma_W \\Sigma_B^+)

    Computed exactly without any d x d matrix: with ``G = M^T M`` (K x K),
    ``tr(Sigma_W pinv(Sigma_B)) = K tr(pinv(G)^2 M^T Sigma_W M)`` and
    ``M^T Sigma_W M = C^T C / N`` for ``C = (H - mu_y) M`` (n x K). Written by hand because
    no installed library computes neural-collapse statistics.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
        Features (e.g. penultimate-layer activations), used as they are. A dask array is read
        chunk by chunk, twice (class sums, then residuals; :func:`core._dask.class_moments`),
        with the same result; its NaN / inf rows are found after the labels are checked.
    labels : array-like of shape (n,)
        Class of each row (numbers or strings); NaN / None rows are left out.

    Returns
    -------
    NeuralCollapse
        ``trace_ratio`` is ``inf`` when the class means coincide (``tr Sigma_B = 0``).

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 2 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``len(labels) != n``; fewer than 2 classes among the
        labelled rows.
    ValueError, TypeError
        From :func:`encode_labels`, for labels that are not 1-D or mix unsortable types.

    Notes
    -----
    Conventions: ``trace_ratio = tr(Sigma_W) / tr(Sigma_B)`` is within over between (small =
    collapsed), with the *unweighted* between-class covariance of neural-collapse papers
    (each class mean counts once). :attr:`Separability.fisher_ratio` is the reciprocal
    orientation, between over within, with the *sample-weighted* ``S_B`` of Fisher / LDA /
    Calinski-Harabasz: for equal class sizes and the Euclidean metric
    ``trace_ratio * fisher_ratio == 1``; otherwise they differ (measured: 0.966 for classes
    of 10 / 20 / 30 rows). Always Euclidean on the rows as given (no metric option).

    ``mu_G`` is the mean of all labelled rows (Papyan et al.); ``var_k`` in the CDNV is the
    mean squared distance of class k's rows to ``mu_k`` (Galanti et al. 2022). Eigenvalues
    of G below ``PINV_RTOL`` (1e-10) times the largest are treated as zero (M has rank at most
    K - 1). Cost: O(n d K + K^3), memory O(n K + d K).

    References: Papyan, Han & Donoho, "Prevalence of neural collapse during the terminal
    phase of deep learning training", PNAS 2020. Galanti, Gyorgy & Hutter, "On the role of
    neural collapse in transfer learning", ICLR 2022.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [1.2, 0.0], [-1.0, 0.0], [-1.2, 0.0]])
    >>> nc = neural_collapse(X, [0, 0, 1, 1])
    >>> print(f"NC1 {nc.nc1:.4f}, cosine {nc.cosines[0, 1]:.1f}")
    NC1 0.0041, cosine -1.0
    """
    lazy = _dask.is_dask(X)
    X = _dask.check_matrix(X, name="X", min_rows=2) if lazy else check_embeddings(X, name="X", min_rows=2)
    codes, classes, counts = _labelled(X, labels)
    keep = codes >= 0
    present = counts > 0
    remap = np.cumsum(present) - 1
    y = remap[codes[keep]]
    classes, counts = classes[present], counts[present]
    rows = np.flatnonzero(keep)
    N, K = len(rows), len(classes)
    # every statistic is a ratio, so the moments are taken on rows divided by an exact power of
    # two: the same values at any data scale, no overflow of squares
    if lazy:  # the same moments summed over the chunks of a dask array (two passes)
        m = _dask.class_moments(X, np.where(keep, remap[np.maximum(codes, 0)], -1), K,
                                between=lambda means, mu_G: (means - mu_G).T)
        mom = _Moments(m.means, m.counts, m.mu_G, m.ss, m.CtC)
    else:
        mom = _class_moments(X, rows, y, K, "euclidean", gram=True, scale=pow2_scale(X[rows]))
    M = (mom.means - mom.mu_G).T  # d x K
    G = M.T @ M
    lam, V = np.linalg.eigh(G)
    cut = PINV_RTOL * max(lam.max(), 0.0)
    inv = np.where(lam > cut, 1.0 / np.where(lam > cut, lam, 1.0), 0.0)
    pinv_G = (V * inv) @ V.T
    W_M = mom.CtC / N  # M^T Sigma_W M = C^T C / N, C = R M
    nc1 = float(np.trace(pinv_G @ pinv_G @ W_M))
    tr_W = float(mom.ss.sum() / N)
    tr_B = float(np.trace(G) / K)
    norms = np.sqrt(np.clip(np.diag(G), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = G / np.outer(norms, norms)
    off = ~np.eye(K, dtype=bool)
    var = mom.ss / counts
    d2 = np.clip(np.diag(G)[:, None] + np.diag(G)[None, :] - 2 * G, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        cdnv = (var[:, None] + var[None, :]) / (2 * d2)
    cdnv[~off] = np.nan
    return NeuralCollapse(
        nc1=nc1,
        trace_ratio=tr_W / tr_B if tr_B > 0 else float("inf"),
        equinorm=float(norms.std() / norms.mean()) if norms.mean() > 0 else float("nan"),
        equiangularity=float(np.abs(cos[off] + 1.0 / (K - 1)).mean()),
        cosines=cos,
        cdnv=cdnv,
        cdnv_mean=float(np.nanmean(cdnv[off])) if np.isfinite(cdnv[off]).any() else float("nan"),
        classes=classes,
        counts=counts,
        n_unlabelled=int((~keep).sum()),
        params={"rank_M": int((lam > cut).sum()), "pinv_rtol": PINV_RTOL, "global_mean": "mean of labelled rows"},
    )


# --------------------------------------------------------------------------- kNN purity, hubness


def knn_purity(graph: NeighborGraph, labels, /, *, k: int | None = None) -> np.ndarray:
    """Per point: the share of its k nearest neighbours that carry its label.

    ``purity_i = |{j in N_k(i) : y_j = y_i}| / k``; an unlabelled neighbour never matches and
    an unlabelled point gets NaN. With k = 1 the mean over points is the Thornton index.
    Cost: O(n k) on the graph.

    Parameters
    ----------
    graph : NeighborGraph
    labels : array-like of shape (n,)
    k : int, optional
        Neighbours to use (default: all of the graph's).

    Returns
    -------
    ndarray of shape (n,), float

    Raises
    ------
    EmbedLensInputError
        ``graph`` is not a NeighborGraph, holds neighbour indices outside 0..n-1 (e.g. -1),
        ``k`` is not an integer in ``1 .. graph.k`` (``True`` passes as 1) or ``labels`` has
        the wrong length.
    ValueError, TypeError
        From :func:`encode_labels`, for labels that are not 1-D or mix unsortable types.

    Notes
    -----
    Conventions: ``k`` counts neighbours excluding the point (``n_neighbors - 1`` in
    scikit-learn's ``KNeighborsClassifier`` fitted and queried on the same rows); the metric
    is the graph's.

    Examples
    --------
    >>> g = knn_graph(np.array([[0.0], [0.1], [5.0], [5.1]]), k=1, metric="euclidean")
    >>> knn_purity(g, ["a", "a", "b", "a"]).tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    if not isinstance(graph, NeighborGraph):
        raise EmbedLensInputError(f"graph must be a NeighborGraph (from knn_graph), not {type(graph).__name__}")
    k = graph.k if k is None else k
    k = check_param("k", k, Interval(Integral, 1, graph.k), hint=f"between 1 and the graph's k={graph.k}")
    graph.check_indices()
    codes, _ = encode_labels(labels, graph.n)
    return _purity(graph, codes, k)


def _purity(graph: NeighborGraph, codes: np.ndarray, k: int) -> np.ndarray:
    nb = codes[graph.indices[:, :k]]
    same = (nb == codes[:, None]) & (codes[:, None] >= 0)
    out = same.mean(axis=1)
    out[codes < 0] = np.nan
    return out


@dataclass(frozen=True, eq=False)
class Hubness:
    """How unevenly points appear in each other's neighbour lists.

    Attributes
    ----------
    k_occurrence : ndarray of shape (n,), int
        ``N_k(j)``: how many points have j among their k nearest neighbours (mean is k).
    skewness : float
        Skewness of ``N_k`` (standardised third moment); 0 when every count is equal.
    k : int
    antihub_share : float
        Share of points that are nobody's neighbour (N_k = 0).
    top : ndarray
        Row numbers of the 20 largest N_k, largest first (ties: lower row first).
    params : dict
    """

    k_occurrence: np.ndarray
    skewness: float
    k: int
    antihub_share: float
    top: np.ndarray
    params: dict = field(default_factory=dict)


def hubness(X, /, *, k: int = 10, metric: str | None = None, graph: NeighborGraph | None = None,
            seed: int = 0) -> Hubness:
    """k-occurrence of every point and its skewness (Radovanovic, Nanopoulos & Ivanovic 2010).

    .. math:: N_k(x) = |\\{i : x \\in \\mathrm{kNN}(x_i)\\}|,\\qquad
              S_{N_k} = \\frac{E[(N_k - k)^3]}{\\mathrm{Var}(N_k)^{3/2}}

    Parameters
    ----------
    X : array-like of shape (n, d)
    k : int, default=10
    metric : {"cosine", "euclidean"}, optional
        Default: the graph's metric, else cosine.
    graph : NeighborGraph, optional
        The shared kNN graph of ``X`` (at least k neighbours).
    seed : int, default=0
        Seeds a new graph's approximate search.

    Returns
    -------
    Hubness

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 2 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``metric`` not "cosine" / "euclidean", or different
        from the graph's; without a graph, ``k`` outside ``1 <= k < n``; with a graph, one with
        another number of rows, fewer than k neighbours, invalid indices, or ``k < 1``.
    ValueError, TypeError
        From ``int(k)`` for a ``k`` that is not a number. A fractional ``k`` is truncated
        (``k=2.7`` uses 2) without a message.

    Notes
    -----
    Conventions: cosine by default (the graph's metric when one is given), as the
    embedding-retrieval setting; Radovanovic et al. use Euclidean (pass
    ``metric="euclidean"``). ``k`` excludes the point itself (their ``k``; scikit-learn
    / umap ``n_neighbors`` would be k + 1 on the fitted rows). Skewness as ``scipy.stats.skew`` (biased, Fisher-Pearson). Large positive skew means a
    few hubs are everybody's neighbours, a symptom of high intrinsic dimension that hurts
    kNN retrieval. Cost: the graph plus O(n k).

    References: Radovanovic, Nanopoulos & Ivanovic, "Hubs in space: popular nearest
    neighbors in high-dimensional data", JMLR 2010.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> low, high = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 50))
    >>> print(f"{hubness(low, metric='euclidean').skewness:.2f}, {hubness(high, metric='euclidean').skewness:.2f}")
    -0.30, 4.41
    """
    X = check_embeddings(X, name="X", min_rows=2)
    metric = _resolve_metric(metric, graph, "cosine")
    g = _graph_for(X, int(k), metric, graph, seed)
    counts = np.bincount(g.indices.ravel(), minlength=g.n)
    from scipy.stats import skew

    skewness = float(skew(counts)) if counts.std() > 0 else 0.0
    top = np.lexsort((np.arange(g.n), -counts))[:20]
    return Hubness(counts, skewness, g.k, float((counts == 0).mean()), top,
                   {"metric": metric, "graph": f"{g.method}, k={g.k}"})


# --------------------------------------------------------------------------- separability


@dataclass(frozen=True, eq=False)
class Separability:
    """Class separability from the H0 barcode and, with labels, from neighbours and scatter.

    Attributes
    ----------
    bars : ndarray
        Finite H0 death times (Euclidean MST edge lengths, in the data's units; on unit rows
        for cosine) of the distinct points used, longest first; one fewer than the points.
    persistent_entropy : float
        ``-sum p_i log p_i`` with ``p_i = bar_i / sum bars`` (nats).
    persistent_entropy_normalized : float
        The same divided by ``log(len(bars))``: 1 for equal bars, near 0 for one dominant bar.
    n_clusters : int
        The K whose top K - 1 bars ``top_share`` sums (classes when labelled).
    top_share : float
        Share of total persistence in the K - 1 longest bars.
    gap_ratio : float
        ``bar_(K-1) / bar_K``: how much the (K-1)-th longest bar stands out from the next.
    thornton : float or None
        Share of labelled points whose nearest neighbour has the same label.
    knn_purity : float or None
        Mean over labelled points of :func:`knn_purity` at ``params["k"]``.
    fisher_ratio : float or None
        ``tr(S_B) / tr(S_W)`` (between- over within-class scatter, sample-weighted).
    silhouette : float or None
        Mean silhouette (scikit-learn) of the labels in ``params["metric"]``: cosine distance
        ``1 - cos`` or Euclidean distance.
    params : dict
        n_used (points in the barcode), subsampled, n_duplicates, metric, k, graph, ...
    """

    bars: np.ndarray
    persistent_entropy: float
    persistent_entropy_normalized: float
    n_clusters: int
    top_share: float
    gap_ratio: float
    thornton: float | None = None
    knn_purity: float | None = None
    fisher_ratio: float | None = None
    silhouette: float | None = None
    params: dict = field(default_factory=dict)


def _mst_bars(A: np.ndarray) -> np.ndarray:
    """The Euclidean MST edge lengths of the rows of A, longest first.

    scipy's single-linkage merge heights (``linkage(method="single")``) are exactly the MST
    edge lengths and keep every edge, however short; scipy's dense ``minimum_spanning_tree``
    instead treats entries below ~1e-8 as missing edges, which lost near-duplicate pairs.
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist

    if len(A) < 2:
        return np.empty(0)
    return np.sort(linkage(pdist(A), method="single")[:, 2])[::-1]


def separability(
    X,
    labels=None,
    /,
    *,
    metric: str | None = None,
    k: int = 10,
    n_clusters: int | None = None,
    graph: NeighborGraph | None = None,
    max_points: int = 4000,
    seed: int = 0,
) -> Separability:
    """The H0 barcode and label-free separability scores; with labels, neighbour and scatter scores.

    Parameters
    ----------
    X : array-like of shape (n, d)
    labels : array-like of shape (n,), optional
    metric : {"euclidean", "cosine"}, optional
        Default: the graph's metric, else Euclidean. Cosine works on the L2-normalised rows.
    k : int, default=10
        Neighbours for the mean kNN purity.
    n_clusters : int, optional
        K for ``top_share`` / ``gap_ratio``; default: the number of classes, else 2.
    graph : NeighborGraph, optional
        The shared kNN graph of ``X`` (at least k neighbours) for Thornton and purity.
    max_points : int, default=4000
        The barcode needs all pairwise distances (O(n^2) memory): above this many distinct
        points it uses a seeded subsample of them, and so does the silhouette.
    seed : int, default=0

    Returns
    -------
    Separability
        Barcode scores always; ``thornton``, ``knn_purity``, ``fisher_ratio`` and
        ``silhouette`` only with labels (None otherwise). ``gap_ratio`` is inf when there are
        fewer than K bars or the K-th is 0; ``top_share`` / ``gap_ratio`` are NaN when every
        bar is 0 (or no point is used).

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 2 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``metric`` not "euclidean" / "cosine", or different
        from the graph's; ``n_clusters`` < 2; with labels: ``len(labels) != n``, fewer than 2
        classes among the labelled rows, ``k`` outside ``1 <= k < n`` (no graph) or an
        unusable ``graph`` (other row count, fewer than k neighbours, invalid indices).
    ValueError, TypeError
        From ``int(k)`` / ``int(n_clusters)`` for non-numbers (a fractional value is
        truncated silently); from :meth:`numpy.random.Generator.choice` for a negative
        ``max_points`` (not checked; 0 gives an empty barcode); from :func:`encode_labels`.

    Notes
    -----
    Conventions: Euclidean by default (the graph's metric when one is given), while
    :func:`hubness` and :func:`core.neighbors.knn_graph` default to cosine; cosine works on
    unit rows, so the barcode, Fisher ratio and silhouette are then in chordal units
    (``sqrt(2 (1 - cos))``; the silhouette itself uses ``1 - cos``). ``fisher_ratio`` is
    between over within, sample-weighted (large = separated), the reverse orientation of
    :attr:`NeuralCollapse.trace_ratio` (within over between, unweighted): reciprocal for
    equal class sizes under the Euclidean metric only.

    The 0-dimensional persistence of the Vietoris-Rips filtration has one bar per point
    born at 0 and dying at the length of a Euclidean minimum-spanning-tree edge (scipy).
    k tight, far-apart clusters give k - 1 long bars and short ones; the share of total
    persistence in the top K - 1 bars rises to 1 as classes separate. Duplicates die at 0
    and are left out (counted in ``params["n_duplicates"]``). Fisher ratio:
    ``tr(S_B) / tr(S_W)`` with ``S_B = sum_k n_k (mu_k - mu)(mu_k - mu)^T / n`` and
    ``S_W = sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T / n`` (equals scikit-learn's
    Calinski-Harabasz score times (K - 1) / (n - K)).
    Cost: O(m^2 d) time and O(m^2) memory for m = min(n, max_points) (barcode, silhouette),
    plus the graph and O(n d) for the label scores.

    References: "An Unsupervised Method for Estimating Class Separability of Datasets with
    Application to LLMs Fine-Tuning" (2023); Thornton, "Separability is a learner's best
    friend" (1998); Rousseeuw, "Silhouettes" (1987).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 0.1, (50, 5)), rng.normal(10, 0.1, (50, 5))])
    >>> s = separability(X, [0] * 50 + [1] * 50)
    >>> print(f"top share {s.top_share:.2f}, Thornton {s.thornton:.1f}")
    top share 0.62, Thornton 1.0
    """
    X = check_embeddings(X, name="X", min_rows=2)
    metric = _resolve_metric(metric, graph, "euclidean")
    info = _distinct(X, metric)
    reps = info.reps
    rng = np.random.default_rng(seed)
    sample = subsample(reps, max_points, seed=seed, rng=rng)
    subsampled, used = sample.sampled, sample.rows
    m = len(used)  # pairwise distances: condensed for the barcode; full (and temporaries) for the silhouette
    require_memory(matrix_bytes(m, copies=3 if labels is not None else 1),
                   what=f"the H0 barcode{' and silhouette' if labels is not None else ''} on {m:,} points "
                        f"({m:,} x {m:,} distances)",
                   avoid="use fewer points (max_points; the page's sample size)")
    scale = _scale(X, metric)
    bars = _mst_bars(metric_rows(X[used], metric, scale=scale)) * scale  # back in the data's units
    total = bars.sum()
    params: dict = {"metric": metric, "n_used": len(used), "subsampled": subsampled,
                    "n_duplicates": info.n_duplicates, "n_zero": info.n_zero, "max_points": max_points,
                    "seed": seed}
    codes = None
    if labels is not None:
        codes, classes, counts = _labelled(X, labels)
        K_default = int((counts > 0).sum())
    else:
        K_default = 2
    K = int(n_clusters) if n_clusters is not None else K_default
    if K < 2:
        check_param("n_clusters", n_clusters, Interval(Integral, 2, None, whole_floats=True))
    if total > 0 and len(bars) > 0:
        p = bars[bars > 0] / total
        pe = float(-(p * np.log(p)).sum())
        pe_norm = pe / np.log(len(bars)) if len(bars) > 1 else 0.0
        top = float(bars[: K - 1].sum() / total)
        gap = float(bars[K - 2] / bars[K - 1]) if len(bars) >= K and bars[K - 1] > 0 else float("inf")
    else:
        pe, pe_norm, top, gap = 0.0, 0.0, float("nan"), float("nan")
    result = dict(bars=bars, persistent_entropy=pe, persistent_entropy_normalized=pe_norm, n_clusters=K,
                  top_share=top, gap_ratio=gap)
    if codes is None:
        return Separability(**result, params=params)

    g = _graph_for(X, int(k), metric, graph, seed)
    lab = codes >= 0
    purity = _purity(g, codes, g.k)
    thornton = _purity(g, codes, 1)
    rows = np.flatnonzero(lab)
    mom = _class_moments(X, rows, codes[rows], len(classes), metric, gram=False, scale=scale)
    tr_B = float((mom.counts * ((mom.means - mom.mu_G) ** 2).sum(axis=1)).sum() / len(rows))
    tr_W = float(mom.ss.sum() / len(rows))
    sil_rows = subsample(np.flatnonzero(lab), max_points, seed=seed, rng=rng).rows
    ys = codes[sil_rows]
    # the silhouette labelled with a metric uses that metric: cosine distance 1 - cos (from
    # core._numerics.cosine_distances: exact for near-duplicates, any scale), or Euclidean distance
    sil = (float(_silhouette(X[sil_rows], ys, metric, scale))
           if 2 <= len(np.unique(ys)) <= len(sil_rows) - 1 else float("nan"))
    params.update(k=g.k, graph=f"{g.method}, k={g.k}", n_unlabelled=int((~lab).sum()),
                  silhouette_points=len(sil_rows))
    return Separability(
        **result,
        thornton=float(np.nanmean(thornton[lab])),
        knn_purity=float(np.nanmean(purity[lab])),
        fisher_ratio=tr_B / tr_W if tr_W > 0 else float("inf"),
        silhouette=sil,
        params=params,
    )
