"""The only module with Streamlit cache decorators: loading datasets and cached core calls.

Datasets are shared by every session through ``st.cache_resource`` (their arrays are
read-only), keyed by path plus a stamp of the files' sizes and modification times, so an
edited file is read again. Metrics are cached per view fingerprint with ``st.cache_data``;
the arrays themselves are left out of the key (``_X``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from pathlib import Path

import numpy as np
import streamlit as st

import core
from core import CatalogEntry, Dataset, View, ViewHealth
from core.alignment import align_projections, procrustes_align
from core.cache import DiskCache, cache_key, metric_key
from core.catalog import remove_upload as remove_upload_in
from core.neighbors import EXACT_MAX_N
from core.projection import Projection, load_projection, project_cached, projection_key, save_projection
from core.quality import QUALITY_K, QUALITY_SAMPLE, Trustworthiness, knn_preservation, trustworthiness
from core.selection import GroupComparison, GroupDiversity, compare_groups, group_diversity, item_neighbors
from core.tables import image_columns
from core.warmup import warm_up
from dashboard.figures.projection import hover_texts
from dashboard.jobs import Job, JobRegistry

__all__ = ["data_dir", "catalog", "load_dataset", "view_health", "files_stamp"]
# --- geometry ---
__all__ += ["knn", "intrinsic_dimension", "id_scale_curves", "local_intrinsic_dimension", "hubness",
            "neural_collapse", "separability", "knn_purity"]


def data_dir() -> Path:
    """The data folder of this server (``embedlens DATA_DIR`` / ``EMBEDLENS_DATA``)."""
    return core.default_data_dir()


@st.cache_data(ttl=10, max_entries=4, show_spinner=False)
def catalog(folder: str) -> list[CatalogEntry]:
    """The datasets in ``folder`` (re-listed at most every 10 s, or on upload).

    Parameters
    ----------
    folder : str
        The data folder.

    Returns
    -------
    list of CatalogEntry

    Raises
    ------
    EmbedLensInputError
        From :func:`core.list_datasets`: the folder does not exist (not cached).
    OSError
        From listing an unreadable folder.
    """
    return core.list_datasets(folder)


def save_upload(files) -> CatalogEntry:
    """Store and check an upload (:func:`core.save_upload`; a refused one is not kept), then list it.

    Parameters
    ----------
    files : iterable of (str, bytes)
        Uploaded file names and contents.

    Returns
    -------
    CatalogEntry

    Raises
    ------
    EmbedLensInputError
        From :func:`core.save_upload` (unknown extension, empty file, an upload that does not
        load, ...); nothing is kept then.
    OSError
        From writing the uploads folder.
    """
    entry = core.save_upload(files, data_dir())
    catalog.clear()
    return entry


def remove_upload(name: str) -> Path:
    """Delete the upload ``name`` (:func:`core.catalog.remove_upload`, only inside the uploads folder).

    Parameters
    ----------
    name : str
        ``uploads/<folder>``.

    Returns
    -------
    pathlib.Path
        What was deleted.

    Raises
    ------
    EmbedLensInputError
        From :func:`core.catalog.remove_upload`: not a listed upload, or not a plain entry of the
        uploads folder. The catalog is re-listed either way.
    OSError
        From deleting.
    """
    try:
        return remove_upload_in(name, data_dir())
    finally:
        catalog.clear()


def files_stamp(path: Path) -> tuple:
    """(relative path, size, mtime_ns) of every file under ``path``: changes when a file does.

    Parameters
    ----------
    path : path-like
        A file or a folder (walked recursively, hidden files included).

    Returns
    -------
    tuple of (str, int, int)
        Sorted (relative path, size in bytes, mtime in ns).

    Raises
    ------
    OSError
        When ``path`` does not exist (:class:`FileNotFoundError` from ``stat``) or a file vanishes
        during the walk; an unreadable sub-folder is skipped by :func:`os.walk`.
    """
    path = Path(path)
    if path.is_file():
        st_ = path.stat()
        return ((path.name, st_.st_size, st_.st_mtime_ns),)
    out = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            st_ = p.stat()
            out.append((str(p.relative_to(path)), st_.st_size, st_.st_mtime_ns))
    return tuple(sorted(out))


@st.cache_resource(max_entries=6, show_spinner=False)
def _load(path: str, name: str, nonfinite: str, stamp: tuple) -> Dataset:
    return core.load(path, name=name, nonfinite=nonfinite)


def load_dataset(entry: CatalogEntry, *, drop_nonfinite: bool = False) -> Dataset:
    """Load a catalog entry once per content; raises ``EmbedLensInputError`` on bad input.

    Parameters
    ----------
    entry : CatalogEntry
    drop_nonfinite : bool, default=False
        Leave out rows holding NaN / inf (``nonfinite="drop"``) instead of refusing them.

    Returns
    -------
    Dataset
        Shared by every session (``st.cache_resource``), keyed by path, name, the NaN rule and
        :func:`files_stamp`.

    Raises
    ------
    EmbedLensInputError
        From :func:`core.load`, for any unusable file.
    NonFiniteRowsError
        Rows holding NaN / inf, unless ``drop_nonfinite``.
    OSError
        From :func:`files_stamp`, when the dataset's files vanish.
    """
    with st.spinner(f"Loading {entry.name} ..."):
        return _load(
            str(entry.path), entry.name, "drop" if drop_nonfinite else "error", files_stamp(entry.path)
        )


@st.cache_data(max_entries=64, show_spinner="Checking the view's health ...")
def view_health(fingerprint: str, _X) -> ViewHealth:
    """:func:`core.health_report`, cached per view fingerprint.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).

    Returns
    -------
    ViewHealth

    Raises
    ------
    EmbedLensInputError
        From :func:`core.health_report`: ``_X`` not 2-D. An exception is not cached: the next script run computes again.
    """
    return core.health_report(_X)


# --- spectra ---
# Keys: the view fingerprint(s) plus every parameter; labels are keyed by the dataset
# fingerprint and column name (``labels_key``), since the same matrix may carry other metadata.


@st.cache_data(max_entries=64, show_spinner=False)
def spectral_profile(fingerprint: str, _X, *, kernel: str, q: float, eps2: float, max_n: int) -> core.SpectralProfile:
    """:func:`core.spectral_profile` (covariance + kernel spectra and every summary), cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    kernel, q, eps2, max_n
        As :func:`core.spectral_profile` (part of the key).

    Returns
    -------
    core.SpectralProfile

    Raises
    ------
    EmbedLensInputError
        As :func:`core.spectral_profile` (bad kernel / q / eps2, NaN / inf rows, every row zero).
        An exception is not cached: the next script run computes again.
    """
    return core.spectral_profile(_X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def diffusion_entropy(fingerprint: str, _X, *, sigma: float | str, t: int, max_n: int) -> core.DiffusionEntropy:
    """:func:`core.diffusion_spectral_entropy`, cached per view and parameters.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    sigma, t, max_n
        As :func:`core.diffusion_spectral_entropy` (part of the key).

    Returns
    -------
    core.DiffusionEntropy

    Raises
    ------
    EmbedLensInputError
        As :func:`core.diffusion_spectral_entropy`. An exception is not cached: the next script run computes again.
    """
    return core.diffusion_spectral_entropy(_X, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def diffusion_mutual_info(fingerprint: str, labels_key: str, _X, _labels, *, sigma: float | str, t: int,
                          max_n: int) -> core.DiffusionMutualInfo:
    """:func:`core.diffusion_spectral_mutual_info` with a metadata column, cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    sigma, t, max_n
        As :func:`core.diffusion_spectral_mutual_info`.

    Returns
    -------
    core.DiffusionMutualInfo

    Raises
    ------
    EmbedLensInputError
        As :func:`core.diffusion_spectral_mutual_info` (labels of the wrong length, fewer than 2
        labelled rows, ...). An exception is not cached: the next script run computes again.
    """
    return core.diffusion_spectral_mutual_info(_X, _labels, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def class_diversity(fingerprint: str, labels_key: str, _X, _labels, *, kernel: str, q: float, eps2: float,
                    max_n: int):
    """:func:`core.class_diversity` (Vendi and coding rate of each class), cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    kernel, q, eps2, max_n
        As :func:`core.class_diversity`.

    Returns
    -------
    pandas.DataFrame
        One row per class.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.class_diversity`. An exception is not cached: the next script run computes again.
    """
    return core.class_diversity(_X, _labels, q=q, kernel=kernel, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def rate_reduction(fingerprint: str, labels_key: str, _X, _labels, *, eps2: float) -> core.RateReduction:
    """:func:`core.rate_reduction`, cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    eps2 : float

    Returns
    -------
    core.RateReduction

    Raises
    ------
    EmbedLensInputError
        As :func:`core.rate_reduction` (every label missing, every labelled row zero, ...).
        An exception is not cached: the next script run computes again.
    """
    return core.rate_reduction(_X, _labels, eps2=eps2)


@st.cache_data(max_entries=16, show_spinner=False)
def schur_entropy(fingerprint: str, pair_fingerprint: str, _X, _Y, *, kernel: str, n_features: int, q: float):
    """SCE of view X given view Y, the defocused X (read-only) and the Vendi (cosine, q) of X
    before and after defocusing; cached per both fingerprints and the parameters.

    Parameters
    ----------
    fingerprint, pair_fingerprint : str
        Content hashes of ``_X`` and ``_Y`` (the key).
    _X, _Y : ndarray of shape (n, d_x), (n, d_y)
        The measured view and the conditioning view, row-aligned; left out of the key.
    kernel, n_features
        As :func:`core.schur_complement_entropy` (regularisation "auto").
    q : float
        Order of the two Vendi scores.

    Returns
    -------
    (SchurComplementEntropy, ndarray, VendiScore, VendiScore)
        SCE, the defocused ``_X`` (read-only), Vendi of ``_X`` and of the defocused rows.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.schur_complement_entropy` / :func:`core.defocus` / :func:`core.vendi_score`
        (views of different lengths, every pair zero, a bad q). An exception is not cached: the next script run computes again.
    """
    sce = core.schur_complement_entropy(_X, _Y, kernel=kernel, n_features=n_features)
    cleaned = core.defocus(_X, _Y, sce=sce)
    cleaned.flags.writeable = False
    return sce, cleaned, core.vendi_score(_X, q=q), core.vendi_score(cleaned, q=q)


@st.cache_data(max_entries=8, show_spinner=False)
def npy_bytes(key: str, _array) -> bytes:
    """``_array`` as the bytes of a ``.npy`` file (for a download button), cached per ``key``.

    Parameters
    ----------
    key : str
        Identifies ``_array`` in the cache.
    _array : array-like
        Numeric; left out of the key.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        From :func:`numpy.save` with ``allow_pickle=False`` for an object array.
    """
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(_array), allow_pickle=False)
    return buf.getvalue()


def view_metric(name: str, view, *, labels=None, labels_key: str = "", kernel: str, q: float, eps2: float,
                sigma: float | str, t: int, max_n: int) -> float:
    """One named spectral metric of one view through the cached wrappers above (trajectories).

    Parameters
    ----------
    name : str
        ``"dse"``, ``"dsmi"``, ``"rate_reduction"`` or a key of
        :meth:`core.SpectralProfile.values`.
    view : View
    labels, labels_key
        For the label metrics.
    kernel, q, eps2, sigma, t, max_n
        Passed to the wrapper concerned.

    Returns
    -------
    float

    Raises
    ------
    KeyError
        A ``name`` that is none of the above.
    EmbedLensInputError
        From the wrapper called (see :func:`spectral_profile` and the others).
    """
    if name == "dse":
        return diffusion_entropy(view.fingerprint, view.X, sigma=sigma, t=t, max_n=max_n).value
    if name == "dsmi":
        return diffusion_mutual_info(view.fingerprint, labels_key, view.X, labels, sigma=sigma, t=t,
                                     max_n=max_n).value
    if name == "rate_reduction":
        return rate_reduction(view.fingerprint, labels_key, view.X, labels, eps2=eps2).delta_r
    profile = spectral_profile(view.fingerprint, view.X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)
    return profile.values()[name]


# --- trajectories ---
# DSE and DSMI build an n x n kernel per view (seconds each): over training they are computed
# in a background job, one view after another, each value kept in the disk cache (namespace
# "metrics", keyed by view fingerprint + metric + parameters + library versions), so the page
# draws at once -- a cheap covariance metric, and the values found so far -- and a second
# session or server reads them back instead of computing them again.

EXPENSIVE_METRICS = ("dse", "dsmi")
"""Trajectory metrics computed in a background job and cached on disk."""

CHEAP_METRIC = "effective_rank"
"""The covariance metric drawn at once while an expensive trajectory is computed."""


def metric_cache() -> DiskCache:
    """The metric-value cache folder (``EMBEDLENS_CACHE`` / ``$XDG_CACHE_HOME/embedlens``, ``metrics/``)."""
    return DiskCache(namespace="metrics")


@st.cache_resource(show_spinner=False)
def metric_jobs() -> JobRegistry:
    """The server's one registry of background metric trajectories (apart from the maps' worker)."""
    return JobRegistry(workers=1)


def _expensive_params(name: str, *, labels_key: str, sigma: float | str, t: int, max_n: int) -> dict:
    params = {"sigma": sigma if isinstance(sigma, str) else float(sigma), "t": int(t), "max_n": int(max_n),
              "seed": 0}
    if name == "dsmi":
        params["labels"] = labels_key
    return params


def _expensive_value(name: str, X, labels, params: dict) -> float:
    kw = dict(sigma=params["sigma"], t=params["t"], max_n=params["max_n"], seed=params["seed"])
    if name == "dse":
        return float(core.diffusion_spectral_entropy(X, **kw).value)
    if name == "dsmi":
        return float(core.diffusion_spectral_mutual_info(X, labels, **kw).value)
    raise ValueError(f"{name!r} is not one of {EXPENSIVE_METRICS}")


def trajectory_values(name: str, views: list[View], *, labels=None, labels_key: str = "", sigma: float | str,
                      t: int, max_n: int, owner: str, label: str = "") -> tuple[dict[str, float], Job | None]:
    """Values of the expensive metric ``name`` (DSE or DSMI) per view name, and the job computing the rest.

    Returns what is known now -- computed by this server's job so far, or read from the disk
    cache -- and the background :class:`Job` computing the missing views (None when every view
    has its value). Each value is saved to :func:`metric_cache` as soon as it is computed.
    """
    cache = metric_cache()
    params = _expensive_params(name, labels_key=labels_key, sigma=sigma, t=t, max_n=max_n)
    keys = {v.name: metric_key(v.fingerprint, name, params) for v in views}
    job_key = cache_key(kind="trajectory", metric=name, keys=sorted(keys.values()))
    job = metric_jobs().get(job_key)
    values = {k: v for k, v in (job.partial if job is not None else {}).items() if k in keys}
    for v in views:
        if v.name not in values:
            found = cache.load_value(keys[v.name])
            if found is not None:
                values[v.name] = found
    missing = [v for v in views if v.name not in values]
    if not missing:
        return values, None

    def compute(progress):
        out = {}
        for i, v in enumerate(missing):
            progress(i / len(missing), f"{v.label} ({i + 1} of {len(missing)})")
            value = _expensive_value(name, v.X, labels, params)
            try:
                cache.save_value(keys[v.name], value, meta={"view": v.name, "metric": name, "params": params})
            except OSError:  # a read-only or full disk costs time later, not the value now
                pass
            out[v.name] = value
            progress((i + 1) / len(missing), f"{v.label} done", partial={v.name: value})
        return out

    retry = job is not None and job.state == "cancelled"  # stopped when the page moved on; back now
    job = metric_jobs().submit(job_key, f"{label or name} of {len(missing)} views", compute, owner=owner,
                               retry=retry)
    return {**values, **{k: v for k, v in job.partial.items() if k in keys}}, job


@st.cache_data(max_entries=256, show_spinner=False)
def cheap_metric(fingerprint: str, _X, name: str) -> float:
    """A covariance-spectrum metric of one view (O(n d^2), no kernel): the at-once trajectory."""
    return float({"effective_rank": core.effective_rank, "participation_ratio": core.participation_ratio}[name](_X))
# --- geometry ---
# One kNN graph per view and metric serves every neighbour-based metric of every page (Geometry,
# the Map's colours, UMAP, t-SNE, kNN preservation): see view_graph.

GRAPH_MIN_K = 20
"""Graphs are built with at least this many neighbours and restricted on the way out, so the
Geometry page (k=20 by default) and a default UMAP (k=15) share one search."""


def view_graph(fingerprint: str, X, k: int, metric: str) -> core.NeighborGraph:
    """The shared kNN graph of a view (or a subset, by its fingerprint), restricted to ``k``.

    Built at ``max(k, GRAPH_MIN_K)`` neighbours -- a function of ``k`` alone, so a request
    always gets the same neighbours, also above 20,000 points where the search is approximate
    and a restricted larger graph would differ slightly -- and kept in the server's job
    registry memo (the last 3 graphs; concurrent callers wait for one search). Not an
    ``st.cache_*``: UMAP / t-SNE jobs call it from their own thread, and ``st.cache_data``
    would copy a large graph on every hit.

    Parameters
    ----------
    fingerprint : str
        Key of ``X`` in the registry memo.
    X : ndarray of shape (n, d)
    k : int
        Neighbours wanted; more than ``n - 1`` gives ``n - 1``.
    metric : {"cosine", "euclidean"}

    Returns
    -------
    core.NeighborGraph

    Raises
    ------
    EmbedLensInputError
        From :func:`core.knn_graph` (bad X or metric, fewer than 2 rows) or from
        :meth:`~core.NeighborGraph.restrict` for ``k < 1``.

    Notes
    -----
    Conventions: ``k`` excludes the point itself (UMAP's ``n_neighbors`` is ``k + 1``).
    """
    k = int(min(k, X.shape[0] - 1))
    build = int(min(max(k, GRAPH_MIN_K), X.shape[0] - 1))
    graph = map_jobs().memo(("graph", fingerprint, build, metric),
                            lambda: core.knn_graph(X, k=build, metric=metric), keep=3)
    return graph if graph.k == k else graph.restrict(k)


def knn(fingerprint: str, X, *, k: int, metric: str) -> core.NeighborGraph:
    """:func:`view_graph` with a spinner: call it before the wrappers below (they reuse the graph).

    Parameters
    ----------
    fingerprint, X, k, metric
        As :func:`view_graph`.

    Returns
    -------
    core.NeighborGraph

    Raises
    ------
    EmbedLensInputError
        As :func:`view_graph`.
    """
    k = min(k, X.shape[0] - 1)
    with st.spinner(f"Finding the {k} nearest neighbours of {X.shape[0]:,} points ({metric}) ..."):
        return view_graph(fingerprint, X, k, metric)


@st.cache_data(max_entries=32, show_spinner="Estimating the intrinsic dimension ...")
def intrinsic_dimension(fingerprint: str, _X, method: str, metric: str, graph_k: int) -> core.IntrinsicDimension:
    """:func:`core.intrinsic_dimension` on the shared graph (PCA needs none), cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash: the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        Left out of the key.
    method : {"twonn", "mle", "pca"}
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`view_graph`).

    Returns
    -------
    core.IntrinsicDimension

    Raises
    ------
    EmbedLensInputError
        As :func:`core.intrinsic_dimension` (bad method, too few distinct points, ...). An
        exception is not cached: the next script run computes again.
    """
    graph = view_graph(fingerprint, _X, graph_k, metric) if method != "pca" else None
    return core.intrinsic_dimension(_X, method=method, metric=metric, graph=graph)


@st.cache_data(max_entries=16, show_spinner="Estimating the dimension at every scale ...")
def id_scale_curves(fingerprint: str, _X, metric: str, graph_k: int) -> tuple[core.IDScaleCurve, core.IDScaleCurve]:
    """(TwoNN by decimation, MLE against k) on the shared graph.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`view_graph`); part of the key.

    Returns
    -------
    (core.IDScaleCurve, core.IDScaleCurve)
        TwoNN by decimation, then MLE for k = 3 .. min(graph_k, 20).

    Raises
    ------
    EmbedLensInputError
        As :func:`core.id_scale_curve` (too few distinct points, ...). An exception is not cached: the next script run computes again.
    """
    graph = view_graph(fingerprint, _X, graph_k, metric)
    return (core.id_scale_curve(_X, method="twonn", metric=metric, graph=graph),
            core.id_scale_curve(_X, method="mle", metric=metric, graph=graph, k_max=min(graph_k, 20)))


@st.cache_data(max_entries=16, show_spinner=False)
def local_intrinsic_dimension(fingerprint: str, _X, k: int, metric: str, graph_k: int):
    """Per-point MLE intrinsic dimension on the shared graph (for colouring maps).

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    k : int
        Neighbours per point (>= 3).
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`view_graph`); part of the key.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    EmbedLensInputError
        As :func:`core.local_intrinsic_dimension` (k > graph_k, too few distinct points).
        An exception is not cached: the next script run computes again.
    """
    graph = view_graph(fingerprint, _X, graph_k, metric)
    return core.local_intrinsic_dimension(_X, k=k, metric=metric, graph=graph)


@st.cache_data(max_entries=32, show_spinner=False)
def hubness(fingerprint: str, _X, k: int, metric: str, graph_k: int) -> core.Hubness:
    """:func:`core.hubness` on the shared graph, cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash: the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        Left out of the key.
    k : int
        Neighbours counted, ``1 <= k <= graph_k``.
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`view_graph`).

    Returns
    -------
    core.Hubness

    Raises
    ------
    EmbedLensInputError
        As :func:`core.hubness`. Not cached when raised.
    """
    return core.hubness(_X, k=k, metric=metric, graph=view_graph(fingerprint, _X, graph_k, metric))


@st.cache_data(max_entries=256, show_spinner=False)
def neural_collapse(fingerprint: str, _X, labels_key: str, _labels) -> core.NeuralCollapse:
    """``labels_key`` names the labels (dataset fingerprint + column) in the cache key.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.

    Returns
    -------
    core.NeuralCollapse

    Raises
    ------
    EmbedLensInputError
        As :func:`core.neural_collapse` (fewer than 2 classes, labels of the wrong length).
        An exception is not cached: the next script run computes again.
    """
    return core.neural_collapse(_X, _labels)


@st.cache_data(max_entries=32, show_spinner="Computing the H0 barcode and class separability ...")
def separability(fingerprint: str, _X, labels_key: str, _labels, k: int, metric: str,
                 graph_k: int) -> core.Separability:
    """:func:`core.separability` with labels on the shared graph, cached.

    Parameters
    ----------
    fingerprint : str
        The view's content hash: the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        Left out of the key.
    labels_key : str
        Names the labels in the key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
    k : int
        Neighbours for the kNN purity.
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph.

    Returns
    -------
    core.Separability

    Raises
    ------
    EmbedLensInputError
        As :func:`core.separability` (fewer than 2 classes, labels of the wrong length).
        Not cached when raised.
    """
    graph = view_graph(fingerprint, _X, graph_k, metric)
    return core.separability(_X, _labels, k=k, metric=metric, graph=graph)


@st.cache_data(max_entries=256, show_spinner=False)
def knn_purity(fingerprint: str, _X, labels_key: str, _labels, k: int, metric: str, graph_k: int):
    """Per-point share of same-label neighbours (for colouring maps).

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    k : int
        Neighbours used, ``1 <= k <= graph_k``.
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`view_graph`); part of the key.

    Returns
    -------
    ndarray of shape (n,)
        NaN for unlabelled points.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.knn_purity`. An exception is not cached: the next script run computes again.
    """
    return core.knn_purity(view_graph(fingerprint, _X, graph_k, metric), _labels, k=k)
# --- map ---
# Projections: an in-memory layer (st.cache_resource: one shared, read-only Projection per key)
# over the disk cache (core.cache), over background jobs for UMAP / t-SNE (dashboard.jobs).
# PCA is fast enough to compute in the script run; it is also the preview while a job runs.

@st.cache_resource(show_spinner=False)
def map_jobs() -> JobRegistry:
    """The server's one registry of background map computations (shared by every session)."""
    return JobRegistry(workers=1)


@st.cache_resource(show_spinner=False)
def map_warm_up(steps: tuple[str, ...]) -> dict:
    """Compile umap-learn / pynndescent code in a low-priority daemon thread, once per server.

    Returns the dict the thread fills with seconds per step (or ``error``).
    """
    timings: dict = {"steps": steps}

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: this thread only
        except (AttributeError, OSError):
            pass
        try:
            timings.update(warm_up(steps=steps))
        except Exception as exc:  # noqa: BLE001 - a failed warm-up only costs speed later
            timings["error"] = f"{type(exc).__name__}: {exc}"
        timings["done"] = True

    threading.Thread(target=run, name="embedlens-warm-up", daemon=True).start()
    return timings


def map_warm_up_steps(ds: Dataset | None) -> tuple[str, ...]:
    """What to warm for this dataset; ``EMBEDLENS_WARMUP`` ("off" or a comma list) overrides."""
    env = os.environ.get("EMBEDLENS_WARMUP")
    if env is not None:
        return tuple(s for s in env.replace(" ", "").split(",") if s and s != "off")
    steps = ["umap"]
    if ds is not None and ds.n > EXACT_MAX_N:
        steps.append("pynndescent")
    if ds is not None and len(ds.views) > 1:
        steps.append("aligned_umap")
    return tuple(steps)


def map_cache() -> DiskCache:
    """The projection cache folder (``EMBEDLENS_CACHE`` / ``$XDG_CACHE_HOME/embedlens``)."""
    return DiskCache(namespace="projections")


@st.cache_resource(max_entries=24, show_spinner=False)
def _map_from_disk(key: str) -> Projection:
    found = load_projection(map_cache(), key)
    if found is None:
        raise LookupError(key)  # not cached by st.cache_resource: asked again next run
    return found


def map_cached(key: str) -> Projection | None:
    """The projection under ``key`` from memory or disk, or None.

    Parameters
    ----------
    key : str
        A :func:`core.projection.projection_key`.

    Returns
    -------
    Projection or None
        None when absent or unusable on disk (then deleted; not remembered as absent).

    Raises
    ------
    EmbedLensInputError
        From :class:`core.DiskCache` for a malformed key or a non-numeric
        ``EMBEDLENS_CACHE_MAX_MB``.
    """
    try:
        return _map_from_disk(key)
    except LookupError:
        return None


def map_subset_fingerprint(fingerprint: str, rows: np.ndarray | None) -> str:
    """The fingerprint of a view restricted to ``rows`` (None: the whole view)."""
    if rows is None:
        return fingerprint
    h = hashlib.sha256(f"{fingerprint}:subset:".encode())
    h.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    return h.hexdigest()


@st.cache_data(max_entries=32, show_spinner="Scoring the map's trustworthiness ...")
def _map_trust(projection_key_: str, _X, _coords, metric: str, seed: int) -> Trustworthiness:
    return trustworthiness(_X, _coords, n_neighbors=QUALITY_K, metric=metric, sample=QUALITY_SAMPLE, seed=seed)


def map_scored_in(p: Projection, key: str, X, metric: str) -> Projection:
    """A PCA map with its quality scores in the Map's ``metric``.

    PCA takes no metric, so :func:`core.projection.project` scores it in cosine; the page's
    "Metric" control names the distance of the quality scores, so the trustworthiness is
    recomputed in ``metric`` (cached per map key and metric) and ``params["metric"]`` records
    it, which :func:`map_preservation` and the "Parameters used" caption read.
    """
    if p.method != "pca":
        return p
    trust = p.trust
    if trust is not None and trust.metric != metric:
        trust = _map_trust(key, X, p.coords, metric, p.seed)
    return dataclasses.replace(p, trust=trust, params={**p.params, "metric": metric})


def map_projection(view: View, *, method: str, dims: int, seed: int, params: dict, owner: str,
                   rows: np.ndarray | None = None, retry: bool = False,
                   metric: str = "cosine") -> Projection | Job:
    """The map of ``view`` (or of its ``rows``): cached, computed now (PCA), or a running job.

    ``metric``: the distance of a PCA map's quality scores (UMAP / t-SNE use ``params["metric"]``).
    """
    X = view.X if rows is None else view.X[rows]
    fp = map_subset_fingerprint(view.fingerprint, rows)
    key = projection_key(fp, method=method, n_components=dims, seed=seed, n=X.shape[0], **params)
    found = map_cached(key)
    if found is not None:
        return map_scored_in(found, key, X, metric)
    job = map_jobs().get(key)
    if job is not None and job.finished_ok:
        return job.result  # finished, but the disk cache could not keep it
    if method == "pca":
        with st.spinner(f"PCA of {X.shape[0]:,} x {X.shape[1]:,} ..."):
            p = project_cached(X, fingerprint=fp, cache=map_cache(), method="pca", n_components=dims,
                               seed=seed, **params)
        return map_scored_in(p, key, X, metric)

    def compute(progress):
        return project_cached(X, fingerprint=fp, cache=map_cache(), method=method, n_components=dims,
                              seed=seed, graph=lambda k, metric: view_graph(fp, X, k, metric), progress=progress,
                              **params)

    label = f"{method.upper() if method == 'umap' else 't-SNE'} of {X.shape[0]:,} points ({view.label})"
    return map_jobs().submit(key, label, compute, owner=owner, retry=retry)


def map_aligned_umap(views: list[View], *, dims: int, seed: int, params: dict, owner: str,
                     rows: np.ndarray | None = None, retry: bool = False) -> list[Projection] | Job:
    """Both views' maps from one AlignedUMAP fit (cached per pair), or the job computing them."""
    Xs = [v.X if rows is None else v.X[rows] for v in views]
    fps = [map_subset_fingerprint(v.fingerprint, rows) for v in views]
    pair = "+".join(fps)
    keys = [projection_key(pair, method="umap", n_components=dims, seed=seed, n=Xs[0].shape[0],
                           kind=f"aligned-umap-{i}", **params) for i in range(len(views))]
    found = [map_cached(k) for k in keys]
    if all(p is not None for p in found):
        return found
    job = map_jobs().get(keys[0])
    if job is not None and job.finished_ok:
        return job.result

    def compute(progress):
        maps = align_projections(Xs, method="umap", n_components=dims, seed=seed, progress=progress,
                                 graphs=[lambda k, metric, fp=fp, X=X: view_graph(fp, X, k, metric)
                                         for fp, X in zip(fps, Xs, strict=True)], **params)
        for key, p in zip(keys, maps, strict=True):
            try:
                save_projection(map_cache(), key, p)
            except OSError:
                pass
        return maps

    return map_jobs().submit(keys[0], f"AlignedUMAP of {len(views)} views", compute, owner=owner, retry=retry)


def map_procrustes(p: Projection, reference: Projection) -> Projection:
    """``p`` rotated (and scaled) onto ``reference`` by orthogonal Procrustes; O(n), not cached."""
    aligned, info = procrustes_align(p.coords, reference.coords)
    note = {"method": "procrustes", "scale": info["scale"], "rms": info["rms"],
            "reference_rms": info["reference_rms"]}
    return dataclasses.replace(p, coords=aligned, params={**p.params, "alignment": note})


@st.cache_data(max_entries=8, show_spinner=False)
def _label_columns(dataset_fingerprint: str, names: tuple, _meta, id_column: str | None) -> list[str]:
    from core.tables import label_columns as columns

    return columns(_meta, id_column=id_column)


def label_columns(dataset_fingerprint: str, meta, id_column: str | None) -> list[str]:
    """:func:`core.tables.label_columns`, once per dataset and column set (it counts the levels
    of every column).

    Parameters
    ----------
    dataset_fingerprint : str
    meta : pandas.DataFrame
    id_column : str or None

    Returns
    -------
    list

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame.
    """
    return _label_columns(dataset_fingerprint, tuple(map(str, meta.columns)), meta, id_column)


@st.cache_data(max_entries=8, show_spinner=False)
def _label_choices(dataset_fingerprint: str, names: tuple, _meta, id_column: str | None) -> list[str]:
    from core.tables import label_choices as choices

    return choices(_meta, id_column=id_column)


def label_choices(dataset_fingerprint: str, meta, id_column: str | None) -> list[str]:
    """:func:`core.tables.label_choices` (every column a user may pick as labels), once per dataset.

    Parameters
    ----------
    dataset_fingerprint : str
    meta : pandas.DataFrame
    id_column : str or None

    Returns
    -------
    list

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame.
    """
    return _label_choices(dataset_fingerprint, tuple(map(str, meta.columns)), meta, id_column)


@st.cache_data(max_entries=8, show_spinner=False)
def map_column_kinds(dataset_fingerprint: str, _meta) -> tuple[list[str], list[str]]:
    """(categorical, numeric) metadata columns for colouring and filtering, once per dataset.

    Parameters
    ----------
    dataset_fingerprint : str
        The key standing for ``_meta``.
    _meta : pandas.DataFrame

    Returns
    -------
    (list, list)
        Categorical and numeric column names.

    Raises
    ------
    Nothing
        Of its own; :func:`dashboard.map_view.column_kinds`'s exceptions propagate.
    """
    from dashboard.map_view import column_kinds

    return column_kinds(_meta)


@st.cache_data(max_entries=16, show_spinner="Scoring kNN preservation (building the kNN graph) ...")
def _map_preservation(fingerprint: str, projection_id: str, _X, _coords, metric: str) -> np.ndarray:
    graph = view_graph(fingerprint, _X, 15, metric)
    return knn_preservation(graph, _coords, k=15)


def map_preservation(view: View, projection: Projection, rows: np.ndarray | None) -> np.ndarray:
    """Per-point kNN preservation of a map that was made without a graph (PCA).

    Parameters
    ----------
    view : View
    projection : Projection
        A map of ``view`` (or of its ``rows``), made without a graph.
    rows : ndarray of int, optional
        The subset the map shows (None: every row).

    Returns
    -------
    ndarray of shape (len(rows) or n,)
        Per-point share of the 15 nearest neighbours kept by the map
        (:func:`core.knn_preservation`).

    Raises
    ------
    EmbedLensInputError
        From :func:`view_graph` / :func:`core.knn_preservation` (a map with another row count,
        fewer than 16 points). Not cached when raised.
    """
    X = view.X if rows is None else view.X[rows]
    fp = map_subset_fingerprint(view.fingerprint, rows)
    ident = hashlib.sha256(projection.coords.tobytes()).hexdigest()[:16]
    metric = projection.params.get("metric", "cosine")
    return _map_preservation(fp, ident, X, projection.coords, metric)


@st.cache_data(max_entries=64, show_spinner=False)
def map_item_neighbors(fingerprint: str, _X, row: int, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest neighbours of one item, with distances.

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    row : int
    k : int
    metric : {"cosine", "euclidean"}

    Returns
    -------
    (ndarray, ndarray)
        Neighbour rows and distances, nearest first (:func:`core.item_neighbors`).

    Raises
    ------
    EmbedLensInputError
        As :func:`core.item_neighbors` (row out of range, bad metric). An exception is not cached: the next script run computes again.
    """
    return item_neighbors(_X, row, k=k, metric=metric)


@st.cache_data(max_entries=32, show_spinner=False)
def map_compare_groups(fingerprint: str, selection: str, _X, _mask, metric: str) -> GroupComparison:
    """The selection against the rest (cached per view and encoded selection).

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    selection : str
        The encoded selection: the key standing for ``_mask``.
    _mask : ndarray of shape (n,), bool
    metric : {"cosine", "euclidean"}

    Returns
    -------
    GroupComparison

    Raises
    ------
    EmbedLensInputError
        As :func:`core.compare_groups` (mask of the wrong shape, bad metric). An exception is not cached: the next script run computes again.
    """
    return compare_groups(_X, _mask, metric=metric)


@st.cache_data(max_entries=32, show_spinner="Vendi score and intrinsic dimension of the selection ...")
def map_group_diversity(fingerprint: str, selection: str, _X, _mask, metric: str) -> GroupDiversity:
    """Vendi score and TwoNN dimension of the selection and of the rest (cached per encoded selection).

    Parameters
    ----------
    fingerprint : str
        The view's content hash (``View.fingerprint``, or :func:`map_subset_fingerprint` of a
        subset): the cache key standing for ``_X``.
    _X : ndarray of shape (n, d)
        The view's matrix; left out of the cache key (leading underscore).
    selection : str
        The encoded selection: the key standing for ``_mask``.
    _mask : ndarray of shape (n,), bool
    metric : {"cosine", "euclidean"}

    Returns
    -------
    GroupDiversity

    Raises
    ------
    EmbedLensInputError
        As :func:`core.selection.group_diversity`. An exception is not cached: the next script run computes again.
    """
    return group_diversity(_X, _mask, metric=metric)


@st.cache_data(max_entries=4, show_spinner="Preparing hover texts ...")
def map_hover_texts(dataset_fingerprint: str, _meta) -> np.ndarray:
    """Per-item hover text: metadata and, up to 5,000 items, a sketch of the first image column.

    Parameters
    ----------
    dataset_fingerprint : str
        The key standing for ``_meta``.
    _meta : pandas.DataFrame of n rows

    Returns
    -------
    ndarray of shape (n,), object

    Raises
    ------
    Nothing
        Of its own; whatever :func:`dashboard.figures.projection.hover_texts` raises propagates.
    """
    images = image_columns(_meta)
    return hover_texts(_meta, image_column=images[0] if images and len(_meta) <= 5_000 else None,
                       skip=tuple(images))
