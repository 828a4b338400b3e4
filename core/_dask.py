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
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np

from ._numerics import pow2_scale, unit_rows
from ._validation import (SHARD_ROWS_HINT, EmbedLensInputError, NonFiniteRowsError, nonfinite_rows_error, plural,
                          require_real_matrix)
from ._validation import nonfinite_rows as _rows_with_nonfinite

__all__ = ["SPLIT_EVERY", "PILOT_ROWS", "MomentLimits", "is_dask", "client", "check_matrix", "row_blocks",
           "tree_sum", "chunk_sum", "compute", "progress_to", "nonfinite_rows", "checked_rows", "take_rows",
           "feature_moments", "shared_pass", "class_moments", "class_grams", "CrossMoments", "cross_moments",
           "CrossCovariance", "cross_covariance"]

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
INSTALL_HINT = ("pip install 'embedlens[scale]' (in a checkout: pip install -e '.[scale]'; dashboard/serve.sh "
                "installs it)")
"""How to get dask, distributed and bokeh: every 'needs dask' message ends with it."""


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
        raise ImportError(f"this needs dask: {INSTALL_HINT}") from None
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
        raise ImportError(f"a Dask cluster needs distributed: {INSTALL_HINT}") from None
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


def compute(*objects, progress=None):
    """``dask.compute`` (on the default ``distributed`` client when one is open): the one place core computes.

    With a progress callback (``progress``, else the one set by :func:`progress_to`), it is told
    ``(tasks done, tasks in all)`` as tasks finish: on dask's local schedulers through a
    ``dask.callbacks.Callback`` (as ``dask.diagnostics.ProgressBar`` counts them), on a
    ``distributed`` client through the scheduler's own progress plugin (what
    ``distributed.progress`` shows; :func:`_cluster_progress`). The calls are serialised and
    monotone, ``done <= total``, and the last one is ``(total, total)`` once the values are in;
    nothing is called when there are no tasks. An exception raised by the callback (a Stop
    button's) ends the computation: on a cluster its tasks are cancelled.

    Parameters
    ----------
    *objects : dask collections or delayed objects
    progress : callable, optional
        ``progress(done: int, total: int)``; may be called from another thread (a ``distributed``
        client's event loop), so it must be thread-safe.

    Returns
    -------
    tuple
        Their values.

    Raises
    ------
    Exception
        Whatever a task raised (dask re-raises it here), or the callback raised.
    """
    import dask

    callback = progress if progress is not None else _PROGRESS.get()
    if callback is None:
        return dask.compute(*objects)
    report = _Reporter(callback)
    cluster = _current_client(objects)
    if cluster is not None:
        return _compute_on_client(cluster, objects, report)
    from dask.callbacks import Callback

    counter = _local_progress_class()(report)
    # passed to this call only: Callback.active is global to the process, and jobs compute in threads
    values = dask.compute(*objects, callbacks=[*Callback.active, counter._callback])
    report.finish()
    return values


# --------------------------------------------------------------------------- progress

_PROGRESS: ContextVar = ContextVar("embedlens_dask_progress", default=None)


@contextmanager
def progress_to(callback):
    """Every :func:`compute` in this block (in this thread or task) tells ``callback`` its task progress.

    For callers that reach dask through functions that take no callback (a metric of :mod:`core`
    on a dask array calls :func:`compute` one or more times, each a pass over the data: each pass
    counts from 0 to its own total). A ``contextvars.ContextVar``: set it in the thread that
    computes (a dashboard job sets it inside the job's thread, not the page's).

    Parameters
    ----------
    callback : callable or None
        ``callback(done: int, total: int)``, thread-safe; None turns progress off in the block.

    Returns
    -------
    context manager

    Raises
    ------
    Nothing
        Of its own.

    Examples
    --------
    >>> seen = []
    >>> with progress_to(lambda done, total: seen.append((done, total))):  # doctest: +SKIP
    ...     core.spectrum(view.X)
    """
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


class _Reporter:
    """What :func:`compute` calls: serialised (a lock), monotone, ``done <= total``, silent after the end.

    Remembers an exception the callback raised, so the thread waiting on a cluster can cancel.
    """

    def __init__(self, callback) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self.done = self.total = 0
        self.started = self.closed = False
        self.error: BaseException | None = None

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if self.closed or self.error is not None:
                return
            total = max(int(total), self.total)
            done = min(max(int(done), self.done), total)
            if total <= 0 or (self.started and (done, total) == (self.done, self.total)):
                return
            self.done, self.total, self.started = done, total, True
            try:
                self._callback(done, total)
            except BaseException as exc:
                self.error = exc
                raise

    def finish(self, total: int | None = None) -> None:
        """The last call, ``(total, total)``, from the computing thread once the values are in."""
        if self.error is not None:
            raise self.error
        self(self.total if total is None else total, self.total if total is None else total)
        with self._lock:
            self.closed = True


