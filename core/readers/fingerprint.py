"""Content hashes of views, metadata and datasets, independent of the file format."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..types import View

_HASH_CHUNK_BYTES = 32 << 20


def _block_rows(d: int) -> int:
    """Rows per hashed block of a float32 matrix with ``d`` columns (32 MiB)."""
    return max(1, _HASH_CHUNK_BYTES // max(1, d * 4))


def _block_digest(block) -> bytes:
    """SHA-256 of one block's float32 bytes (C order)."""
    block = np.ascontiguousarray(np.asarray(block), dtype=np.float32)
    return hashlib.sha256(memoryview(block).cast("B")).digest()


def _combine(n: int, d: int, digests) -> str:
    """The fingerprint from the block digests, in row order (shape and dtype in the header)."""
    h = hashlib.sha256(f"embedlens-view-v1:{n}x{d}:float32:".encode())
    for dg in digests:
        h.update(dg)
    return h.hexdigest()[:32]


def fingerprint_array(X: np.ndarray) -> str:
    """Content hash of a matrix as float32: shape and bytes, independent of file format.

    SHA-256 over 32 MiB row blocks hashed on up to 4 threads (no more than the cores), then over
    the block digests (a two-level tree, so large views hash at about twice single-stream speed
    on 2 cores).

    Cost: O(n d), one read of the matrix.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Any numeric dtype; it is hashed as float32 (a copy when it is not float32 or not
        C-contiguous).

    Returns
    -------
    str
        32 hex digits (128 bits of SHA-256), covering n, d and the float32 bytes.

    Raises
    ------
    ValueError
        When ``X`` is not 2-D (unpacking its shape) or cannot be cast to float32 (e.g.
        strings). The input is not otherwise validated.

    Notes
    -----
    Conventions: two matrices that are equal as float32 share a fingerprint, so float64
    data differing only below float32 precision hash the same (and share cache keys built
    from it); ``0.0`` and ``-0.0``, or two NaN payloads, hash differently.
    """
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.flags.c_contiguous:
        X = np.ascontiguousarray(X)
    n, d = X.shape
    rows = _block_rows(d)
    blocks = [X[i : i + rows] for i in range(0, n, rows)] or [X]
    if len(blocks) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            digests = list(pool.map(_block_digest, blocks))
    else:
        digests = [_block_digest(blocks[0])]
    return _combine(n, d, digests)


def _stable_column(s: pd.Series) -> tuple[str, pd.Series]:
    """``(kind, values)`` of a column, the same on every pandas version: pandas 3 reads text as its
    ``str`` dtype and pandas 2 as ``object`` (and nullable ``string`` is a third spelling), so the
    dtype's name would make the same file hash differently on two servers. Text-like columns
    become an object column of Python ``str`` with ``None`` for a missing cell."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category", s
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", s
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", s
    if pd.api.types.is_numeric_dtype(dtype):
        return ("int" if pd.api.types.is_integer_dtype(dtype) else "float"), s
    values = s.astype(object)
    return "text", values.where(values.notna(), None)


def fingerprint_metadata(meta: pd.DataFrame) -> str:
    """Content hash of a metadata table: column names, kinds and values (the same on every pandas version).

    Parameters
    ----------
    meta : pandas.DataFrame
        Cells that pandas cannot hash (lists, dicts) are hashed by their ``repr``.

    Returns
    -------
    str
        32 hex digits; independent of the index, dependent on column order.

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame. Nothing else of its own.
    """
    h = hashlib.sha256(b"embedlens-meta-v2:")
    h.update(str(len(meta)).encode())
    for col in meta.columns:
        s = meta[col]
        kind, s = _stable_column(s)
        h.update(f"|{col}:{kind}|".encode())
        try:
            values = pd.util.hash_pandas_object(s, index=False).to_numpy()
        except TypeError:  # unhashable cells (lists, dicts): hash their text form
            values = pd.util.hash_pandas_object(s.map(repr), index=False).to_numpy()
        h.update(values.tobytes())
    return h.hexdigest()[:32]


def _dataset_fingerprint(meta_fp: str, views: list[View], dropped: np.ndarray) -> str:
    h = hashlib.sha256(b"embedlens-dataset-v1:" + meta_fp.encode())
    for v in views:
        h.update(f"|{v.name}|{v.run}|{v.layer}|{v.step}|{v.modality}|{v.fingerprint}".encode())
    h.update(b"|dropped:" + np.asarray(dropped, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]
