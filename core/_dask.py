"""Scale-out on Dask: the sufficient statistics of the exact metrics, summed over row chunks.

Most EmbedLens metrics are functions of a few sums over items: the row count, column sums and
the d x d second moment ``X^T X`` (every covariance and cosine spectrum and what is read off it),
per-class counts, sums and scatters (neural collapse, rate reduction), and the cross-product
``X^T Y`` of two row-aligned views (linear CKA). Here each chunk of a ``dask.array.Array`` gives
its partial sums in float64 (a pure numpy function of the chunk), and dask adds the partials in a
tree, :data:`SPLIT_EVERY` at a time (:func:`tree_sum`). Nothing is sampled: the result is the
in-memory one up to the float64 rounding of the additions (tests: 1e-10 relative on uneven
chunks). The functions here take the same options as their in-memory twins and return the same
shapes, so :mod:`core.spectra`, :mod:`core.diversity` and :mod:`core.labels` only swap the
moment function and reuse the rest of their code.

Accuracy as in memory: rows are shifted by a pilot mean (the first :data:`PILOT_ROWS` rows) before
any product, so centring does not cancel; products overflowing or underflowing their dtype are
redone on rows divided by an exact power of two (:func:`core._numerics.pow2_scale` of the largest
entry), as :func:`core.spectra._feature_moments` does.

Dask is imported lazily: ``core`` imports and runs without it (``pip install
'embedlens[scale]'`` adds ``dask[array]`` and ``distributed``). Written on dask's own primitives
(``to_delayed``, ``dask.delayed``, ``dask.compute``) because ``dask.array`` offers no float64
``X^T X`` over row chunks: ``X.T @ X`` sums the partial products in X's dtype (float32 for
embeddings), without a shift, and has no per-class or unit-row variant.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np

from ._numerics import pow2_scale, unit_rows
from ._validation import (DROP_ROWS_HINT, EmbedLensInputError, NonFiniteRowsError, nonfinite_rows_error, plural,
                          require_real_matrix)
from ._validation import nonfinite_rows as _rows_with_nonfinite

__all__ = ["SPLIT_EVERY", "PILOT_ROWS", "MomentLimits", "is_dask", "client", "check_matrix", "row_blocks",
           "tree_sum", "chunk_sum", "compute", "nonfinite_rows", "take_rows", "feature_moments",
           "shared_pass", "class_moments", "class_grams", "CrossCovariance", "cross_covariance"]

SPLIT_EVERY = 8
"""Partial sums added per task of the tree reduction (dask's own default for reductions)."""
PILOT_ROWS = 4096
"""Rows whose mean is the shift subtracted before every product."""
GRAM_BUDGET_BYTES = 256 << 20
"""Per-class d x d grams held at once by :func:`class_grams` (more classes: several passes)."""
_FIRST_BAD = 5


class MomentLimits(NamedTuple):
    """The in-memory moment pass's thresholds (:mod:`core.spectra` passes its own, so both paths agree).

    Attributes
    ----------
    float64_max_entries : int
        ``precision="auto"`` forms float64 products up to this many entries of X (n * d).
    shift_ratio : float
        float32 products: a second pass about the mean above this ``|mean - shift|^2 / tr C``.
    shift_ratio_64 : float
        The same for float64 products of unit rows (which take no pilot shift).
    """

    float64_max_entries: int
    shift_ratio: float
    shift_ratio_64: float
_INSTALL = "pip install 'embedlens[scale]' (dask[array] and distributed)"


# --------------------------------------------------------------------------- dask itself


def is_dask(X) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (False, without importing dask, when dask is not loaded).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Raises
    ------
    Nothing.
    """
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def _dask_array():
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError(f"this needs dask: {_INSTALL}") from None
    return da


def client(address: str | None = None, /, **cluster_options):
    """A ``distributed.Client``: on a new local cluster, or connected to a running scheduler.

    While the client is open (and it is the default one, as a new client is), every dask
    computation in :mod:`core` runs on its cluster.

    Parameters
    ----------
    address : str, optional
        A scheduler address such as ``"tcp://10.0.0.5:8786"`` (what ``embedlens --dask
        tcp://HOST:PORT`` passes). None: start a ``distributed.LocalCluster`` on this machine.
    **cluster_options
        For a local cluster: ``LocalCluster`` options (``n_workers``, ``threads_per_worker``,
        ``processes``, ``memory_limit``, ...); its dashboard listens on a free port
        (``dashboard_address=":0"``) unless given. For an address: ``Client`` options
        (``timeout``, ...).

    Returns
    -------
    distributed.Client
        ``client.dashboard_link`` is the cluster's dashboard. Closing the client closes a local
        cluster it started (use it as a context manager).

    Raises
    ------
    ImportError
        When ``distributed`` is not installed (the message gives the install command).
    OSError, TimeoutError
        From ``distributed`` when no scheduler answers at ``address``.

    Examples
    --------
    >>> with client(n_workers=1, processes=False, threads_per_worker=1) as c:  # doctest: +SKIP
    ...     print(c.dashboard_link)
    """
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - the extra is missing
        raise ImportError(f"a Dask cluster needs distributed: {_INSTALL}") from None
    if address is not None:
        return Client(address, **cluster_options)
    cluster_options.setdefault("dashboard_address", ":0")
    return Client(**cluster_options)  # no address: a LocalCluster that the client owns and closes


def check_matrix(X, *, name: str = "X", min_rows: int = 1, min_cols: int = 1):
    """:func:`core.check_embeddings` for a dask array, without reading it: dtype, shape, sizes.

    Integers and booleans are cast to float32 (lazily, as the in-memory check does); columns are
    merged into one chunk (each row chunk is then one task). NaN / inf rows are found later, by
    the pass that reads the data.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
    name : str, default="X"
    min_rows, min_cols : int, default=1

    Returns
    -------
    dask.array.Array of shape (n, d)
        Floating; one chunk across the columns.

    Raises
    ------
    EmbedLensInputError
        A non-numeric or complex dtype, not 2-D, fewer than ``min_rows`` rows or ``min_cols``
        columns, or unknown chunk sizes (e.g. after boolean indexing: call
        ``X.compute_chunk_sizes()`` first).
    """
    require_real_matrix(X, source=name)
    n, d = X.shape
    if not (np.isfinite(n) and np.isfinite(d)):
        raise EmbedLensInputError("has unknown chunk sizes (NaN in X.chunks); call X.compute_chunk_sizes() "
                                  "first", source=name)
    if n < min_rows:
        raise EmbedLensInputError(f"has {plural(n, 'row')}; at least {min_rows} are needed", source=name)
    if d < min_cols:
        raise EmbedLensInputError(f"has {d} columns; at least {min_cols} are needed", source=name)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def row_blocks(X, *others) -> list[tuple[tuple, int]]:
    """``[(blocks, offset)]``: each row chunk of ``X`` (and the same rows of ``others``) as delayed objects.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
        One chunk across the columns (:func:`check_matrix`).
    *others : dask.array.Array of shape (n, ...)
        Row-aligned arrays, rechunked to ``X``'s row chunks.

    Returns
    -------
    list of (tuple of dask.delayed.Delayed, int)
        Per row chunk: its block of ``X`` and of each of ``others``, and its first row number.

    Raises
    ------
    ValueError
        From dask, when the row counts differ.
    """
    arrays = [X] + [A.rechunk({0: X.chunks[0], **{i: -1 for i in range(1, A.ndim)}}) for A in others]
    delayed = [A.to_delayed().reshape(len(X.chunks[0]), -1)[:, 0] for A in arrays]
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
    return [(tuple(col[i] for col in delayed), int(offsets[i])) for i in range(len(X.chunks[0]))]


def _chunk_cell(block, *, fn, offsets, kwargs, block_id=None):
    """One ``map_blocks`` block: ``fn(block, first row, **kwargs)`` in a 1 x 1 object array."""
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = fn(block, int(offsets[block_id[0]]), **kwargs)
    return cell


def _cell(part):
    return part[0, 0] if isinstance(part, np.ndarray) else part  # partials are tuples, never arrays


def _add_cells(*parts, combine=None):
    parts = [_cell(p) for p in parts]
    return _add(*parts) if combine is None else combine(*parts)


def chunk_sum(X, fn, *, combine=None, split_every: int = SPLIT_EVERY, **kwargs):
    """``fn(block, offset, **kwargs)`` of each row chunk of ``X``, added up; one task reads and sums a chunk.

    Each chunk's partial runs in the task that reads the chunk (``map_blocks`` + ``to_delayed``:
    dask fuses the read into it), so a chunk is never a task result of its own: on a
    ``distributed`` cluster no chunk waits in a worker's memory or travels to another worker,
    only the partial sums do. (With :func:`row_blocks`, a read task and a sum task per chunk,
    the scheduler may run the two on different workers and move the chunk between them.)

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
        Rechunked to one chunk across the columns when it has several.
    fn : callable
        ``fn(block, offset, **kwargs) -> tuple`` of partial results (numpy arrays / numbers,
        added by :func:`tree_sum`); ``block`` a numpy array of the chunk's rows, ``offset`` its
        first row number.
    combine : callable, optional
        As in :func:`tree_sum` (default: the element-wise sum).
    split_every : int, default=SPLIT_EVERY
    **kwargs
        Passed to ``fn`` (embedded in every chunk's task).

    Returns
    -------
    dask.delayed.Delayed
        The combined partials of all chunks.

    Raises
    ------
    IndexError
        When ``X`` has no row chunk.
    """
    from dask import delayed

    X = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
    cells = X.map_blocks(_chunk_cell, fn=fn, offsets=offsets, kwargs=kwargs, dtype=object,
                         chunks=((1,) * len(X.chunks[0]), (1,)), meta=np.empty((0, 0), dtype=object))
    parts = list(cells.to_delayed().ravel())
    if len(parts) == 1:
        return delayed(_cell, pure=True)(parts[0])
    return tree_sum(parts, split_every=split_every, combine=partial(_add_cells, combine=combine))


class _First(tuple):
    """The first few row numbers of a partial result (merged by :func:`_add` by keeping the smallest)."""


class _Max(float):
    """A partial result merged by :func:`_add` by taking the largest, not the sum."""


def _add(*parts):
    """Element-wise sum of tuples of partials; :class:`_First` keeps the smallest rows, :class:`_Max` the largest."""
    out = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            if isinstance(value, _First):
                out[i] = _First(sorted(set(out[i]) | set(value))[:_FIRST_BAD])
            elif isinstance(value, _Max):
                out[i] = _Max(max(out[i], value))
            elif value is not None:
                with np.errstate(over="ignore", invalid="ignore"):  # overflowed partials: checked by the caller
                    out[i] = out[i] + value
    return tuple(out)


def tree_sum(parts: list, *, split_every: int = SPLIT_EVERY, combine=None):
    """Add delayed partial results in a tree, ``split_every`` at a time (:func:`_add` on tuples).

    Parameters
    ----------
    parts : list of dask.delayed.Delayed
        Each computes a tuple of arrays / numbers of the same shapes.
    split_every : int, default=SPLIT_EVERY
    combine : callable, optional
        ``combine(*partials) -> partial`` instead of the sum (e.g. merging top-k lists); must be
        associative, as the tree groups the partials in an order of its own.

    Returns
    -------
    dask.delayed.Delayed
        The sum (``parts[0]`` when there is one).

    Raises
    ------
    IndexError
        When ``parts`` is empty.
    """
    from dask import delayed

    add = delayed(_add if combine is None else combine, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i:i + split_every]) for i in range(0, len(parts), split_every)]
    return parts[0]


def compute(*objects):
    """``dask.compute`` (on the default ``distributed`` client when one is open): the one place core computes.

    Parameters
    ----------
    *objects : dask collections or delayed objects

    Returns
    -------
    tuple
        Their values.

    Raises
    ------
    Exception
        Whatever a task raised (dask re-raises it here).
    """
    import dask

    return dask.compute(*objects)


# --------------------------------------------------------------------------- rows


def _bad_chunk(block, offset):
    return (_rows_with_nonfinite(np.asarray(block)) + offset,)  # the in-memory scan, per chunk


def nonfinite_rows(X) -> np.ndarray:
    """Row numbers of a dask array holding NaN or inf (one pass), ascending.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)

    Returns
    -------
    ndarray of int64

    Raises
    ------
    OSError
        From reading a chunk (e.g. a shard that was removed since it was opened).
    """
    from dask import delayed

    X = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
    if not np.issubdtype(X.dtype, np.floating):
        return np.empty(0, dtype=np.int64)
    fn = delayed(_bad_chunk, pure=True)
    parts = compute(*[fn(blocks[0], offset) for blocks, offset in row_blocks(X)])
    found = [p[0] for p in parts if len(p[0])]
    return np.concatenate(found).astype(np.int64) if found else np.empty(0, dtype=np.int64)


def _raise_nonfinite(X, name: str, *, error=EmbedLensInputError, hint: str = "") -> None:
    bad = nonfinite_rows(X)
    if len(bad):
        raise nonfinite_rows_error(bad, X.shape[0], source=name, hint=hint, error=error)


def _max_abs_chunk(block):
    A = np.abs(np.asarray(block))
    A = A[np.isfinite(A)]
    return (float(A.max()) if A.size else 0.0,)


def _pow2_scale(X) -> float:
    """:func:`core._numerics.pow2_scale` of a dask array (one pass for its largest finite magnitude)."""
    from dask import delayed

    fn = delayed(_max_abs_chunk, pure=True)
    top = max((p[0] for p in compute(*[fn(b[0]) for b, _ in row_blocks(X)])), default=0.0)
    return pow2_scale(np.array([top]))


def _take_chunk(block, local):
    return np.asarray(block)[local]


def take_rows(X, rows) -> np.ndarray:
    """The given rows of a dask array as one in-memory numpy array (only the chunks holding them are read).

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
    rows : array-like of int
        Row numbers in ``[0, n)``, in any order (repeats allowed).

    Returns
    -------
    ndarray of shape (len(rows), d)
        In the order of ``rows``.

    Raises
    ------
    IndexError
        A row number outside ``[0, n)``.
    """
    from dask import delayed

    rows = np.asarray(rows, dtype=np.int64).ravel()
    n = X.shape[0]
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(f"row numbers must lie in [0, {n}); got {int(rows.min())} .. {int(rows.max())}")
    X = X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    fn = delayed(_take_chunk, pure=True)
    ends = np.cumsum(X.chunks[0])
    picked, parts = [], []
    for (blocks, offset), end in zip(row_blocks(X), ends):
        lo, hi = np.searchsorted(ordered, [offset, end])
        if hi > lo:
            parts.append(fn(blocks[0], ordered[lo:hi] - offset))
            picked.append((lo, hi))
    out = np.empty((rows.size, X.shape[1]), dtype=X.dtype)
    for (lo, hi), values in zip(picked, compute(*parts)):
        out[order[lo:hi]] = values
    return out


# --------------------------------------------------------------------------- feature moments


def _prepare(rows, *, normalize, transform, inv):
    """float64 rows as the products see them: unit rows without the zero ones, scaled, transformed.

    Returns ``(rows, bad)``: ``bad`` the positions of rows holding NaN / inf (found from the norms
    when normalising; otherwise left to the caller, who finds them from the column sums).
    """
    bad = None
    if normalize:
        U, norms = unit_rows(rows, dtype=np.float64)
        finite = np.isfinite(norms)
        keep = finite & (norms > 0)
        bad = np.flatnonzero(~finite)
        rows = U if keep.all() else U[keep]
    elif inv != 1.0:
        rows = np.multiply(rows, inv, dtype=np.float64)
    if transform is not None:
        rows = transform(rows)
    return rows, bad


def _unit_rows_into(raw, wide):
    """``_prepare(raw, normalize=True)`` for float32 rows, computed in the float64 buffer ``wide``.

    The numbers of :func:`core._numerics.unit_rows` (float64 widening, ``einsum`` norms, one
    division), without its four temporary arrays per block: a ``distributed`` worker hands freed
    memory back to the system (``MALLOC_TRIM_THRESHOLD_``), so each temporary costs page faults.
    """
    U = wide[:len(raw)]
    np.copyto(U, raw)
    norms = np.sqrt(np.einsum("ij,ij->i", U, U))
    np.divide(U, np.where(norms > 0, norms, 1.0)[:, None], out=U)
    finite = np.isfinite(norms)
    keep = finite & (norms > 0)
    return (U if keep.all() else U[keep]), np.flatnonzero(~finite)


def _moment_chunk(block, offset, *, normalize, transform, shift, inv, dtype, sub_rows):
    """``(sum (z - s)(z - s)^T, sum (z - s), rows used, rows with NaN / inf, first such rows)`` of one chunk.

    ``z`` the prepared rows (:func:`_prepare`), ``s`` the shift (exact in ``dtype``); products of
    ``sub_rows`` rows at a time in ``dtype`` (BLAS syrk), summed in float64.
    """
    block = np.asarray(block)
    dim = len(shift)
    acc = np.zeros((dim, dim))
    col = np.zeros(dim)
    used = nbad = 0
    first: list[int] = []
    buf = np.empty((min(sub_rows, max(len(block), 1)), dim), dtype=dtype)
    shift_cast = shift.astype(dtype)
    narrow = normalize and transform is None and block.dtype.kind == "f" and block.dtype.itemsize <= 4
    wide = np.empty(buf.shape) if narrow else None
    for s in range(0, len(block), sub_rows):
        raw = block[s:s + sub_rows]
        if narrow:
            rows, bad = _unit_rows_into(raw, wide)
        else:
            rows, bad = _prepare(raw, normalize=normalize, transform=transform, inv=inv)
        k = len(rows)
        if k:
            out = buf[:k]
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                np.subtract(rows, shift_cast, out=out, casting="unsafe")
                acc += out.T @ out
                part = out.sum(axis=0, dtype=np.float64)
            col += part
            used += k
            if bad is None and not np.isfinite(part).all():
                bad = np.flatnonzero(~np.isfinite(raw).all(axis=1))
        if bad is not None and len(bad):
            nbad += len(bad)
            first = sorted(first + [int(offset + s + i) for i in bad[:_FIRST_BAD]])[:_FIRST_BAD]
    return acc, col, used, nbad, _First(first)


def _moment_jobs(block, offset, *, jobs):
    """:func:`_moment_chunk` of one chunk for each of ``jobs`` (keyword dicts), as one flat tuple."""
    return sum((_moment_chunk(block, offset, **job) for job in jobs), ())


def _pilot(X, *, normalize, transform, inv):
    """The mean of the first :data:`PILOT_ROWS` prepared rows with finite entries (zeros when there are none)."""
    rows = np.asarray(X[:min(X.shape[0], PILOT_ROWS)].compute())
    rows = rows[np.isfinite(rows).all(axis=1)]
    prepared, _ = _prepare(rows, normalize=normalize, transform=transform, inv=inv)
    return prepared


_SHARED: ContextVar[dict | None] = ContextVar("embedlens_dask_shared", default=None)


def _key(X, normalize, precision, block_rows, transform, dim):
    return (X.name, bool(normalize), precision, int(block_rows), transform is None, dim)


def _resolve_precision(precision: str, n: int, width: int, limits: MomentLimits) -> str:
    if precision == "auto":
        return "float64" if n * width <= limits.float64_max_entries else "float32"
    return precision


def _moment_passes(X, variants: list[dict], *, limits: MomentLimits, name: str) -> list[tuple]:
    """:func:`feature_moments` of several variants in one read of X (dask loads each chunk once)."""
    n, d = X.shape

    def run(jobs):
        """jobs: [(variant index, shift (float64, exact in dtype), inv scale)] -> partial sums, one compute.

        One task per chunk reads it and sums every job (:func:`chunk_sum`); the jobs' partials
        travel as one flat tuple, 5 entries each.
        """
        specs = [{"normalize": variants[i]["normalize"], "transform": variants[i]["transform"],
                  "shift": shift, "inv": inv, "dtype": variants[i]["dtype"],
                  "sub_rows": variants[i]["block_rows"]} for i, shift, inv in jobs]
        total = compute(chunk_sum(X, _moment_jobs, jobs=specs))[0]
        return [total[5 * j:5 * j + 5] for j in range(len(specs))]

    def pilot_shift(v, inv):
        if v["dtype"] == np.float64 and v["normalize"] and v["transform"] is None:
            rows = None  # unit rows in float64 (|mean| <= 1): no shift, as in memory; a second pass if needed
        else:
            rows = _pilot(X, normalize=v["normalize"], transform=v["transform"], inv=inv)
        if rows is None or not len(rows):
            return np.zeros(v["dim"])
        return np.mean(rows, axis=0, dtype=np.float64).astype(v["dtype"]).astype(np.float64)

    for v in variants:
        v["dim"] = d if v["dim"] is None else int(v["dim"])
        v["precision"] = _resolve_precision(v["precision"], n, max(d, v["dim"]), limits)
        v["dtype"] = np.float64 if v["precision"] == "float64" else np.float32
    state = [{"inv": 1.0, "shift": pilot_shift(v, 1.0), "second_pass": False} for v in variants]
    sums = list(run([(i, st["shift"], 1.0) for i, st in enumerate(state)]))
    # products that overflowed / underflowed in the block dtype: again on rows / 2^e (as in memory)
    redo = []
    for i, (v, (acc, col, used, nbad, first)) in enumerate(zip(variants, sums)):
        if nbad:
            raise nonfinite_rows_error(first, n, count=nbad, source=name, hint=DROP_ROWS_HINT)
        if used == 0:
            raise EmbedLensInputError(
                f"all {n} rows are zero vectors, so their cosine similarity is undefined; "
                "use kernel='linear' or load non-zero embeddings", source=name)
        finite = np.isfinite(acc).all() and np.isfinite(col).all()
        if v["transform"] is None and not v["normalize"]:
            m = col / used
            full = m + state[i]["shift"]
            tiny = float(np.finfo(v["dtype"]).tiny) * 1e8
            if not finite or np.trace(acc) / used - m @ m + full @ full < tiny:
                redo.append(i)
        elif not finite:
            raise EmbedLensInputError(
                "the second moments overflowed (entries too large for float32); rescale X", source=name)
    if redo:
        scale = _pow2_scale(X)
        if scale != 1.0:
            for i in redo:
                state[i]["inv"] = 1.0 / scale
                state[i]["shift"] = pilot_shift(variants[i], 1.0 / scale)
            for i, result in zip(redo, run([(i, state[i]["shift"], state[i]["inv"]) for i in redo])):
                sums[i] = result
    # a mean that dwarfs the spread left after the pilot shift: a second pass about the mean (as in memory)
    second = []
    for i, (v, (acc, col, used, _, _)) in enumerate(zip(variants, sums)):
        if not (np.isfinite(acc).all() and np.isfinite(col).all()):
            raise EmbedLensInputError(
                "the second moments overflowed (entries too large for float32); rescale X", source=name)
        m = col / used
        mean = state[i]["shift"] + m
        cov = acc / used - np.outer(m, m)
        ratio = float(m @ m) / max(float(np.trace(cov)), np.finfo(np.float64).tiny)
        state[i]["ratio"] = float(mean @ mean) / max(float(np.trace(cov)), np.finfo(np.float64).tiny)
        limit = limits.shift_ratio if v["dtype"] == np.float32 else limits.shift_ratio_64
        if v["transform"] is None and ratio > limit:
            state[i]["shift"] = mean.astype(v["dtype"]).astype(np.float64)
            state[i]["second_pass"] = True
            second.append(i)
    if second:
        for i, result in zip(second, run([(i, state[i]["shift"], state[i]["inv"]) for i in second])):
            sums[i] = result
    out = []
    for v, st, (acc, col, used, _, _) in zip(variants, state, sums):
        m = col / used
        mean = st["shift"] + m
        cov = acc / used - np.outer(m, m)
        scale = 1.0 / st["inv"]
        params = {"block_dtype": v["precision"], "block_rows": int(v["block_rows"]),
                  "second_pass": st["second_pass"], "engine": "dask", "chunks": len(X.chunks[0]),
                  "mean_to_variance": st["ratio"]}
        if scale != 1.0:
            params["rescaled_by"] = scale
            mean, cov = mean * scale, cov * (scale * scale)
        out.append((mean, (cov + cov.T) / 2.0, int(used), params))
    return out


def feature_moments(X, *, limits: MomentLimits, normalize: bool = False, precision: str = "auto",
                    block_rows: int = 4096, transform=None, dim: int | None = None, name: str = "X"):
    """Mean and centred covariance (float64) of a dask array's rows: ``core.spectra._feature_moments`` by chunks.

    The same options and result, so :func:`core.spectrum` swaps one for the other. Each chunk
    sums ``(z - s)(z - s)^T`` and ``z - s`` for its prepared rows ``z`` (unit length for
    ``normalize``, zero rows left out; ``transform(z)`` when given) and the pilot shift ``s``;
    ``C = G / n - m m^T`` with ``m`` the mean of ``z - s``.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
        From :func:`check_matrix`.
    limits : MomentLimits
        The in-memory pass's thresholds (:mod:`core.spectra` passes its own).
    normalize : bool, default=False
        Unit-length rows (the cosine kernel); zero rows are left out and not counted.
    precision : {"auto", "float64", "float32"}, default="auto"
        Dtype of the products, as in memory: ``"auto"`` is float64 up to ``n * d = 2**25``
        entries, float32 blocks (their products summed in float64) above.
    block_rows : int, default=4096
        Rows per product inside a chunk.
    transform : callable, optional
        ``rows (k, d) float64 -> features (k, dim)``, applied after normalising (random Fourier
        features). Must be picklable for a multi-process cluster.
    dim : int, optional
        Width of ``transform``'s output (default d).
    name : str, default="X"
        How X is called in messages.

    Returns
    -------
    (mean, cov, used, params)
        ``mean`` shape (dim,), ``cov`` (dim, dim) float64 (centred, divided by ``used``), ``used``
        the rows counted, ``params``: ``block_dtype``, ``block_rows``, ``second_pass``,
        ``engine="dask"``, ``chunks``, ``mean_to_variance``, and ``rescaled_by`` when the rows
        were divided by a power of two.

    Raises
    ------
    EmbedLensInputError
        Rows holding NaN / inf (counted, the first named); every row zero with ``normalize``;
        second moments that overflow even after rescaling.
    """
    shared = _SHARED.get()
    key = _key(X, normalize, precision, block_rows, transform, dim)
    if shared is not None and key in shared:
        mean, cov, used, params = shared[key]
        return mean.copy(), cov.copy(), used, dict(params)
    variant = {"normalize": bool(normalize), "precision": precision, "block_rows": max(1, int(block_rows)),
               "transform": transform, "dim": dim}
    return _moment_passes(X, [variant], limits=limits, name=name)[0]


@contextmanager
def shared_pass(X, variants, *, limits: MomentLimits, name: str = "X"):
    """Compute several :func:`feature_moments` variants in one read of ``X``; inside the block they are reused.

    :func:`core.spectral_profile` needs the covariance (raw rows) and the cosine kernel (unit
    rows) of the same view: out of core that is one read of the data instead of two.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
        As given to the metrics (it is checked with :func:`check_matrix` here, as they do).
    variants : list of dict
        :func:`feature_moments` keyword options (``normalize``, ``precision``, ``block_rows``).
    limits : MomentLimits
    name : str, default="X"

    Returns
    -------
    contextlib.AbstractContextManager
        Inside it, :func:`feature_moments` of ``X`` with one of ``variants`` returns the
        computed moments (copies) without reading ``X``.

    Raises
    ------
    EmbedLensInputError
        From :func:`check_matrix` and :func:`feature_moments`.
    """
    X = check_matrix(X, name=name)
    full = [{"normalize": bool(v.get("normalize", False)), "precision": v.get("precision", "auto"),
             "block_rows": max(1, int(v.get("block_rows", 4096))), "transform": None, "dim": None}
            for v in variants]
    keys = [_key(X, v["normalize"], v["precision"], v["block_rows"], None, None) for v in full]
    results = _moment_passes(X, full, limits=limits, name=name)
    outer = _SHARED.get()
    memo = dict(outer or {})
    memo.update(zip(keys, results))
    token = _SHARED.set(memo)
    try:
        yield
    finally:
        _SHARED.reset(token)


# --------------------------------------------------------------------------- class moments


def _class_sums_chunk(block, codes, *, K):
    """``(counts K, sums K x d, largest finite |x| of labelled rows, rows with NaN / inf, first such)``."""
    from scipy.sparse import csr_matrix

    block = np.asarray(block)
    finite = np.isfinite(block).all(axis=1)
    labelled = codes >= 0
    A = np.asarray(block[labelled], dtype=np.float64)
    y = codes[labelled]
    sums = csr_matrix((np.ones(len(y)), (y, np.arange(len(y)))), shape=(K, len(y))) @ A if len(y) else np.zeros(
        (K, block.shape[1]))
    top = np.abs(A[finite[labelled]]).max() if finite[labelled].any() else 0.0
    return (np.bincount(y, minlength=K), np.asarray(sums), _Max(top), int((~finite).sum()))


def _class_scatter_chunk(block, codes, *, means, inv, M, scatter, sub_rows):
    """``(sum |r|^2 per class K, (R M)^T (R M) or None, R^T R or None)`` for ``r = x / scale - mu_y``."""
    block = np.asarray(block)
    K, d = means.shape
    ss = np.zeros(K)
    CtC = None if M is None else np.zeros((M.shape[1], M.shape[1]))
    SW = np.zeros((d, d)) if scatter else None
    for s in range(0, len(block), sub_rows):
        y = codes[s:s + sub_rows]
        keep = y >= 0
        R = np.multiply(block[s:s + sub_rows][keep], inv, dtype=np.float64) - means[y[keep]]
        ss += np.bincount(y[keep], weights=np.einsum("ij,ij->i", R, R), minlength=K)
        if M is not None:
            C = R @ M
            CtC += C.T @ C
        if scatter:
            SW += R.T @ R
    return ss, CtC, SW


def _codes_array(codes, X):
    da = _dask_array()
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) != X.shape[0]:
        raise EmbedLensInputError(f"has {len(codes)} labels for {X.shape[0]} rows", source="labels")
    return da.from_array(codes, chunks=(X.chunks[0],))


@dataclass(frozen=True, eq=False)
class ClassMoments:
    """Per-class sufficient statistics of a dask array, in units of ``scale`` (rows divided by it).

    Attributes
    ----------
    counts : ndarray (K,) of int
    means : ndarray (K, d), float64
    mu_G : ndarray (d,)
        Mean of every labelled row.
    ss : ndarray (K,)
        ``sum over class k of |x - mu_k|^2``.
    CtC : ndarray (p, p) or None
        ``(R M)^T (R M)`` for the residuals ``R = x - mu_y`` and the ``M`` asked for.
    scatter : ndarray (d, d) or None
        The within-class scatter ``R^T R``.
    scale : float
        The exact power of two the rows were divided by.
    """

    counts: np.ndarray
    means: np.ndarray
    mu_G: np.ndarray
    ss: np.ndarray
    CtC: np.ndarray | None
    scatter: np.ndarray | None
    scale: float


def class_moments(X, codes, K: int, *, between=None, scatter: bool = False, block_rows: int = 8192,
                  name: str = "X") -> ClassMoments:
    """Class counts, means, within-class sums of squares (and scatters) of a dask array, in two passes.

    Pass 1: counts, sums and the largest magnitude; the rows are then divided by its power of
    two (:func:`core._numerics.pow2_scale`, exact), as :func:`core.labels.neural_collapse` does in
    memory. Pass 2: residuals ``r = x / scale - mu_y`` in float64, so a large common mean costs no
    accuracy; ``sum |r|^2`` per class, ``(R M)^T (R M)`` for ``M = between(means, mu_G)`` and,
    with ``scatter``, ``R^T R``.

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
    codes : array-like of int, shape (n,)
        Class number ``0 .. K-1`` of each row; negative: unlabelled (left out).
    K : int
    between : callable, optional
        ``(means K x d, mu_G d) -> M`` (d x p); default none (no ``CtC``).
    scatter : bool, default=False
        Also the d x d within-class scatter.
    block_rows : int, default=8192
    name : str, default="X"

    Returns
    -------
    ClassMoments

    Raises
    ------
    EmbedLensInputError
        ``len(codes) != n``.
    NonFiniteRowsError
        Rows holding NaN / inf (all of them listed, as :func:`core.check_embeddings` does).
    """
    from dask import delayed

    codes_d = _codes_array(codes, X)
    blocks = row_blocks(X, codes_d)
    sums_fn = delayed(_class_sums_chunk, pure=True)
    counts, sums, top, nbad = compute(tree_sum([sums_fn(b[0], b[1], K=K) for b, _ in blocks]))[0]
    if nbad:
        _raise_nonfinite(X, name, error=NonFiniteRowsError)
    scale = pow2_scale(np.array([top]))
    inv = 1.0 / scale
    total = int(counts.sum())
    if not np.isfinite(sums).all():  # float64 sums of huge float64 rows: add them again scaled
        A = X * inv
        counts, sums, _, _ = compute(tree_sum([sums_fn(b[0], b[1], K=K) for b, _ in row_blocks(A, codes_d)]))[0]
    else:
        sums = sums * inv
    means = sums / np.maximum(counts, 1)[:, None]
    mu_G = sums.sum(axis=0) / max(total, 1)
    M = None if between is None else np.asarray(between(means, mu_G), dtype=np.float64)
    scatter_fn = delayed(_class_scatter_chunk, pure=True)
    parts = [scatter_fn(b[0], b[1], means=means, inv=inv, M=M, scatter=scatter, sub_rows=int(block_rows))
             for b, _ in blocks]
    ss, CtC, SW = compute(tree_sum(parts))[0]
    return ClassMoments(counts=counts, means=means, mu_G=mu_G, ss=ss, CtC=CtC, scatter=SW, scale=scale)


def _class_gram_chunk(block, codes, *, classes, sub_rows):
    """``(nonzero rows per class, uncentred grams of their unit rows, rows with NaN / inf)`` for ``classes``."""
    block = np.asarray(block)
    d = block.shape[1]
    slot = np.full(int(max(classes.max() + 1, codes.max() + 1, 1)), -1, dtype=np.int64)
    slot[classes] = np.arange(len(classes))
    counts = np.zeros(len(classes), dtype=np.int64)
    grams = np.zeros((len(classes), d, d))
    nbad = 0
    for s in range(0, len(block), sub_rows):
        U, norms = unit_rows(block[s:s + sub_rows], dtype=np.float64)
        finite = np.isfinite(norms)
        nbad += int((~finite).sum())
        y = codes[s:s + sub_rows]
        g = np.where(y >= 0, slot[np.maximum(y, 0)], -1)
        keep = finite & (norms > 0) & (g >= 0)
        for j in np.unique(g[keep]):
            Uj = U[keep & (g == j)]
            grams[j] += Uj.T @ Uj
            counts[j] += len(Uj)
    return counts, grams, nbad


def class_grams(X, codes, K: int, *, block_rows: int = 4096, name: str = "X") -> tuple[np.ndarray, np.ndarray]:
    """Per class: the rows with a direction and the uncentred gram ``U_k^T U_k`` of their unit rows (float64).

    The statistics of the coding rate of each class (:func:`core.rate_reduction`). The K d x d
    grams are held in groups of at most :data:`GRAM_BUDGET_BYTES` (one pass per group).

    Parameters
    ----------
    X : dask.array.Array of shape (n, d)
    codes : array-like of int, shape (n,)
        Class ``0 .. K-1``; negative: unlabelled (left out).
    K : int
    block_rows : int, default=4096
    name : str, default="X"

    Returns
    -------
    (counts, grams)
        ``counts`` (K,) int64: rows of each class that are not zero; ``grams`` (K, d, d).

    Raises
    ------
    EmbedLensInputError
        ``len(codes) != n``.
    NonFiniteRowsError
        Rows holding NaN / inf (all listed).
    """
    from dask import delayed

    d = X.shape[1]
    codes_d = _codes_array(codes, X)
    blocks = row_blocks(X, codes_d)
    per_pass = max(1, GRAM_BUDGET_BYTES // (8 * d * d))
    fn = delayed(_class_gram_chunk, pure=True)
    counts = np.zeros(K, dtype=np.int64)
    grams = np.zeros((K, d, d))
    for start in range(0, max(K, 1), per_pass):
        classes = np.arange(start, min(K, start + per_pass))
        c, g, nbad = compute(tree_sum([fn(b[0], b[1], classes=classes, sub_rows=int(block_rows))
                                       for b, _ in blocks]))[0]
        if nbad:
            _raise_nonfinite(X, name, error=NonFiniteRowsError)
        counts[classes], grams[classes] = c, g
    return counts, grams


# --------------------------------------------------------------------------- two views


@dataclass(frozen=True, eq=False)
class CrossCovariance:
    """Means and centred (cross-)covariances of two row-aligned views, float64, divided by n.

    Attributes
    ----------
    n : int
    mean_x : ndarray (d_x,)
    mean_y : ndarray (d_y,)
    xx : ndarray (d_x, d_x)
        ``X_c^T X_c / n``.
    yy : ndarray (d_y, d_y)
        ``Y_c^T Y_c / n``.
    xy : ndarray (d_x, d_y)
        ``X_c^T Y_c / n``. Linear CKA is ``|xy|_F^2 / (|xx|_F |yy|_F)``.
    params : dict
        ``engine`` ("dask" or "numpy"), ``chunks``, ``rescaled_by`` (x, y).
    """

    n: int
    mean_x: np.ndarray
    mean_y: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    xy: np.ndarray
    params: dict


def _cross_chunk(bx, by, offset, *, sx, sy, ix, iy, sub_rows):
    """``(X'^T X', Y'^T Y', X'^T Y', sum X', sum Y', rows, rows with NaN / inf)``, ``X' = x * ix - sx``."""
    bx, by = np.asarray(bx), np.asarray(by)
    dx, dy = len(sx), len(sy)
    xx, yy, xy = np.zeros((dx, dx)), np.zeros((dy, dy)), np.zeros((dx, dy))
    cx, cy = np.zeros(dx), np.zeros(dy)
    nbad = 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for s in range(0, len(bx), sub_rows):
            A = np.multiply(bx[s:s + sub_rows], ix, dtype=np.float64) - sx
            B = np.multiply(by[s:s + sub_rows], iy, dtype=np.float64) - sy
            xx += A.T @ A
            yy += B.T @ B
            xy += A.T @ B
            a, b = A.sum(axis=0), B.sum(axis=0)
            cx += a
            cy += b
            if not (np.isfinite(a).all() and np.isfinite(b).all()):
                nbad += int((~(np.isfinite(bx[s:s + sub_rows]).all(axis=1)
                               & np.isfinite(by[s:s + sub_rows]).all(axis=1))).sum())
    return xx, yy, xy, cx, cy, len(bx), nbad


def cross_covariance(X, Y, *, block_rows: int = 4096) -> CrossCovariance:
    r"""Means, covariances and the cross-covariance of two row-aligned views in one pass (float64).

    .. math:: \Sigma_{XY} = \frac1n \sum_i (x_i - \bar x)(y_i - \bar y)^\top

    The sufficient statistics of linear CKA and the other feature-space comparisons. Rows are
    shifted by pilot means (of the first :data:`PILOT_ROWS` rows) before the products, so the
    centring does not cancel; products that overflow float64 are redone on each view divided
    by an exact power of two (``rescaled_by``) and multiplied back. Dask arrays are summed chunk
    by chunk (``Y`` is rechunked to ``X``'s rows); numpy arrays in row blocks, without dask.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d_x)
    Y : array-like or dask.array.Array of shape (n, d_y)
        The same n items in the same order.
    block_rows : int, default=4096
        Rows per product.

    Returns
    -------
    CrossCovariance

    Raises
    ------
    EmbedLensInputError
        Either view not a 2-D numeric matrix or with unknown chunk sizes; different row counts;
        rows holding NaN / inf in either view (counted, the first named).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> c = cross_covariance(X, 2 * X)
    >>> print(round(float(c.xy[0, 0]), 6), round(float(c.yy[0, 0]), 6))
    1.333333 2.666667
    """
    from ._validation import check_paired

    sub = max(1, int(block_rows))
    lazy = is_dask(X) or is_dask(Y)
    if lazy:
        da = _dask_array()
        if np.shape(X)[0] != np.shape(Y)[0]:
            raise EmbedLensInputError(f"X has {np.shape(X)[0]} rows but Y has {np.shape(Y)[0]}; paired views "
                                      "must hold the same items in the same order")
        X = X if is_dask(X) else da.from_array(np.asarray(X), chunks=(Y.chunks[0], -1))
        Y = Y if is_dask(Y) else da.from_array(np.asarray(Y), chunks=(X.chunks[0], -1))
        X, Y = check_matrix(X, name="X"), check_matrix(Y, name="Y")
        blocks = row_blocks(X, Y)
        first_x = np.asarray(X[:PILOT_ROWS].compute(), dtype=np.float64)
        first_y = np.asarray(Y[:PILOT_ROWS].compute(), dtype=np.float64)
    else:
        X, Y = check_paired(X, Y, allow_nonfinite=True)
        blocks = None
        first_x, first_y = np.asarray(X[:PILOT_ROWS], np.float64), np.asarray(Y[:PILOT_ROWS], np.float64)

    def run(ix, iy):
        ok = np.isfinite(first_x).all(axis=1) & np.isfinite(first_y).all(axis=1)
        sx = (first_x[ok] * ix).mean(axis=0) if ok.any() else np.zeros(X.shape[1])
        sy = (first_y[ok] * iy).mean(axis=0) if ok.any() else np.zeros(Y.shape[1])
        if lazy:
            from dask import delayed

            fn = delayed(_cross_chunk, pure=True)
            sums = compute(tree_sum([fn(b[0], b[1], off, sx=sx, sy=sy, ix=ix, iy=iy, sub_rows=sub)
                                     for b, off in blocks]))[0]
        else:
            sums = _cross_chunk(X, Y, 0, sx=sx, sy=sy, ix=ix, iy=iy, sub_rows=sub)
        return sums, sx, sy

    sums, sx, sy = run(1.0, 1.0)
    scale_x = scale_y = 1.0
    if sums[-1]:
        bad = (nonfinite_rows(X) if lazy else np.flatnonzero(~np.isfinite(X).all(axis=1)))
        bad = np.union1d(bad, nonfinite_rows(Y) if lazy else np.flatnonzero(~np.isfinite(Y).all(axis=1)))
        raise nonfinite_rows_error(bad, X.shape[0], where=" in X or Y", hint="; drop them from both views first")
    if not all(np.isfinite(s).all() for s in sums[:5]):  # float64 products overflowed: rescale each view
        scale_x = _pow2_scale(X) if lazy else pow2_scale(X)
        scale_y = _pow2_scale(Y) if lazy else pow2_scale(Y)
        sums, sx, sy = run(1.0 / scale_x, 1.0 / scale_y)
    xx, yy, xy, cx, cy, n, _ = sums
    mx, my = cx / n, cy / n
    params = {"engine": "dask" if lazy else "numpy", "chunks": len(blocks) if lazy else 1,
              "rescaled_by": (scale_x, scale_y)}
    return CrossCovariance(
        n=int(n),
        mean_x=(sx + mx) * scale_x,
        mean_y=(sy + my) * scale_y,
        xx=(xx / n - np.outer(mx, mx)) * scale_x**2,
        yy=(yy / n - np.outer(my, my)) * scale_y**2,
        xy=(xy / n - np.outer(mx, my)) * (scale_x * scale_y),
        params=params,
    )
