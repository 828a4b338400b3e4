"""Input validation shared by every public function of :mod:`core`.

Validation happens once, at the boundary: loaders and metrics call these helpers and
raise :class:`EmbedLensInputError` with a message that names the source (file, row,
column), what was found, what was expected and, where there is one, the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "EmbedLensInputError",
    "NonFiniteRowsError",
    "Interval",
    "StrOptions",
    "check_embeddings",
    "check_param",
    "check_params",
    "invalid_message",
    "check_paired",
    "require_real_matrix",
    "first_items",
    "plain",
    "plural",
]


class EmbedLensInputError(ValueError):
    """Bad input from a user: a file, a parameter or a matrix that cannot be used.

    The message is written for the person who supplied the input; the dashboard shows it
    as is. ``source`` names the file or argument, ``row`` / ``column`` locate the problem
    when they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        row: int | None = None,
        column: str | int | None = None,
    ) -> None:
        self.source = None if source is None else str(source)
        self.row = row
        self.column = column
        text = message if self.source is None else f"{self.source}: {message}"
        super().__init__(text)


class NonFiniteRowsError(EmbedLensInputError):
    """Rows holding NaN or inf. ``rows`` are all their row numbers (0-based), ascending."""

    def __init__(self, message: str, *, source: str | Path | None, rows: np.ndarray) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        super().__init__(message, source=source, row=int(self.rows[0]) if len(self.rows) else None)


DROP_ROWS_HINT = "; drop them first (the Data page offers to)"
SHARD_ROWS_HINT = ("; remove or fix them in the data first (out of core, the Data page can leave out only the "
                   "rows of its in-memory sample)")
"""The way out for NaN / inf rows of a lazy (out-of-core) view, which only its files can drop."""


def nonfinite_phrase(rows, n: int, *, count: int | None = None, where: str = "", of: str = "rows") -> str:
    """``"2 of 1,200 rows hold NaN or inf (rows 3, 7)"``, ``"1 of 30 rows holds NaN or inf (row 3)"``.

    Parameters
    ----------
    rows : sequence of int
        The rows found, ascending (all, or the first ones when ``count`` is larger); row numbers are
        written as they are (identifiers), counts with thousands separators.
    n : int
        Rows in the matrix.
    count : int, optional
        How many rows hold NaN or inf; default ``len(rows)``.
    where : str, default=""
        Text after "NaN or inf".
    of : str, default="rows"
        What ``n`` counts, e.g. ``"sampled rows"``.

    Returns
    -------
    str

    Raises
    ------
    Nothing
        Of its own.
    """
    rows = [int(r) for r in rows]
    count = len(rows) if count is None else int(count)
    more = ", ..." if count > len(rows) else ""
    one = count == 1
    return (f"{count:,} of {n:,} {of} {'holds' if one else 'hold'} NaN or inf{where} "
            f"({'row' if one else 'rows'} {first_items(rows)}{more})")


def nonfinite_rows_error(rows, n: int, *, source: str | Path | None = None, count: int | None = None,
                         where: str = "", hint: str = "", error: type = EmbedLensInputError) -> EmbedLensInputError:
    """The one message for rows holding NaN or inf: ``"2 of 10 rows hold NaN or inf (rows 3, 7)"``.

    Parameters
    ----------
    rows : sequence of int
        The rows found, ascending (all of them, or the first ones when ``count`` is larger).
    n : int
        Rows in the matrix.
    source : str or Path, optional
        What the message names (the view, the file).
    count : int, optional
        How many rows hold NaN or inf, when ``rows`` lists only the first; default ``len(rows)``.
    where : str, default=""
        Text after "NaN or inf", e.g. ``" in X or Y"``.
    hint : str, default=""
        The way out, appended (e.g. :data:`DROP_ROWS_HINT`).
    error : type, default=EmbedLensInputError
        The class returned; :class:`NonFiniteRowsError` carries ``rows``.

    Returns
    -------
    EmbedLensInputError
        Not raised: the caller raises it.

    Raises
    ------
    IndexError
        When ``rows`` is empty (there is nothing to report).
    """
    rows = [int(r) for r in rows]
    message = nonfinite_phrase(rows, n, count=count, where=where) + hint
    if error is NonFiniteRowsError:
        return NonFiniteRowsError(message, source=source, rows=np.asarray(rows, dtype=np.int64))
    return error(message, source=source, row=rows[0])


