"""What every format reader returns (_Matrix, _FileContents) and the checks all readers share."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import EmbedLensInputError, first_items, plural, require_real_matrix

# a numeric dimension column's name: dim_0, emb-1, e2, feature_3 ... (Arrow and text tables)
_DIM_COLUMN = re.compile(r"^(dim|emb|embedding|e|x|v|f|feat|feature)[_\-]?(\d+)$", re.IGNORECASE)


def default_max_bytes() -> int:
    """The per-file size limit: ``EMBEDLENS_MAX_FILE_MB`` (default 8192 MB) in bytes.

    Returns
    -------
    int
        ``int(MB * 2**20)``; fractional megabytes are allowed, and a zero or negative value
        is not refused (every file is then over the limit).

    Raises
    ------
    EmbedLensInputError
        ``EMBEDLENS_MAX_FILE_MB`` is set to something that is not a number.
    """
    raw = os.environ.get("EMBEDLENS_MAX_FILE_MB", "8192")
    try:
        mb = float(raw)
    except ValueError:
        raise EmbedLensInputError(
            f"EMBEDLENS_MAX_FILE_MB={raw!r} is not a number of megabytes"
        ) from None
    return int(mb * (1 << 20))


@dataclass
class _Matrix:
    """A matrix as read from a file, before validation and conversion."""

    name: str
    data: np.ndarray
    source: str
    source_dtype: str


@dataclass
class _FileContents:
    matrices: list[_Matrix]
    metadata: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _inside(child: Path, parent: Path) -> bool:
    """Whether ``child`` lies inside ``parent`` once symbolic links and ``..`` are resolved."""
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _is_hidden(rel_parts: tuple[str, ...]) -> bool:
    """Whether a relative path has a part starting with ``.`` or ``_`` (skipped when scanning a folder)."""
    return any(p.startswith((".", "_")) for p in rel_parts)


def _check_size(path: Path, max_bytes: int, rel: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise EmbedLensInputError("the file is empty (0 bytes)", source=rel)
    if size > max_bytes:
        raise EmbedLensInputError(
            f"the file is {size / (1 << 20):,.1f} MB, over the limit of "
            f"{max_bytes / (1 << 20):,.0f} MB; raise it with EMBEDLENS_MAX_FILE_MB or "
            "`embedlens --max-file-mb`",
            source=rel,
        )


def _numeric_matrix(arr: np.ndarray, rel: str, what: str = "the array") -> np.ndarray:
    if arr.dtype.hasobject:
        raise EmbedLensInputError(
            f"{what} holds Python objects (dtype=object); EmbedLens never unpickles data. "
            "Save a numeric array, e.g. np.save(path, X.astype(np.float32))",
            source=rel,
        )
    require_real_matrix(arr, source=rel, what=what)
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EmbedLensInputError(f"{what} has shape {arr.shape}; it holds no data", source=rel)
    return arr


def _count_error(rel: str, rows: int, n: int, view_source: str, how: str = "") -> EmbedLensInputError:
    """A metadata table with another row count than the views (``how``: why it was read so)."""
    return EmbedLensInputError(
        f"has {rows} rows but the views have {n} ({view_source}); metadata needs one row per item, "
        f"in the views' order" + (f". {how}" if how else ""),
        source=rel,
    )


def _check_float32_range(X: np.ndarray, source: str, *, offset: int = 0, column=None, under: bool = True,
                         block: int = 16384) -> None:
    """Refuse float64 (or wider) values that float32, the views' type, cannot hold.

    Beyond +-3.4e38 a value becomes inf, and a row whose every nonzero value is below ~1.4e-45
    becomes a zero row: either would change the data without a word. NaN / inf already in the
    file are left to the non-finite rule. ``X`` is 2-D (rows); ``offset`` is added to the row
    numbers named; ``under=False`` skips the zero-row check (for one column of several).

    Raises
    ------
    EmbedLensInputError
        Naming the rows, the largest (or smallest) magnitude, and the fix (rescale the matrix).
    """
    if X.dtype.kind != "f" or X.dtype.itemsize <= 4:
        return
    over, tiny = [], []
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for s in range(0, X.shape[0], block):
            B = np.asarray(X[s : s + block])
            Y = B.astype(np.float32)
            over.append(np.flatnonzero((np.isfinite(B) & ~np.isfinite(Y)).any(axis=1)) + s)
            if under:
                tiny.append(np.flatnonzero((B != 0).any(axis=1) & ~(Y != 0).any(axis=1)) + s)
    over = np.concatenate(over) + offset if over else np.empty(0, np.int64)
    tiny = np.concatenate(tiny) + offset if tiny else np.empty(0, np.int64)
    if len(over):
        rows = np.asarray(X[over - offset])
        big = float(np.abs(np.where(np.isfinite(rows), rows, 0)).max())
        raise EmbedLensInputError(
            f"{plural(len(over), 'row')} (rows {first_items(over)}) hold values beyond float32's range "
            f"(|x| up to {big:.3g}, float32 holds up to 3.4e38); EmbedLens keeps views as float32, where "
            "they would become inf. Divide the matrix by a power of ten before saving it",
            source=source, row=int(over[0]), column=column,
        )
    if len(tiny):
        raise EmbedLensInputError(
            f"{plural(len(tiny), 'row')} (rows {first_items(tiny)}) hold only values below float32's "
            "smallest (about 1.4e-45); EmbedLens keeps views as float32, where they would become zero "
            "vectors. Multiply the matrix by a power of ten before saving it",
            source=source, row=int(tiny[0]), column=column,
        )
