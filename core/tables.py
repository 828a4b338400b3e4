"""Helpers over a dataset's metadata table: text search and column kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MISSING_TEXT",
    "text_values",
    "search_rows",
    "image_columns",
    "categorical_columns",
    "label_columns",
    "label_choices",
    "LABEL_MAX_LEVELS",
    "encode_labels",
]

MISSING_TEXT = "(missing)"
"""How a missing metadata value (None, NaN, pd.NA, NaT) reads in hover texts, legends,
categorical colours, filters and the item panel (CSV exports leave the cell empty)."""

LABEL_MAX_LEVELS = 100
"""A column with at most this many levels is label-like whatever its type (see :func:`label_columns`)."""

LABEL_MIN_CLASS_SIZE = 5
"""A text column with more levels is still label-like when its classes hold this many rows on average."""

_IMAGE_PREFIXES = ("data:image/", "http://", "https://")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")


def text_values(values, *, missing: str = MISSING_TEXT) -> np.ndarray:
    """The cells of ``values`` (a Series or 1-D sequence) as text, missing ones as ``missing``.

    Missing means ``pd.isna``: None, NaN, pd.NA (nullable Int64 / boolean / string), NaT and
    missing categories. Works the same on pandas 2.2 and 3.x (``astype(str)`` keeps NaN on
    3.x and writes ``"nan"`` on 2.x; neither is wanted here).

    Parameters
    ----------
    values : pandas.Series or 1-D sequence of length n
    missing : str, default="(missing)"
        The text of a missing cell (:data:`MISSING_TEXT`).

    Returns
    -------
    ndarray of shape (n,), object
        ``str`` of each cell, ``missing`` where ``pd.isna``.

    Raises
    ------
    ValueError
        From :class:`pandas.Series` when ``values`` is not 1-D. Nothing else of its own.

    Examples
    --------
    >>> text_values(pd.Series([1, None], dtype="Int64")).tolist()
    ['1', '(missing)']
    >>> text_values(pd.Series([0.5, np.nan])).tolist()
    ['0.5', '(missing)']
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    isna = np.asarray(pd.isna(s), dtype=bool)
    out = np.full(len(s), missing, dtype=object)
    if (~isna).any():
        out[~isna] = s[~isna].astype(str).to_numpy(dtype=object)
    return out


