"""Health report of one embedding matrix: the things worth knowing before any metric.

Non-finite rows, zero vectors, exact duplicate rows, the distribution of row norms and dead
(zero-variance) dimensions. Each of these silently distorts a metric downstream (cosine
similarity of a zero vector is undefined; duplicates make nearest-neighbour distances zero
and break TwoNN; dead dimensions lower the effective rank), so the Data page shows them first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numerics import row_norms
from ._validation import EmbedLensInputError, first_items, nonfinite_rows, plural

__all__ = ["ViewHealth", "health_report", "duplicate_groups", "equal_row_groups"]

_BLOCK = 16384


@dataclass(frozen=True)
class ViewHealth:
    """What :func:`health_report` found. Row numbers are 0-based positions in the view."""

    n: int
    d: int
    nonfinite_rows: np.ndarray
    zero_rows: np.ndarray
    duplicate_rows: np.ndarray
    """Rows equal (bit for bit) to an earlier row; the earliest copy is not listed."""
    n_duplicate_groups: int
    norms: np.ndarray
    dead_dims: np.ndarray

    @property
    def n_unique(self) -> int:
        return self.n - len(self.duplicate_rows)

    def warnings(self) -> list[str]:
        """One sentence per problem found, empty when the view is clean."""
        out = []
        if len(self.nonfinite_rows):
            n = len(self.nonfinite_rows)
            out.append(
                f"{plural(n, 'row')} {'holds' if n == 1 else 'hold'} NaN or inf "
                f"({'row' if n == 1 else 'rows'} {first_items(self.nonfinite_rows)})."
            )
        if len(self.zero_rows):
            n = len(self.zero_rows)
            out.append(
                f"{plural(n, 'row')} {'is a zero vector' if n == 1 else 'are zero vectors'} "
                f"({'row' if n == 1 else 'rows'} {first_items(self.zero_rows)}); "
                f"cosine similarity is undefined for {'it' if n == 1 else 'them'}."
            )
        if len(self.duplicate_rows):
            n = len(self.duplicate_rows)
            out.append(
                f"{plural(n, 'row')} exactly {'repeats' if n == 1 else 'repeat'} an earlier row "
                f"({plural(self.n_duplicate_groups, 'group')}; {'row' if n == 1 else 'rows'} "
                f"{first_items(self.duplicate_rows)}); nearest-neighbour estimators see zero distances."
            )
        if len(self.dead_dims):
            n = len(self.dead_dims)
            out.append(
                f"{n} of {plural(self.d, 'dimension')} {'is' if n == 1 else 'are'} constant "
                f"({'dim' if n == 1 else 'dims'} {first_items(self.dead_dims)}); "
                f"{'it carries' if n == 1 else 'they carry'} no information."
            )
        return out


def duplicate_groups(X: np.ndarray) -> np.ndarray:
    """Group label per row such that equal labels mean bit-identical rows.

    Each row gets the index of the first row identical to it (``labels[i] == i`` for the
    first copy): :func:`equal_row_groups` without a transform.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Any dtype; NaN / inf allowed (rows with the same bits, NaN included, are equal;
        ``0.0`` and ``-0.0`` differ).

    Returns
    -------
    ndarray of shape (n,), int64
        ``labels[i]``: the smallest row bit-identical to row i.

    Raises
    ------
    AttributeError, IndexError
        When ``X`` is not an array with rows (e.g. a list, or a 0-d array); the input is not
        validated here. Nothing else of its own.
    """
    return equal_row_groups(X)


def _words(rows: np.ndarray) -> np.ndarray:
    """Each row's bytes as uint64 words (zero-padded to a multiple of 8 bytes)."""
    b = np.ascontiguousarray(rows).view(np.uint8).reshape(len(rows), -1)
    pad = (-b.shape[1]) % 8
    if pad:
        b = np.concatenate([b, np.zeros((len(b), pad), np.uint8)], axis=1)
    return b.view(np.uint64)


