""".npy (memory-mapped, never unpickled) and .npz (2-D arrays are views, 1-D arrays metadata)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import EmbedLensInputError
from .._memory import require_memory
from .contents import _FileContents, _Matrix, _numeric_matrix, default_max_bytes

_NUMPY_SUFFIXES = {".npy", ".npz"}


try:  # numpy's reader of any header version (private; its place moved in numpy 2)
    from numpy.lib._format_impl import _read_array_header as _read_header_any
except ImportError:  # numpy < 2
    _read_header_any = getattr(np.lib.format, "_read_array_header", None)


def _npy_header(fh, rel: str, what: str = "") -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` from a ``.npy`` header, or a located error.

    Read with :mod:`numpy.lib.format` before any data: a damaged header (numpy parses it with
    :mod:`ast` / :mod:`tokenize`, which raise ``SyntaxError``, ``TokenError`` ...) or a header
    naming Python objects is refused here, never unpickled.
    """
    prefix = f"{what} " if what else ""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        elif version == (3, 0) and _read_header_any is not None:  # utf-8 header: unicode field names
            shape, fortran, dtype = _read_header_any(fh, version)
        else:
            raise ValueError(f"format version {version}")
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises many kinds on damaged bytes
        raise EmbedLensInputError(
            f"{prefix}has a damaged .npy header ({type(exc).__name__}: {str(exc)[:200]}); "
            "save the array again with np.save", source=rel) from None
    if dtype.hasobject:
        raise EmbedLensInputError(
            f"{prefix}holds Python objects (dtype=object); EmbedLens never unpickles data. "
            "Save a numeric array, e.g. np.save(path, X.astype(np.float32))",
            source=rel,
        )
    return tuple(int(k) for k in shape), bool(fortran), dtype


def _promised_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


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
        fh.seek(0)
        shape, fortran, dtype = _npy_header(fh, rel)
        offset = fh.tell()
    promised = _promised_bytes(shape, dtype)
    held = path.stat().st_size - offset
    if promised > held:
        raise EmbedLensInputError(
            f"is truncated or damaged: its header promises {promised:,} bytes of data ({dtype}, shape "
            f"{shape}) but the file holds {held:,}", source=rel)
    try:
        if promised == 0:
            arr = np.empty(shape, dtype=dtype)
        else:
            arr = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                            order="F" if fortran else "C")
    except (ValueError, OSError, TypeError) as exc:
        raise EmbedLensInputError(f"cannot be read as .npy ({exc})", source=rel) from None
    arr = _numeric_matrix(arr, rel)
    return _FileContents([_Matrix(path.stem, arr, rel, str(arr.dtype))])


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, rel: str, max_bytes: int) -> np.ndarray:
    """One ``.npy`` member, its header checked first: the bytes it promises must be in the member,
    under the file size limit and the memory budget (a small compressed archive can promise
    gigabytes), before anything is decompressed into memory."""
    what = f"array {key!r}"
    try:
        with zf.open(info) as fh:
            shape, fortran, dtype = _npy_header(fh, rel, what)
            promised = _promised_bytes(shape, dtype)
            header = fh.tell()
            if promised > info.file_size - header:
                raise EmbedLensInputError(
                    f"{what} is truncated or damaged: its header promises {promised:,} bytes ({dtype}, shape "
                    f"{shape}), the archive holds {max(info.file_size - header, 0):,}", source=rel, column=key)
            if promised > max_bytes:
                raise EmbedLensInputError(
                    f"{what} is {promised / (1 << 20):,.1f} MB uncompressed, over the limit of "
                    f"{max_bytes / (1 << 20):,.0f} MB; raise it with EMBEDLENS_MAX_FILE_MB or "
                    "`embedlens --max-file-mb`", source=rel, column=key)
            require_memory(promised, what=f"{rel}: {what} ({dtype}, shape {shape})",
                           avoid="store a smaller array, or save it uncompressed as .npy (memory-mapped)")
            data = fh.read(promised)
            if len(data) != promised or fh.read(1):
                raise EmbedLensInputError(
                    f"{what} holds {'fewer' if len(data) != promised else 'more'} bytes than its header "
                    "describes; the archive is damaged", source=rel, column=key)
    except _ZIP_ERRORS as exc:
        raise EmbedLensInputError(f"{what} cannot be read: the archive is damaged "
                                  f"({type(exc).__name__}: {str(exc)[:200]})", source=rel, column=key) from None
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_npz(path: Path, rel: str, max_bytes: int | None = None) -> _FileContents:
    max_bytes = default_max_bytes() if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise EmbedLensInputError(f"is not a readable .npz archive ({type(exc).__name__}: {str(exc)[:200]})",
                                  source=rel) from None
    matrices, columns = [], {}
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                raise EmbedLensInputError(
                    f"holds {info.filename[:80]!r}, which is not a NumPy array; an .npz archive holds "
                    ".npy arrays only (np.savez)", source=rel)
            key = info.filename[: -len(".npy")]
            if key in columns or any(m.name == key for m in matrices):
                raise EmbedLensInputError(f"holds two arrays named {key!r}", source=rel, column=key)
            arr = _read_member(archive, info, key, rel, max_bytes)
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
