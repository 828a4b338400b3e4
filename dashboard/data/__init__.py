"""Cached core calls, grouped by page family: the only place with Streamlit cache decorators.

This module holds what every page shares: the data folder, the catalog and uploads, loading a
dataset, the label / colour columns of its metadata, the server's background-job registries
and the shared kNN graph of a view. One module per page family holds the rest:
:mod:`.health` (Data page), :mod:`.spectra`, :mod:`.geometry`, :mod:`.maps`. Nothing here builds
text or figures for a page (those live in :mod:`dashboard.views` and :mod:`dashboard.figures`).

Datasets are shared by every session through ``st.cache_resource`` (their arrays are
read-only), keyed by path plus a stamp of the files' sizes and modification times, so an
edited file is read again. Metrics are cached per view fingerprint with ``st.cache_data``;
the arrays themselves are left out of the key (``_X``).

Every wrapper's ``fingerprint`` is the view's content hash (``View.fingerprint``, or
:func:`~dashboard.data.maps.map_subset_fingerprint` of a subset) and stands for ``_X``, the
(n, d) matrix left out of the cache key by its leading underscore. An exception raised by a
wrapper is not cached: the next script run computes again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

import core
from core import CatalogEntry, Dataset
from core.catalog import remove_upload as remove_upload_in
from core.neighbors import EXACT_MAX_N
from core.tables import categorical_columns, image_columns
from core.tables import label_choices as _core_label_choices
from core.tables import label_columns as _core_label_columns
from core.warmup import warm_up
from dashboard.jobs import JobRegistry
from dashboard.literal import md

__all__ = ["data_dir", "catalog", "save_upload", "remove_upload", "files_stamp", "load_dataset", "sample_rows",
           "label_columns", "label_choices", "column_kinds", "map_column_kinds", "map_jobs", "metric_jobs",
           "map_warm_up", "map_warm_up_steps", "GRAPH_MIN_K", "view_graph"]


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
        When ``path`` does not exist (:class:`FileNotFoundError` from ``stat``); a file that
        vanishes during the walk (a :func:`core.writer` temporary file) is left out, and an
        unreadable sub-folder is skipped by :func:`os.walk`.
    """
    path = Path(path)
    if path.is_file():
        st_ = path.stat()
        return ((path.name, st_.st_size, st_.st_mtime_ns),)
    out = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = Path(root) / name
            try:
                st_ = p.stat()
            except FileNotFoundError:  # a writer's temporary file, moved into place meanwhile
                continue
            out.append((str(p.relative_to(path)), st_.st_size, st_.st_mtime_ns))
    return tuple(sorted(out))


@st.cache_resource(max_entries=6, show_spinner=False)
def _load(path: str, name: str, nonfinite: str, stamp: tuple, sample: int) -> Dataset:
    ds = core.load(path, name=name, nonfinite=nonfinite)
    if ds.lazy:  # out of core: the pages show a seeded sample; exact sums read ds.sample.full
        ds = core.sample_dataset(ds, size=sample, seed=0, nonfinite=nonfinite)
    return ds


def sample_rows() -> int:
    """Items the pages show of an out-of-core dataset (``embedlens serve --sample-rows`` /
    ``EMBEDLENS_SAMPLE_ROWS``, default :data:`core.outofcore.SAMPLE_ROWS`); a bad value is the default."""
    text = os.environ.get("EMBEDLENS_SAMPLE_ROWS", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else core.outofcore.SAMPLE_ROWS


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
        Shared by every session (``st.cache_resource``), keyed by path, name, the NaN rule,
        :func:`files_stamp` and :func:`sample_rows`. An out-of-core dataset (views that are folders
        of shards) comes as :func:`core.sample_dataset` of it: its ``sample`` names the rows and
        holds the full, lazy dataset.

    Raises
    ------
    EmbedLensInputError
        From :func:`core.load`, for any unusable file.
    NonFiniteRowsError
        Rows holding NaN / inf, unless ``drop_nonfinite``.
    OSError
        From :func:`files_stamp`, when the dataset's files vanish.
    """
    with st.spinner(f"Loading {md(entry.name)} ..."):
        return _load(
            str(entry.path), entry.name, "drop" if drop_nonfinite else "error", files_stamp(entry.path),
            sample_rows(),
        )




# --- metadata columns ---

@st.cache_data(max_entries=8, show_spinner=False)
def _label_columns(dataset_fingerprint: str, names: tuple, _meta, id_column: str | None) -> list[str]:
    return _core_label_columns(_meta, id_column=id_column)


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
    return _core_label_choices(_meta, id_column=id_column)


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
        Of its own; :func:`column_kinds`'s exceptions propagate.
    """
    return column_kinds(_meta)


def column_kinds(meta: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(categorical, numeric) metadata columns that can colour or filter a map (images and ids left out).

    Costs a ``nunique`` per column: pages call it through :func:`map_column_kinds` and pass ``kinds``.
    """
    images = set(image_columns(meta))
    cats = [c for c in categorical_columns(meta) if c not in images]
    nums = [c for c in meta.columns if c not in images and c not in cats
            and pd.api.types.is_numeric_dtype(meta[c]) and not pd.api.types.is_bool_dtype(meta[c])]
    return cats, nums


# --- background jobs ---
# One registry of background map computations and one of metric trajectories per server; the
# map registry's memo also keeps the shared kNN graphs (view_graph).

@st.cache_resource(show_spinner=False)
def map_jobs() -> JobRegistry:
    """The server's one registry of background map computations (shared by every session)."""
    return JobRegistry(workers=1)


@st.cache_resource(show_spinner=False)
def metric_jobs() -> JobRegistry:
    """The server's one registry of background metric trajectories (apart from the maps' worker)."""
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
    steps.append("rashomon")  # last: the Rashomon page's kernels (seconds; less from numba's disk cache)
    return tuple(steps)




# --- the shared kNN graph ---
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