def equal_row_groups(X, /, *, transform=None, block: int = _BLOCK) -> np.ndarray:
    """The first row equal to each row, after an optional per-block ``transform``.

    ``transform(block) -> (rows, usable)`` maps a block of X to the rows to compare (e.g. unit
    rows for cosine) and a mask of usable rows. Returns ``first`` of shape (n,): the smallest
    row whose transformed bytes equal row i's (``first[i] == i`` for a first copy), or -1 where
    the row is not usable.

    Rows are hashed (a random 64-bit linear hash of their bytes, O(n d), one block in memory
    at a time), sorted by hash, and neighbours in that order compared exactly, so distinct rows
    never merge (a 2^-64 hash collision could at worst leave a copy unmerged). Hand-written
    because ``np.unique(X, axis=0)`` sorts whole rows lexicographically, about 10x slower at
    n = 10^6, d = 384, and takes no transform.

    Parameters
    ----------
    X : ndarray of shape (n, ...)
        Rows to compare (any dtype; compared by their bytes, so ``0.0 != -0.0`` and NaN rows
        with the same bits are equal).
    transform : callable, optional
        ``transform(block) -> (rows, usable)``; default the identity with every row usable.
    block : int, default=16384
        Rows hashed at a time.

    Returns
    -------
    ndarray of shape (n,), int64
        ``first[i]``: the smallest usable row equal to row i; -1 where row i is not usable.

    Raises
    ------
    AttributeError, IndexError
        When ``X`` is not an array with rows (no validation here); whatever ``transform``
        raises propagates. Nothing else of its own.
    """
    n = X.shape[0]
    if transform is None:
        def transform(b):
            return b, np.ones(len(b), bool)
    hashes = np.zeros(n, dtype=np.uint64)
    usable = np.ones(n, dtype=bool)
    coef = None
    with np.errstate(over="ignore"):
        for s in range(0, n, block):
            rows, ok = transform(X[s : s + block])
            words = _words(rows)
            if coef is None:
                rng = np.random.default_rng(0x5EED)
                coef = rng.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
            acc = np.zeros(len(words), dtype=np.uint64)
            for j in range(words.shape[1]):
                acc += (words[:, j] ^ (words[:, j] >> np.uint64(29))) * coef[j]
            hashes[s : s + block] = acc
            usable[s : s + block] = ok
    kept = np.flatnonzero(usable)
    order = kept[np.argsort(hashes[kept], kind="stable")]  # by hash, then by row
    cand = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    same = np.zeros(max(len(order) - 1, 0), dtype=bool)
    for s in range(0, len(cand), block):
        c = cand[s : s + block]
        a, b = _words(transform(X[order[c]])[0]), _words(transform(X[order[c + 1]])[0])
        same[c] = (a == b).all(axis=1)
    first = np.full(n, -1, dtype=np.int64)
    if len(order):
        new_group = np.concatenate([[True], ~same])
        first[order] = order[new_group][np.cumsum(new_group) - 1]
    return first


def health_report(X: np.ndarray) -> ViewHealth:
    """Check one embedding matrix for the problems that distort metrics.

    Parameters
    ----------
    X : array-like of shape (n, d)
        The view's matrix (NaN / inf allowed: they are reported, not refused).

    Returns
    -------
    ViewHealth
        Non-finite rows, zero rows, exact duplicates, row norms (float64; NaN where a row
        is non-finite) and dead dimensions (constant over the finite rows; every dimension
        when no row is finite, including n = 0).

    Raises
    ------
    EmbedLensInputError
        ``X`` is not 2-D.
    ValueError, TypeError
        From the float64 conversion, when ``X`` is not numeric (e.g. strings); not converted
        to :class:`EmbedLensInputError`.

    Notes
    -----
    Conventions: duplicates are bit-identical rows (``0.0`` and ``-0.0`` differ), not rows
    that are equal as numbers or point the same way (cosine duplicates are found by
    :func:`core.neighbors.knn_graph`'s tie handling instead). Cost: O(n d) time in blocks of 16,384 rows; memory O(n + d) beyond the input.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0, 5], [1, 0, 5], [0, 0, 5]], dtype=np.float32)
    >>> h = health_report(X)
    >>> h.duplicate_rows.tolist(), h.dead_dims.tolist()
    ([1], [1, 2])
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise EmbedLensInputError(f"has shape {X.shape}; expected a 2-D matrix", source="X")
    n, d = X.shape
    bad = nonfinite_rows(X)
    finite = np.ones(n, dtype=bool)
    finite[bad] = False
    norms = np.empty(n, dtype=np.float64)
    zero = []
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    for s in range(0, n, _BLOCK):
        block = np.asarray(X[s : s + _BLOCK], dtype=np.float64)
        ok = finite[s : s + _BLOCK]
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            # core._numerics.row_norms: right at any scale (float64 data up to 1e308 included)
            norms[s : s + _BLOCK] = row_norms(X[s : s + _BLOCK])
        norms[s : s + _BLOCK][~ok] = np.nan
        zero.append(np.flatnonzero(ok & ~block.any(axis=1)) + s)
        if ok.any():
            fb = block[ok]
            lo = np.minimum(lo, fb.min(axis=0))
            hi = np.maximum(hi, fb.max(axis=0))
    dead = np.flatnonzero(lo == hi) if finite.any() else np.arange(d)
    labels = duplicate_groups(X)
    dup = np.flatnonzero(labels != np.arange(n))
    return ViewHealth(
        n=n,
        d=d,
        nonfinite_rows=bad,
        zero_rows=np.concatenate(zero) if zero else np.empty(0, dtype=np.int64),
        duplicate_rows=dup,
        n_duplicate_groups=len(np.unique(labels[dup])),
        norms=norms,
        dead_dims=dead,
    )
