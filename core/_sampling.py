"""Seeded subsampling that always says what it sampled.

Every metric that works on at most ``max_n`` rows draws them here: a uniform sample without
replacement, sorted, from ``numpy.random.default_rng(seed)`` (or from a generator the caller
is already drawing from, so results stay reproducible draw for draw). The :class:`Sample`
carries the rows, how many there were, the seed and the method, and a ``label`` a page can
print ("3,000 of 20,000 rows, seed 0").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SAMPLE_METHOD", "Sample", "subsample"]

SAMPLE_METHOD = "seeded uniform sample without replacement"
ALL_ROWS = "all rows"


@dataclass(frozen=True)
class Sample:
    """The rows a computation used.

    Attributes
    ----------
    rows : ndarray of int64, ascending
        The rows used (row numbers of the data, or of the pool passed to :func:`subsample`).
    n_input : int
        How many rows there were to choose from.
    seed : int or None
        The seed of the draw (None when the caller passed its own generator without a seed).
    method : str
        :data:`SAMPLE_METHOD` when rows were drawn, ``"all rows"`` otherwise.
    """

    rows: np.ndarray
    n_input: int
    seed: int | None
    method: str

    @property
    def sampled(self) -> bool:
        """True when fewer rows than ``n_input`` are used."""
        return self.method != ALL_ROWS

    @property
    def n_used(self) -> int:
        return int(len(self.rows))

    @property
    def label(self) -> str:
        """``"3,000 of 20,000 rows, seed 0"`` or ``"all 300 rows"``."""
        if not self.sampled:
            return f"all {self.n_input:,} rows"
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{self.n_used:,} of {self.n_input:,} rows{seed}"


def subsample(pool, max_n: int, *, seed: int | None = None, rng: np.random.Generator | None = None) -> Sample:
    """At most ``max_n`` of ``pool``'s rows: all of them, or a seeded uniform sample, sorted.

    Parameters
    ----------
    pool : int or 1-D array of int
        ``n`` (rows ``0 .. n-1``; converted with ``int()``, so 10.7 counts as 10 and a
        negative n as 0) or the row numbers to choose from (cast to int64, floats truncated).
        Expected ascending and distinct, not checked: when every row is kept they come back
        in the order given, and a repeated row number can be drawn more than once.
    max_n : int
        The most rows kept; nothing is drawn (and ``rng`` is not advanced) when the pool is
        no larger. Not checked: a float is truncated for the draw, 0 gives an empty sample.
    seed : int, optional
        Non-negative. Seeds ``numpy.random.default_rng`` when ``rng`` is not given; recorded
        in the result as ``int(seed)`` -- also when ``rng`` is given, although the rows then
        come from ``rng``'s current state, not from this seed.
    rng : numpy.random.Generator, optional
        Draw from this generator instead (for a caller that draws several samples in turn).

    Returns
    -------
    Sample
        ``rows``: int64, shape ``(min(n, max_n),)``; ``n_input``: n; ``seed``: ``int(seed)`` or
        None; ``method``: :data:`SAMPLE_METHOD` when drawn, ``"all rows"`` otherwise. When the
        pool is larger, ``rows`` = ``np.sort(rng.choice(pool, max_n, replace=False))``.

    Raises
    ------
    ValueError
        ``pool`` or ``seed`` that ``int()`` cannot convert (e.g. ``"a"``); from numpy, when a
        draw happens with a negative ``max_n`` or a negative ``seed``.
    TypeError
        ``max_n`` that cannot be compared with an int (e.g. None); from
        ``numpy.random.default_rng``, when a draw happens with a non-integer ``seed`` (1.5).
        Nothing is validated here: callers check ``max_n`` and ``seed`` with
        :func:`core._validation.check_param`.

    Examples
    --------
    >>> s = subsample(20_000, 3_000, seed=0)
    >>> s.label, s.method, s.rows[:3].tolist() == sorted(s.rows[:3].tolist())
    ('3,000 of 20,000 rows, seed 0', 'seeded uniform sample without replacement', True)
    >>> subsample(np.array([2, 5, 7]), 10, seed=0).label
    'all 3 rows'
    """
    rows = np.arange(int(pool), dtype=np.int64) if np.ndim(pool) == 0 else np.asarray(pool, dtype=np.int64)
    n = len(rows)
    seed_out = None if seed is None else int(seed)
    if n <= max_n:
        return Sample(rows, n, seed_out, ALL_ROWS)
    gen = rng if rng is not None else np.random.default_rng(seed)
    picked = np.sort(gen.choice(rows if np.ndim(pool) else n, int(max_n), replace=False)).astype(np.int64)
    return Sample(picked, n, seed_out, SAMPLE_METHOD)
