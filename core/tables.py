"""Helpers over a dataset's metadata table: text search and column kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["search_rows", "image_columns", "categorical_columns", "label_columns"]

_IMAGE_PREFIXES = ("data:image/", "http://", "https://")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")


def search_rows(meta: pd.DataFrame, query: str, *, skip: tuple[str, ...] = ()) -> np.ndarray:
    """Boolean mask of rows where any column's text contains every word of ``query``.

    Case-insensitive; words are separated by spaces and must all occur (in any columns).
    An empty query matches every row. Columns in ``skip`` (e.g. images) are not searched.

    Examples
    --------
    >>> meta = pd.DataFrame({"label": [3, 8, 3], "split": ["train", "test", "test"]})
    >>> search_rows(meta, "3 test").tolist()
    [False, False, True]
    """
    words = [w for w in str(query).lower().split() if w]
    mask = np.ones(len(meta), dtype=bool)
    if not words:
        return mask
    cols = [c for c in meta.columns if c not in skip]
    text = pd.Series([""] * len(meta), index=meta.index, dtype=object)
    for c in cols:
        text = text + " " + meta[c].astype(str).str.lower().to_numpy(dtype=object)
    for w in words:
        mask &= text.str.contains(w, regex=False).to_numpy(dtype=bool)
    return mask


def image_columns(meta: pd.DataFrame) -> list[str]:
    """Columns whose values are image data URIs or image URLs (checked on the first 20 values)."""
    out = []
    for c in meta.columns:
        s = meta[c]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        head = s.dropna().astype(str).head(20)
        if len(head) and all(
            v.startswith("data:image/")
            or (v.startswith(_IMAGE_PREFIXES) and v.lower().split("?")[0].endswith(_IMAGE_SUFFIXES))
            for v in head
        ):
            out.append(c)
    return out


def categorical_columns(meta: pd.DataFrame, *, max_levels: int = 50) -> list[str]:
    """Columns with few distinct values (strings, booleans, or integers with <= ``max_levels`` levels)."""
    out = []
    images = set(image_columns(meta))
    for c in meta.columns:
        if c in images:
            continue
        s = meta[c]
        try:
            levels = s.nunique(dropna=True)
        except TypeError:  # unhashable cells
            continue
        if levels <= max_levels and levels < max(2, len(s)):
            out.append(c)
    return out


def label_columns(meta: pd.DataFrame, *, id_column: str | None = None) -> list[str]:
    """Columns usable as class labels: 2 to 100 levels, not the ids; a column named "label" first.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["a", "b", "c", "d"], "split": ["x", "y", "x", "y"],
    ...                      "label": [1, 1, 2, 2]})
    >>> label_columns(meta, id_column="id")
    ['label', 'split']
    """
    out = [c for c in categorical_columns(meta, max_levels=100)
           if c != id_column and meta[c].nunique() >= 2]
    return sorted(out, key=lambda c: (c != "label", out.index(c)))
