"""Cached core calls of the Map page: projections, their quality, neighbours, selections.

Projections: an in-memory layer (st.cache_resource: one shared, read-only Projection per key)
over the disk cache (core.cache), over background jobs for UMAP / t-SNE (dashboard.jobs).
PCA is fast enough to compute in the script run; it is also the preview while a job runs.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import streamlit as st

from core import View
from core.alignment import align_projections, procrustes_align
from core.cache import DiskCache
from core.projection import Projection, load_projection, project_cached, projection_key, save_projection
from core.quality import QUALITY_K, QUALITY_SAMPLE, Trustworthiness, knn_preservation, trustworthiness
from core.selection import GroupComparison, GroupDiversity, compare_groups, group_diversity, item_neighbors
from dashboard.data import map_jobs, view_graph
from dashboard.jobs import Job

__all__ = ["map_cache", "map_cached", "map_subset_fingerprint", "map_scored_in", "map_projection",
           "map_aligned_umap", "map_procrustes", "map_preservation", "map_item_neighbors", "map_compare_groups",
           "map_group_diversity", "map_hover_texts"]


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
        From :func:`~dashboard.data.view_graph` / :func:`core.knn_preservation` (a map with another row count,
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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
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
def map_hover_texts(dataset_fingerprint: str, _meta, _build) -> np.ndarray:
    """``_build(_meta)`` -- the per-item hover texts of a map -- once per dataset.

    Parameters
    ----------
    dataset_fingerprint : str
        The key standing for ``_meta``.
    _meta : pandas.DataFrame of n rows
    _build : callable ``(DataFrame) -> ndarray of shape (n,)``
        What makes the texts (:func:`dashboard.views.map.hover_for`); left out of the key.

    Returns
    -------
    ndarray of shape (n,), object

    Raises
    ------
    Nothing
        Of its own; whatever ``_build`` raises propagates (not cached).
    """
    return _build(_meta)
