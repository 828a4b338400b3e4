"""Out-of-core views and sample-then-extend: embeddings larger than memory, on Dask.

:func:`open_sharded` opens a folder of ``.npy`` shards (each memory-mapped and read a chunk at a
time), of Parquet files (one row group a chunk) or a Zarr array as a lazy ``dask.array.Array``;
every sufficient-statistics metric (:func:`core.spectrum` and what is read off it,
:func:`core.spectral_profile`, :func:`core.coding_rate`, :func:`core.rate_reduction`,
:func:`core.neural_collapse`, :func:`core._dask.cross_covariance`) takes it and gives the
in-memory numbers, reading it chunk by chunk. Its fingerprint (:func:`fingerprint_chunked`) is
the one :func:`core.fingerprint_array` gives the same matrix in memory.

What is not a sum over items -- neighbours and maps -- works on a declared, seeded sample and
extends to every item: :func:`sample_then_extend_umap` fits UMAP on a sample and places every
item with ``UMAP.transform`` in parallel chunks; :func:`sampled_knn_metric` finds the exact
neighbours (among *all* items) of a sample of items and reports the mean of a per-item kNN
metric with its standard error and confidence interval.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from . import _dask
from ._numerics import cosine_distances
from ._sampling import subsample
from ._validation import (DROP_ROWS_HINT, SHARD_ROWS_HINT, EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param,
                          nonfinite_rows_error)

__all__ = ["ShardedView", "open_sharded", "fingerprint_chunked", "read_rows", "SAMPLE_ROWS",
           "ExtendedMap", "sample_then_extend_umap", "SampledMetric", "sampled_knn_metric", "KNN_KINDS"]

CHUNK_MB = 128
"""Largest chunk (MiB, as stored) that a ``.npy`` shard is split into."""
KNN_KINDS = ("knn_purity", "mutual_knn")
SAMPLE_ROWS = 50_000
"""Items in the in-memory sample that pages show of an out-of-core dataset (:func:`core.sample_dataset`)."""
_STRATIFIED = "seeded sample stratified by label (proportional allocation)"


# --------------------------------------------------------------------------- sharded folders


def _natural(name: str):
    """Sort key: digits as numbers, so ``part-2`` comes before ``part-10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


