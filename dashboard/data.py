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