def plain(value):
    """``value`` with numpy scalars as Python numbers, for messages: ``2``, not ``np.int64(2)``.

    Lists, tuples, sets and dicts are converted element by element, arrays become lists; other
    values are returned as they are. Use it where a message formats with ``!r`` or formats a
    container (whose ``str`` is the ``repr`` of its items).

    Parameters
    ----------
    value : object
        A numpy scalar, an array, a list / tuple / set / frozenset / dict (converted
        recursively), or anything else (returned unchanged).

    Returns
    -------
    object
        The same structure with numpy scalars as ``int`` / ``float`` / ``bool`` / ``str``
        (``.item()``) and arrays as nested lists (``.tolist()``).

    Raises
    ------
    Nothing
        Every value converts or is returned as it is (converted dict keys stay hashable).

    Examples
    --------
    >>> f"{plain([np.int64(2), np.float32(0.5)])}"
    '[2, 0.5]'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def plural(n, noun: str, many: str | None = None, *, thousands: bool = False) -> str:
    """``"1 group"`` / ``"2 groups"``: a count and its noun in agreement, for messages.

    Parameters
    ----------
    n : int or numpy integer
        The count (cast to ``int``, so ``np.int64(2)`` reads ``2``).
    noun : str
        The singular noun.
    many : str, optional
        The plural noun (default: ``noun + "s"``).
    thousands : bool, default=False
        Write the count with thousands separators (``1,797``).

    Returns
    -------
    str
        The count, a space and the singular or plural noun.

    Raises
    ------
    TypeError, ValueError
        From ``int(n)`` when ``n`` is not a number. Nothing else.

    Examples
    --------
    >>> plural(1, "group"), plural(2, "group"), plural(1, "entry", "entries")
    ('1 group', '2 groups', '1 entry')
    """
    n = int(n)
    word = noun if n == 1 else (many if many is not None else noun + "s")
    return f"{n:,} {word}" if thousands else f"{n} {word}"


def first_items(values: Sequence | np.ndarray, k: int = 5) -> str:
    """``"3, 17, 40, ..."``: the first ``k`` values for an error message.

    Parameters
    ----------
    values : sequence or ndarray
        Any iterable (it is materialised with ``list``).
    k : int, default=5
        How many values to show.

    Returns
    -------
    str
        The first ``k`` values (through :func:`plain`) joined by ``", "``, with ``", ..."``
        appended when there are more; ``""`` for no values.

    Raises
    ------
    TypeError
        When ``values`` is not iterable (e.g. a 0-d array or a number). Nothing else.
    """
    values = list(values)
    head = ", ".join(str(plain(v)) for v in values[:k])
    return head + (", ..." if len(values) > k else "")


def require_real_matrix(arr: np.ndarray, *, source, what: str = "") -> None:
    """The one check that an array holds a 2-D matrix of real numbers (the loaders and
    :func:`check_embeddings` share it, so a file and an argument are refused in the same words).

    Parameters
    ----------
    arr : ndarray
    source : str or path-like
        Named in the message (a file or an argument).
    what : str, default=""
        Prefix of the message (e.g. ``"the array"``); the message starts with ``"has ..."`` without it.

    Returns
    -------
    None

    Raises
    ------
    EmbedLensInputError
        For a non-numeric dtype (objects, strings, structured records), a complex dtype, or an
        array that is not 2-D.
    """
    lead = f"{what} " if what else ""
    if arr.dtype.fields is not None or arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise EmbedLensInputError(f"{lead}has dtype {arr.dtype}; expected numbers (float or int)", source=source)
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise EmbedLensInputError(f"{lead}has complex dtype {arr.dtype}; expected real numbers", source=source)
    if arr.ndim != 2:
        raise EmbedLensInputError(
            f"{lead}has shape {arr.shape}; expected a 2-D matrix (n items x d dimensions)", source=source
        )


def check_embeddings(
    X,
    *,
    name: str = "X",
    min_rows: int = 1,
    min_cols: int = 1,
    allow_nonfinite: bool = False,
    dtype=np.float32,
) -> np.ndarray:
    """Return ``X`` as a 2-D floating array, or raise :class:`EmbedLensInputError`.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The embeddings, one row per item.
    name : str, default="X"
        How the argument is called in messages.
    min_rows, min_cols : int, default=1
        Smallest accepted n and d.
    allow_nonfinite : bool, default=False
        Accept NaN / inf entries (otherwise they are an error naming the first rows).
    dtype : numpy dtype, default=float32
        The floating dtype returned. Arrays already of a floating dtype at least as wide are
        returned without a copy.

    Returns
    -------
    ndarray of shape (n, d)
        Floating, of ``dtype`` unless ``X`` already has a floating dtype at least as wide
        (then ``X``'s own dtype, possibly ``X`` itself). Booleans and integers are cast to
        ``dtype`` (integers above 2**24 lose precision in float32).

    Raises
    ------
    EmbedLensInputError
        Nested sequences whose rows have different lengths (names the first such row); input
        that numpy cannot read as an array; a non-numeric dtype (object, strings); a complex
        dtype; a shape that is not 2-D; fewer than ``min_rows`` rows or ``min_cols`` columns.
        Every message starts with ``name``.
    NonFiniteRowsError
        (a subclass of :class:`EmbedLensInputError`) when ``allow_nonfinite`` is False and rows
        hold NaN or inf; ``.rows`` lists all of them.
    """
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], (list, tuple, np.ndarray)):
        lengths = {len(r) for r in X}
        if len(lengths) > 1:
            bad = next(i for i, r in enumerate(X) if len(r) != len(X[0]))
            raise EmbedLensInputError(
                f"rows have different lengths (row 0 has {len(X[0])}, row {bad} has {len(X[bad])}); "
                "every row must have the same number of dimensions",
                source=name,
                row=bad,
            )
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise EmbedLensInputError(f"cannot be read as a matrix ({exc})", source=name) from None
    require_real_matrix(arr, source=name)
    n, d = arr.shape
    if n < min_rows:
        raise EmbedLensInputError(f"has {plural(n, 'row')}; at least {min_rows} are needed", source=name)
    if d < min_cols:
        raise EmbedLensInputError(f"has {d} columns; at least {min_cols} are needed", source=name)
    target = np.dtype(dtype)
    if not (np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize >= target.itemsize):
        arr = arr.astype(target)
    if not allow_nonfinite:
        bad = nonfinite_rows(arr)
        if len(bad):
            raise nonfinite_rows_error(bad, n, source=name, error=NonFiniteRowsError)
    return arr


def check_paired(X, Y, *, names: tuple[str, str] = ("X", "Y"), **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Validate two row-aligned matrices over the same items (same n, any d).

    Parameters
    ----------
    X, Y : array-like of shape (n, d_x) and (n, d_y)
        Two views of the same n items, in the same order.
    names : (str, str), default=("X", "Y")
        How the two arguments are called in messages.
    **kwargs
        Passed to :func:`check_embeddings` for both (``min_rows``, ``allow_nonfinite``, ``dtype`` ...).

    Returns
    -------
    (ndarray, ndarray)
        ``X`` and ``Y`` as returned by :func:`check_embeddings`.

    Raises
    ------
    EmbedLensInputError
        From :func:`check_embeddings` for either matrix (``X`` checked first), or when the two
        row counts differ.
    NonFiniteRowsError
        From :func:`check_embeddings`, for NaN / inf rows.
    """
    X = check_embeddings(X, name=names[0], **kwargs)
    Y = check_embeddings(Y, name=names[1], **kwargs)
    if X.shape[0] != Y.shape[0]:
        raise EmbedLensInputError(
            f"{names[0]} has {X.shape[0]} rows but {names[1]} has {Y.shape[0]}; "
            "paired views must hold the same items in the same order"
        )
    return X, Y


def nonfinite_rows(X: np.ndarray, *, block_rows: int = 16384) -> np.ndarray:
    """Row numbers of ``X`` holding NaN or inf, scanned in blocks (no n x d temporary).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Any dtype; a non-floating one has no NaN / inf and gives an empty result.
    block_rows : int, default=16384
        Rows scanned at a time (the temporary is ``block_rows x d`` booleans).

    Returns
    -------
    ndarray of shape (m,), int64
        Ascending 0-based row numbers.

    Raises
    ------
    numpy.exceptions.AxisError
        When a floating ``X`` is 1-D (no row axis); the input is not validated here.
    """
    if not np.issubdtype(X.dtype, np.floating):
        return np.empty(0, dtype=np.int64)
    out = []
    for start in range(0, X.shape[0], block_rows):
        block = X[start : start + block_rows]
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if len(bad):
            out.append(bad + start)
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


# --------------------------------------------------------------------------- declarative constraints
#
# Parameter checks are written as constraints, in the spirit of scikit-learn's
# ``utils/_param_validation`` (``Interval(Integral, 1, None, closed="left")``,
# ``StrOptions({"cosine", "euclidean"})``), so every public function words a bad option the
# same way: ``"k=0 is invalid: expected an integer >= 1"``.


class Interval:
    """Numbers of one kind (``Integral`` or ``Real``) between ``left`` and ``right``.

    ``None`` (or an infinite bound) leaves a side open-ended; ``closed`` is ``"both"``,
    ``"left"``, ``"right"`` or ``"neither"``. ``Integral`` rejects booleans and floats unless
    ``whole_floats=True`` (then ``2.0`` counts as the integer 2). ``Real`` rejects booleans,
    strings and NaN.

    Examples
    --------
    >>> from numbers import Integral, Real
    >>> Interval(Integral, 1, None, closed="left").describe()
    'an integer >= 1'
    >>> Interval(Real, 0, 1, closed="right").describe()
    'a number in (0, 1]'
    """

    def __init__(self, kind, left, right, *, closed: str = "both", whole_floats: bool = False) -> None:
        from numbers import Integral, Real

        if kind not in (Integral, Real):
            raise TypeError("Interval kind must be numbers.Integral or numbers.Real")
        if closed not in ("both", "left", "right", "neither"):
            raise TypeError(f"closed={closed!r}; expected 'both', 'left', 'right' or 'neither'")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed
        self.whole_floats = whole_floats

    def _number(self, value):
        """``value`` as int / float when it is of this kind, else None."""
        from numbers import Integral, Real

        if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
            return None
        if self.kind is Integral:
            if isinstance(value, (Integral, np.integer)):
                return int(value)
            if self.whole_floats and isinstance(value, (Real, np.floating)) and float(value).is_integer():
                return int(value)
            return None
        if isinstance(value, (Real, np.number)) and not np.isnan(float(value)):
            return float(value)
        return None

    def accepts(self, value) -> bool:
        v = self._number(value)
        if v is None:
            return False
        lo_ok = self.left is None or (v >= self.left if self.closed in ("both", "left") else v > self.left)
        hi_ok = self.right is None or (v <= self.right if self.closed in ("both", "right") else v < self.right)
        return bool(lo_ok and hi_ok)

    def convert(self, value):
        return self._number(value)

    def describe(self) -> str:
        from numbers import Integral

        noun = "an integer" if self.kind is Integral else "a number"
        lo_open = self.left is None or self.left == -np.inf
        hi_open = self.right is None
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        lo, hi = _num_text(self.left), _num_text(self.right)
        if lo_open and hi_open:
            return noun
        if hi_open:
            return f"{noun} {'>=' if lo_in else '>'} {lo}"
        if lo_open:
            return f"{noun} {'<=' if hi_in else '<'} {hi}"
        return f"{noun} in {'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"


class StrOptions:
    """One of a fixed set of strings.

    >>> StrOptions({"euclidean", "cosine"}).describe()
    "one of 'cosine', 'euclidean'"
    """

    def __init__(self, options, *, order=None) -> None:
        self.options = tuple(order) if order is not None else tuple(sorted(options))

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    def convert(self, value):
        return str(value)

    def describe(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(o) for o in self.options)


def _num_text(v) -> str:
    if v is None:
        return ""
    v = plain(v)
    if isinstance(v, float) and np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def check_param(name: str, value, *constraints, hint: str = ""):
    """``value`` converted (int, float or str) when one of ``constraints`` accepts it.

    Parameters
    ----------
    name : str
        The parameter's name, as shown in the message.
    value : object
        What the caller passed.
    *constraints : Interval or StrOptions
        Tried in order; the first that accepts ``value`` converts it. With none, every value
        is rejected (and the message ends in ``"expected "``).
    hint : str, default=""
        Appended to the message after ``"; "`` (e.g. the fix).

    Returns
    -------
    int, float or str
        From the first accepting constraint: ``Interval(Integral)`` -> int (a whole float only
        with ``whole_floats``), ``Interval(Real)`` -> float (``np.int64(2)`` -> 2.0; a numpy
        complex scalar passes as its real part, with a ComplexWarning), ``StrOptions`` -> str.

    Raises
    ------
    EmbedLensInputError
        ``"<name>=<value> is invalid: expected <constraint>[ or <constraint>][; <hint>]"`` when
        none accepts it -- the one wording every parameter check of :mod:`core` uses.
    AttributeError
        When a constraint has no ``accepts`` (e.g. a tuple or list of constraints passed as
        one argument).
    OverflowError
        From ``Interval(Real)``, for an int too large for a float (e.g. ``10**400``).

    Examples
    --------
    >>> from numbers import Integral
    >>> check_param("k", np.int64(5), Interval(Integral, 1, None, closed="left"))
    5
    >>> check_param("k", 0, Interval(Integral, 1, None, closed="left"))
    Traceback (most recent call last):
    ...
    core._validation.EmbedLensInputError: k=0 is invalid: expected an integer >= 1
    """
    for c in constraints:
        if c.accepts(value):
            return c.convert(value)
    raise EmbedLensInputError(invalid_message(name, value, *constraints, hint=hint))


def check_params(constraints: dict, /, **values) -> dict:
    """:func:`check_param` on each keyword: ``{name: constraint or tuple of constraints}``.

    Parameters
    ----------
    constraints : dict, positional-only
        ``{name: constraint or tuple of constraints}``. Names without a keyword are neither
        checked nor in the result; a list is not unpacked (AttributeError).
    **values
        The parameters to check, by name. No ``hint`` can be given here.

    Returns
    -------
    dict
        ``{name: converted value}`` (see :func:`check_param`), in keyword order.

    Raises
    ------
    EmbedLensInputError
        From :func:`check_param`, for the first keyword (in the order given) that no
        constraint accepts; the later ones are not checked.
    KeyError
        When a keyword has no entry in ``constraints``.
    AttributeError, OverflowError
        From :func:`check_param` (a non-constraint, a huge int for ``Interval(Real)``).

    Examples
    --------
    >>> from numbers import Integral
    >>> check_params({"n_draws": Interval(Integral, 1, None)}, n_draws=5)
    {'n_draws': 5}
    """
    out = {}
    for name, value in values.items():
        c = constraints[name]
        out[name] = check_param(name, value, *(c if isinstance(c, tuple) else (c,)))
    return out


def invalid_message(name: str, value, *constraints, hint: str = "", expected: str | None = None) -> str:
    """The one wording of a rejected parameter: ``"k=0 is invalid: expected an integer >= 1"``.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : object
        Shown as ``repr(plain(value))``: ``np.int64(0)`` as 0, a float as a float (0.0 stays
        0.0), a string quoted, an array as a list.
    *constraints : Interval or StrOptions
        Their ``describe()`` texts joined with ``" or "``; ignored when ``expected`` is given.
    hint : str, default=""
        Appended after ``"; "``.
    expected : str, optional
        The expectation itself, for a check no constraint describes (``"a pair (k1, k2)"``).

    Returns
    -------
    str
        ``"<name>=<value> is invalid: expected <...>[; <hint>]"``; with neither constraints
        nor ``expected`` it ends in ``"expected "``.

    Raises
    ------
    AttributeError
        When ``expected`` is None and a constraint has no ``describe``. Nothing else of its
        own (an exception from ``value``'s ``repr`` propagates).
    """
    want = expected if expected is not None else " or ".join(c.describe() for c in constraints)
    shown = plain(value)  # as the caller wrote it: q=0, not q=0.0 or np.int64(0)
    text = f"{name}={shown!r} is invalid: expected {want}"
    return text + (f"; {hint}" if hint else "")
