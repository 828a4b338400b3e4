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
