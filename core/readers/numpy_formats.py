""".npy (memory-mapped, never unpickled) and .npz (2-D arrays are views, 1-D arrays metadata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import EmbedLensInputError
from .contents import _FileContents, _Matrix, _numeric_matrix

_NUMPY_SUFFIXES = {".npy", ".npz"}


def _read_npy(path: Path, rel: str) -> _FileContents:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic != b"\x93NUMPY":
        if magic[:1] == b"\x80":
            raise EmbedLensInputError(
                "holds a Python pickle, not a NumPy array; EmbedLens never unpickles files",
                source=rel,
            )
        raise EmbedLensInputError("is not a NumPy .npy file (it lacks the NumPy header)", source=rel)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "Python objects" in str(exc) or "pickle" in str(exc):
            raise EmbedLensInputError(
                "holds Python objects (dtype=object); EmbedLens never unpickles data. "
                "Save a numeric array, e.g. np.save(path, X.astype(np.float32))",
                source=rel,
            ) from None
        raise EmbedLensInputError(
            f"is truncated or damaged ({exc}); the header promises more data than the file holds",
            source=rel,
        ) from None
    except (EOFError, OSError) as exc:
        raise EmbedLensInputError(f"cannot be read as .npy ({exc})", source=rel) from None
    arr = _numeric_matrix(arr, rel)
    return _FileContents([_Matrix(path.stem, arr, rel, str(arr.dtype))])


def _read_npz(path: Path, rel: str) -> _FileContents:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError
        raise EmbedLensInputError(f"is not a readable .npz archive ({exc})", source=rel) from None
    matrices, columns = [], {}
    with archive:
        for key in archive.files:
            try:
                arr = archive[key]
            except ValueError:
                raise EmbedLensInputError(
                    f"array {key!r} holds Python objects (dtype=object); EmbedLens never "
                    "unpickles data",
                    source=rel,
                    column=key,
                ) from None
            if arr.ndim == 2:
                arr = _numeric_matrix(arr, rel, f"array {key!r}")
                matrices.append(_Matrix(key, arr, f"{rel}:{key}", str(arr.dtype)))
            elif arr.ndim == 1:
                columns[key] = arr
            else:
                raise EmbedLensInputError(
                    f"array {key!r} has shape {arr.shape}; expected 2-D matrices (views) and "
                    "1-D arrays (metadata columns)",
                    source=rel,
                    column=key,
                )
    if not matrices:
        raise EmbedLensInputError(
            f"holds no 2-D array (arrays: {list(columns) or 'none'}); expected at least one "
            "n x d matrix",
            source=rel,
        )
    n = matrices[0].data.shape[0]
    for key, col in columns.items():
        if len(col) != n:
            raise EmbedLensInputError(
                f"1-D array {key!r} has {len(col)} entries but the matrices have {n} rows; "
                "metadata arrays need one entry per row",
                source=rel,
                column=key,
            )
    meta = pd.DataFrame(columns) if columns else None
    return _FileContents(matrices, meta)
