"""Cached core calls of the Geometry page (also the Map's neighbour-based colours), all on the
shared kNN graph of a view (:func:`dashboard.data.view_graph`).
"""

from __future__ import annotations

import streamlit as st

import core
from dashboard.data import view_graph

__all__ = ["knn", "intrinsic_dimension", "id_scale_curves", "local_intrinsic_dimension", "hubness",
           "neural_collapse", "separability", "knn_purity"]


def knn(fingerprint: str, X, *, k: int, metric: str) -> core.NeighborGraph:
    """:func:`~dashboard.data.view_graph` with a spinner: call it before the wrappers below (they reuse the graph).

    Parameters
    ----------
    fingerprint, X, k, metric
        As :func:`~dashboard.data.view_graph`.

    Returns
    -------
    core.NeighborGraph

    Raises
    ------
    EmbedLensInputError
        As :func:`~dashboard.data.view_graph`.
    """
    k = min(k, X.shape[0] - 1)
    with st.spinner(f"Finding the {k} nearest neighbours of {X.shape[0]:,} points ({metric}) ..."):
        return view_graph(fingerprint, X, k, metric)


@st.cache_data(max_entries=32, show_spinner="Estimating the intrinsic dimension ...")
def intrinsic_dimension(fingerprint: str, _X, method: str, metric: str, graph_k: int) -> core.IntrinsicDimension:
    """:func:`core.intrinsic_dimension` on the shared graph (PCA needs none), cached.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    method : {"twonn", "mle", "pca"}
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`~dashboard.data.view_graph`).

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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`~dashboard.data.view_graph`); part of the key.

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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    k : int
        Neighbours per point (>= 3).
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`~dashboard.data.view_graph`); part of the key.

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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    k : int
        Neighbours counted, ``1 <= k <= graph_k``.
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`~dashboard.data.view_graph`).

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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
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
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).
    labels_key : str
        Names the labels in the cache key (dataset fingerprint + column).
    _labels : array-like of shape (n,)
        The label column; left out of the key.
    k : int
        Neighbours used, ``1 <= k <= graph_k``.
    metric : {"cosine", "euclidean"}
    graph_k : int
        Neighbours of the shared graph (:func:`~dashboard.data.view_graph`); part of the key.

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
