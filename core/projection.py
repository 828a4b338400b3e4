"""2-D / 3-D maps of an embedding: PCA, UMAP and t-SNE, seeded, with their quality.

- :func:`project` makes one map. PCA is scikit-learn's; UMAP is umap-learn's, fed the
  shared kNN graph (:func:`core.neighbors.knn_graph`) through ``precomputed_knn`` so the
  neighbour search is done once per view; t-SNE is openTSNE's (Barnes-Hut below 10,000 points,
  FFT interpolation above in 2-D), fed
  the same graph (chosen over scikit-learn's Barnes-Hut t-SNE on a measured benchmark:
  ``benchmarks/bench_projection.py``). The same seed gives the same coordinates, so a
  share link reopens the same map.
- :func:`project_cached` adds the on-disk cache (:mod:`core.cache`), keyed by the view's
  fingerprint, the method, every parameter and the library versions.
- The map's quality scores come from :func:`core.quality.map_quality`.

Alignment of several views is :mod:`core.alignment`; umap-learn's private internals (and
the version they were checked against) are :mod:`core._umap_compat`; the numba warm-up is
:mod:`core.warmup`. umap-learn and openTSNE are imported inside the functions that need
them: importing :mod:`core` stays fast.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ._memory import matrix_bytes, require_memory
from ._numerics import rescaled, row_norms
from ._validation import (
    EmbedLensInputError,
    Interval,
    StrOptions,
    check_embeddings,
    check_param,
    invalid_message,
)
from .cache import DiskCache, cache_key, library_versions
from .neighbors import NeighborGraph, knn_graph
from ._umap_compat import import_umap
from .quality import QUALITY_K, QUALITY_MIN_POINTS, QUALITY_SAMPLE, Trustworthiness, map_quality
from .spectra import SHIFT_RATIO as _SHIFT_RATIO
from .spectra import _data_eps, _degeneracy

__all__ = [
    "METHODS",
    "DEFAULTS",
    "Projection",
    "project",
    "project_cached",
    "projection_key",
    "load_projection",
    "save_projection",
    "graph_k",
]

_log = logging.getLogger(__name__)

METHODS = ("pca", "umap", "tsne")

DEFAULTS: Mapping[str, Mapping[str, object]] = MappingProxyType({
    "pca": MappingProxyType({"solver": "auto", "fit_rows": 50_000}),
    "umap": MappingProxyType({"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "n_epochs": None,
                              "parallel": False}),
    "tsne": MappingProxyType({"perplexity": 30.0, "metric": "cosine", "n_iter": 500,
                              "early_exaggeration_iter": 250}),
})
"""Every parameter each method accepts, with its default (``None``: resolved from n)."""

Progress = Callable[[float, str], None]
GraphSource = NeighborGraph | Callable[[int, str], NeighborGraph] | None


def _library_versions() -> MappingProxyType:
    """The map libraries' versions (:func:`core.cache.library_versions`, without EmbedLens's own:
    the map cache keys have always held these four)."""
    versions = library_versions("scikit-learn", "umap-learn", "openTSNE", "numpy")
    return MappingProxyType({k: v for k, v in versions.items() if k != "embedlens"})


@dataclass(frozen=True, eq=False)
class Projection:
    """A map of ``n`` items and how it was made.

    Attributes
    ----------
    coords : ndarray of shape (n, n_components), float32, read-only
    method : {"pca", "umap", "tsne"}
    n_components : int
    seed : int
    params : dict
        Every parameter actually used, "auto" resolved (solver, n_epochs, perplexity after
        clipping to n, the kNN graph's k / metric / method, library and version, alignment).
    seconds : float
        Wall time of the computation (when loaded from the cache: of the original run).
    trust : Trustworthiness or None
        Trustworthiness of the map (None for fewer than 8 points).
    preservation : ndarray of shape (n,), float32, or None
        Per point: the share of its ``preservation_k`` nearest neighbours in the embedding
        kept among its nearest in the map. Computed when a kNN graph was at hand (UMAP,
        t-SNE, or a graph passed to :func:`project`).
    preservation_k : int or None
    from_cache : bool
        Whether this came from the disk cache.
    """

    coords: np.ndarray
    method: str
    n_components: int
    seed: int
    params: Mapping = field(default_factory=dict)
    seconds: float = 0.0
    trust: Trustworthiness | None = None
    preservation: np.ndarray | None = None
    preservation_k: int | None = None
    from_cache: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        for a in (self.coords, self.preservation):
            if a is not None:
                a.flags.writeable = False

    @property
    def n(self) -> int:
        return int(self.coords.shape[0])

    @property
    def mean_preservation(self) -> float | None:
        return None if self.preservation is None else float(self.preservation.mean())

    @property
    def label(self) -> str:
        """``"UMAP (n_neighbors=15, min_dist=0.1, cosine, seed 0)"``: what the map is."""
        p = self.params
        if self.method == "pca":
            inner = f"{p.get('solver')}" + (f", axes fitted on {p['fit_rows']:,} sampled rows"
                                            if p.get("fit_sample", "all rows") != "all rows" else "")
        elif self.method == "umap":
            inner = f"n_neighbors={p.get('n_neighbors')}, min_dist={p.get('min_dist')}, {p.get('metric')}"
        else:
            inner = f"perplexity={p.get('perplexity'):g}, {p.get('metric')}"
        return f"{self.method.upper() if self.method != 'tsne' else 't-SNE'} ({inner}, seed {self.seed})"


# --------------------------------------------------------------------------- parameters


def _resolve_params(method: str, n: int, params: Mapping) -> dict:
    method = check_param("method", method, StrOptions(METHODS, order=METHODS))
    allowed = DEFAULTS[method]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise EmbedLensInputError(
            f"{method} does not take {unknown}; its parameters are {sorted(allowed)}"
        )
    p = {**allowed, **{k: v for k, v in params.items() if v is not None or allowed[k] is None}}
    if "metric" in p:
        p["metric"] = check_param("metric", p["metric"], StrOptions({"cosine", "euclidean"}))
    if method == "pca":
        p["solver"] = check_param("solver", p["solver"], StrOptions(
            ("auto", "full", "covariance_eigh", "randomized"), order=("auto", "full", "covariance_eigh", "randomized")))
        if p["fit_rows"] is not None:
            p["fit_rows"] = check_param("fit_rows", p["fit_rows"], Interval(Integral, 2, None, closed="left"),
                                        hint="or None to fit on every row")
    elif method == "umap":
        k = check_param("n_neighbors", p["n_neighbors"], Interval(Integral, 2, None, closed="left"))
        p["n_neighbors"] = int(min(k, n - 1))
        p["min_dist"] = check_param("min_dist", p["min_dist"], Interval(Real, 0, 1, closed="both"))
        if p["n_epochs"] is None:
            p["n_epochs"] = 500 if n <= 10_000 else 200  # umap-learn's own rule
        p["n_epochs"] = check_param("n_epochs", p["n_epochs"],
                                    Interval(Integral, 1, None, closed="left", whole_floats=True))
        if not isinstance(p["parallel"], (bool, np.bool_)):
            raise EmbedLensInputError(invalid_message("parallel", p["parallel"], expected="True or False"))
        p["parallel"] = bool(p["parallel"])
    else:
        perp = check_param("perplexity", p["perplexity"], Interval(Real, 0, None, closed="neither"))
        p["perplexity"] = float(min(perp, (n - 1) / 3.0))
        for key in ("n_iter", "early_exaggeration_iter"):
            if int(p[key]) < 0:
                raise EmbedLensInputError(f"{key}={p[key]} must be >= 0")
            p[key] = int(p[key])
    return p


def graph_k(method: str, n: int, **params) -> int:
    """The k of the kNN graph ``method`` needs on ``n`` points (0 for PCA).

    UMAP uses ``n_neighbors - 1`` neighbours besides each point itself; t-SNE uses
    ``3 * perplexity`` (openTSNE's rule); both at least :data:`QUALITY_K` for the quality.

    Parameters
    ----------
    method : {"pca", "umap", "tsne"}
    n : int
        Number of points.
    **params
        The method's parameters (:data:`DEFAULTS`), as given to :func:`project`.

    Returns
    -------
    int
        Between 0 and ``n - 1``.

    Raises
    ------
    EmbedLensInputError
        An unknown method, an unknown parameter or a value out of range.
    """
    p = _resolve_params(method, n, params)
    if method == "pca":
        return 0
    need = p["n_neighbors"] - 1 if method == "umap" else int(np.ceil(3 * p["perplexity"]))
    return int(min(n - 1, max(need, QUALITY_K)))


def _get_graph(X: np.ndarray, source: GraphSource, k: int, metric: str, seed: int) -> NeighborGraph:
    if source is None:
        return knn_graph(X, k=k, metric=metric, seed=seed)
    graph = source(k, metric) if callable(source) and not isinstance(source, NeighborGraph) else source
    if not isinstance(graph, NeighborGraph):
        raise EmbedLensInputError(f"graph must be a NeighborGraph; got {type(graph).__name__}")
    graph.check(X.shape[0], metric=metric, k=k)
    return graph


# --------------------------------------------------------------------------- methods

class _TqdmProgress:
    """A file for tqdm (``bar_format="{n}/{total}"``) that forwards the epoch count to ``progress``."""

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress, lo: float, hi: float, label: str) -> None:
        self.progress, self.lo, self.hi, self.label = progress, lo, hi, label

    def write(self, text: str) -> None:
        m = self._pattern.search(text)
        if m and int(m.group(2)):
            done, total = int(m.group(1)), int(m.group(2))
            self.progress(self.lo + (self.hi - self.lo) * done / total, f"{self.label}: epoch {done}/{total}")

    def flush(self) -> None:
        pass


def _tqdm_kwds(progress: Progress | None, lo: float, hi: float, label: str) -> dict:
    if progress is None:
        return {"disable": True}
    return {"disable": False, "file": _TqdmProgress(progress, lo, hi, label), "bar_format": "{n}/{total}",
            "mininterval": 0.25}


def _pca(X: np.ndarray, n_components: int, seed: int, p: dict) -> tuple[np.ndarray, dict]:
    """scikit-learn's PCA on rows centred (in float64) and rescaled (by a power of two) first.

    scikit-learn centres in the data's dtype: float32 rows ``200 + noise`` lose most of their
    spread before the covariance is formed (a map 44% of its range off at 3,000 x 32). The
    mean is taken here in float64 and subtracted before the fit; the data are divided by
    ``pow2_scale`` so that float32 squares neither overflow nor underflow. A zero total variance
    (relative to the data's scale) is declared: coordinates 0, ratios NaN, ``params["message"]``.
    """
    from sklearn.decomposition import PCA

    n, d = X.shape
    fit_rows = p["fit_rows"]
    sampled = fit_rows is not None and n > fit_rows
    F = X[np.sort(np.random.default_rng(seed).choice(n, size=int(fit_rows), replace=False))] if sampled else X
    solver = p["solver"]
    if solver == "auto":
        solver = "covariance_eigh" if F.shape[0] >= 10 * d else "full"
    k = min(n_components, F.shape[0], d)
    m = F.shape[0]
    mean = np.mean(F, axis=0, dtype=np.float64)
    Fc, scale = rescaled(F - mean.astype(F.dtype))  # a new array: scikit-learn need not copy it again
    sq = row_norms(Fc) ** 2  # float64, in units of ``scale``
    total = float(sq.sum()) / max(m - 1, 1)
    mean_sq = float(sq.mean()) + float(mean @ mean) / scale**2
    eps = _data_eps(X, "float64")
    status = _degeneracy(np.array([total]), mean_sq, d, d, eps, True)
    params = {"solver": solver, "requested_solver": p["solver"], "library": "scikit-learn",
              "fit_rows": int(F.shape[0]), "fit_sample": f"uniform, seed {seed}" if sampled else "all rows",
              "centring": "float64 mean subtracted before the fit"}
    Y = np.zeros((n, n_components), dtype=np.float64)
    if status["degenerate"]:
        params.update(explained_variance_ratio=[float("nan")] * k, degenerate=True, message=status["message"])
        return Y, params
    pca = PCA(n_components=k, svd_solver=solver, copy=False,
              random_state=seed if solver == "randomized" else None).fit(Fc)
    W = pca.components_.T.astype(X.dtype)
    mu = mean + pca.mean_ * scale
    offset = mu @ pca.components_.T
    if X.dtype.itemsize <= 4 and float(mu @ mu) / scale**2 > _SHIFT_RATIO * total:
        # a mean that dwarfs the spread: float32 products of the raw rows would lose it, so
        # centre each block first (float32 rows minus the float32 mean: exact up to its rounding)
        mu32 = mu.astype(X.dtype)
        for start in range(0, n, 65_536):
            block = X[start:start + 65_536]
            Y[start:start + len(block), :k] = (block - mu32) @ W
        Y[:, :k] -= (mu - mu32.astype(np.float64)) @ pca.components_.T
        params["centring"] += "; rows centred block by block before projecting (large mean)"
    else:
        # x W - mean W: one pass over X and no centred copy (4x faster than (x - mean) W at 1M x 384);
        # float32 products, the mean's offset removed in float64
        Y[:, :k] = X @ W
        Y[:, :k] -= offset
    params.update(explained_variance_ratio=[float(v) for v in pca.explained_variance_ratio_], degenerate=False,
                  message=None)
    return Y, params


def _umap(X, n_components, seed, p, graph: NeighborGraph, progress) -> tuple[np.ndarray, dict]:
    import warnings

    umap = import_umap()
    idx, dist = graph.umap_knn(p["n_neighbors"])
    if progress:
        progress(0.05, "UMAP: fuzzy graph and spectral initialisation")
    with warnings.catch_warnings():
        # seeded runs are single-threaded by design; no search index is needed (no transform)
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        reducer = umap.UMAP(
            n_components=n_components,
            n_neighbors=p["n_neighbors"],
            min_dist=p["min_dist"],
            metric=p["metric"],
            n_epochs=p["n_epochs"],
            random_state=None if p["parallel"] else seed,
            n_jobs=-1 if p["parallel"] else 1,
            precomputed_knn=(idx, dist),
            force_approximation_algorithm=True,  # use the graph even below 4,096 points
            tqdm_kwds=_tqdm_kwds(progress, 0.1, 1.0, "UMAP"),
        )
        Y = reducer.fit_transform(X)
    return Y, {"library": "umap-learn", "init": "spectral", "reproducible": not p["parallel"]}


def _tsne(X, n_components, seed, p, graph: NeighborGraph, progress) -> tuple[np.ndarray, dict]:
    import os

    import openTSNE
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = X.shape[0]
    # half the cores: measured on 2 busy cores, 2 threads were 4x slower than 1 (spin-waiting)
    n_jobs = max(1, min(8, (os.cpu_count() or 2) // 2))
    k = min(graph.k, int(np.ceil(3 * p["perplexity"])))
    knn = PrecomputedNeighbors(np.ascontiguousarray(graph.indices[:, :k]),
                               np.ascontiguousarray(graph.distances[:, :k], dtype=np.float64))
    affinities = PerplexityBasedNN(knn_index=knn, perplexity=p["perplexity"], n_jobs=n_jobs,
                                   random_state=seed)
    total = max(1, p["early_exaggeration_iter"] + p["n_iter"])
    state = {"phase": 0}

    def callback(iteration, error, embedding):
        done = iteration + (p["early_exaggeration_iter"] if state["phase"] else 0)
        if iteration >= (p["n_iter"] if state["phase"] else p["early_exaggeration_iter"]):
            state["phase"] = 1
        if progress:
            progress(0.05 + 0.95 * min(done, total) / total, f"t-SNE: iteration {min(done, total)}/{total}")
        return False

    # openTSNE's own rule: Barnes-Hut below 10,000 points (faster there), FFT above; FFT is 2-D only
    gradient = "fft" if n >= 10_000 and n_components <= 2 else "bh"
    tsne = openTSNE.TSNE(
        n_components=n_components,
        perplexity=p["perplexity"],
        metric=p["metric"],
        n_iter=p["n_iter"],
        early_exaggeration_iter=p["early_exaggeration_iter"],
        negative_gradient_method=gradient,
        initialization="pca",
        n_jobs=n_jobs,
        random_state=seed,
        callbacks=callback if progress else None,
        callbacks_every_iters=10,
    )
    if progress:
        progress(0.02, "t-SNE: affinities from the kNN graph")
    Y = np.asarray(tsne.fit(X, affinities=affinities, initialization="pca"))
    return Y, {"library": "openTSNE", "init": "pca", "k_neighbors": k, "n_jobs": n_jobs,
               "gradient": "FFT interpolation" if gradient == "fft" else "Barnes-Hut"}


def project(
    X,
    /,
    *,
    method: str = "pca",
    n_components: int = 2,
    seed: int = 0,
    graph: GraphSource = None,
    progress: Progress | None = None,
    quality: bool = True,
    **params,
) -> Projection:
    """Map the rows of ``X`` to ``n_components`` dimensions.

    Parameters
    ----------
    X : array-like of shape (n, d)
    method : {"pca", "umap", "tsne"}, default="pca"
        - ``"pca"``: scikit-learn ``PCA``; ``solver="auto"`` resolves to ``covariance_eigh``
          (n >= 10 d) or ``full``; ``fit_rows`` (50,000): above this many rows the axes are
          fitted on a seeded uniform sample of that size and every row is projected onto them
          (the PCA of 1M x 384 in about a second instead of 15; recorded in ``params``;
          None fits on every row).
        - ``"umap"``: umap-learn, parameters ``n_neighbors`` (15), ``min_dist`` (0.1),
          ``metric`` ("cosine"), ``n_epochs`` (None: 500 up to 10k points, else 200),
          ``parallel`` (False). umap-learn lays a seeded map out on one thread (its parallel
          SGD updates race, so they cannot be reproduced); ``parallel=True`` uses every core
          and ignores the seed: 1.3-1.7x faster on 2 cores (10k-100k points), more on more, but a
          recomputation gives another map (``params["reproducible"]`` says which).
        - ``"tsne"``: openTSNE, Barnes-Hut gradients below 10,000 points and in 3-D, FFT
          interpolation from 10,000 points in 2-D (openTSNE's own rule), PCA
          initialisation, parameters ``perplexity`` (30, clipped to (n - 1) / 3),
          ``metric``, ``n_iter`` (500), ``early_exaggeration_iter`` (250).
    n_components : {2, 3}, default=2
    seed : int, default=0
        Seeds every random choice: the same seed gives the same coordinates.
    graph : NeighborGraph, callable or None
        The shared kNN graph (UMAP and t-SNE need one, of at least :func:`graph_k` neighbours,
        in the method's metric); a callable ``(k, metric) -> NeighborGraph`` to build or fetch
        it only when needed; None: build one with :func:`core.neighbors.knn_graph`.
    progress : callable ``(fraction, message)``, optional
        Called as the work advances (UMAP per epoch, t-SNE every 10 iterations).
    quality : bool, default=True
        Score the map: trustworthiness (sampled above 2,000 points) and, when a graph is at
        hand, per-point kNN preservation (k = 15).
    **params
        The method's parameters, listed in :data:`DEFAULTS`.

    Returns
    -------
    Projection

    Raises
    ------
    EmbedLensInputError
        ``X`` not a finite numeric (n, d) array of at least 3 rows (``check_embeddings``);
        ``n_components`` not 2 or 3; a negative or non-integer seed; an unknown method or
        parameter, or a value out of range; UMAP / t-SNE on fewer than 5 points; a ``graph``
        that is not a NeighborGraph or does not fit ``X`` (rows, metric, k).

    Notes
    -----
    Costs: PCA O(m d^2 + d^3 + n d) with m = min(n, fit_rows) (covariance solver); UMAP
    O(n k) per epoch once the graph exists; Barnes-Hut t-SNE O(n log n), FFT t-SNE O(n) per
    iteration. References: McInnes, Healy & Melville 2018
    (UMAP); van der Maaten & Hinton 2008 (t-SNE); Linderman et al. 2019 (FFT-accelerated
    interpolation); Policar, Strazar & Zupan 2024 (openTSNE).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((200, 10)) * np.arange(1, 11)
    >>> p = project(X, method="pca")
    >>> p.coords.shape, p.params["solver"], round(p.params["explained_variance_ratio"][0], 3)
    ((200, 2), 'covariance_eigh', 0.265)
    """
    X = check_embeddings(X, name="X", min_rows=3)
    n = X.shape[0]
    n_components = check_param("n_components", n_components, Interval(Integral, 2, 3, closed="both"),
                               hint="maps have 2 or 3 dimensions")
    seed = check_param("seed", seed, Interval(Integral, 0, None, closed="left"))
    p = _resolve_params(method, n, params)
    if method != "pca" and n < 5:
        raise EmbedLensInputError(f"{method} needs at least 5 points; X has {n}")
    start = time.perf_counter()
    used_graph = None
    if method == "pca":
        fit = n if p["fit_rows"] is None else min(n, int(p["fit_rows"]))  # centred float64 copies, SVD / covariance
        require_memory(matrix_bytes(fit, X.shape[1], copies=4) + matrix_bytes(X.shape[1], copies=3)
                       + matrix_bytes(n, n_components), what=f"the PCA map of {n:,} x {X.shape[1]:,} rows "
                       f"(axes fitted on {fit:,})", avoid="fit the axes on a sample (fit_rows)")
        Y, extra = _pca(X, n_components, seed, p)
        if graph is not None and quality:
            metric = "cosine" if callable(graph) else graph.metric
            used_graph = _get_graph(X, graph, min(QUALITY_K, n - 1), metric, seed)
    else:
        k = graph_k(method, n, **params)
        used_graph = _get_graph(X, graph, k, p["metric"], seed)
        if progress:
            progress(0.01, f"{'UMAP' if method == 'umap' else 't-SNE'}: kNN graph ready "
                           f"(k={used_graph.k}, {used_graph.method})")
        run = _umap if method == "umap" else _tsne
        Y, extra = run(X, n_components, seed, p, used_graph, progress)
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    seconds = time.perf_counter() - start
    params_used = {**p, **extra, "versions": dict(_library_versions())}
    if used_graph is not None:
        params_used["graph"] = {"k": used_graph.k, "metric": used_graph.metric, "method": used_graph.method}
    trust, pres, pres_k = None, None, None
    if quality:
        if progress and n >= QUALITY_MIN_POINTS:
            progress(0.99, "scoring the map's quality")
        metric = p.get("metric", used_graph.metric if used_graph is not None else "cosine")
        trust, pres, pres_k = map_quality(X, Y, metric=metric, graph=used_graph, seed=seed)
    if progress:
        progress(1.0, "done")
    return Projection(coords=Y, method=method, n_components=n_components, seed=seed, params=params_used,
                      seconds=seconds, trust=trust, preservation=pres, preservation_k=pres_k)


# --------------------------------------------------------------------------- cache


def projection_key(fingerprint: str, *, method: str, n_components: int, seed: int, n: int,
                   kind: str = "projection", **params) -> str:
    """The disk-cache key of a map: fingerprint, method, resolved parameters, library versions.

    Parameters
    ----------
    fingerprint : str
        Identifies the data (``View.fingerprint``, or a subset's).
    method, n_components, seed, **params
        As for :func:`project` (parameters resolved first, so defaults given or omitted give
        the same key).
    n : int
        Number of points (parameters such as perplexity are clipped to it).
    kind : str, default="projection"
        Separates entries of different kinds (e.g. ``"aligned-umap-0"``).

    Returns
    -------
    str
        A hex digest (:func:`core.cache.cache_key`), also covering the quality settings and
        the library versions.

    Raises
    ------
    EmbedLensInputError
        An unknown method or parameter, or a value out of range.
    """
    p = _resolve_params(method, n, params)
    return cache_key(kind=kind, fingerprint=fingerprint, method=method, n_components=int(n_components),
                     seed=int(seed), params=p, versions=_library_versions(), quality_k=QUALITY_K,
                     quality_sample=QUALITY_SAMPLE)


def save_projection(cache: DiskCache, key: str, p: Projection) -> None:
    """Store ``p`` under ``key`` (coordinates, per-point preservation, parameters, quality).

    Parameters
    ----------
    cache : DiskCache
    key : str
        From :func:`projection_key`.
    p : Projection

    Returns
    -------
    None

    Raises
    ------
    OSError
        The cache folder cannot be written (read-only, full disk).
    """
    arrays = {"coords": p.coords}
    if p.preservation is not None:
        arrays["preservation"] = p.preservation
    meta = {"method": p.method, "n_components": p.n_components, "seed": p.seed, "params": dict(p.params),
            "seconds": p.seconds, "preservation_k": p.preservation_k,
            "trust": None if p.trust is None else dict(p.trust.__dict__)}
    cache.save(key, arrays, meta)


def load_projection(cache: DiskCache, key: str) -> Projection | None:
    """The projection stored under ``key``, or None (absent, or corrupt and now deleted).

    Parameters
    ----------
    cache : DiskCache
    key : str
        From :func:`projection_key`.

    Returns
    -------
    Projection or None
        With ``from_cache=True``; None when absent, unreadable or of another layout (such an
        entry is discarded, so the caller recomputes).

    Raises
    ------
    Nothing
        Read failures mean "recompute" (:meth:`core.cache.DiskCache.load`).
    """
    entry = cache.load(key)
    if entry is None:
        return None
    meta, arrays = entry.meta, entry.arrays
    try:
        trust = meta.get("trust")
        return Projection(
            coords=arrays["coords"], method=meta["method"], n_components=meta["n_components"],
            seed=meta["seed"], params=meta["params"], seconds=meta["seconds"],
            trust=None if trust is None else Trustworthiness(**trust),
            preservation=arrays.get("preservation"), preservation_k=meta.get("preservation_k"),
            from_cache=True,
        )
    except (KeyError, TypeError):  # written by another layout: recompute
        cache.discard(key, "unexpected manifest layout")
        return None


def project_cached(
    X,
    /,
    *,
    fingerprint: str,
    cache: DiskCache | None = None,
    method: str = "pca",
    n_components: int = 2,
    seed: int = 0,
    graph: GraphSource = None,
    progress: Progress | None = None,
    **params,
) -> Projection:
    """:func:`project`, read from / written to the disk cache (``cache=None``: the default folder).

    ``fingerprint`` must identify ``X``'s content (``View.fingerprint``); a corrupt entry is
    deleted and recomputed. The result's ``from_cache`` says which happened. A map that cannot
    be stored (read-only or full disk) is returned all the same and the failure logged.

    Parameters
    ----------
    X : array-like of shape (n, d)
    fingerprint : str
        Identifies ``X``'s content.
    cache : DiskCache, optional
        Default: ``DiskCache()`` (the default folder).
    method, n_components, seed, graph, progress, **params
        As for :func:`project`.

    Returns
    -------
    Projection

    Raises
    ------
    EmbedLensInputError
        As :func:`project`.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from core.cache import DiskCache
    >>> X = np.random.default_rng(0).standard_normal((50, 4))
    >>> c = DiskCache(tempfile.mkdtemp())
    >>> a = project_cached(X, fingerprint="demo", cache=c)
    >>> b = project_cached(X, fingerprint="demo", cache=c)
    >>> a.from_cache, b.from_cache, bool((a.coords == b.coords).all())
    (False, True, True)
    """
    X = check_embeddings(X, name="X", min_rows=3)
    cache = cache if cache is not None else DiskCache()
    key = projection_key(fingerprint, method=method, n_components=n_components, seed=seed, n=X.shape[0],
                         **params)
    found = load_projection(cache, key)
    if found is not None:
        return found
    result = project(X, method=method, n_components=n_components, seed=seed, graph=graph, progress=progress,
                     **params)
    try:
        save_projection(cache, key, result)
    except OSError as exc:  # a read-only or full disk costs speed, not the map
        _log.warning("map not stored in the cache at %s (%s); it will be recomputed next time",
                     cache.folder, exc)
    return result
