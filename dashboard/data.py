"""The only module with Streamlit cache decorators: loading datasets and cached core calls.

Datasets are shared by every session through ``st.cache_resource`` (their arrays are
read-only), keyed by path plus a stamp of the files' sizes and modification times, so an
edited file is read again. Metrics are cached per view fingerprint with ``st.cache_data``;
the arrays themselves are left out of the key (``_X``).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

import core
from core import CatalogEntry, Dataset, ViewHealth

__all__ = ["data_dir", "catalog", "load_dataset", "view_health", "files_stamp"]
# --- geometry (issue 5) ---
__all__ += ["knn", "intrinsic_dimension", "id_scale_curves", "local_intrinsic_dimension", "hubness",
            "neural_collapse", "separability", "knn_purity"]
# --- end geometry (issue 5) ---


def data_dir() -> Path:
    """The data folder of this server (``embedlens DATA_DIR`` / ``EMBEDLENS_DATA``)."""
    return core.default_data_dir()


@st.cache_data(ttl=10, max_entries=4, show_spinner=False)
def catalog(folder: str) -> list[CatalogEntry]:
    """The datasets in ``folder`` (re-listed at most every 10 s, or on upload)."""
    return core.list_datasets(folder)


def files_stamp(path: Path) -> tuple:
    """(relative path, size, mtime_ns) of every file under ``path``: changes when a file does."""
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
    """Load a catalog entry once per content; raises ``EmbedLensInputError`` on bad input."""
    with st.spinner(f"Loading {entry.name} ..."):
        return _load(
            str(entry.path), entry.name, "drop" if drop_nonfinite else "error", files_stamp(entry.path)
        )


@st.cache_data(max_entries=64, show_spinner="Checking the view's health ...")
def view_health(fingerprint: str, _X) -> ViewHealth:
    """:func:`core.health_report`, cached per view fingerprint."""
    return core.health_report(_X)


# --- spectra (issue 4) ---
# Keys: the view fingerprint(s) plus every parameter; labels are keyed by the dataset
# fingerprint and column name (``labels_key``), since the same matrix may carry other metadata.


@st.cache_data(max_entries=64, show_spinner=False)
def spectral_profile(fingerprint: str, _X, *, kernel: str, q: float, eps2: float, max_n: int) -> core.SpectralProfile:
    """:func:`core.spectral_profile` (covariance + kernel spectra and every summary), cached."""
    return core.spectral_profile(_X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def diffusion_entropy(fingerprint: str, _X, *, sigma: float | str, t: int, max_n: int) -> core.DiffusionEntropy:
    """:func:`core.diffusion_spectral_entropy`, cached per view and parameters."""
    return core.diffusion_spectral_entropy(_X, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def diffusion_mutual_info(fingerprint: str, labels_key: str, _X, _labels, *, sigma: float | str, t: int,
                          max_n: int) -> core.DiffusionMutualInfo:
    """:func:`core.diffusion_spectral_mutual_info` with a metadata column, cached."""
    return core.diffusion_spectral_mutual_info(_X, _labels, sigma=sigma, t=t, max_n=max_n)


@st.cache_data(max_entries=32, show_spinner=False)
def class_diversity(fingerprint: str, labels_key: str, _X, _labels, *, kernel: str, q: float, eps2: float,
                    max_n: int):
    """:func:`core.class_diversity` (Vendi and coding rate of each class), cached."""
    return core.class_diversity(_X, _labels, q=q, kernel=kernel, eps2=eps2, max_n=max_n)


@st.cache_data(max_entries=64, show_spinner=False)
def rate_reduction(fingerprint: str, labels_key: str, _X, _labels, *, eps2: float) -> core.RateReduction:
    """:func:`core.rate_reduction`, cached."""
    return core.rate_reduction(_X, _labels, eps2=eps2)


@st.cache_data(max_entries=16, show_spinner=False)
def schur_entropy(fingerprint: str, pair_fingerprint: str, _X, _Y, *, kernel: str, n_features: int, q: float):
    """SCE of view X given view Y, the defocused X (read-only) and the Vendi (cosine, q) of X
    before and after defocusing; cached per both fingerprints and the parameters."""
    sce = core.schur_complement_entropy(_X, _Y, kernel=kernel, n_features=n_features)
    cleaned = core.defocus(_X, _Y, sce=sce)
    cleaned.flags.writeable = False
    return sce, cleaned, core.vendi_score(_X, q=q), core.vendi_score(cleaned, q=q)


@st.cache_data(max_entries=8, show_spinner=False)
def npy_bytes(key: str, _array) -> bytes:
    """``_array`` as the bytes of a ``.npy`` file (for a download button), cached per ``key``."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.asarray(_array), allow_pickle=False)
    return buf.getvalue()


