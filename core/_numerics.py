"""Scale-safe building blocks shared by every metric: row norms, unit rows, overall rescaling.

Embeddings arrive at any scale float32 can hold (about 1e-45 to 3.4e38). A squared norm or a
Gram entry formed in float32 overflows above ~1.8e19 and underflows below ~1e-23, so every
metric that squares, normalises or multiplies rows goes through these helpers instead of
writing ``np.linalg.norm`` / ``X @ X.T`` on the raw float32 data.

Written by hand because numpy offers no overflow-safe row norm for float64 input
(``np.linalg.norm`` squares without scaling, unlike LAPACK's ``nrm2``) and no exact
power-of-two rescaling.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

__all__ = ["BLOCK_ROWS", "cosine_distances", "eigvalsh_dc", "median_pairwise_distance", "metric_rows", "pow2_scale",
           "rescaled", "row_norms", "unit_rows"]

BLOCK_ROWS = 16_384


def pow2_scale(X: np.ndarray) -> float:
    """The power of two nearest above ``max |X|`` over the finite entries (1.0 for an all-zero X).

    Dividing by it is exact in binary floating point (only the exponent changes, unless a
    value becomes subnormal), so ``X / pow2_scale(X)`` has the same neighbours, ratios and
    ranks as ``X`` while its entries lie in [-1, 1] and its float32 squares neither overflow
    nor underflow for well-spread data.

    Parameters
    ----------
    X : array-like of any shape

    Returns
    -------
    float
        ``2**e`` with ``max|X| < 2**e <= 2 max|X|`` (strictly above: ``pow2_scale([1.0])`` is
        2.0); 1.0 when X is empty, all zero or has no finite entry. NaN / inf entries are ignored.

    Raises
    ------
    TypeError
        From :func:`numpy.isfinite`, when ``X`` is not numeric (strings, objects). Nothing is
        validated here: callers pass checked matrices.
    """
    A = np.asarray(X)
    if A.size == 0:
        return 1.0
    finite = np.abs(A[np.isfinite(A)]) if not np.isfinite(A).all() else np.abs(A)
    m = float(finite.max()) if finite.size else 0.0
    if m == 0.0 or not np.isfinite(m):
        return 1.0
    _, e = np.frexp(m)
    return float(np.ldexp(1.0, int(e)))


def rescaled(X: np.ndarray, *, dtype=None) -> tuple[np.ndarray, float]:
    """``(X / s, s)`` with ``s = pow2_scale(X)``: the data moved to unit scale, exactly.

    Parameters
    ----------
    X : array-like, shape (n, d)
    dtype : numpy dtype, optional
        Of the result (default: X's float dtype, float32 for integers).

    Returns
    -------
    (ndarray, float)
        The rescaled copy (X itself when ``s == 1`` and no cast is needed) and ``s``; distances
        computed on the copy are multiplied by ``s`` to return to the data's units.

    Raises
    ------
    TypeError
        From :func:`pow2_scale`, for non-numeric input. Nothing else of its own; the input is
        not validated (callers pass matrices from :func:`core.check_embeddings`).
    """
    A = np.asarray(X)
    out_dtype = np.dtype(dtype) if dtype is not None else (A.dtype if A.dtype.kind == "f" else np.dtype(np.float32))
    s = pow2_scale(A)
    if s == 1.0:
        return (A if A.dtype == out_dtype else A.astype(out_dtype)), 1.0
    return (A.astype(np.float64) / s).astype(out_dtype, copy=False), s


def row_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row in float64, correct over the whole float32 and float64 range.

    Float32 input is widened to float64 block by block (a float32 square always fits in
    float64); float64 input is scaled by each row's largest magnitude first, as LAPACK's
    ``nrm2`` does.

    Parameters
    ----------
    X : array-like, shape (n, d)

    Returns
    -------
    ndarray, shape (n,), float64
        ``||x_i||_2``; 0 for a zero row.

    Raises
    ------
    IndexError
        When ``X`` is not 2-D (0-d or 1-D input). The input is not validated here.

    Notes
    -----
    Not meant for non-finite rows: a row holding inf has norm inf for float32 input but NaN
    for float64 input (``inf / inf`` in the per-row scaling).
    """
    A = np.asarray(X)
    n = A.shape[0]
    out = np.empty(n, dtype=np.float64)
    for s in range(0, n, BLOCK_ROWS):
        b = np.asarray(A[s : s + BLOCK_ROWS], dtype=np.float64)
        if A.dtype.itemsize <= 4 and A.dtype.kind == "f" or A.dtype.kind in "iub":
            out[s : s + BLOCK_ROWS] = np.sqrt(np.einsum("ij,ij->i", b, b))
        else:
            m = np.abs(b).max(axis=1) if b.shape[1] else np.zeros(len(b))
            m = np.where(m > 0, m, 1.0)
            q = b / m[:, None]
            out[s : s + BLOCK_ROWS] = m * np.sqrt(np.einsum("ij,ij->i", q, q))
    return out


def unit_rows(X: np.ndarray, *, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Rows divided by their Euclidean norm, safely at any scale; zero rows stay zero.

    Parameters
    ----------
    X : array-like, shape (n, d)
    dtype : numpy dtype
        Of the unit rows (float32 by default; the division itself is done in float64).

    Returns
    -------
    (U, norms)
        ``U`` shape (n, d) with ``||U_i|| = 1`` (0 for a zero row), ``norms`` shape (n,) float64
        from :func:`row_norms`; ``norms > 0`` marks the rows that have a direction.

    Raises
    ------
    IndexError
        From :func:`row_norms`, when ``X`` is not 2-D. The input is not validated here.
    """
    A = np.asarray(X)
    norms = row_norms(A)
    U = np.empty(A.shape, dtype=dtype)
    safe = np.where(norms > 0, norms, 1.0)
    for s in range(0, A.shape[0], BLOCK_ROWS):
        b = np.asarray(A[s : s + BLOCK_ROWS], dtype=np.float64)
        if A.dtype.kind == "f" and A.dtype.itemsize > 4:
            m = np.abs(b).max(axis=1) if b.shape[1] else np.zeros(len(b))
            m = np.where(m > 0, m, 1.0)
            U[s : s + BLOCK_ROWS] = (b / m[:, None]) / (safe[s : s + BLOCK_ROWS] / m)[:, None]
        else:
            U[s : s + BLOCK_ROWS] = b / safe[s : s + BLOCK_ROWS, None]
    return U, norms


NEAR_COSINE = 0.01
"""Below this ``1 - u.v`` the pairwise cosine distance is recomputed as ``|u - v|^2 / 2``."""


def _units(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 unit rows and norms of an array of any leading shape (last axis: dimensions)."""
    flat = A.reshape(-1, A.shape[-1])
    U, norms = unit_rows(flat, dtype=np.float64)
    return U.reshape(A.shape), norms.reshape(A.shape[:-1])


def cosine_distances(A, B, *, paired: bool = False) -> np.ndarray:
    r"""Cosine distance ``1 - cos(a, b)`` in float64, exact for near-duplicates, at any scale.

    .. math::

        d(a, b) = 1 - \frac{a \cdot b}{\|a\| \|b\|} = \tfrac12 \|u - v\|^2,
        \quad u = a / \|a\|, \; v = b / \|b\|

    The two forms are equal on unit rows; ``1 - u.v`` cancels for nearly parallel rows (its
    absolute error ~1e-16 swamps a distance of 1e-12), so ``|u - v|^2 / 2`` is used for every
    pair closer than :data:`NEAR_COSINE` (and for all pairs when ``paired``). Unit rows come
    from :func:`unit_rows`, so the scale of the data never matters. A zero row has no
    direction: it is at distance 1 from every row (itself included).

    Parameters
    ----------
    A : array-like, shape (n, d), or (..., d) when ``paired``
        Any real dtype, any scale (the norms cancel). Not validated: a row holding NaN or inf
        gives NaN distances, a complex array loses its imaginary part (numpy ComplexWarning).
    B : array-like, shape (m, d), or (..., d) broadcastable against A when ``paired``
        Same last axis d as ``A``; same rules.
    paired : bool, default=False
        False: all pairs, an (n, m) matrix. True: row against row (numpy broadcasting over
        the leading axes), e.g. A (n, 1, d) against B (n, k, d) gives (n, k).

    Returns
    -------
    ndarray of float64
        Dimensionless, 1.0 wherever either row is zero. Not paired: shape (n, m),
        ``D[i, j] = d(A_i, B_j)`` clipped to [0, 2] (n x m float64 in memory). Paired: the
        broadcast leading shape of A and B, not clipped, so antipodal rows can give a few ulp
        above 2 (e.g. 2.0000000000000013).

    Raises
    ------
    ValueError
        From numpy: the last axes of ``A`` and ``B`` differ (``matmul``), or, when ``paired``,
        the leading shapes do not broadcast; not ``paired`` and ``A`` or ``B`` not 2-D; d == 0
        (the reshape of an empty last axis); non-numeric input (the float64 cast of strings).
    IndexError
        From :func:`row_norms` via ``_units``, for 0-d input. Nothing is validated here: callers
        pass matrices from :func:`core.check_embeddings`.

    Examples
    --------
    >>> a = np.array([[1.0, 0.0], [1.0, 1e-9]])
    >>> float(cosine_distances(a[:1], a[1:])[0, 0])  # 1 - u.v would give 0.0
    5e-19
    """
    A = np.asarray(A)
    B = np.asarray(B)
    Ua, na = _units(A)
    Ub, nb = _units(B)
    if paired:
        diff = Ub - Ua
        sq = np.einsum("...k,...k->...", diff, diff)
        return np.where((na == 0) | (nb == 0), 1.0, 0.5 * sq)
    D = 1.0 - Ua @ Ub.T
    ii, jj = np.nonzero(D < NEAR_COSINE)
    for s in range(0, len(ii), BLOCK_ROWS):
        i, j = ii[s : s + BLOCK_ROWS], jj[s : s + BLOCK_ROWS]
        diff = Ua[i] - Ub[j]
        D[i, j] = 0.5 * np.einsum("ij,ij->i", diff, diff)
    D[na == 0, :] = 1.0
    D[:, nb == 0] = 1.0
    return np.clip(D, 0.0, 2.0, out=D)


def median_pairwise_distance(Z=None, *, sq_distances=None) -> float:
    """Median Euclidean distance over the distinct pairs of rows, zero distances left out.

    The median heuristic for a kernel bandwidth (RBF spectra, Vendi, DSE's ``sigma="median"``).
    Pairs at distance 0 (duplicate rows) are left out; 1.0 when no pair is apart.

    Parameters
    ----------
    Z : array-like, shape (m, d), optional
        The rows, cast to float64; distances by ``scipy.spatial.distance.pdist`` on the rows
        divided by :func:`pow2_scale` (exact) and multiplied back, so any finite scale works.
        ``pdist`` holds all m (m - 1) / 2 distances (O(m^2) memory): callers subsample first.
        Not validated: pairs with a NaN row give NaN distances, which are left out silently
        like the zero ones; an inf entry gives inf (or NaN) distances.
    sq_distances : array-like, shape (m, m), optional
        Instead of ``Z``: an already computed matrix of squared Euclidean distances (data
        units squared). Only its strict upper triangle is read (no symmetry check, no
        rescaling); negative round-off entries become NaN under ``sqrt`` (numpy
        RuntimeWarning) and are left out. When given, ``Z`` is ignored.

    Returns
    -------
    float
        The median of the positive distances, in the units of ``Z`` (square root of the units
        of ``sq_distances``). 1.0 -- a fixed value, not a distance of the data, and not
        flagged to the caller -- when there are fewer than 2 rows, d == 0, or every pair is at
        distance 0 (or NaN).

    Raises
    ------
    TypeError
        When neither ``Z`` nor ``sq_distances`` is given (``len()`` of the 0-d array made from
        None), or either is 0-d.
    ValueError
        From ``pdist`` when ``Z`` has at least 2 rows but is not 2-D; from the float64 cast
        when ``Z`` is not numeric.
    IndexError
        When ``sq_distances`` is 1-D, or has more rows than columns (a wide matrix is read on
        its first m columns only).

    Examples
    --------
    >>> median_pairwise_distance(np.array([[0.0], [1.0], [3.0], [3.0]]))
    2.0
    """
    if sq_distances is not None:
        D2 = np.asarray(sq_distances)
        dist = np.sqrt(D2[np.triu_indices(len(D2), k=1)])
    else:
        from scipy.spatial.distance import pdist

        A = np.asarray(Z, dtype=np.float64)
        if len(A) < 2:
            return 1.0
        s = pow2_scale(A)
        dist = pdist(A / s) * s
    positive = dist[dist > 0]
    return float(np.median(positive)) if positive.size else 1.0


def metric_rows(X: np.ndarray, metric: str, *, scale: float = 1.0) -> np.ndarray:
    """float64 rows in which Euclidean distance is the metric's distance.

    cosine: the unit rows (:func:`unit_rows`; zero rows stay zero), so ``|u - v|^2 / 2`` is the
    cosine distance; euclidean: the rows divided by ``scale`` (an exact power of two such as
    :func:`pow2_scale`, so squares and covariances neither overflow nor underflow; multiply
    distances by ``scale`` to return to the data's units).

    Parameters
    ----------
    X : array-like, shape (n, d)
        Any real dtype; not validated (NaN rows stay NaN). A new float64 array is returned,
        never ``X`` itself.
    metric : {"cosine", "euclidean"}
        Not checked: any value other than ``"cosine"`` is treated as ``"euclidean"``.
    scale : float, default=1.0
        Used for euclidean only: a positive number in the data's units, ideally an exact power
        of two (:func:`pow2_scale`) so the division is exact. Not checked: 0 gives inf / NaN
        rows (numpy RuntimeWarning).

    Returns
    -------
    ndarray, shape (n, d), float64
        cosine: unit rows (norm 1, dimensionless); a zero row stays zero, so it lies at
        ``|0 - v|^2 / 2 = 0.5`` from every unit row (not at the 1 that :func:`cosine_distances`
        gives). euclidean: ``X / scale`` (data units / ``scale``); 1-D input comes back 1-D.

    Raises
    ------
    IndexError
        From :func:`row_norms`, for ``"cosine"`` when ``X`` is 0-d or 1-D.
    ValueError
        From the float64 cast, when ``X`` is not numeric (strings).
    """
    if metric == "cosine":
        return unit_rows(X, dtype=np.float64)[0]
    return np.asarray(X, dtype=np.float64) / scale


def eigvalsh_dc(A: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Eigenvalues of a symmetric matrix, ascending, by LAPACK's divide and conquer (``syevd``).

    Written here because scipy before 1.12 refuses a 1 x 1 matrix with that driver (``lwork=1``),
    and both the spectra and the diffusion entropy use it.

    Parameters
    ----------
    A : ndarray of shape (m, m), symmetric, finite
    overwrite : bool, default=False
        Let LAPACK overwrite ``A`` (saves a copy of an n x n kernel).

    Returns
    -------
    ndarray of shape (m,), ascending

    Raises
    ------
    numpy.linalg.LinAlgError
        From scipy when the decomposition does not converge.
    """
    if A.size <= 1:  # a 1 x 1 matrix is its own eigenvalue
        return np.asarray(A, dtype=np.float64).ravel().copy()
    return scipy.linalg.eigvalsh(A, check_finite=False, overwrite_a=overwrite, driver="evd")
