"""Numba kernel behind the exact kNN search of :mod:`core.neighbors`.

Written by hand because no installed library keeps a running top-k over blocks of a
similarity matrix in parallel: scikit-learn's brute cosine search spends most of its time
in a single-threaded ``argpartition`` of each n-long row. numba is already installed with
umap-learn / pynndescent; the kernel compiles once (a few seconds) and is cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["topk_update", "topk_update_columns"]


@numba.njit(inline="always", cache=True, nogil=True)
def _insert(vals, idx, v, j):  # pragma: no cover
    """Insert score ``v`` of column ``j`` into the descending list ``vals`` / ``idx`` (dropping
    the last entry); returns the new threshold, the list's smallest score."""
    m = vals.shape[0]
    t = m - 1
    while t > 0 and vals[t - 1] < v:
        vals[t] = vals[t - 1]
        idx[t] = idx[t - 1]
        t -= 1
    vals[t] = v
    idx[t] = j
    return vals[m - 1]


@numba.njit(parallel=True, cache=True, nogil=True)
def topk_update(S, bias, col_offset, out_rows, self_cols, best_val, best_idx):  # pragma: no cover
    """Merge one block of scores into running top-m lists (largest first).

    Row ``r`` of ``S`` scores columns ``col_offset + c`` with ``S[r, c] - bias[col_offset + c]``
    and updates ``best_val[out_rows[r]]`` / ``best_idx[out_rows[r]]`` (sorted descending),
    skipping column ``self_cols[r]``. Distinct ``out_rows`` make the parallel loop race-free.
    Ties keep the column seen first.

    Parameters
    ----------
    S : ndarray of shape (b, w), float32
        Scores of b query rows against w columns.
    bias : ndarray of shape (n,), float32
        Per-column bias subtracted from the score (0 for cosine, ``|a_j|^2 / 2`` Euclidean).
    col_offset : int
        Global index of column 0 of ``S``.
    out_rows : ndarray of shape (b,), int64
        Row of ``best_*`` each query row updates (distinct).
    self_cols : ndarray of shape (b,), int64
        Global column each query row must skip (itself).
    best_val, best_idx : ndarray of shape (n_out, m), float32 / int64
        Running top-m lists, updated in place.

    Returns
    -------
    None

    Raises
    ------
    numba.core.errors.TypingError
        On the first call with argument types the kernel cannot compile for. Indices are not
        bounds-checked (numba's default): out-of-range ``out_rows`` or a ``bias`` shorter than
        ``col_offset + w`` read or write outside the arrays instead of raising; callers in
        :mod:`core.neighbors` build them in range.
    """
    b, w = S.shape
    m = best_val.shape[1]
    for r in numba.prange(b):
        o = out_rows[r]
        skip = self_cols[r]
        vals = best_val[o]
        idx = best_idx[o]
        thr = vals[m - 1]
        row = S[r]
        for c in range(w):
            v = row[c] - bias[col_offset + c]
            if v > thr:
                j = col_offset + c
                if j == skip:
                    continue
                thr = _insert(vals, idx, v, j)


_GROUP = 64
"""Columns per task of :func:`topk_update_columns` (4 cache lines; measured: 16 was 2x slower)."""


@numba.njit(parallel=True, cache=True, nogil=True)
def topk_update_columns(S, bias, row_offset, out_cols, self_rows, best_val, best_idx):  # pragma: no cover
    """:func:`topk_update` for the columns of ``S`` (as if for ``S.T``), without a transpose.

    Column ``c`` scores rows ``row_offset + r`` with ``S[r, c] - bias[row_offset + r]`` and
    updates ``best_*[out_cols[c]]``, skipping row ``self_rows[c]``. Each task walks the rows
    of a group of adjacent columns, so reads stay contiguous.

    Parameters
    ----------
    S : ndarray of shape (b, w), float32
    bias : ndarray of shape (n,), float32
    row_offset : int
        Global index of row 0 of ``S``.
    out_cols : ndarray of shape (w,), int64
        Row of ``best_*`` each column updates (distinct).
    self_rows : ndarray of shape (w,), int64
        Global row each column must skip (itself).
    best_val, best_idx : ndarray of shape (n_out, m), float32 / int64
        Updated in place.

    Returns
    -------
    None

    Raises
    ------
    numba.core.errors.TypingError
        As :func:`topk_update`; indices are not bounds-checked either.
    """
    b, w = S.shape
    m = best_val.shape[1]
    n_groups = (w + _GROUP - 1) // _GROUP
    for g in numba.prange(n_groups):
        c0 = g * _GROUP
        c1 = min(w, c0 + _GROUP)
        thr = np.empty(c1 - c0, dtype=best_val.dtype)
        for c in range(c0, c1):
            thr[c - c0] = best_val[out_cols[c], m - 1]
        for r in range(b):
            j = row_offset + r
            bj = bias[j]
            for c in range(c0, c1):
                v = S[r, c] - bj
                if v > thr[c - c0] and j != self_rows[c]:
                    o = out_cols[c]
                    thr[c - c0] = _insert(best_val[o], best_idx[o], v, j)