def search_rows(meta: pd.DataFrame, query: str, *, skip: tuple[str, ...] = ()) -> np.ndarray:
    """Boolean mask of rows where any column's text contains every word of ``query``.

    Case-insensitive; words are separated by spaces and must all occur (in any columns).
    An empty query matches every row. Columns in ``skip`` (e.g. images) are not searched.

    Parameters
    ----------
    meta : pandas.DataFrame of n rows
    query : str
        Converted with ``str`` (so ``None`` searches for the word "none").
    skip : tuple of str, default=()
        Column names not searched.

    Returns
    -------
    ndarray of shape (n,), bool

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame (no validation here). Nothing else of its own.

    Notes
    -----
    Missing cells read ``(missing)`` (:func:`text_values`), so the query "missing" finds them.
    A word matches inside a cell's text (``"3"`` finds ``13``), not whole cells.

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
        text = text + " " + pd.Series(text_values(meta[c]), index=meta.index).str.lower()
    for w in words:
        mask &= text.str.contains(w, regex=False).to_numpy(dtype=bool)
    return mask


def image_columns(meta: pd.DataFrame) -> list[str]:
    """Columns whose values are image data URIs or image URLs (checked on the first 20 values).

    Parameters
    ----------
    meta : pandas.DataFrame

    Returns
    -------
    list
        Column names, in table order: object / string columns whose first 20 non-missing
        values all start with ``data:image/``, or are http(s) URLs ending (before any ``?``)
        in .png, .jpg, .jpeg, .gif, .webp or .svg.

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame (no validation here). Nothing else of its own.
    """
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
    """Columns with few distinct values (strings, booleans, or integers with <= ``max_levels`` levels).

    The dtype is not checked: a float column with few levels counts too. Image columns and
    columns with unhashable cells are left out; a column whose every value differs (more than
    one row) is not categorical.

    Parameters
    ----------
    meta : pandas.DataFrame
    max_levels : int, default=50
        Most distinct non-missing values a categorical column may have.

    Returns
    -------
    list
        Column names in table order.

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame (no validation here). Nothing else of its own.
    """
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


def _label_like(s: pd.Series) -> bool:
    try:
        levels = int(s.nunique(dropna=True))
    except TypeError:  # unhashable cells
        return False
    if levels < 2:
        return False
    if levels <= LABEL_MAX_LEVELS:
        return True
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    return not numeric and int(s.notna().sum()) >= LABEL_MIN_CLASS_SIZE * levels


def label_columns(meta: pd.DataFrame, *, id_column: str | None = None) -> list[str]:
    """Label-like columns, the default choices for class labels; a column named "label" first.

    Label-like: not the ids, not images, at least 2 levels, and either at most
    :data:`LABEL_MAX_LEVELS` levels or a non-numeric column whose classes hold
    :data:`LABEL_MIN_CLASS_SIZE` rows or more on average (e.g. 200 named classes of 15 items).
    Any other column can still be picked as labels: see :func:`label_choices`.

    Parameters
    ----------
    meta : pandas.DataFrame
    id_column : str, optional
        The id column, never a label.

    Returns
    -------
    list
        Column names: ``"label"`` first if label-like, then table order.

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame (no validation here). Nothing else of its own.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["a", "b", "c", "d"], "split": ["x", "y", "x", "y"],
    ...                      "label": [1, 1, 2, 2]})
    >>> label_columns(meta, id_column="id")
    ['label', 'split']
    """
    images = set(image_columns(meta))
    out = [c for c in meta.columns if c != id_column and c not in images and _label_like(meta[c])]
    return sorted(out, key=lambda c: (c != "label", out.index(c)))


def label_choices(meta: pd.DataFrame, *, id_column: str | None = None) -> list[str]:
    """Every column a user may pick as class labels: :func:`label_columns` first, then every
    other column except the ids and image columns, in table order.

    Parameters
    ----------
    meta : pandas.DataFrame
    id_column : str, optional
        The id column, never offered.

    Returns
    -------
    list
        Column names: :func:`label_columns` first, then the rest in table order.

    Raises
    ------
    AttributeError
        When ``meta`` is not a DataFrame (no validation here). Nothing else of its own.

    Examples
    --------
    >>> meta = pd.DataFrame({"id": ["a", "b", "c"], "score": [0.1, 0.2, 0.3], "label": [1, 1, 2]})
    >>> label_choices(meta, id_column="id")
    ['label', 'score']
    """
    first = label_columns(meta, id_column=id_column)
    images = set(image_columns(meta))
    return first + [c for c in meta.columns if c not in first and c != id_column and c not in images]


def encode_labels(labels, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, classes): ``codes[i]`` indexes ``classes`` (sorted), or is -1 for a missing label.

    The one label encoding of :mod:`core` (class metrics, DSMI, rate reduction, neural
    collapse). Accepts any 1-D sequence or Series of numbers or strings. Missing is what
    :func:`text_values` calls missing (``pd.isna``: None, NaN, pd.NA, NaT); those rows get -1.
    Classes that do not sort together (mixed types) keep their order of first appearance.

    Parameters
    ----------
    labels : 1-D array-like or pandas Series, length n
    n : int
        The number of rows of the embeddings the labels belong to.

    Returns
    -------
    codes : ndarray of int64, shape (n,)
    classes : ndarray, shape (K,)

    Raises
    ------
    EmbedLensInputError
        When ``labels`` is not 1-D or does not hold ``n`` entries.

    Examples
    --------
    >>> codes, classes = encode_labels(["b", "a", None, "b"], 4)
    >>> codes.tolist(), classes.tolist()
    ([1, 0, -1, 1], ['a', 'b'])
    """
    from ._validation import EmbedLensInputError

    values = labels.to_numpy() if isinstance(labels, pd.Series) else np.asarray(labels, dtype=object)
    if values.ndim != 1 or len(values) != n:
        size = len(values) if values.ndim == 1 else f"shape {values.shape} of"
        raise EmbedLensInputError(
            f"labels have {size} entries but X has {n} rows; pass one label per row", source="labels"
        )
    series = pd.Series(values, dtype=object)
    isna = np.asarray(pd.isna(series), dtype=bool)
    try:
        codes, classes = pd.factorize(series[~isna], sort=True)
    except TypeError:  # mixed types that do not sort
        codes, classes = pd.factorize(series[~isna], sort=False)
    out = np.full(n, -1, dtype=np.int64)
    out[~isna] = codes
    return out, np.asarray(classes)
