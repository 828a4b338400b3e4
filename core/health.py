"""Health report of one embedding matrix: the things worth knowing before any metric.

Non-finite rows, zero vectors, exact duplicate rows, the distribution of row norms and dead
(zero-variance) dimensions. Each of these silently distorts a metric downstream (cosine
similarity of a zero vector is undefined; duplicates make nearest-neighbour distances zero
and break TwoNN; dead dimensions lower the effective rank), so the Data page shows them first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import EmbedLensInputError, first_items, nonfinite_rows

__all__ = ["ViewHealth", "health_report", "duplicate_groups"]

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
            out.append(
                f"{len(self.nonfinite_rows)} rows hold NaN or inf (rows {first_items(self.nonfinite_rows)})."
            )
        if len(self.zero_rows):
            out.append(
                f"{len(self.zero_rows)} rows are zero vectors (rows {first_items(self.zero_rows)}); "
                "cosine similarity is undefined for them."
            )
        if len(self.duplicate_rows):
            out.append(
                f"{len(self.duplicate_rows)} rows exactly repeat an earlier row "
                f"({self.n_duplicate_groups} groups; rows {first_items(self.duplicate_rows)}); "
                "nearest-neighbour estimators see zero distances."
            )
        if len(self.dead_dims):
            out.append(
                f"{len(self.dead_dims)} of {self.d} dimensions are constant (dims "
                f"{first_items(self.dead_dims)}); they carry no information."
            )
        return out


def duplicate_groups(X: np.ndarray) -> np.ndarray:
    """Group label per row such that equal labels mean bit-identical rows.

    Rows are hashed (a random 64-bit linear hash of their bytes, O(n d)), rows with equal
    hashes are compared exactly, and each row gets the index of the first row identical to
    it (``labels[i] == i`` for the first copy). Hand-written because ``np.unique(X, axis=0)``
    sorts whole rows lexicographically, about 10x slower at n = 10^6, d = 384.
    """
    X = np.ascontiguousarray(X)
    n = X.shape[0]
    words = X.view(np.uint8).reshape(n, -1)
    pad = (-words.shape[1]) % 8
    if pad:
        words = np.concatenate([words, np.zeros((n, pad), np.uint8)], axis=1)
    words = words.view(np.uint64)
    rng = np.random.default_rng(0x5EED)
    coef = rng.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for s in range(0, n, _BLOCK):
            block = words[s : s + _BLOCK]
            acc = np.zeros(len(block), dtype=np.uint64)
            for j in range(block.shape[1]):
                acc += (block[:, j] ^ (block[:, j] >> np.uint64(29))) * coef[j]
            hashes[s : s + _BLOCK] = acc
    labels = np.arange(n)
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    boundaries = np.flatnonzero(np.diff(sorted_h)) + 1
    for group in np.split(order, boundaries):
        if len(group) < 2:
            continue
        group = np.sort(group)
        rows = words[group]
        remaining = np.ones(len(group), dtype=bool)
        for a in range(len(group)):
            if not remaining[a]:
                continue
            same = remaining & (rows == rows[a]).all(axis=1)
            labels[group[same]] = group[a]
            remaining &= ~same
    return labels


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
        is non-finite) and dead dimensions (constant over the finite rows).

    Notes
    -----
    Cost: O(n d) time in blocks of 16,384 rows; memory O(n + d) beyond the input.

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
        with np.errstate(invalid="ignore", over="ignore"):
            norms[s : s + _BLOCK] = np.sqrt(np.einsum("ij,ij->i", block, block))
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