_LOCAL_PROGRESS = None


def _local_progress_class():
    """``dask.callbacks.Callback`` counting finished tasks as ``dask.diagnostics.ProgressBar`` does.

    Made on first use: dask is imported lazily. Called in the thread that runs the local scheduler.
    """
    global _LOCAL_PROGRESS
    if _LOCAL_PROGRESS is None:
        from dask.callbacks import Callback

        class LocalProgress(Callback):
            def __init__(self, report) -> None:
                super().__init__()
                self._report = report
                self._state = None

            def _counts(self):
                s = self._state
                done = len(s["finished"])
                return done, done + sum(len(s[k]) for k in ("ready", "waiting", "running"))

            def _start_state(self, dsk, state):
                self._state = state
                self._report(*self._counts())

            def _posttask(self, key, result, dsk, state, worker_id):
                self._report(*self._counts())

        _LOCAL_PROGRESS = LocalProgress
    return _LOCAL_PROGRESS


def _current_client(objects):
    """The synchronous ``distributed.Client`` that ``dask.compute(*objects)`` would run on, else None."""
    if "distributed" not in sys.modules:
        return None  # no client can be open
    from dask.base import get_scheduler, is_dask_collection
    from distributed import Client

    scheduler = get_scheduler(collections=[o for o in objects if is_dask_collection(o)] or None)
    found = scheduler if isinstance(scheduler, Client) else getattr(scheduler, "__self__", None)
    return found if isinstance(found, Client) and not found.asynchronous else None


_SETUP_WAIT_S = 10.0
"""How long a finished computation waits for the scheduler's progress plugin to have started."""


def _cluster_progress(client, futures, report):
    """A ``distributed`` progress bar drawing into ``report``, listening on the client's event loop.

    Subclasses ``distributed.diagnostics.progressbar.ProgressBar`` (the machinery of
    ``distributed.progress``, the same in distributed 2024.1 and 2026.8): it installs the
    scheduler's ``Progress`` plugin over every task the futures depend on and streams
    ``(remaining, all)`` every 100 ms.
    """
    import asyncio

    from distributed.diagnostics.progressbar import ProgressBar

    class ClusterProgress(ProgressBar):
        def __init__(self) -> None:
            super().__init__(futures, scheduler=client.scheduler.address, interval="100ms", complete=True)
            self.answered = threading.Event()  # the scheduler set its plugin up: keys may be released
            self.all = None

        def _draw_bar(self, remaining, all, **kwargs):
            self.answered.set()
            self.all = all
            try:
                report(all - remaining, all)
            except BaseException:  # noqa: BLE001 - kept in report.error; the computing thread cancels
                pass

        async def run(self) -> None:
            try:
                await self.listen()
            except Exception:  # noqa: BLE001 - e.g. a scheduler refusing pickled plugins: no progress, no error
                pass
            finally:
                self.answered.set()

        async def close(self) -> None:
            comm = getattr(self, "comm", None)
            if comm is not None and not comm.closed():
                comm.abort()

    bar = ClusterProgress()
    bar.future = asyncio.run_coroutine_threadsafe(bar.run(), client.loop.asyncio_loop)
    return bar


def _compute_on_client(client, objects, report):
    """``dask.compute`` on ``client`` with task progress; a callback's exception cancels the tasks.

    The graph goes the way ``dask.compute`` sends it to a client (``client.get``, here with
    ``sync=False`` so this thread can watch for Stop), so the same collection computed with and
    without progress gives the scheduler the same tasks under the same keys.
    """
    import asyncio

    import dask
    from distributed import futures_of, wait

    def schedule(dsk, keys, **kwargs):
        packed = client.get(dsk, keys, sync=False, **kwargs)
        futures = futures_of(packed)
        bar = _cluster_progress(client, futures, report)
        try:
            while True:
                try:
                    wait(futures, timeout=0.2)
                    break
                except TimeoutError:
                    if report.error is not None:
                        client.cancel(futures)
                        raise report.error from None
            values = client.gather(packed)
        finally:
            # Keep the futures until the scheduler's plugin has found their keys; released earlier,
            # it would wait for them forever (distributed.diagnostics.progress.Progress.setup).
            bar.answered.wait(_SETUP_WAIT_S)
            asyncio.run_coroutine_threadsafe(bar.close(), client.loop.asyncio_loop)
            for f in futures:
                f.release()
        report.finish(bar.all or len(futures))
        return values

    return dask.compute(*objects, scheduler=schedule)


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


