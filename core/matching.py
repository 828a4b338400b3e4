"""Unit matching between two views ("Convergent Learning", Li et al. 2016; METRICS.md section 8).

Rotation-invariant scores (CKA, Procrustes, CCA in :mod:`core.similarity`) ask whether two views
span the same subspace; unit matching asks whether they use the same basis: which unit of B
carries the same signal as each unit of A.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .similarity import _check_pair, _cross_stats, _prepare

__all__ = ["UnitMatch", "match_units"]


@dataclass(frozen=True, eq=False)
class UnitMatch:
    """Correlations between the units of two views and their one-to-one and semi-matchings.

    Attributes
    ----------
    correlation_matrix : ndarray of shape (d_A, d_B), float64
        Pearson correlation of unit i of A with unit j of B (column z-scores, ``A_z^T B_z / n``);
        0 in the rows / columns of dead units.
    assignment : ndarray of shape (d_A,), int64
        One-to-one matching maximising the summed correlation
        (``scipy.optimize.linear_sum_assignment(-C)`` over the live units): the unit of B matched
        to each unit of A, -1 when none (a dead unit, or more live units in A than in B).
    correlation : ndarray of shape (d_A,), float64
        ``C[i, assignment[i]]``; NaN where unmatched.
    semi_assignment : ndarray of shape (d_A,), int64
        ``argmax_j C[i, j]`` over B's live units (several units of A may pick the same one);
        -1 for a dead unit of A or when B has no live unit.
    semi_correlation : ndarray of shape (d_A,), float64
        ``C[i, semi_assignment[i]]``; NaN where -1.
    dead_a, dead_b : ndarray of bool, shapes (d_A,) and (d_B,)
        Units with zero variance (every value equal), left out of both matchings.
    order_a, order_b : ndarray of int64, shapes (d_A,) and (d_B,)
        Row and column orders that put matched pairs on the leading diagonal:
        ``correlation_matrix[np.ix_(order_a, order_b)]`` has ``correlation[order_a[i]]`` at
        ``(i, i)`` for the matched units (matched units of A first, in their natural order, then
        the unmatched; B's matches first, then B's unmatched units in natural order).
    """

    correlation_matrix: np.ndarray
    assignment: np.ndarray
    correlation: np.ndarray
    semi_assignment: np.ndarray
    semi_correlation: np.ndarray
    dead_a: np.ndarray
    dead_b: np.ndarray
    order_a: np.ndarray
    order_b: np.ndarray

    @property
    def n_matched(self) -> int:
        """Units of A with a one-to-one match."""
        return int((self.assignment >= 0).sum())


def match_units(A, B, /) -> UnitMatch:
    r"""Match the units (columns) of two views of the same items by correlation (Li et al. 2016).

    .. math:: C_{ij} = \frac{1}{n} \sum_k \frac{(a_{ki} - \bar a_i)(b_{kj} - \bar b_j)}{s_{a,i}\, s_{b,j}}

    (population standard deviations), computed in feature space from one pass over row blocks
    in float64 (:func:`core.similarity._cross_stats`). One-to-one matching: the assignment of
    A's live units to B's live units maximising :math:`\sum_i C_{i, \pi(i)}`
    (``scipy.optimize.linear_sum_assignment(-C)``, rectangular allowed); semi-matching: each
    unit of A to its most correlated unit of B. Dead units (zero variance, every value equal,
    e.g. ReLU units that never fire) have no correlation: they hold 0 in ``C``, are flagged in
    ``dead_a`` / ``dead_b`` and take part in neither matching. A B that is A with its columns
    permuted and rescaled by positive factors is matched back with correlations 1.

    Parameters
    ----------
    A, B : array-like of shape (n, d_A) and (n, d_B)
        Two views of the same n >= 2 items, rows in the same order.

    Returns
    -------
    UnitMatch
        See its attributes.

    Raises
    ------
    EmbedLensInputError
        A view that is not a 2-D numeric matrix, holds NaN / inf or has fewer than 2 rows, or
        the row counts differ.
    """
    A, B = _check_pair(A, B, names=("A", "B"))
    n, da = A.shape
    db = B.shape[1]
    va, vb = _prepare(A), _prepare(B)
    c = _cross_stats([va, vb], n)
    var_a, var_b = np.diag(c.gram(0, 0)).copy(), np.diag(c.gram(1, 1)).copy()
    dead_a = va.constant | ~(var_a > 0)
    dead_b = vb.constant | ~(var_b > 0)
    sa = np.sqrt(np.where(dead_a, 1.0, var_a))
    sb = np.sqrt(np.where(dead_b, 1.0, var_b))
    C = c.gram(0, 1) / sa[:, None] / sb[None, :]
    np.clip(C, -1.0, 1.0, out=C)
    C[dead_a, :] = 0.0
    C[:, dead_b] = 0.0
    live_a, live_b = np.flatnonzero(~dead_a), np.flatnonzero(~dead_b)

    assignment = np.full(da, -1, dtype=np.int64)
    correlation = np.full(da, np.nan)
    semi = np.full(da, -1, dtype=np.int64)
    semi_corr = np.full(da, np.nan)
    if len(live_a) and len(live_b):
        sub = C[np.ix_(live_a, live_b)]
        r, k = linear_sum_assignment(-sub)
        assignment[live_a[r]] = live_b[k]
        correlation[live_a[r]] = sub[r, k]
        best = np.argmax(sub, axis=1)
        semi[live_a] = live_b[best]
        semi_corr[live_a] = sub[np.arange(len(live_a)), best]
    matched = np.flatnonzero(assignment >= 0)
    order_a = np.concatenate([matched, np.flatnonzero(assignment < 0)]).astype(np.int64)
    used = np.zeros(db, bool)
    used[assignment[matched]] = True
    order_b = np.concatenate([assignment[matched], np.flatnonzero(~used)]).astype(np.int64)
    return UnitMatch(C, assignment, correlation, semi, semi_corr, dead_a, dead_b, order_a, order_b)