def view_metric(name: str, view, *, labels=None, labels_key: str = "", kernel: str, q: float, eps2: float,
                sigma: float | str, t: int, max_n: int) -> float:
    """One named spectral metric of one view through the cached wrappers above (trajectories)."""
    if name == "dse":
        return diffusion_entropy(view.fingerprint, view.X, sigma=sigma, t=t, max_n=max_n).value
    if name == "dsmi":
        return diffusion_mutual_info(view.fingerprint, labels_key, view.X, labels, sigma=sigma, t=t,
                                     max_n=max_n).value
    if name == "rate_reduction":
        return rate_reduction(view.fingerprint, labels_key, view.X, labels, eps2=eps2).delta_r
    profile = spectral_profile(view.fingerprint, view.X, kernel=kernel, q=q, eps2=eps2, max_n=max_n)
    return profile.values()[name]
# --- end spectra (issue 4) ---
# --- geometry (issue 5) ---
# One kNN graph per (view fingerprint, k, metric) serves every neighbour-based metric: the
# page asks for the largest k it needs and each metric restricts it (no second search).


@st.cache_data(max_entries=8, show_spinner=False)
def _knn(fingerprint: str, _X, k: int, metric: str) -> core.NeighborGraph:
    return core.knn_graph(_X, k=k, metric=metric)


def _graph(fingerprint: str, X, k: int, metric: str) -> core.NeighborGraph:
    return _knn(fingerprint, X, min(k, X.shape[0] - 1), metric)


def knn(fingerprint: str, X, *, k: int, metric: str) -> core.NeighborGraph:
    """:func:`core.knn_graph` cached per (view fingerprint, k, metric), with a spinner.

    Call it before the wrappers below (which reuse the cached graph without a spinner).
    """
    k = min(k, X.shape[0] - 1)
    with st.spinner(f"Finding the {k} nearest neighbours of {X.shape[0]:,} points ({metric}) ..."):
        return _knn(fingerprint, X, k, metric)


@st.cache_data(max_entries=32, show_spinner="Estimating the intrinsic dimension ...")
def intrinsic_dimension(fingerprint: str, _X, method: str, metric: str, graph_k: int) -> core.IntrinsicDimension:
    graph = _graph(fingerprint, _X, graph_k, metric) if method != "pca" else None
    return core.intrinsic_dimension(_X, method=method, metric=metric, graph=graph)


@st.cache_data(max_entries=16, show_spinner="Estimating the dimension at every scale ...")
def id_scale_curves(fingerprint: str, _X, metric: str, graph_k: int) -> tuple[core.IDScaleCurve, core.IDScaleCurve]:
    """(TwoNN by decimation, MLE against k) on the shared graph."""
    graph = _graph(fingerprint, _X, graph_k, metric)
    return (core.id_scale_curve(_X, method="twonn", metric=metric, graph=graph),
            core.id_scale_curve(_X, method="mle", metric=metric, graph=graph, k_max=min(graph_k, 20)))


@st.cache_data(max_entries=16, show_spinner=False)
def local_intrinsic_dimension(fingerprint: str, _X, k: int, metric: str, graph_k: int):
    """Per-point MLE intrinsic dimension on the shared graph (for colouring maps)."""
    graph = _graph(fingerprint, _X, graph_k, metric)
    return core.local_intrinsic_dimension(_X, k=k, metric=metric, graph=graph)


@st.cache_data(max_entries=32, show_spinner=False)
def hubness(fingerprint: str, _X, k: int, metric: str, graph_k: int) -> core.Hubness:
    return core.hubness(_X, k=k, metric=metric, graph=_graph(fingerprint, _X, graph_k, metric))


@st.cache_data(max_entries=256, show_spinner=False)
def neural_collapse(fingerprint: str, _X, labels_key: str, _labels) -> core.NeuralCollapse:
    """``labels_key`` names the labels (dataset fingerprint + column) in the cache key."""
    return core.neural_collapse(_X, _labels)


@st.cache_data(max_entries=32, show_spinner="Computing the H0 barcode and class separability ...")
def separability(fingerprint: str, _X, labels_key: str, _labels, k: int, metric: str,
                 graph_k: int) -> core.Separability:
    graph = _graph(fingerprint, _X, graph_k, metric)
    return core.separability(_X, _labels, k=k, metric=metric, graph=graph)


@st.cache_data(max_entries=256, show_spinner=False)
def knn_purity(fingerprint: str, _X, labels_key: str, _labels, k: int, metric: str, graph_k: int):
    """Per-point share of same-label neighbours (for colouring maps)."""
    return core.knn_purity(_graph(fingerprint, _X, graph_k, metric), _labels, k=k)
# --- end geometry (issue 5) ---