def checked_rows(rows, n: int) -> np.ndarray:
    """``rows`` as a flat int64 array, every one a row number of an ``n``-row matrix.

    Parameters
    ----------
    rows : array-like of int
    n : int
        Rows of the matrix.

    Returns
    -------
    ndarray of int64, 1-D

    Raises
    ------
    IndexError
        A row number outside ``[0, n)`` (the message names the range and the extremes found).
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise IndexError(f"row numbers must lie in [0, {n}); got {int(rows.min())} .. {int(rows.max())}")
    return rows


ROW_READERS: dict[str, object] = {}
"""Dask name of an array -> the object it reads from, when that object's ``take(rows)`` reads ascending
rows directly (:func:`core.open_sharded`'s ``.npy`` shards: one memory-map per shard, only the rows'
pages); :func:`take_rows` uses it instead of reading the chunks whole."""


def take_rows(X, rows) -> np.ndarray:
    """The given rows of a dask array as one in-memory numpy array (only the chunks holding them are read;
    of ``.npy`` shards, only the rows' own pages: :data:`ROW_READERS`).

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

    rows = checked_rows(rows, X.shape[0])
    reader = ROW_READERS.get(X.name)
    if reader is not None:  # hand-written: dask's fancy indexing reads each chunk whole
        order = np.argsort(rows, kind="stable")
        out = np.empty((rows.size, X.shape[1]), dtype=X.dtype)
        out[order] = reader.take(rows[order])  # cast to X's dtype as X's own astype does
        return out
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
            raise nonfinite_rows_error(first, n, count=nbad, source=name, hint=SHARD_ROWS_HINT)
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


# --------------------------------------------------------------------------- views compared


SHIFT_RATIO_CROSS = 50.0
""":func:`cross_moments` makes a second pass about the mean when a view's ``|mean - shift|^2`` exceeds
this many times its variance (``tr C``): centring the pilot-shifted sums costs about
``eps * (1 + ratio)^2`` of the unbiased HSIC's fourth-order sums (at 50: 6e-13)."""


@dataclass(frozen=True, eq=False)
class CrossMoments:
    """Centred feature-space products of m row-aligned views, float64, view i in units of ``x / scales[i]``.

    Attributes
    ----------
    n : int
    means : list of ndarray (d_i,)
        Column means, in the data's units.
    scales : tuple of float
        The exact power of two each view was divided by.
    grams : dict of {(i, j): ndarray (d_i, d_j)}
        ``Xc_i^T Xc_j`` (not divided by n) for the pairs of the groups asked for, ``i <= j``.
    sq_norms : ndarray (m,)
        ``sum_r |Xc_i[r]|^2`` (the trace of ``grams[i, i]``).
    aa : ndarray (m, m) or None
        With ``hsic``: ``a_i . a_j``, ``a_i[r] = |Xc_i[r]|^2`` the squared norms of the centred
        rows (for the pairs computed).
    za : list of ndarray (d_i, m) or None
        With ``hsic``: column j of ``za[i]`` is ``Xc_i^T a_j``.
    params : dict
        ``engine`` ("dask" or "numpy"), ``chunks``, ``passes`` (reads of the data),
        ``rescaled_by`` (the scales), ``shift_ratio`` (the largest ``|mean - shift|^2 / tr C`` of
        the first round).
    """

    n: int
    means: list
    scales: tuple
    grams: dict
    sq_norms: np.ndarray
    aa: np.ndarray | None
    za: list | None
    params: dict


def _stacked_chunk(*blocks, shifts, invs, split, hsic, sub_rows):
    """Sums over one row chunk of the members' rows ``A_p = x_p * invs[p] - shifts[p]``, stacked as Z.

    Returns ``(acc, colsum, qsum, QQ, ZQ, rows with NaN / inf, largest finite |x| per member...)``:
    ``acc = Z^T Z`` (or ``Z[:, :split]^T Z[:, split:]``), ``q_p`` the squared row norms of ``A_p``,
    ``QQ = q^T q`` and ``ZQ = Z^T q`` (None without ``hsic``).
    """
    blocks = [np.asarray(b) for b in blocks]
    off = np.concatenate([[0], np.cumsum([len(s) for s in shifts])]).astype(int)
    width, p, rows = int(off[-1]), len(blocks), len(blocks[0])
    acc = np.zeros((width, width) if split is None else (split, width - split))
    colsum, qsum = np.zeros(width), np.zeros(p)
    QQ, ZQ = (np.zeros((p, p)), np.zeros((width, p))) if hsic else (None, None)
    nbad = 0
    Z = np.empty((max(1, min(sub_rows, rows)), width))
    q = np.empty((Z.shape[0], p))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for s in range(0, rows, sub_rows):
            e = min(rows, s + sub_rows)
            Zs, qs = Z[: e - s], q[: e - s]
            for k in range(p):
                part = Zs[:, off[k]:off[k + 1]]
                np.multiply(blocks[k][s:e], invs[k], out=part, dtype=np.float64, casting="unsafe")
                part -= shifts[k]
                qs[:, k] = np.einsum("ij,ij->i", part, part)
            acc += Zs.T @ Zs if split is None else Zs[:, :split].T @ Zs[:, split:]
            colsum += Zs.sum(axis=0)
            qsum += qs.sum(axis=0)
            if hsic:
                QQ += qs.T @ qs
                ZQ += Zs.T @ qs
            if not np.isfinite(qs).all():  # NaN / inf rows, or squares that overflowed (rescaled later)
                finite = np.ones(e - s, bool)
                for b in blocks:
                    finite &= np.isfinite(b[s:e]).all(axis=1)
                nbad += int((~finite).sum())
    tops = []
    for b in blocks:
        A = np.abs(b[np.isfinite(b)]) if not np.isfinite(b).all() else np.abs(b)
        tops.append(_Max(float(A.max()) if A.size else 0.0))
    return (acc, colsum, qsum, QQ, ZQ, nbad, *tops)


def _pilot_shift(first: np.ndarray, inv: float) -> np.ndarray:
    """The mean of the pilot's finite rows times ``inv``; a column constant over them shifts by its exact value."""
    ok = np.isfinite(first).all(axis=1)
    if not ok.any():
        return np.zeros(first.shape[1])
    P = first[ok] * inv
    shift = P.mean(axis=0)
    constant = np.ptp(P, axis=0) == 0
    shift[constant] = P[0, constant]
    return shift


def _report_nonfinite(views, n: int, names, lazy: bool):
    """Raise for the rows holding NaN / inf: of the first view holding any (``names``), else of all views."""
    def rows_of(v):
        return nonfinite_rows(v) if lazy else _rows_with_nonfinite(np.asarray(v))

    if names:
        for v, name in zip(views, names):
            bad = rows_of(v)
            if len(bad):
                raise nonfinite_rows_error(bad, n, source=name, error=NonFiniteRowsError)
    bad = np.unique(np.concatenate([rows_of(v) for v in views]))
    raise nonfinite_rows_error(bad, n, where=" in X or Y" if len(views) == 2 else " in a view",
                               hint="; drop them from every view first")


class _Pass(NamedTuple):
    members: list
    offsets: np.ndarray  # of each member's columns in the stacked rows
    split: int | None
    sums: tuple


def cross_moments(views, *, groups=None, hsic: bool = False, names=None, block_rows: int | None = None
                  ) -> CrossMoments:
    r"""The centred cross products of row-aligned views (and the unbiased HSIC's row statistics), chunk-wise.

    One pass per pair of ``groups`` (one pass in all for one group): each chunk's rows of the
    pair's views are divided by an exact power of two per view (of its pilot rows), shifted by
    the pilot means (the first :data:`PILOT_ROWS` rows) and stacked as ``Z``; each chunk gives
    ``Z^T Z``, column sums and, with ``hsic``, ``q^T q`` and ``Z^T q`` (``q``: each view's squared
    row norms) in float64, and dask adds them in a tree (:func:`tree_sum`). The centred products
    follow exactly, with ``A`` the shifted rows, ``m = A^T 1 / n`` and ``Q = sum q``:

    .. math::

        X_{c,i}^\top X_{c,j} = A_i^\top A_j - n\, m_i m_j^\top, \qquad
        a_i \cdot a_j = q_i \cdot q_j - 2 m_j \cdot A_j^\top q_i - 2 m_i \cdot A_i^\top q_j
        + |m_j|^2 Q_i + |m_i|^2 Q_j + 4 m_i^\top A_i^\top A_j m_j - 3 n |m_i|^2 |m_j|^2

    (``a_i``: squared norms of the centred rows), and ``X_{c,i}^T a_j = A_i^T q_j - 2 A_i^T A_j m_j
    + |m_j|^2 A_i^T 1 - m_i sum(a_j)``. When a pilot was poor (``|m|^2 >`` :data:`SHIFT_RATIO_CROSS`
    ``tr C``) or a product overflowed (rows far larger than the pilot's), every pass is made
    again, shifted by the means and scaled by the largest magnitudes the first round found.

    Parameters
    ----------
    views : sequence of dask.array.Array or ndarray, each of shape (n, d_i)
        Numeric 2-D (numpy arrays checked by the caller, :func:`core.check_embeddings`); numpy
        arrays are split into the first dask view's row chunks. All numpy: summed here in row
        blocks, without dask.
    groups : sequence of sequence of int, optional
        Views whose products one pass computes (default: all, one pass). Pair (a, a) gives every
        product within group a, pair (a, b) those between the two.
    hsic : bool, default=False
        Also ``aa`` and ``za`` (the unbiased HSIC's row statistics).
    names : sequence of str, optional
        The views' names: NaN / inf rows are reported for the first view holding any
        (:class:`NonFiniteRowsError`, as :func:`core.check_embeddings` does); default: one
        message for the rows of all views.
    block_rows : int, optional
        Rows per product (default: 16 MB of stacked float64 rows).

    Returns
    -------
    CrossMoments

    Raises
    ------
    EmbedLensInputError
        Different row counts; a dask view that is not a 2-D numeric matrix or has unknown chunk
        sizes; rows holding NaN / inf (counted, the first named).
    """
    from dask import delayed

    m = len(views)
    n = int(np.shape(views[0])[0])
    for i, v in enumerate(views):
        if int(np.shape(v)[0]) != n:
            a, b = (names[0], names[i]) if names else ("X", "Y") if m == 2 else ("views[0]", f"views[{i}]")
            raise EmbedLensInputError(f"{a} has {n} rows but {b} has {np.shape(v)[0]}; paired views must hold "
                                      "the same items in the same order")
    lead = next((v for v in views if is_dask(v)), None)
    lazy = lead is not None
    if lazy:
        da = _dask_array()
        lead = check_matrix(lead)
        views = [check_matrix(v if is_dask(v) else da.from_array(np.asarray(v), chunks=(lead.chunks[0], -1)),
                              name=names[i] if names else f"views[{i}]") for i, v in enumerate(views)]
        firsts = compute(*[v[:PILOT_ROWS] for v in views])
        blocks = row_blocks(*views)
    else:
        firsts, blocks = [v[:PILOT_ROWS] for v in views], []
    firsts = [np.asarray(f, dtype=np.float64) for f in firsts]
    dims = [int(np.shape(v)[1]) for v in views]
    groups = [list(range(m))] if groups is None else [list(g) for g in groups]
    tasks = [(a, b) for a in range(len(groups)) for b in range(a, len(groups))]
    fn = delayed(_stacked_chunk, pure=True)

    def one_round(shifts, invs) -> list[_Pass]:
        out = []
        for a, b in tasks:
            members = groups[a] if a == b else groups[a] + groups[b]
            split = None if a == b else sum(dims[i] for i in groups[a])
            offsets = np.concatenate([[0], np.cumsum([dims[i] for i in members])]).astype(int)
            sub = max(1, int(block_rows)) if block_rows else max(16, (1 << 21) // max(int(offsets[-1]), 1))
            opts = dict(shifts=[shifts[i] for i in members], invs=[invs[i] for i in members], split=split,
                        hsic=hsic, sub_rows=sub)
            if lazy:
                sums = compute(tree_sum([fn(*[bl[i] for i in members], **opts) for bl, _ in blocks]))[0]
            else:
                sums = _stacked_chunk(*[views[i] for i in members], **opts)
            out.append(_Pass(members, offsets, split, sums))
        return out

    def per_view(results):
        """Column sums and sums of q of each view (from its first pass), largest |x| (over all)."""
        colsums, qsums, tops = [None] * m, [0.0] * m, [0.0] * m
        for r in results:
            for k, i in enumerate(r.members):
                if colsums[i] is None:
                    colsums[i] = r.sums[1][r.offsets[k]:r.offsets[k + 1]]
                    qsums[i] = float(r.sums[2][k])
                tops[i] = max(tops[i], float(r.sums[6 + k]))
        return colsums, qsums, tops

    scales = [pow2_scale(f) for f in firsts]
    shifts = [_pilot_shift(f, 1.0 / s) for f, s in zip(firsts, scales)]
    results = one_round(shifts, [1.0 / s for s in scales])
    if any(r.sums[5] for r in results):
        _report_nonfinite(views, n, names, lazy)
    colsums, qsums, tops = per_view(results)
    with np.errstate(over="ignore", invalid="ignore"):
        mu = [float(c @ c) / n**2 for c in colsums]
        ratio = max((u / max(q / n - u, np.finfo(float).tiny) for u, q in zip(mu, qsums) if q > 0), default=0.0)
    true_scales = [pow2_scale(np.array([t])) for t in tops]
    finite = all(np.isfinite(x).all() for r in results for x in r.sums[:5] if x is not None)
    passes = len(tasks)
    if not ratio <= SHIFT_RATIO_CROSS or not finite:  # a poor pilot, or products beyond float64
        with np.errstate(over="ignore", invalid="ignore"):
            shifts = [(sh + c / n) * (s / t) for sh, c, s, t in zip(shifts, colsums, scales, true_scales)]
        shifts = [sh if np.isfinite(sh).all() else _pilot_shift(f, 1.0 / t)
                  for sh, f, t in zip(shifts, firsts, true_scales)]
        scales = true_scales
        results = one_round(shifts, [1.0 / s for s in scales])
        colsums, qsums, _ = per_view(results)
        passes += len(tasks)
    params = {"engine": "dask" if lazy else "numpy", "chunks": len(blocks) if lazy else 1, "passes": passes,
              "rescaled_by": tuple(scales), "shift_ratio": float(ratio)}
    return _centred(results, dims, n, shifts, scales, hsic, params)


def _centred(results, dims, n, shifts, scales, hsic, params) -> CrossMoments:
    """:class:`CrossMoments` from the shifted sums of each pass (the identities of :func:`cross_moments`)."""
    m = len(dims)
    grams: dict = {}
    aa = np.zeros((m, m)) if hsic else None
    za = [np.zeros((d, m)) for d in dims] if hsic else None
    means, sq_norms = [None] * m, np.zeros(m)
    for r in results:
        acc, colsum, qsum, QQ, ZQ = r.sums[:5]
        sl = {i: slice(r.offsets[k], r.offsets[k + 1]) for k, i in enumerate(r.members)}
        pos = {i: k for k, i in enumerate(r.members)}
        c = {i: colsum[sl[i]] for i in r.members}
        mv = {i: c[i] / n for i in r.members}
        mu = {i: float(mv[i] @ mv[i]) for i in r.members}
        Q = {i: float(qsum[pos[i]]) for i in r.members}
        asum = {i: Q[i] - n * mu[i] for i in r.members}
        for i in r.members:
            if means[i] is None:
                means[i] = (shifts[i] + mv[i]) * scales[i]
                sq_norms[i] = asum[i]
        if r.split is None:
            pairs = [(i, j) for p, i in enumerate(r.members) for j in r.members[p:]]
        else:
            left = [i for i in r.members if r.offsets[pos[i]] < r.split]
            pairs = [(i, j) for i in left for j in r.members if j not in left]
        for i, j in pairs:
            cols = sl[j] if r.split is None else slice(sl[j].start - r.split, sl[j].stop - r.split)
            S = acc[sl[i], cols]
            key = (i, j) if i <= j else (j, i)
            G = S - np.outer(c[i], c[j]) / n
            grams[key] = G if i <= j else G.T
            if not hsic:
                continue
            a_ij = (float(QQ[pos[i], pos[j]]) - 2 * float(mv[j] @ ZQ[sl[j], pos[i]])
                    - 2 * float(mv[i] @ ZQ[sl[i], pos[j]]) + mu[j] * Q[i] + mu[i] * Q[j]
                    + 4 * float(mv[i] @ S @ mv[j]) - 3 * n * mu[i] * mu[j])
            aa[i, j] = aa[j, i] = a_ij
            za[i][:, j] = ZQ[sl[i], pos[j]] - 2 * (S @ mv[j]) + mu[j] * c[i] - mv[i] * asum[j]
            za[j][:, i] = ZQ[sl[j], pos[i]] - 2 * (S.T @ mv[i]) + mu[i] * c[j] - mv[j] * asum[i]
    return CrossMoments(n=n, means=means, scales=tuple(scales), grams=grams, sq_norms=sq_norms, aa=aa, za=za,
                        params=params)


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
        ``engine`` ("dask" or "numpy"), ``chunks``, ``passes``, ``rescaled_by`` (x, y).
    """

    n: int
    mean_x: np.ndarray
    mean_y: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    xy: np.ndarray
    params: dict


def cross_covariance(X, Y, *, block_rows: int = 4096) -> CrossCovariance:
    r"""Means, covariances and the cross-covariance of two row-aligned views in one pass (float64).

    .. math:: \Sigma_{XY} = \frac1n \sum_i (x_i - \bar x)(y_i - \bar y)^\top

    The sufficient statistics of linear CKA and the other feature-space comparisons
    (:func:`cross_moments` of the two views): rows are divided by an exact power of two and
    shifted by pilot means (of the first :data:`PILOT_ROWS` rows) before the products, so the
    centring does not cancel. Dask arrays are summed chunk by chunk (``Y`` in ``X``'s row
    chunks); numpy arrays in row blocks, without dask.

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

    if is_dask(X) or is_dask(Y):
        if np.shape(X)[0] != np.shape(Y)[0]:
            raise EmbedLensInputError(f"X has {np.shape(X)[0]} rows but Y has {np.shape(Y)[0]}; paired views "
                                      "must hold the same items in the same order")
        views = [X, Y]
    else:
        views = list(check_paired(X, Y, allow_nonfinite=True))
    c = cross_moments(views, block_rows=block_rows)
    n = c.n
    sx, sy = c.scales
    return CrossCovariance(n=n, mean_x=c.means[0], mean_y=c.means[1], xx=c.grams[(0, 0)] / n * sx**2,
                           yy=c.grams[(1, 1)] / n * sy**2, xy=c.grams[(0, 1)] / n * (sx * sy), params=c.params)


# --------------------------------------------------------------------------- feature maps of paired views


def paired_views(views, names) -> list:
    """Row-aligned views as dask arrays in the first dask view's row chunks (checked, not read).

    Parameters
    ----------
    views : sequence of dask.array.Array or array-like, each of shape (n, d_i)
        At least one a dask array; numpy ones are checked in memory (:func:`core.check_embeddings`:
        NaN / inf rows refused there) and split into the dask view's row chunks.
    names : sequence of str
        The views' names in messages.

    Returns
    -------
    list of dask.array.Array
        Floating, one chunk across the columns, the same row chunks.

    Raises
    ------
    EmbedLensInputError
        A view that is not a 2-D numeric matrix or has unknown chunk sizes; different row counts
        (the first view against each other, as :func:`core.check_paired` says it).
    NonFiniteRowsError
        NaN / inf rows in a numpy view.
    """
    from ._validation import check_embeddings

    da = _dask_array()
    views = [check_matrix(v, name=name) if is_dask(v) else check_embeddings(v, name=name)
             for v, name in zip(views, names)]
    n = views[0].shape[0]
    for v, name in zip(views[1:], names[1:]):
        if v.shape[0] != n:
            raise EmbedLensInputError(f"{names[0]} has {n} rows but {name} has {v.shape[0]}; paired views must "
                                      "hold the same items in the same order")
    lead = next(v for v in views if is_dask(v))
    return [v.rechunk({0: lead.chunks[0]}) if is_dask(v) else da.from_array(v, chunks=(lead.chunks[0], -1))
            for v in views]


def _feature_gram_chunk(*blocks, maps, width, sub_rows):
    """``(Phi^T Phi, pairs used, rows with NaN / inf)`` of rows where no view's row is zero.

    ``Phi = [maps[0](rows of view 0), maps[1](rows of view 1), ...]`` (``width`` columns), formed
    ``sub_rows`` rows at a time and summed in float64. A pure numpy function: the in-memory path
    calls it on whole arrays, the dask path on each row chunk.
    """
    blocks = [np.asarray(b) for b in blocks]
    acc = np.zeros((width, width))
    used = nbad = 0
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for s in range(0, len(blocks[0]), sub_rows):
            parts = [b[s:s + sub_rows] for b in blocks]
            keep = np.ones(len(parts[0]), dtype=bool)
            for p in parts:
                keep &= np.any(p != 0, axis=1)
                nbad += int((~np.isfinite(p).all(axis=1)).sum()) if p.dtype.kind == "f" else 0
            if not keep.any():
                continue
            F = np.hstack([phi(p[keep] if not keep.all() else p) for phi, p in zip(maps, parts)])
            acc += F.T @ F
            used += int(keep.sum())
    return acc, used, nbad


def paired_feature_gram(views, maps, width: int, *, names, block_rows: int = 8192) -> tuple[np.ndarray, int, dict]:
    r"""The uncentred second moment of the stacked feature maps of row-aligned views, in one pass.

    .. math:: G = \sum_{r \in \text{used}} \phi(r)^\top \phi(r), \qquad
              \phi(r) = [\phi_0(x_{0,r}), \phi_1(x_{1,r}), \dots]

    over the rows ``r`` where no view's row is zero (:func:`core.schur_complement_entropy`'s
    ``C = G / used``). Each row chunk gives its ``G`` in float64 (the maps applied to the
    chunk's rows, e.g. unit rows or random Fourier features of a fixed ``W``) and dask adds them
    in a tree (:func:`tree_sum`). No shift or rescaling is needed: the maps act on unit rows.

    Parameters
    ----------
    views : sequence of dask.array.Array or ndarray, each of shape (n, d_i)
        All numpy (checked by the caller): summed here, without dask. Otherwise as
        :func:`paired_views` takes them.
    maps : sequence of callable
        ``rows (k, d_i) -> features (k, w_i)``, float64; picklable for a multi-process cluster
        (cloudpickle takes closures).
    width : int
        ``sum w_i``.
    names : sequence of str
        The views' names: NaN / inf rows are reported for the first view holding any.
    block_rows : int, default=8192
        Rows per product (dask: at most 16 MB of stacked features per product inside a chunk).

    Returns
    -------
    (gram, used, params)
        ``gram`` (width, width) float64, not divided; ``used`` the rows summed; ``params``
        ``engine`` ("dask" or "numpy") and ``chunks``.

    Raises
    ------
    EmbedLensInputError
        From :func:`paired_views` (bad views, different row counts).
    NonFiniteRowsError
        Rows holding NaN / inf (all of the first view holding any listed).
    """
    if not any(is_dask(v) for v in views):
        acc, used, _ = _feature_gram_chunk(*views, maps=maps, width=int(width), sub_rows=max(1, int(block_rows)))
        return acc, used, {"engine": "numpy", "chunks": 1}
    from dask import delayed

    views = paired_views(views, names)
    sub = max(1, min(int(block_rows), (1 << 21) // max(int(width), 1)))
    fn = delayed(_feature_gram_chunk, pure=True)
    blocks = row_blocks(*views)
    acc, used, nbad = compute(tree_sum([fn(*b, maps=tuple(maps), width=int(width), sub_rows=sub)
                                        for b, _ in blocks]))[0]
    if nbad:
        _report_nonfinite(views, views[0].shape[0], list(names), True)
    return acc, int(used), {"engine": "dask", "chunks": len(blocks)}


def _mapped_chunk(rows, *blocks, fn, n, names, dtype):
    """``fn(*blocks)`` as ``dtype``; refuses the chunk's rows holding NaN / inf (named, with the chunk's range).

    ``rows``: the chunk's row numbers.
    """
    blocks = [np.asarray(b) for b in blocks]
    for b, name in zip(blocks, names):
        bad = _rows_with_nonfinite(b)
        if len(bad):
            lo, hi = int(rows[0]), int(rows[-1])
            raise nonfinite_rows_error(bad + lo, len(b), source=name, where=f" in rows {lo}-{hi} of {n}",
                                       hint=SHARD_ROWS_HINT, error=NonFiniteRowsError)
    return np.asarray(fn(*blocks), dtype=dtype)


def map_paired_rows(fn, views, width: int, *, names, dtype=np.float32):
    """A lazy dask array whose row chunk i is ``fn(chunk i of each view)``: nothing is read until it is computed.

    Parameters
    ----------
    fn : callable
        ``(rows of view 0, rows of view 1, ...) -> (k, width)`` array; picklable.
    views : sequence of dask.array.Array or ndarray, each of shape (n, d_i)
        As :func:`paired_views` takes them (at least one a dask array).
    width : int
        Columns of the result.
    names : sequence of str
    dtype : numpy dtype, default=float32

    Returns
    -------
    dask.array.Array of shape (n, width)
        In the first dask view's row chunks, one chunk across the columns. Computing a chunk
        whose rows hold NaN / inf raises :class:`NonFiniteRowsError` naming those rows.

    Raises
    ------
    EmbedLensInputError
        From :func:`paired_views`.
    """
    from functools import partial

    da = _dask_array()
    views = paired_views(views, names)
    n = views[0].shape[0]
    rows = da.arange(n, chunks=(views[0].chunks[0],))
    columns = [x for i, v in enumerate(views) for x in (v, "i" + "abcdefgh"[i])]  # each view's own column index
    chunk = partial(_mapped_chunk, fn=fn, n=n, names=tuple(names), dtype=np.dtype(dtype))
    return da.blockwise(chunk, "iz", rows, "i", *columns, new_axes={"z": int(width)}, concatenate=True,
                        dtype=dtype, meta=np.empty((0, 0), dtype=dtype))


# --------------------------------------------------------------------------- samples


def sample_rows(X, rows) -> np.ndarray:
    """``X[rows]`` in memory, in X's dtype; of a dask array only those rows are read (:func:`take_rows`).

    Parameters
    ----------
    X : ndarray or dask.array.Array of shape (n, d)
    rows : array-like of int
        Row numbers in ``[0, n)``.

    Returns
    -------
    ndarray of shape (len(rows), d)
        In the order of ``rows``.

    Raises
    ------
    IndexError
        A row number outside ``[0, n)``.
    """
    return take_rows(X, rows) if is_dask(X) else X[checked_rows(rows, X.shape[0])]
