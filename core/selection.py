"""Picking items and describing them: map regions, metadata filters, declared samples, neighbours.

- :func:`points_in_box` / :func:`points_in_polygon`: the items inside a box or lasso drawn on
  a map, over every point of the map (not only those a browser drew).
- :func:`filter_mask` / :func:`parse_filter`: metadata filters written as short clauses
  (``label=3``, ``split=test``, ``ink>=100``), the form they take in share links.
- :func:`stratified_sample`: a seeded sample with proportional allocation over strata, so a
  large map can draw a declared subset whose make-up matches the whole.
- :func:`compare_groups`: a selection against the rest (size, mean norm, centroid distance,
  mean within-group cosine similarity).
- :func:`item_neighbors`: the exact nearest neighbours of one item, with distances.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._numerics import cosine_distances, pow2_scale, row_norms, unit_rows
from ._sampling import subsample
from numbers import Integral

from ._validation import EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param
from .tables import text_values

__all__ = [
    "points_in_box",
    "points_in_polygon",
    "FilterClause",
    "parse_filter",
    "filter_mask",
    "stratified_sample",
    "GroupComparison",
    "compare_groups",
    "GroupDiversity",
    "group_diversity",
    "item_neighbors",
]


# --------------------------------------------------------------------------- regions


def _points_2d(P) -> np.ndarray:
    P = check_embeddings(P, name="points", min_rows=0, dtype=np.float64)
    if P.shape[1] < 2:
        raise EmbedLensInputError(f"points have {P.shape[1]} columns; regions need 2-D points (x, y)")
    return P[:, :2]


def points_in_box(P, x_range: Sequence[float], y_range: Sequence[float], /) -> np.ndarray:
    """Boolean mask of the points of ``P`` (n x 2) with x and y inside the (closed) ranges.

    Parameters
    ----------
    P : array-like of shape (n, >= 2)
        Map coordinates in the map's units; columns beyond the first two are ignored.
    x_range, y_range : (float, float)
        The box's bounds along x and y, in either order (they are sorted), ends included.
        A NaN bound selects nothing.

    Returns
    -------
    ndarray of shape (n,), bool

    Raises
    ------
    EmbedLensInputError
        ``P`` not a numeric matrix (from :func:`core.check_embeddings`), fewer than 2 columns,
        or NaN / inf rows (:class:`NonFiniteRowsError`).
    ValueError, TypeError
        A range that is not two numbers (``float`` of each end, then unpacking into two).

    Examples
    --------
    >>> points_in_box([[0, 0], [1, 1], [2, 2]], (0.5, 3), (2, 0.5)).tolist()
    [False, True, True]
    """
    P = _points_2d(P)
    x0, x1 = sorted(map(float, x_range))
    y0, y1 = sorted(map(float, y_range))
    return (P[:, 0] >= x0) & (P[:, 0] <= x1) & (P[:, 1] >= y0) & (P[:, 1] <= y1)


def points_in_polygon(P, polygon, /, *, block: int | None = None) -> np.ndarray:
    """Boolean mask of the points of ``P`` (n x 2) inside ``polygon`` (m x 2 vertices, closed or not).

    Even-odd rule by ray casting (the rule plotly's lasso uses), vectorised over points in
    blocks: O(n m) time, O(block m) memory. Points exactly on an edge may fall either side.
    Written here because neither numpy nor scipy offers point-in-polygon for arbitrary
    (non-convex) polygons without matplotlib.

    Parameters
    ----------
    P : array-like of shape (n, >= 2)
        Map coordinates; columns beyond the first two are ignored.
    polygon : array-like of shape (m, 2)
        Vertices in order, m >= 3; the last edge back to the first vertex is implied.
    block : int, optional
        Points tested at a time (default about 2,000,000 / m).

    Returns
    -------
    ndarray of shape (n,), bool

    Raises
    ------
    EmbedLensInputError
        ``P`` not a numeric matrix, fewer than 2 columns, or NaN / inf rows; a polygon that is
        not (m, 2) with m >= 3 finite vertices.
    ValueError, TypeError
        From ``np.asarray(polygon, dtype=float64)`` for vertices that are not numbers or are
        ragged.

    Examples
    --------
    >>> square = [[0, 0], [2, 0], [2, 2], [0, 2]]
    >>> points_in_polygon([[1, 1], [3, 1], [1, -0.5]], square).tolist()
    [True, False, False]
    """
    P = _points_2d(P)
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3 or not np.isfinite(poly).all():
        raise EmbedLensInputError(
            f"a polygon needs at least 3 finite (x, y) vertices; got shape {poly.shape}"
        )
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    block = block or max(1024, 2_000_000 // len(poly))  # about 2M point-edge pairs (16 MB) at a time
    out = np.zeros(len(P), dtype=bool)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    in_bounds = (P[:, 0] >= lo[0]) & (P[:, 0] <= hi[0]) & (P[:, 1] >= lo[1]) & (P[:, 1] <= hi[1])
    candidates = np.flatnonzero(in_bounds)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, len(candidates), block):
            rows = candidates[start:start + block]
            px, py = P[rows, 0][:, None], P[rows, 1][:, None]
            crosses = (y0 > py) != (y1 > py)
            x_at = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
            inside = (crosses & (px < x_at)).sum(axis=1) % 2 == 1
            out[rows] = inside
    return out


# --------------------------------------------------------------------------- filters

_CLAUSE = re.compile(r"^(?P<column>.+?)(?P<op>>=|<=|!=|=)(?P<value>.*)$", re.S)


@dataclass(frozen=True)
class FilterClause:
    """One condition on a metadata column: ``column op value`` with op in ``=, !=, >=, <=``."""

    column: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def parse_filter(clauses: Sequence[str], /) -> list[FilterClause]:
    """Parse ``["label=3", "label=5", "ink>=100"]``; raises with the bad clause named.

    The first operator found splits the clause (``a=b=c`` is column ``a``, value ``b=c``); the
    value is kept as text (numbers are read by :func:`filter_mask`).

    Parameters
    ----------
    clauses : sequence of str
        Each ``column op value`` with op in ``=``, ``!=``, ``>=``, ``<=``. A bare string is
        iterated character by character (and refused): pass a list.

    Returns
    -------
    list of FilterClause

    Raises
    ------
    EmbedLensInputError
        A clause with no operator or an empty column name (the clause is named).

    Examples
    --------
    >>> [str(c) for c in parse_filter(["label=3", "ink>=100"])]
    ['label=3', 'ink>=100']
    """
    out = []
    for text in clauses:
        m = _CLAUSE.match(str(text))
        if not m or not m.group("column"):
            raise EmbedLensInputError(
                f"filter {text!r} is not 'column=value', 'column!=value', 'column>=number' "
                "or 'column<=number'"
            )
        out.append(FilterClause(m.group("column"), m.group("op"), m.group("value")))
    return out


def _equal(series: pd.Series, value: str) -> np.ndarray:
    # missing cells (None, NaN, pd.NA, NaT) read MISSING_TEXT, so "col=(missing)" selects them
    as_text = text_values(series) == value
    if pd.api.types.is_numeric_dtype(series):
        try:
            number = float(value)
        except ValueError:
            return as_text
        return as_text | (series.to_numpy(dtype=np.float64, na_value=np.nan) == number)
    return as_text


def filter_mask(meta: pd.DataFrame, clauses: Sequence[str | FilterClause], /) -> np.ndarray:
    """Rows of ``meta`` that satisfy the filter.

    Clauses on the same column with ``=`` are alternatives (``label=3`` or ``label=5``);
    everything else must hold together (``split=test`` and ``ink>=100``). ``>=`` / ``<=``
    need a numeric column and never keep a missing value. A missing value (None, NaN,
    pd.NA, NaT) equals ``(missing)`` (:data:`core.tables.MISSING_TEXT`): ``score=(missing)``
    keeps the rows without a score, ``score!=(missing)`` those with one. A column that does
    not exist is an error naming the columns.

    Parameters
    ----------
    meta : pandas.DataFrame of n rows
        The metadata, one row per item.
    clauses : sequence of str or FilterClause
        As :func:`parse_filter` reads them; an empty sequence keeps every row.

    Returns
    -------
    ndarray of shape (n,), bool

    Raises
    ------
    EmbedLensInputError
        A clause that does not parse; a column that does not exist (column names are compared
        as text, so a non-string column name such as ``3`` is never found, although the
        message lists it as ``'3'``); ``>=`` / ``<=`` on a column that is not numeric, or
        with a bound that is not a number.
    AttributeError
        When ``meta`` is not a DataFrame.

    Notes
    -----
    Conventions: ``=`` on a numeric column matches the text *or* the number (``label=3``
    keeps 3 and 3.0); booleans count as numeric for ``>=`` / ``<=`` (True = 1).

    Examples
    --------
    >>> meta = pd.DataFrame({"label": [3, 5, 7, 3], "split": ["a", "b", "b", "b"]})
    >>> filter_mask(meta, ["label=3", "label=5", "split=b"]).tolist()
    [False, True, False, True]
    >>> filter_mask(pd.DataFrame({"score": [0.5, None]}), ["score=(missing)"]).tolist()
    [False, True]
    """
    parsed = [c if isinstance(c, FilterClause) else parse_filter([c])[0] for c in clauses]
    mask = np.ones(len(meta), dtype=bool)
    alternatives: dict[str, np.ndarray] = {}
    for c in parsed:
        if c.column not in meta.columns:
            raise EmbedLensInputError(
                f"filter {str(c)!r}: no column {c.column!r}; "
                f"the columns are {list(map(str, meta.columns))[:12]}"
            )
        s = meta[c.column]
        if c.op == "=":
            hit = _equal(s, c.value)
            alternatives[c.column] = alternatives.get(c.column, np.zeros(len(meta), bool)) | hit
            continue
        if c.op == "!=":
            mask &= ~_equal(s, c.value)
            continue
        if not pd.api.types.is_numeric_dtype(s):
            raise EmbedLensInputError(
                f"filter {str(c)!r}: {c.op} needs a numeric column; {c.column!r} is {s.dtype}"
            )
        try:
            bound = float(c.value)
        except ValueError:
            raise EmbedLensInputError(f"filter {str(c)!r}: {c.value!r} is not a number") from None
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            mask &= values >= bound if c.op == ">=" else values <= bound
    for hit in alternatives.values():
        mask &= hit
    return mask


# --------------------------------------------------------------------------- samples


def stratified_sample(strata, size: int, /, *, seed: int = 0) -> np.ndarray:
    """Sorted row numbers of a seeded sample of ``size`` rows, allocated proportionally to strata.

    Each stratum gets ``floor(size * n_s / n)`` rows, at least one if it is not empty (when there
    are no more strata than ``size``), and the remaining rows go to the largest fractional
    parts (Hamilton's method); rows within a stratum are drawn uniformly without replacement.
    Exactly ``min(size, n)`` rows are returned; when ``size >= n``, every row.

    Parameters
    ----------
    strata : array-like of shape (n,)
        Any hashable labels (a categorical column, or spatial cell numbers).
    size : int
        Rows wanted, >= 0 (``True`` / ``False`` pass as 1 / 0).
    seed : int, default=0

    Returns
    -------
    ndarray of shape (min(size, n),), int64
        Ascending row numbers (``np.arange(n)`` when ``size >= n``).

    Raises
    ------
    EmbedLensInputError
        ``size`` not a non-negative integer (a float such as ``1.0`` is refused).
    ValueError
        From :class:`pandas.Series` when ``strata`` is not 1-D.

    Examples
    --------
    >>> labels = np.array([0] * 90 + [1] * 9 + [2])
    >>> rows = stratified_sample(labels, 20, seed=0)
    >>> len(rows), np.bincount(labels[rows]).tolist()
    (20, [18, 1, 1])
    """
    strata = np.asarray(strata)
    n = len(strata)
    size = check_param("size", size, Interval(Integral, 0, None))
    if size >= n:
        return np.arange(n)
    codes, _levels = pd.factorize(pd.Series(strata), use_na_sentinel=False)
    counts = np.bincount(codes)
    quota = size * counts / n
    take = np.floor(quota).astype(np.int64)
    if (counts > 0).sum() <= size:  # room for every stratum: at least one each
        take = np.minimum(np.maximum(take, (counts > 0).astype(np.int64)), counts)
    left = size - int(take.sum())
    if left > 0:
        room = counts - take
        order = np.argsort(-(quota - np.floor(quota)), kind="stable")
        for s in order:
            if left == 0:
                break
            if room[s] > 0:
                take[s] += 1
                left -= 1
    elif left < 0:  # the one-per-stratum minimum overshot: trim the largest strata
        for s in np.argsort(-take, kind="stable"):
            cut = min(-left, take[s] - 1)
            take[s] -= cut
            left += cut
            if left == 0:
                break
    rng = np.random.default_rng(seed)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    chosen = [rng.choice(order[starts[s]:starts[s + 1]], size=int(take[s]), replace=False)
              for s in range(len(counts)) if take[s]]
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


# --------------------------------------------------------------------------- describing a group


@dataclass(frozen=True)
class GroupComparison:
    """A group of items (the selection) against the rest of them.

    Attributes
    ----------
    n_in, n_out : int
    mean_norm_in, mean_norm_out : float
        Mean L2 norm of the rows (NaN for an empty group).
    centroid_distance : float
        Distance between the two groups' mean vectors, in ``metric``.
    cosine_in, cosine_out : float
        Mean cosine similarity between distinct members of the group (NaN below 2 members);
        high means a tight, one-directional group.
    metric : str
    """

    n_in: int
    n_out: int
    mean_norm_in: float
    mean_norm_out: float
    centroid_distance: float
    cosine_in: float
    cosine_out: float
    metric: str


def _check_groups(X, mask, metric: str) -> tuple[np.ndarray, np.ndarray]:
    X = check_embeddings(X, name="X", min_rows=1)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (X.shape[0],):
        raise EmbedLensInputError(f"mask has shape {mask.shape}; expected ({X.shape[0]},), one flag per row")
    check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    return X, mask


def compare_groups(X, mask, /, *, metric: str = "cosine", block: int = 65_536) -> GroupComparison:
    """Compare the rows of ``X`` where ``mask`` is true with the others.

    .. math::

        \\bar c_G = \\frac{\\|\\sum_{i \\in G} u_i\\|^2 - \\sum_{i \\in G} \\|u_i\\|^2}{|G| (|G| - 1)},
        \\quad u_i = x_i / \\|x_i\\|

    is the mean cosine similarity over distinct pairs, computed in O(|G| d) without the
    |G| x |G| matrix (zero rows count as orthogonal to everything).

    Parameters
    ----------
    X : array-like of shape (n, d)
    mask : array-like of shape (n,), bool
    metric : {"cosine", "euclidean"}, default="cosine"
        For the distance between the two centroids.

    Returns
    -------
    GroupComparison
        NaN mean norms for an empty group, NaN ``cosine_*`` below 2 members, NaN
        ``centroid_distance`` when either group is empty.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, no rows, NaN / inf rows (:class:`NonFiniteRowsError`);
        ``mask`` not of shape (n,); ``metric`` not "cosine" / "euclidean".
    ValueError, TypeError
        From ``np.asarray(mask, dtype=bool)`` for a mask that cannot be read as booleans (e.g.
        ragged). Any value that can is taken by truth (``2``, NaN and the string ``"False"``
        are True) without a message.

    Notes
    -----
    Conventions: ``metric`` only chooses the centroid distance (cosine ``1 - cos`` of the two
    mean vectors, default; or Euclidean in the data's units); ``cosine_in`` / ``cosine_out``
    are always cosine similarities. Cost O(n d) time, O(block d) memory (streamed). Written by hand: these are means and one
    closed-form identity.

    Examples
    --------
    >>> X = np.array([[1.0, 0], [2.0, 0], [0, 1.0], [0, 3.0]])
    >>> g = compare_groups(X, [True, True, False, False])
    >>> g.n_in, g.mean_norm_in, g.cosine_in, round(g.centroid_distance, 3)
    (2, 1.5, 1.0, 1.0)
    """
    X, mask = _check_groups(X, mask, metric)
    d = X.shape[1]
    # per group: sum of rows, sum of unit rows, number of nonzero rows, sum of norms (streamed in blocks)
    sums, usums, nonzero, normsum = np.zeros((2, d)), np.zeros((2, d)), np.zeros(2), np.zeros(2)
    for start in range(0, X.shape[0], block):
        B = X[start:start + block].astype(np.float64)
        U, norms = unit_rows(B, dtype=np.float64)  # right at any scale (core._numerics)
        for g, m in enumerate((mask[start:start + block], ~mask[start:start + block])):
            sums[g] += B[m].sum(axis=0)
            usums[g] += U[m].sum(axis=0)
            nonzero[g] += (norms[m] > 0).sum()
            normsum[g] += norms[m].sum()
    sizes = [int(mask.sum()), int((~mask).sum())]
    mean_norm = [float(normsum[g] / sizes[g]) if sizes[g] else float("nan") for g in range(2)]
    cos = [float((usums[g] @ usums[g] - nonzero[g]) / (sizes[g] * (sizes[g] - 1)))
           if sizes[g] > 1 else float("nan") for g in range(2)]
    if all(sizes):
        a, b = sums[0] / sizes[0], sums[1] / sizes[1]
        if metric == "euclidean":
            dist = float(row_norms((a - b)[None, :])[0])
        else:
            dist = float(cosine_distances(a[None, :], b[None, :])[0, 0])
    else:
        dist = float("nan")
    return GroupComparison(sizes[0], sizes[1], mean_norm[0], mean_norm[1], dist, cos[0], cos[1], metric)


@dataclass(frozen=True)
class GroupDiversity:
    """Vendi score and intrinsic dimension of a group (the selection) and of the rest.

    Attributes
    ----------
    vendi_in, vendi_out : float
        Vendi score (cosine kernel, q = 1) of each group's rows, or of a seeded sample of
        ``vendi_max`` of them; NaN for an empty group.
    id_in, id_out, id_error_in, id_error_out : float
        TwoNN intrinsic dimension (distinct rows, ``metric``) with its bootstrap standard
        error, on a seeded sample of at most ``id_max`` rows; NaN when a group has fewer than
        ``min_id_rows`` distinct usable rows.
    n_vendi, n_id : (int, int)
        Rows actually used per group (in, out).
    metric : str
    seed : int
    """

    vendi_in: float
    vendi_out: float
    id_in: float
    id_out: float
    id_error_in: float
    id_error_out: float
    n_vendi: tuple[int, int]
    n_id: tuple[int, int]
    metric: str
    seed: int


def group_diversity(X, mask, /, *, metric: str = "cosine", vendi_max: int = 20_000, id_max: int = 5_000,
                    min_id_rows: int = 20, seed: int = 0) -> GroupDiversity:
    """Vendi score and TwoNN intrinsic dimension of the rows where ``mask`` is true, and of the rest.

    Each group is reduced to a seeded uniform sample when larger than ``vendi_max`` (Vendi) or
    ``id_max`` (TwoNN); the sizes used are returned, so a page can say so.

    Parameters
    ----------
    X : array-like of shape (n, d)
    mask : array-like of shape (n,), bool
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the TwoNN neighbours (the Vendi kernel is cosine).
    vendi_max, id_max : int
        Largest group sample for each estimate.
    min_id_rows : int, default=20
        Below this many rows a group's dimension is NaN (TwoNN needs a distribution of ratios).
    seed : int, default=0

    Returns
    -------
    GroupDiversity
        NaN where a group is empty, all zero (Vendi), or has too few distinct usable rows
        (TwoNN): those refusals are caught and turned into NaN.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, no rows, NaN / inf rows; ``mask`` not of shape (n,);
        ``metric`` not "cosine" / "euclidean".
    ValueError
        From :meth:`numpy.random.Generator.choice` for a negative ``vendi_max`` / ``id_max``
        (not checked).

    Notes
    -----
    Conventions: the Vendi kernel is always cosine; the TwoNN distance follows ``metric``
    (cosine: chordal distance ``sqrt(2 (1 - cos))`` between unit rows).

    :func:`core.vendi_score` (Friedman & Dieng 2023; d x d dual form, O(m d^2 + d^3)) and
    :func:`core.intrinsic_dimension` with ``method="twonn"`` (Facco et al. 2017; an exact kNN
    search of the sample, O(m^2 d) for m <= ``id_max``, plus 30 bootstrap fits).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.standard_normal((300, 2)) @ rng.standard_normal((2, 12)),
    ...                rng.standard_normal((300, 12))])
    >>> g = group_diversity(X, np.arange(600) < 300, metric="euclidean")
    >>> round(g.id_in), round(g.id_out) > 8, g.vendi_in < g.vendi_out
    (2, True, True)
    """
    from .diversity import vendi_score
    from .intrinsic_dim import intrinsic_dimension

    X, mask = _check_groups(X, mask, metric)
    rng = np.random.default_rng(seed)
    vendi, ids, errs, n_vendi, n_id = [], [], [], [], []
    for rows in (np.flatnonzero(mask), np.flatnonzero(~mask)):
        v_rows = subsample(rows, vendi_max, seed=seed, rng=rng).rows
        try:
            vendi.append(vendi_score(X[v_rows]) if len(v_rows) else float("nan"))
        except EmbedLensInputError:  # only zero rows: the cosine kernel is undefined
            vendi.append(float("nan"))
        n_vendi.append(len(v_rows))
        i_rows = subsample(rows, id_max, seed=seed, rng=rng).rows
        n_id.append(len(i_rows))
        est = None
        if len(i_rows) >= min_id_rows:
            try:
                est = intrinsic_dimension(X[i_rows], method="twonn", metric=metric, n_bootstrap=30, seed=seed)
            except EmbedLensInputError:  # too few distinct usable rows
                est = None
        ids.append(est.value if est is not None else float("nan"))
        errs.append(est.error if est is not None else float("nan"))
    return GroupDiversity(vendi[0], vendi[1], ids[0], ids[1], errs[0], errs[1], tuple(n_vendi), tuple(n_id),
                          metric, int(seed))


def item_neighbors(X, row: int, /, *, k: int = 10, metric: str = "cosine",
                   block: int = 262_144) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows to row ``row`` (itself excluded), exact, nearest first, with distances.

    One query against all rows: O(n d) time, streamed in blocks. Cosine distance is
    ``1 - cos`` (a zero row is at distance 1); ties keep the lower row number first (also
    when more rows tie than k). Euclidean distances are computed on the rows divided by an
    exact power of two and multiplied back: the same neighbours at any data scale, and
    distances in the data's units (float32, or float64 where float32 cannot hold them).

    Parameters
    ----------
    X : array-like of shape (n, d)
        The embeddings (n >= 2).
    row : int
        The query row, ``0 <= row < n``.
    k : int, default=10
        Neighbours wanted; more than ``n - 1`` gives ``n - 1``. Not otherwise checked: see
        Raises.
    metric : {"cosine", "euclidean"}, default="cosine"
    block : int, default=262144
        Rows compared at a time.

    Returns
    -------
    rows : ndarray of shape (k,), int64
        Neighbour row numbers, nearest first.
    distances : ndarray of shape (k,), float32 (float64 beyond float32's range)
        Cosine distance ``1 - cos`` or Euclidean distance, in the data's units.

    Raises
    ------
    EmbedLensInputError
        ``X`` not a 2-D numeric matrix, fewer than 2 rows, NaN / inf rows
        (:class:`NonFiniteRowsError`); ``row`` not an integer in ``0 .. n - 1``; ``metric``
        not "cosine" / "euclidean".
    TypeError
        From ``min(k, n - 1)`` for a non-numeric ``k``. A fractional ``k`` is truncated, and
        ``k <= 0`` is not refused: ``k=0`` returns nothing, and a negative ``k`` returns
        ``n - 2 + k`` rows (without ties; measured: 6 rows for n = 10, k = -2).

    Notes
    -----
    Conventions: cosine by default, as :func:`core.neighbors.knn_graph`; ``k`` excludes the
    item itself. The cosine distance here is ``1 - u . v``, while
    :func:`core.neighbors.knn_graph` computes ``|u - v|^2 / 2`` (the same value without the
    cancellation near 0), so distances of near-identical directions may differ between the
    two in the last digits (about 1e-16).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> rows, dist = item_neighbors(X, 1, k=2, metric="euclidean")
    >>> rows.tolist(), dist.tolist()
    ([0, 2], [1.0, 2.0])
    """
    X = check_embeddings(X, name="X", min_rows=2)
    n = X.shape[0]
    row = check_param("row", row, Interval(Integral, 0, n, closed="left"))
    check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    from .neighbors import _as_reported

    k = int(min(k, n - 1))
    scale = pow2_scale(X) if metric == "euclidean" else 1.0
    q = X[row].astype(np.float64)[None, :]
    if metric == "euclidean":
        q = q / scale
    dist = np.empty(n, dtype=np.float64)
    for start in range(0, n, block):
        B = X[start:start + block].astype(np.float64)
        if metric == "euclidean":
            diff = B / scale - q
            dist[start:start + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff)) * scale
        else:
            dist[start:start + block] = cosine_distances(B, q)[:, 0]
    dist[row] = np.inf
    kth = np.partition(dist, k - 1)[k - 1]
    cand = np.flatnonzero(dist <= kth)  # every row tied with the k-th, so the lowest rows win
    order = cand[np.lexsort((cand, dist[cand]))][:k]
    return order.astype(np.int64), _as_reported(dist[order])