class _NpyShards:
    """Rows of several ``.npy`` files as one read-only array-like (what ``dask.array.from_array`` reads).

    Each read maps the shard (``np.load(mmap_mode="r")``) and returns its rows: a view of the map
    when they lie in one shard (``np.ascontiguousarray`` of contiguous rows copies nothing; the
    pages are read as the task uses them and the map closes with the view), a copy when they
    span shards. Memory holds at most a chunk per running task, never whole files. Picklable
    (paths only): a multi-process cluster reads the shards itself.
    """

    def __init__(self, paths: list[str], rows: list[int], d: int, dtype) -> None:
        self.paths = tuple(paths)
        self.starts = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
        self.shape = (int(self.starts[-1]), int(d))
        self.dtype = np.dtype(dtype)
        self.ndim = 2

    def _rows(self, start: int, stop: int, cols) -> np.ndarray:
        parts = []
        for i in range(np.searchsorted(self.starts, start, side="right") - 1, len(self.paths)):
            lo, hi = self.starts[i], self.starts[i + 1]
            if lo >= stop:
                break
            a, b = max(start, lo) - lo, min(stop, hi) - lo
            if b <= a:
                continue
            mapped = np.load(self.paths[i], mmap_mode="r", allow_pickle=False)
            parts.append(np.ascontiguousarray(mapped[a:b][:, cols]))
            del mapped
        if not parts:
            width = len(range(*cols.indices(self.shape[1]))) if isinstance(cols, slice) else len(cols)
            return np.empty((0, width), self.dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given ascending rows: each shard mapped once and indexed, so only their pages are read."""
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        shard = np.searchsorted(self.starts, rows, side="right") - 1
        for i in np.unique(shard):
            sel = shard == i
            mapped = np.load(self.paths[i], mmap_mode="r", allow_pickle=False)
            out[sel] = mapped[rows[sel] - self.starts[i]]
            del mapped
        return out

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.shape[0])
            out = self._rows(start, stop, cols)
            return out if step == 1 else out[::step]
        idx = np.asarray(rows, dtype=np.int64)  # row numbers: read each run of the range they span
        if idx.size == 0:
            return self._rows(0, 0, cols)
        return self._rows(int(idx.min()), int(idx.max()) + 1, cols)[idx - idx.min()]


class _ParquetGroups:
    """Row groups of Parquet files as one read-only array-like: a vector column or dim_* columns."""

    def __init__(self, files: list[str], groups: list[tuple[int, int]], rows: list[int], columns: list[str],
                 vector: bool, d: int, dtype) -> None:
        self.files = tuple(files)
        self.groups = tuple(groups)  # (file index, row group)
        self.starts = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
        self.columns = list(columns)
        self.vector = vector
        self.shape = (int(self.starts[-1]), int(d))
        self.dtype = np.dtype(dtype)
        self.ndim = 2

    def _group(self, g: int) -> np.ndarray:
        import pyarrow.parquet as pq

        from .readers.arrow_formats import _list_chunk_to_matrix

        f, rg = self.groups[g]
        table = pq.ParquetFile(self.files[f]).read_row_group(rg, columns=self.columns)
        rel = f"{Path(self.files[f]).name} (row group {rg})"
        if self.vector:
            column = table.column(self.columns[0]).combine_chunks()
            return np.asarray(_list_chunk_to_matrix(column, self.columns[0], rel, int(self.starts[g])),
                              dtype=self.dtype)
        out = np.empty((table.num_rows, len(self.columns)), dtype=self.dtype)
        for j, c in enumerate(self.columns):
            col = table.column(c)
            if col.null_count:
                raise EmbedLensInputError(f"column {c!r} has missing values", source=rel, column=c)
            out[:, j] = col.to_numpy()
        return out

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.shape[0])
            idx = np.arange(start, stop, step)
        else:
            idx = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
        group_of = np.searchsorted(self.starts, idx, side="right") - 1
        for g in np.unique(group_of):
            sel = group_of == g
            out[sel] = self._group(int(g))[idx[sel] - self.starts[g]]
        return out[:, cols]


@dataclass(frozen=True, eq=False)
class ShardedView:
    """A view too large for memory: a lazy dask array over shards, with what it was read from.

    Attributes
    ----------
    X : dask.array.Array of shape (n, d), float32
        Chunks: ``.npy`` shards split into pieces of at most :data:`CHUNK_MB` (never across
        two shards); Parquet: one row group a chunk; Zarr: the store's own chunks.
    n, d : int
    source_dtype : str
        The dtype the shards store (``X`` is float32, as every in-memory view).
    format : {"npy", "parquet", "zarr"}
    shards : tuple of str
        File names in reading order (natural sort: ``part-2`` before ``part-10``).
    path : str
    column : str or None
        Parquet: the vector column (None for dim_* columns).
    """

    X: object
    n: int
    d: int
    source_dtype: str
    format: str
    shards: tuple
    path: str
    column: str | None = None
    params: dict = field(default_factory=dict)

    @cached_property
    def fingerprint(self) -> str:
        """:func:`fingerprint_chunked` of ``X`` (one pass, computed on first use and kept)."""
        return fingerprint_chunked(self.X)

    @property
    def stat_fingerprint(self) -> str:
        """32 hex digits over the format, shape, dtype and each shard's name, size and modification time.

        What a dataset of shards is keyed by (:func:`core.load`): it changes when a shard is rewritten,
        without reading 15 GB to hash the content (:attr:`fingerprint` does that, on request)."""
        root = Path(self.path)
        if self.format == "zarr":  # a store is a folder of chunk files: every one of them
            files = sorted(p for p in root.rglob("*") if p.is_file())
        else:
            files = [root / name if root.is_dir() else root for name in self.shards]
        stamp = [(f.relative_to(root).as_posix() if f != root else f.name, f.stat().st_size, f.stat().st_mtime_ns)
                 for f in files]
        key = repr(("embedlens-shards-v1", self.format, self.n, self.d, self.source_dtype, self.column, stamp))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _npy_shards(files: list[Path], root: Path, chunk_mb: float):
    from .readers.numpy_formats import _read_npy

    paths, rows, dtypes, d = [], [], set(), None
    for f in files:
        rel = str(f.relative_to(root)) if f != root else f.name
        mat = _read_npy(f, rel).matrices[0].data  # the shared .npy checks (header, pickles, 2-D, numbers)
        if d is None:
            d = mat.shape[1]
        elif mat.shape[1] != d:
            raise EmbedLensInputError(f"has {mat.shape[1]} columns but {files[0].name} has {d}; every shard "
                                      "must have the same width", source=rel)
        paths.append(str(f))
        rows.append(int(mat.shape[0]))
        dtypes.add(mat.dtype)
        del mat
    dtype = np.result_type(*dtypes)
    per = max(1, int(chunk_mb * (1 << 20)) // max(1, d * dtype.itemsize))
    chunks = [min(per, r - s) for r in rows for s in range(0, r, per)]
    return _NpyShards(paths, rows, d, dtype), tuple(chunks), str(dtype), None


def _parquet_shards(files: list[Path], root: Path, column: str | None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .readers.arrow_formats import _is_vector_type
    from .readers.contents import _DIM_COLUMN

    first = pq.ParquetFile(files[0])
    schema = first.schema_arrow
    rel0 = str(files[0].relative_to(root)) if files[0] != root else files[0].name
    vectors = [f.name for f in schema if _is_vector_type(f.type)]
    if column is not None:
        if column not in schema.names:
            raise EmbedLensInputError(f"has no column {column!r} (columns: {', '.join(schema.names)})",
                                      source=rel0, column=column)
        vector, columns = True, [column]
    elif len(vectors) == 1:
        vector, columns = True, vectors
    elif len(vectors) > 1:
        raise EmbedLensInputError(f"has {len(vectors)} vector columns ({', '.join(vectors)}); pass "
                                  f"column=... to pick one", source=rel0)
    else:
        dims = sorted((c for c in schema.names if _DIM_COLUMN.match(c)),
                      key=lambda c: int(_DIM_COLUMN.match(c).group(2)))
        if not dims:
            raise EmbedLensInputError("has no vector column; expected a list<float> column or numeric columns "
                                      f"dim_0 .. dim_k (columns: {', '.join(schema.names)})", source=rel0)
        vector, columns = False, dims
    groups, rows, d = [], [], None
    for i, f in enumerate(files):
        pf = first if i == 0 else pq.ParquetFile(f)
        if pf.schema_arrow != schema:
            raise EmbedLensInputError(f"has another schema than {files[0].name}; every file must have the same "
                                      "columns", source=f.name)
        for g in range(pf.metadata.num_row_groups):
            groups.append((i, g))
            rows.append(int(pf.metadata.row_group(g).num_rows))
    if vector:
        t = schema.field(columns[0]).type
        if pa.types.is_fixed_size_list(t):
            d = t.list_size
        else:  # the width of the first non-empty vector
            g = next((j for j, r in enumerate(rows) if r), 0)
            f, rg = groups[g]
            head = pq.ParquetFile(files[f]).read_row_group(rg, columns=columns).column(0)
            d = int(len(head[0].values)) if len(head) else 0
        value = t.value_type
    else:
        d = len(columns)
        value = schema.field(columns[0]).type
    dtype = np.dtype(value.to_pandas_dtype())
    reader = _ParquetGroups([str(f) for f in files], groups, rows, columns, vector, d, dtype)
    return reader, tuple(rows), str(dtype), columns[0] if vector else None


def open_sharded(path, /, *, column: str | None = None, chunk_mb: float = CHUNK_MB,
                 inside=None) -> ShardedView:
    """Open a folder of ``.npy`` shards, Parquet files or a Zarr array as one lazy float32 dask array.

    Shards are read in natural name order (``part-2`` before ``part-10``); nothing is read but
    the headers (Parquet: the footers) until a metric computes. A ``.npy`` shard is
    memory-mapped for each chunk read and the rows copied out, so the memory held is a chunk per
    running task.

    Parameters
    ----------
    path : str or Path
        A folder of ``*.npy`` files, a folder of ``*.parquet`` / ``*.pq`` files, a single such
        file, or a Zarr store (a ``*.zarr`` folder, or one holding ``.zarray`` / ``zarr.json``;
        needs the ``zarr`` package).
    column : str, optional
        Parquet: the list column holding the vectors (default: the only one, else numeric
        ``dim_0 .. dim_k`` columns).
    chunk_mb : float, default=CHUNK_MB
        ``.npy``: the largest chunk, in MiB as stored (a shard is split; chunks never span shards).
    inside : str or Path, optional
        The folder every shard must resolve into (default: ``path`` itself): a shard that is a
        symbolic link leading elsewhere is refused.

    Returns
    -------
    ShardedView
        ``X`` (float32 dask array), ``n``, ``d``, ``shards`` and a lazily computed ``fingerprint``.

    Raises
    ------
    EmbedLensInputError
        The path does not exist, holds no shards, mixes ``.npy`` and Parquet; a shard that is
        not a numeric 2-D ``.npy`` (pickles are never loaded), shards of different widths or
        schemas; Parquet without a vector or ``dim_*`` column, or with several vector columns
        and no ``column``; ``chunk_mb`` not positive; a shard leading outside ``inside``.
    ImportError
        Without dask (``pip install 'embedlens[scale]'``); a Zarr store without ``zarr``.

    Examples
    --------
    >>> for i, rows in enumerate([3, 5]):  # doctest: +SKIP
    ...     np.save(folder / f"part-{i}.npy", np.ones((rows, 4), np.float32))
    >>> view = open_sharded(folder)  # doctest: +SKIP
    >>> view.n, view.d, view.X.chunks[0]  # doctest: +SKIP
    (8, 4, (3, 5))
    """
    check_param("chunk_mb", chunk_mb, Interval(Real, 0, None, closed="neither"))
    da = _dask._dask_array()
    root = Path(path)
    if not root.exists():
        raise EmbedLensInputError("does not exist", source=str(path))
    is_zarr = root.is_dir() and (root.suffix == ".zarr" or (root / ".zarray").exists()
                                 or (root / "zarr.json").exists())
    if is_zarr:
        from .readers.contents import _inside

        if inside is not None and not _inside(root, Path(inside)):
            raise EmbedLensInputError(f"leads outside {Path(inside).name}", source=str(path))
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise ImportError("reading a Zarr store needs the zarr package (pip install zarr)") from None
        X = da.from_zarr(str(root))
        _dask.check_matrix(X, name=root.name)
        source_dtype = str(X.dtype)
        X = X.astype(np.float32) if X.dtype != np.float32 else X
        X = X.rechunk({1: -1})
        return ShardedView(X, int(X.shape[0]), int(X.shape[1]), source_dtype, "zarr", (root.name,), str(root),
                           params={"chunks": len(X.chunks[0])})
    from .readers.contents import _is_hidden

    files = [root] if root.is_file() else sorted(
        (f for f in root.iterdir() if f.is_file() and not _is_hidden((f.name,))),
        key=lambda f: _natural(f.name))
    from .readers.contents import _inside

    fence = Path(inside) if inside is not None else (root if root.is_dir() else root.parent)
    for f in files:
        if not _inside(f, fence):
            raise EmbedLensInputError(f"{f.name} is a link leading outside {fence.name}; shards must lie inside "
                                      "the folder", source=str(path))
    npy = [f for f in files if f.suffix.lower() == ".npy"]
    parquet = [f for f in files if f.suffix.lower() in (".parquet", ".pq")]
    if npy and parquet:
        raise EmbedLensInputError(f"holds both .npy ({len(npy)}) and Parquet ({len(parquet)}) shards; keep one "
                                  "format per folder", source=str(path))
    if not npy and not parquet:
        raise EmbedLensInputError("holds no .npy or Parquet shards (nor is it a Zarr store)", source=str(path))
    if npy:
        reader, chunks, source_dtype, col = _npy_shards(npy, root, chunk_mb)
        fmt, used = "npy", npy
    else:
        reader, chunks, source_dtype, col = _parquet_shards(parquet, root, column)
        fmt, used = "parquet", parquet
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in used]
    name = "embedlens-shards-" + hashlib.sha256(repr((stamp, chunks, column)).encode()).hexdigest()[:24]
    # inline_array: each read task carries the reader (paths, row counts): no task waits on a shared key
    X = da.from_array(reader, chunks=(chunks, reader.shape[1]), name=name, asarray=True, lock=False,
                      inline_array=True, meta=np.empty((0, reader.shape[1]), dtype=reader.dtype), fancy=False)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if isinstance(reader, _NpyShards):
        _dask.ROW_READERS[X.name] = reader  # take_rows reads a sample's own pages
    return ShardedView(X, reader.shape[0], reader.shape[1], source_dtype, fmt, tuple(f.name for f in used),
                       str(root), column=col, params={"chunks": len(chunks)})


def fingerprint_chunked(X) -> str:
    """:func:`core.fingerprint_array` of a dask array, hashed chunk by chunk (equal to the in-memory one).

    The in-memory fingerprint hashes 32 MiB row blocks of the float32 matrix and then their
    digests; here the array is rechunked to the same row blocks and each block is hashed where it
    is read, so only the digests travel.

    Parameters
    ----------
    X : dask.array.Array or array-like of shape (n, d)

    Returns
    -------
    str
        32 hex digits, the same as ``fingerprint_array(np.asarray(X))``.

    Raises
    ------
    ValueError
        ``X`` not 2-D.
    """
    from dask import delayed

    from .readers.fingerprint import _block_digest, _block_rows, _combine, fingerprint_array

    if not _dask.is_dask(X):
        return fingerprint_array(X)
    n, d = X.shape
    rows = _block_rows(d)
    X = X.astype(np.float32) if X.dtype != np.float32 else X
    X = X.rechunk(((rows,) * (n // rows) + ((n % rows,) if n % rows else ()) or (0,), (d,)))
    fn = delayed(_block_digest, pure=True)
    digests = _dask.compute(*[fn(b) for b in X.to_delayed().ravel()])
    return _combine(n, d, digests)  # as fingerprint_array (tested equal)


# --------------------------------------------------------------------------- in-memory samples


def read_rows(X, rows) -> np.ndarray:
    """The given rows of a view, in memory, float32, reading as little as the storage allows.

    Of ``.npy`` shards (:func:`open_sharded`) each shard is memory-mapped once and indexed, so 50,000
    rows of 10,000,000 read their own pages only (:func:`core._dask.take_rows`); of other dask arrays
    the chunks holding the rows are read; numpy arrays are indexed.

    Parameters
    ----------
    X : ndarray or dask.array.Array of shape (n, d)
    rows : array-like of int
        Row numbers in ``[0, n)``.

    Returns
    -------
    ndarray of shape (len(rows), d), float32
        In the order of ``rows``.

    Raises
    ------
    IndexError
        A row number outside ``[0, n)``.
    """
    return np.asarray(_dask.sample_rows(X, rows), dtype=np.float32)


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class _Drawn:
    rows: np.ndarray
    n_input: int
    seed: int
    method: str
    strata: np.ndarray | None  # stratum of each pool row (codes), or None


def _draw(n: int, size: int, seed: int, labels, pool=None) -> _Drawn:
    """The declared sample: seeded uniform (:func:`core._sampling.subsample`) or stratified by ``labels``."""
    from .selection import stratified_sample
    from .tables import encode_labels

    pool = np.arange(n) if pool is None else np.asarray(pool, dtype=np.int64)
    if labels is None:
        s = subsample(pool, size, seed=seed)
        return _Drawn(s.rows, len(pool), int(seed), s.method, None)
    codes, _ = encode_labels(labels, n)
    strata = codes[pool]
    rows = pool[stratified_sample(strata, size, seed=seed)]
    method = _STRATIFIED if len(rows) < len(pool) else "all rows"
    return _Drawn(np.sort(rows), len(pool), int(seed), method, strata)


# --------------------------------------------------------------------------- sample, then extend


@dataclass(frozen=True, eq=False)
class ExtendedMap:
    """A UMAP map of every item: fitted on a declared sample, the other items placed by ``transform``.

    Attributes
    ----------
    coordinates : ndarray of shape (n, n_components), float32
        Sampled rows keep their fitted coordinates; every other row is ``UMAP.transform``'s.
    sample_rows : ndarray of int64
        The rows the map was fitted on (ascending).
    n_input : int
    seed : int
    method : str
        How the sample was drawn (uniform or stratified by label).
    params : dict
        ``n_neighbors``, ``min_dist``, ``metric``, ``library``, ``chunks`` (transform tasks), ...
    """

    coordinates: np.ndarray
    sample_rows: np.ndarray
    n_input: int
    seed: int
    method: str
    params: dict = field(default_factory=dict)

    @property
    def in_sample(self) -> np.ndarray:
        """Boolean mask (n,): the rows the map was fitted on."""
        mask = np.zeros(self.n_input, dtype=bool)
        mask[self.sample_rows] = True
        return mask

    @property
    def label(self) -> str:
        """``"UMAP fitted on 50,000 of 10,000,000 rows (seed 0), the rest placed by transform"``."""
        return (f"UMAP fitted on {len(self.sample_rows):,} of {self.n_input:,} rows (seed {self.seed}), "
                "the rest placed by transform")


def _transform_block(block, reducer, n_components):
    """``UMAP.transform`` of the finite rows; a last column flags (1.0) the rows holding NaN / inf."""
    import warnings

    block = np.asarray(block, dtype=np.float32)
    out = np.full((len(block), n_components + 1), np.nan, np.float32)
    finite = np.isfinite(block).all(axis=1)
    out[:, -1] = ~finite
    if finite.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[finite, :-1] = reducer.transform(block if finite.all() else block[finite])
    return out


def sample_then_extend_umap(X, /, *, sample_size: int = 50_000, seed: int = 0, labels=None,
                            n_neighbors: int = 15, min_dist: float = 0.1, metric: str = "cosine",
                            n_components: int = 2, chunk_rows: int = 10_000) -> ExtendedMap:
    """UMAP of every item: fitted on a seeded (optionally stratified) sample, the rest placed by ``transform``.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
    sample_size : int, default=50_000
        Rows the map is fitted on (all rows when n is no larger).
    seed : int, default=0
        Of the sample and of UMAP (``random_state`` and ``transform_seed``; a seeded UMAP fit is
        single-threaded, the transform runs one task per chunk).
    labels : array-like of shape (n,), optional
        Stratify the sample by these labels (proportional allocation,
        :func:`core.stratified_sample`), so small classes are on the map.
    n_neighbors : int, default=15
    min_dist : float, default=0.1
    metric : {"cosine", "euclidean"}, default="cosine"
    n_components : int, default=2
    chunk_rows : int, default=10_000
        Rows per transform task: rows ``0 .. chunk_rows - 1`` form the first batch, and so on,
        whatever the storage chunks (umap-learn's transform scales each batch's graph by its
        largest membership, so the batches are part of the result; it runs 100 epochs for a
        batch of up to 10,000 rows and 30 above).

    Returns
    -------
    ExtendedMap
        Coordinates of all n rows, the sample's rows, seed and method.

    Raises
    ------
    EmbedLensInputError
        ``sample_size`` < 2 or not an integer, ``n_neighbors`` not in ``[2, sample)``, ``metric``
        not cosine / euclidean, ``X`` not a 2-D numeric matrix, or NaN / inf rows (an in-memory
        ``X`` is checked first; a dask array's are found as its chunks are placed).
    ImportError
        A dask array without dask installed.

    Notes
    -----
    ``UMAP.transform`` places each new point from its neighbours among the fitted points and a
    short optimisation against the fixed map (McInnes, Healy & Melville, 2018, section on
    transforming new data); umap-learn seeds it per point (``transform_seed``), so the result
    depends on the data, the seeds and ``chunk_rows`` alone. The sample, not the full data, sets
    the layout: clusters absent from the sample land near their closest sampled relatives. Cost: a UMAP fit of
    ``sample_size`` rows plus O(n) transforms (a neighbour query and a few optimisation epochs
    each).
    """
    from ._umap_compat import import_umap

    check_param("sample_size", sample_size, Interval(Integral, 2, None, whole_floats=True))
    check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    check_param("chunk_rows", chunk_rows, Interval(Integral, 1, None, whole_floats=True))
    lazy = _dask.is_dask(X)
    X = _dask.check_matrix(X, min_rows=2) if lazy else check_embeddings(X, min_rows=2)
    n = X.shape[0]
    drawn = _draw(n, int(sample_size), seed, labels)
    check_param("n_neighbors", n_neighbors, Interval(Integral, 2, len(drawn.rows), closed="left"),
                hint=f"the sample has {len(drawn.rows):,} rows")
    sample = read_rows(X, drawn.rows) if lazy else np.asarray(X[drawn.rows])  # .npy shards: only those rows
    if lazy and not np.isfinite(sample).all():  # name every such row of X, not the sample's
        _dask._raise_nonfinite(X, "X", hint=SHARD_ROWS_HINT)
    umap = import_umap()
    reducer = umap.UMAP(n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric=metric,
                        n_components=int(n_components), random_state=int(seed), transform_seed=int(seed),
                        n_jobs=1)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*overridden to 1 by setting random_state.*")
        fitted = np.asarray(reducer.fit_transform(sample), dtype=np.float32)
    # fixed batches of chunk_rows rows, whatever the storage chunks: umap-learn scales each transform
    # batch's graph by its largest membership (and runs 100 epochs up to 10,000 rows, 30 above)
    da = _dask._dask_array()
    A = X.rechunk({0: int(chunk_rows)}) if lazy else da.from_array(X, chunks=(int(chunk_rows), -1))
    from dask import delayed

    shared = delayed(reducer, pure=True)  # one copy of the fitted model in the graph
    out = A.map_blocks(_transform_block, shared, int(n_components), dtype=np.float32,
                       chunks=(A.chunks[0], (int(n_components) + 1,)), meta=np.empty((0, 0), np.float32))
    (placed,) = _dask.compute(out)
    bad = np.flatnonzero(placed[:, -1] > 0)
    if len(bad):
        raise nonfinite_rows_error(bad, n, source="X", hint=SHARD_ROWS_HINT if lazy else DROP_ROWS_HINT)
    coords = np.ascontiguousarray(placed[:, :-1], dtype=np.float32)
    coords[drawn.rows] = fitted
    params = {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "metric": metric,
              "n_components": int(n_components), "library": f"umap-learn {umap.__version__}",
              "extend": "UMAP.transform in batches of chunk_rows rows (dask tasks)", "chunk_rows": int(chunk_rows),
              "chunks": len(A.chunks[0]), "sample_size": len(drawn.rows)}
    return ExtendedMap(coords, drawn.rows, n, int(seed), drawn.method, params)


# --------------------------------------------------------------------------- sampled kNN metrics


@dataclass(frozen=True, eq=False)
class SampledMetric:
    """The mean of a per-item kNN metric over all items, estimated from a declared sample.

    Attributes
    ----------
    value : float
        Estimate of the mean over all (labelled) items: the stratum-weighted sample mean.
    se : float
        Its standard error, with the finite-population correction (0 when every item is used).
    ci : (float, float)
        ``value -/+ z se`` (normal approximation), clipped to [0, 1].
    confidence : float
    per_item : ndarray of shape (m,)
        The metric of each sampled item (exact: its neighbours among all n items).
    rows : ndarray of int64
        The sampled items (ascending).
    n_input : int
        Items the sample was drawn from.
    seed : int
    method : str
    kind : {"knn_purity", "mutual_knn"}
    k : int
    metric : str
    params : dict
    """

    value: float
    se: float
    ci: tuple
    confidence: float
    per_item: np.ndarray
    rows: np.ndarray
    n_input: int
    seed: int
    method: str
    kind: str
    k: int
    metric: str
    params: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)

    @property
    def label(self) -> str:
        """``"0.912 +/- 0.004 (95 % CI 0.904-0.920; 2,000 of 1,000,000 items, seed 0)"``."""
        lo, hi = self.ci
        return (f"{self.value:.3f} +/- {self.se:.3f} ({self.confidence:.0%} CI {lo:.3f}-{hi:.3f}; "
                f"{len(self.rows):,} of {self.n_input:,} items, seed {self.seed})")


_MARGIN = 4
_SUB_ROWS = 4096


def _knn_chunk(block, offset, *, Q, qrows, k, metric):
    """Each query's ``k + margin`` nearest rows of one chunk: ``(distances, global rows, rows with NaN / inf)``.

    Candidates by float64 matrix products (cosine: :func:`core._numerics.cosine_distances`;
    euclidean: ``|q|^2 + |x|^2 - 2 q.x`` on rows shifted by the queries' mean), then euclidean
    candidates re-ranked on exact differences. The query itself is never its own neighbour.
    """
    block = np.asarray(block, dtype=np.float64)
    m = len(Q)
    keep = min(k + _MARGIN, len(block))
    best_d = np.full((m, 0), np.inf)
    best_i = np.full((m, 0), -1, dtype=np.int64)
    if metric == "euclidean":
        shift = Q.mean(axis=0)
        Qs = Q - shift
        qsq = np.einsum("ij,ij->i", Qs, Qs)
    for s in range(0, len(block), _SUB_ROWS):
        B = block[s:s + _SUB_ROWS]
        ids = np.arange(offset + s, offset + s + len(B))
        if metric == "cosine":
            D = cosine_distances(Q, B)
        else:
            Bs = B - shift
            D = qsq[:, None] + np.einsum("ij,ij->i", Bs, Bs)[None, :] - 2.0 * (Qs @ Bs.T)
        D[qrows[:, None] == ids[None, :]] = np.inf  # not one's own neighbour
        t = min(keep, len(B))
        part = np.argpartition(D, t - 1, axis=1)[:, :t] if t < len(B) else np.tile(np.arange(len(B)), (m, 1))
        cand_i = ids[part]
        if metric == "cosine":
            cand_d = np.take_along_axis(D, part, axis=1)
        else:  # exact squared differences for the candidates
            diff = B[part] - Q[:, None, :]
            cand_d = np.einsum("ijk,ijk->ij", diff, diff)
            cand_d[cand_i == qrows[:, None]] = np.inf
        best_d = np.hstack([best_d, cand_d])
        best_i = np.hstack([best_i, cand_i])
        best_d, best_i = _top(best_d, best_i, keep)
    return best_d, best_i, int((~np.isfinite(block).all(axis=1)).sum())


def _top(dist, idx, keep):
    """The ``keep`` smallest distances per row, ties to the lower row number."""
    by_idx = np.argsort(idx, axis=1, kind="stable")
    dist, idx = np.take_along_axis(dist, by_idx, 1), np.take_along_axis(idx, by_idx, 1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :keep]
    return np.take_along_axis(dist, order, 1), np.take_along_axis(idx, order, 1)


def _merge(*parts):
    """Top lists of several chunks merged (associative: the tree may group them in any order)."""
    d = np.hstack([p[0] for p in parts])
    i = np.hstack([p[1] for p in parts])
    keep = max(p[0].shape[1] for p in parts)
    return (*_top(d, i, keep), sum(p[2] for p in parts))


def _query_knn(X, rows: np.ndarray, k: int, metric: str, lazy: bool, name: str = "X") -> np.ndarray:
    """Global row numbers of the exact k nearest rows of each of ``rows`` among all rows (self excluded)."""
    Q = np.asarray(read_rows(X, rows) if lazy else X[rows], dtype=np.float64)
    if lazy:
        from dask import delayed

        fn = delayed(_knn_chunk, pure=True)
        Qd = delayed(Q, pure=True)  # one copy of the queries in the graph, not one per task
        parts = [fn(b[0], off, Q=Qd, qrows=rows, k=k, metric=metric) for b, off in _dask.row_blocks(X)]
        dist, idx, nbad = _dask.compute(_dask.tree_sum(parts, combine=_merge))[0]
    else:
        step = 65_536
        parts = [_knn_chunk(X[s:s + step], s, Q=Q, qrows=rows, k=k, metric=metric) for s in range(0, len(X), step)]
        dist, idx, nbad = _merge(*parts)
    if nbad:  # only a dask array gets here with NaN / inf (an in-memory one was checked whole)
        _dask._raise_nonfinite(X, name, hint=SHARD_ROWS_HINT)
    return idx[:, :k]


def _stratified_mean(values: np.ndarray, strata: np.ndarray | None, pool_strata: np.ndarray | None,
                     n_pool: int) -> tuple[float, float]:
    """Stratified estimate of the population mean and its standard error (Cochran 1977, 5.9 with the FPC)."""
    if strata is None:
        strata = np.zeros(len(values), dtype=np.int64)
        sizes = {0: n_pool}
    else:
        levels, counts = np.unique(pool_strata, return_counts=True)
        sizes = dict(zip(levels.tolist(), counts.tolist()))
    mean = var = 0.0
    for h in np.unique(strata):
        v = values[strata == h]
        N_h, m_h = sizes[int(h)], len(v)
        W = N_h / n_pool
        mean += W * float(v.mean())
        if m_h > 1:
            var += W * W * (1.0 - m_h / N_h) * float(v.var(ddof=1)) / m_h
    return mean, float(np.sqrt(max(var, 0.0)))


def sampled_knn_metric(X, /, *, kind: str = "knn_purity", labels=None, Y=None, k: int = 10,
                       sample_size: int = 2000, seed: int = 0, stratify=None, metric: str = "cosine",
                       confidence: float = 0.95) -> SampledMetric:
    r"""Mean of a per-item kNN metric over all items, from the exact neighbours of a declared sample.

    Each sampled item's k nearest neighbours are searched among *all* n items (one pass over
    ``X``, chunk by chunk on a dask array), so its value is the one the full kNN graph would
    give; only the average is estimated. Per item:

    ``"knn_purity"``
        the share of the k neighbours that carry the item's label (as :func:`core.knn_purity`;
        the sample is drawn from the labelled items, an unlabelled neighbour never matches).
    ``"mutual_knn"``
        the share of its k neighbours in ``X`` that are also among its k neighbours in ``Y`` (a
        second view of the same items, or a 2-D map: kNN preservation), as in the mutual
        nearest-neighbour alignment of Huh et al. (2024).

    .. math::

        \hat\mu = \sum_h W_h \bar y_h, \qquad
        \widehat{\mathrm{SE}}^2 = \sum_h W_h^2 \Big(1 - \frac{m_h}{N_h}\Big) \frac{s_h^2}{m_h}

    with strata h (one stratum when not stratified), ``W_h = N_h / N``, ``m_h`` items sampled of
    ``N_h``, ``s_h^2`` their sample variance (Cochran, *Sampling Techniques*, 1977, 5.9). The
    interval is ``mu -/+ z SE`` with the normal quantile z.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
    kind : {"knn_purity", "mutual_knn"}, default="knn_purity"
    labels : array-like of shape (n,), optional
        Required for ``"knn_purity"`` (NaN / None: unlabelled).
    Y : array-like or dask.array.Array of shape (n, d_y), optional
        Required for ``"mutual_knn"``.
    k : int, default=10
    sample_size : int, default=2000
    seed : int, default=0
    stratify : array-like of shape (n,), optional
        Strata for the sample (proportional allocation); ``"knn_purity"`` stratifies by
        ``labels`` when this is None.
    metric : {"cosine", "euclidean"}, default="cosine"
        For both views.
    confidence : float in (0, 1), default=0.95

    Returns
    -------
    SampledMetric
        The estimate, its SE and interval, every sampled item's value, the rows, seed and method.

    Raises
    ------
    EmbedLensInputError
        ``kind`` / ``metric`` not among the choices; ``labels`` missing for purity (or no
        labelled item), ``Y`` missing for mutual kNN or with another row count; ``k`` not in
        ``[1, n)``; ``sample_size`` < 1; ``confidence`` outside (0, 1); ``X`` not a 2-D numeric
        matrix, or NaN / inf in the sampled rows.

    Examples
    --------
    >>> X = np.repeat(np.eye(3), 20, axis=0) + 0.01 * np.random.default_rng(0).standard_normal((60, 3))
    >>> r = sampled_knn_metric(X, labels=np.repeat([0, 1, 2], 20), k=5, sample_size=30)
    >>> print(r.value, r.se, len(r.rows))
    1.0 0.0 30
    """
    from scipy.stats import norm

    from .tables import encode_labels

    check_param("kind", kind, StrOptions(set(KNN_KINDS), order=KNN_KINDS))
    check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    check_param("sample_size", sample_size, Interval(Integral, 1, None, whole_floats=True))
    check_param("confidence", confidence, Interval(Real, 0, 1, closed="neither"))
    lazy = _dask.is_dask(X)
    X = _dask.check_matrix(X, min_rows=2) if lazy else check_embeddings(X, min_rows=2)
    n = X.shape[0]
    check_param("k", k, Interval(Integral, 1, n, closed="left", whole_floats=True), hint=f"n = {n:,} items")
    pool, codes = None, None
    if kind == "knn_purity":
        if labels is None:
            raise EmbedLensInputError("kind='knn_purity' needs labels=", source="labels")
        codes, _ = encode_labels(labels, n)
        pool = np.flatnonzero(codes >= 0)
        if not len(pool):
            raise EmbedLensInputError("every label is missing; kNN purity needs labelled items", source="labels")
        if stratify is None:
            stratify = labels
    else:
        if Y is None:
            raise EmbedLensInputError("kind='mutual_knn' needs Y= (a second view of the same items)", source="Y")
        lazy_y = _dask.is_dask(Y)
        Y = _dask.check_matrix(Y, name="Y") if lazy_y else check_embeddings(Y, name="Y")
        if Y.shape[0] != n:
            raise EmbedLensInputError(f"X has {n} rows but Y has {Y.shape[0]}; the views must hold the same items")
    drawn = _draw(n, int(sample_size), seed, stratify, pool=pool)
    rows = drawn.rows
    idx = _query_knn(X, rows, int(k), metric, lazy)
    if kind == "knn_purity":
        per_item = (codes[idx] == codes[rows][:, None]).mean(axis=1)
    else:
        idx_y = _query_knn(Y, rows, int(k), metric, lazy_y, "Y")
        from .similarity import _overlap  # the in-memory mutual kNN's per-row count

        per_item = _overlap(idx, idx_y).astype(np.float64) / k
    strata = None if drawn.strata is None else drawn.strata[np.searchsorted(
        np.arange(n) if pool is None else pool, rows)]
    value, se = _stratified_mean(per_item, strata, drawn.strata, drawn.n_input)
    z = float(norm.ppf(0.5 + confidence / 2))
    ci = (max(0.0, value - z * se), min(1.0, value + z * se))
    params = {"search": "exact, float64, among all items", "strata": None if strata is None else
              int(len(np.unique(strata))), "se": "stratified, finite-population corrected (Cochran 1977)"}
    return SampledMetric(value=float(value), se=se, ci=ci, confidence=float(confidence), per_item=per_item,
                         rows=rows, n_input=drawn.n_input, seed=int(seed), method=drawn.method, kind=kind,
                         k=int(k), metric=metric, params=params)
