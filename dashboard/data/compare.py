"""Cached core calls of the Compare page: one pair's scores, the unit matching, the matrix over
every view (also kept on disk, like the maps) and the trajectories.

A pair is keyed by both views' fingerprints (``fp_a``, ``fp_b`` stand for ``_X``, ``_Y``); the
matrix and the trajectories by the tuple of their views' fingerprints (standing for ``_views``).
Mutual kNN reuses each view's shared kNN graph (:func:`dashboard.data.view_graph`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import core
from core.cache import DiskCache, cache_key, library_versions
from dashboard.data import view_graph

__all__ = ["compare_cache", "cka", "procrustes", "mutual_knn", "rsa", "match_units", "matrix_key",
           "stored_matrix", "pairwise_matrix", "trajectory"]


def compare_cache() -> DiskCache:
    """The comparison cache folder (``EMBEDLENS_CACHE`` / ``$XDG_CACHE_HOME/embedlens``, ``compare/``)."""
    return DiskCache(namespace="compare")


@st.cache_data(max_entries=64, show_spinner="CKA ...")
def cka(fp_a: str, fp_b: str, _X, _Y, kernel: str, debiased: bool, max_n: int, seed: int) -> core.Similarity:
    """:func:`core.cka` of two views, cached per pair and variant.

    Parameters
    ----------
    fp_a, fp_b, _X, _Y
        The two views' fingerprints and the matrices they stand for.
    kernel : {"linear", "rbf"}
    debiased : bool
    max_n : int
        Rows above which RBF CKA runs on a seeded subsample.
    seed : int

    Returns
    -------
    core.Similarity

    Raises
    ------
    EmbedLensInputError
        As :func:`core.cka` (different row counts, non-finite values, ...).
    """
    return core.cka(_X, _Y, kernel=kernel, debiased=debiased, max_n=max_n, seed=seed)


@st.cache_data(max_entries=64, show_spinner="Procrustes distance ...")
def procrustes(fp_a: str, fp_b: str, _X, _Y, kind: str = "angular"):
    """:func:`core.procrustes_distance` of two views, cached.

    Parameters
    ----------
    fp_a, fp_b, _X, _Y
        The two views' fingerprints and the matrices they stand for.
    kind : {"angular", "euclidean"}

    Returns
    -------
    core.ProcrustesResult

    Raises
    ------
    EmbedLensInputError
        As :func:`core.procrustes_distance`.
    """
    return core.procrustes_distance(_X, _Y, kind=kind)


@st.cache_data(max_entries=64, show_spinner="Mutual nearest neighbours ...")
def mutual_knn(fp_a: str, fp_b: str, _X, _Y, k: int, metric: str):
    """:func:`core.mutual_knn` on the two views' shared kNN graphs, cached.

    Parameters
    ----------
    fp_a, fp_b, _X, _Y
        The two views' fingerprints and the matrices they stand for.
    k : int
    metric : {"cosine", "euclidean"}

    Returns
    -------
    core.MutualKNN
        ``.value`` and ``.per_item`` (the share of each item's k neighbours found in both views).

    Raises
    ------
    EmbedLensInputError
        As :func:`core.mutual_knn` / :func:`~dashboard.data.view_graph` (k >= n, ...).
    """
    return core.mutual_knn(_X, _Y, k=k, metric=metric, graph_x=view_graph(fp_a, _X, k, metric),
                           graph_y=view_graph(fp_b, _Y, k, metric))


@st.cache_data(max_entries=64, show_spinner="RSA ...")
def rsa(fp_a: str, fp_b: str, _X, _Y, metric: str, max_n: int, seed: int) -> core.Similarity:
    """:func:`core.rsa` of two views (a seeded subsample above ``max_n`` rows), cached.

    Parameters
    ----------
    fp_a, fp_b, _X, _Y
        The two views' fingerprints and the matrices they stand for.
    metric : {"cosine", "euclidean"}
    max_n, seed : int

    Returns
    -------
    core.Similarity

    Raises
    ------
    EmbedLensInputError
        As :func:`core.rsa`.
    """
    return core.rsa(_X, _Y, metric=metric, max_n=max_n, seed=seed)


@st.cache_data(max_entries=32, show_spinner="Matching units ...")
def match_units(fp_a: str, fp_b: str, _A, _B):
    """:func:`core.match_units` of two views, cached.

    Parameters
    ----------
    fp_a, fp_b, _A, _B
        The two views' fingerprints and the matrices they stand for.

    Returns
    -------
    core.UnitMatch

    Raises
    ------
    EmbedLensInputError
        As :func:`core.match_units`.
    """
    return core.match_units(_A, _B)


def matrix_key(fingerprints, metric: str, options: dict) -> str:
    """The disk-cache key of a matrix over views with ``fingerprints`` (in order) for ``metric`` and ``options``.

    Parameters
    ----------
    fingerprints : sequence of str
    metric : str
        A key of :data:`core.COMPARISON_METRICS`.
    options : dict
        JSON values only (``k``, ``metric``, ``max_n``, ``seed``, ...).

    Returns
    -------
    str
        40 hex digits (:func:`core.cache.cache_key`, with numpy / scipy / scikit-learn versions).

    Raises
    ------
    EmbedLensInputError
        From :func:`core.cache.cache_key` for an option that is not a JSON value.
    """
    return cache_key(kind="pairwise", metric=metric, fingerprints=list(fingerprints), options=options,
                     versions=library_versions("numpy", "scipy", "scikit-learn"))


def _from_entry(entry, names) -> core.PairwiseMatrix:
    meta = entry.meta
    return core.PairwiseMatrix(values=np.array(entry.arrays["values"]), names=tuple(names), metric=meta["metric"],
                               label=meta["label"], params=dict(meta["params"]),
                               higher_is_similar=bool(meta["higher_is_similar"]))


@st.cache_resource(max_entries=16, show_spinner=False)
def _matrix_from_disk(key: str, names: tuple[str, ...]) -> core.PairwiseMatrix:
    entry = compare_cache().load(key)
    if entry is None:
        raise LookupError(key)  # not kept by st.cache_resource: looked up again next run
    return _from_entry(entry, names)


def stored_matrix(key: str, names: tuple[str, ...]) -> core.PairwiseMatrix | None:
    """The matrix stored under ``key`` (memory, then disk), or None.

    Parameters
    ----------
    key : str
        A :func:`matrix_key`.
    names : tuple of str
        The views' names, in the matrix's order.

    Returns
    -------
    core.PairwiseMatrix or None
        None when absent or unusable on disk (then deleted).

    Raises
    ------
    EmbedLensInputError
        From :class:`core.DiskCache` for a malformed key.
    """
    try:
        return _matrix_from_disk(key, tuple(names))
    except LookupError:
        return None


def pairwise_matrix(key: str, _views, names: tuple[str, ...], metric: str, options: dict,
                    _progress=None) -> core.PairwiseMatrix:
    """:func:`core.pairwise_matrix` over ``_views`` (stored on disk under ``key``), or the stored one.

    Parameters
    ----------
    key : str
        :func:`matrix_key` of the views' fingerprints, ``metric`` and ``options``.
    _views : sequence of (n, d_i) arrays
        The matrices ``key`` stands for, in order.
    names : tuple of str
    metric : str
    options : dict
        Passed to :func:`core.pairwise_matrix`.
    _progress : callable, optional
        ``progress(fraction)`` while computing; not called when the matrix is stored.

    Returns
    -------
    core.PairwiseMatrix

    Raises
    ------
    EmbedLensInputError
        As :func:`core.pairwise_matrix`. A failed disk write is ignored (the matrix is returned).
    """
    found = stored_matrix(key, names)
    if found is not None:
        return found
    result = core.pairwise_matrix(list(_views), metric, names=list(names), progress=_progress, **options)
    try:
        compare_cache().save(key, {"values": np.asarray(result.values, dtype=np.float64)},
                             meta={"metric": result.metric, "label": result.label,
                                   "higher_is_similar": bool(result.higher_is_similar),
                                   "params": _json_params(result.params), "names": list(names)})
    except (OSError, core.EmbedLensInputError):
        return result
    return stored_matrix(key, names) or result


def _json_params(params) -> dict:
    """``params`` with numpy scalars as Python numbers and anything else not JSON as text."""
    out = {}
    for k, v in dict(params).items():
        if isinstance(v, np.generic):
            v = v.item()
        out[str(k)] = v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
    return out


@st.cache_data(max_entries=32, show_spinner=False)
def trajectory(fingerprints: tuple[str, ...], _views, metric: str, reference: int | None, options: dict,
               labels_key: str = "", _labels=None):
    """:func:`core.trajectory` of ``_views`` (core.View s), cached per views, metric, reference and options.

    Parameters
    ----------
    fingerprints : tuple of str
        The views' fingerprints, in order: the key standing for ``_views``.
    _views : sequence of core.View
    metric : str
        A key of :data:`core.COMPARISON_METRICS` or of :data:`core.SINGLE_VIEW_METRICS`.
    reference : int or None
        Index into ``_views`` of the reference view (comparison metrics), else None.
    options : dict
        Passed to :func:`core.trajectory`.
    labels_key : str, default=""
        Names ``_labels`` in the key (dataset fingerprint + column).
    _labels : array-like of shape (n,), optional
        Class labels (NC1); left out of the key.

    Returns
    -------
    pandas.DataFrame
        name, run, layer, step, value, metric, label.

    Raises
    ------
    EmbedLensInputError
        As :func:`core.trajectory`.
    """
    if _labels is not None:
        options = {**options, "labels": _labels}
    return core.trajectory(list(_views), metric, reference=reference, **options)
