"""Diversity read off one spectrum: Vendi score of any order, Hill curves, coding rate (MCR^2).

All of these are functions of the eigenvalues of a unit-diagonal kernel matrix ``K / n``
(cosine or RBF): they take the data or a precomputed :class:`core.spectra.Spectrum`, so the
page computes one spectrum per view and kernel and derives every number from it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.special import logsumexp

from numbers import Integral, Real

from ._memory import matrix_bytes, require_memory
from ._validation import EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param, plain
from . import _dask
from ._sampling import subsample
from .spectra import Spectrum, _eigvalsh, _median_distance, _rank_tol, spectrum
from .tables import encode_labels

__all__ = [
    "VendiScore",
    "HillCurve",
    "RateReduction",
    "vendi_score",
    "vendi_score_K",
    "hill_number",
    "hill_curve",
    "coding_rate",
    "rate_reduction",
    "class_diversity",
    "DEFAULT_Q_GRID",
]

DEFAULT_Q_GRID = np.unique(np.concatenate([np.geomspace(0.1, 100.0, 31), [0.5, 1.0, 2.0, 3.0], [np.inf]]))
"""Orders q for :func:`hill_curve`: 0.1 to 100 (log-spaced), 0.5, 1, 2, 3 and infinity."""


class VendiScore(float):
    """A Vendi score (a ``float``) that also says what it was computed from.

    Attributes
    ----------
    n : int
        Rows the kernel spectrum was computed from (after a subsample, without zero rows).
    n_input : int
        Rows given.
    method : str
        ``"exact n x n"``, ``"dual d x d"``, ``"seeded uniform subsample"``, ``"random Fourier
        features"`` or ``"given spectrum"``.
    seed : int or None
        Of the subsample / random features (None when nothing was drawn).
    label : str
        The spectrum's label (kernel, centring, form, sample and seed).
    message : str or None
        Why the score is undefined (NaN), if it is.
    """

    n: int
    n_input: int
    method: str
    seed: int | None
    label: str
    message: str | None

    def __new__(cls, value: float, spec: Spectrum | None = None, **info):
        obj = super().__new__(cls, value)
        if spec is not None:
            p = spec.params
            drawn = spec.form in ("subsample", "rff")
            info = {"n": int(spec.n), "n_input": int(p.get("n_input", spec.n)),
                    "method": str(p.get("method", {"dual": "dual d x d", "primal": "exact n x n",
                                                   "given": "given spectrum"}.get(spec.form, spec.form))),
                    "seed": int(p.get("seed", 0)) if drawn else None, "label": spec.label,
                    "message": spec.message, **info}
        for key in ("n", "n_input", "method", "seed", "label", "message"):
            setattr(obj, key, info.get(key))
        return obj

    def __reduce__(self):  # keep the attributes through pickling (st.cache_data)
        return (_vendi_rebuild, (float(self), dict(self.__dict__)))

    @property
    def sampled(self) -> bool:
        """Whether rows were subsampled or the kernel approximated."""
        return self.seed is not None


def _vendi_rebuild(value: float, info: dict) -> VendiScore:
    return VendiScore(value, **info)


@dataclass(frozen=True, eq=False)
class HillCurve:
    """Hill numbers ``D_q`` over a grid of orders ``q`` (``q`` may end with ``inf``).

    ``n``, ``method``, ``seed`` and ``message`` are as in :class:`VendiScore` (the rows the
    spectrum used, how it was obtained, the seed of a subsample / random features, and why the
    curve is undefined -- all NaN -- if it is).
    """

    q: np.ndarray
    values: np.ndarray
    kernel: str
    label: str
    n: int | None = None
    method: str | None = None
    seed: int | None = None
    message: str | None = None

    def at(self, q: float) -> float:
        """``D_q`` at a grid point."""
        hit = np.flatnonzero(self.q == q)
        if not hit.size:
            raise EmbedLensInputError(f"q={q} is not on this curve's grid", source="q")
        return float(self.values[hit[0]])


@dataclass(frozen=True, eq=False)
class RateReduction:
    """MCR^2 rate reduction ``delta_r = r - rc`` and its parts.

    Attributes
    ----------
    delta_r, r, rc : float
        In nats. ``r``: coding rate of all (labelled, non-zero) rows; ``rc``: the
        class-conditional rate ``sum_j n_j / n * R_j``.
    eps2 : float
    classes : tuple
        Class values, sorted.
    counts : ndarray of int
        Rows per class (zero rows left out).
    class_rates : ndarray
        Coding rate ``R_j`` of each class on its own.
    n_unlabelled : int
        Rows whose label is missing, left out of every term.
    """

    delta_r: float
    r: float
    rc: float
    eps2: float
    classes: tuple
    counts: np.ndarray
    class_rates: np.ndarray
    n_unlabelled: int = 0

    def __float__(self) -> float:
        return float(self.delta_r)


# --------------------------------------------------------------------------- Hill numbers


def _check_q(q) -> float:
    return check_param("q", q, Interval(Real, 0, np.inf, closed="right"),
                       hint="e.g. 1 (Shannon), 2, or inf")


def hill_number(p, /, *, q: float = 1.0) -> float:
    r"""Hill number of order q of a distribution: :math:`D_q(p) = \exp(H_q(p))`.

    .. math::

        H_1 = -\sum_i p_i \log p_i, \quad H_q = \frac{\log \sum_i p_i^q}{1 - q}, \quad
        H_\infty = -\log \max_i p_i

    with ``0 log 0 = 0``. ``p`` is normalised to sum 1 and its non-positive entries dropped.

    Parameters
    ----------
    p : array-like of shape (m,)
    q : float in (0, inf], default=1.0

    Returns
    -------
    float
        In ``[1, #nonzero]``; 0 for an all-zero ``p``.

    Raises
    ------
    EmbedLensInputError
        ``q`` not a number or not in (0, inf] (NaN included).
    ValueError, TypeError
        From ``np.asarray(p, dtype=float64)`` when ``p`` holds values that are not numbers.
        ``p`` itself is not validated: NaN entries are dropped with the non-positive ones,
        and an infinite entry gives NaN.

    Notes
    -----
    Conventions: ecology's ``q = 0`` (richness) is excluded; ``q = 1`` is the exponential of
    the Shannon entropy in nats. Reference: M. O. Hill, "Diversity and evenness: a unifying notation and its
    consequences", Ecology 1973. Cost O(m); ``log sum p^q`` by log-sum-exp, so large q does
    not underflow.

    Examples
    --------
    >>> print(round(hill_number([0.25, 0.75], q=1.0), 7))
    1.7547654
    """
    q = _check_q(q)
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[p > 0]
    if p.size == 0:
        return 0.0
    p = p / p.sum()
    if q == 1.0:
        h = -float((p * np.log(p)).sum())
    elif np.isinf(q):
        h = -float(np.log(p.max()))
    else:
        h = float(logsumexp(q * np.log(p))) / (1.0 - q)
    return float(np.exp(h))


def _unit_diagonal(s: Spectrum, what: str) -> Spectrum:
    """``s`` if its kernel has ``k(x, x) = 1`` (cosine, RBF or unit-length rows), else a refusal.

    The one rule for every entry point that takes a :class:`Spectrum` (Vendi, Hill curve,
    coding rate): their eigenvalues must be those of a unit-diagonal kernel ``K / n``.
    """
    if s.kernel in ("cosine", "rbf") or s.normalize:
        return s
    raise EmbedLensInputError(
        f"{what} needs a kernel with k(x, x) = 1, i.e. unit-length rows; this spectrum is {s.label}: "
        "pass spectrum(X, kernel='cosine') (or kernel='rbf')", source="spectrum")


def _kernel_spectrum(X, *, kernel: str, bandwidth, max_n: int, approx: str, seed: int,
                     what: str = "the Vendi score", precision: str = "auto") -> Spectrum:
    """The uncentred unit-diagonal kernel spectrum (a given Spectrum is checked and uncentred if needed)."""
    if isinstance(X, Spectrum):
        return _unit_diagonal(X, what).with_center(False)
    if kernel not in ("cosine", "rbf"):
        raise EmbedLensInputError(
            f"kernel={kernel!r}: the Vendi score needs k(x, x) = 1, so 'cosine' or 'rbf' "
            "('linear' on unit-length rows is 'cosine')", source="kernel")
    return spectrum(X, kernel=kernel, center=False, bandwidth=bandwidth, max_n=max_n, approx=approx,
                    seed=seed, precision=precision)


def vendi_score(X, /, *, q: float = 1.0, kernel: str = "cosine", bandwidth: float | None = None,
                max_n: int = 5000, approx: str = "subsample", seed: int = 0,
                precision: str = "auto") -> VendiScore:
    r"""Vendi score of order q (Friedman & Dieng, 2023): the effective number of distinct items.

    .. math:: \mathrm{VS}_q = \exp\big(H_q(\lambda(K / n))\big), \qquad k(x, x) = 1

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
        Data, or a precomputed spectrum (its kernel and options are used; a centred one is
        uncentred from its stored moments).
    q : float in (0, inf], default=1.0
    kernel : {"cosine", "rbf"}, default="cosine"
        Cosine uses the d x d dual form when d < n (O(n d^2 + d^3) instead of O(n^2 d + n^3)).
    bandwidth : float, optional
        RBF bandwidth; default the median pairwise distance (see ``spectrum(X,
        kernel="rbf").params`` for the value used).
    max_n, approx, seed
        RBF above ``max_n`` rows: a seeded subsample or random Fourier features.
    precision : {"auto", "float64", "float32"}, default="auto"
        Dtype of the row blocks of the cosine dual form (see :func:`core.spectra.spectrum`);
        ``"float32"`` is the precision of ``vendi_score.vendi.score_dual`` on float32 data.

    Returns
    -------
    VendiScore
        A float, ``1 <= VS <= rank K``, carrying the rows used, the method and the seed of a
        subsample / random features (``.n``, ``.method``, ``.seed``, ``.label``); NaN with
        ``.message`` for a degenerate spectrum.

    Raises
    ------
    EmbedLensInputError
        ``q`` not in (0, inf]; a kernel other than cosine / RBF, or a :class:`Spectrum` whose
        kernel lacks a unit diagonal (e.g. ``spectrum(X)``, linear): pass
        ``spectrum(X, kernel="cosine")``; a centred Spectrum that keeps no moments. From
        :func:`core.spectra.spectrum`: ``X`` not a 2-D numeric matrix, rows holding NaN / inf,
        every row zero (cosine), a bad ``approx`` / ``max_n`` / ``bandwidth`` / ``precision``
        (RBF).

    Notes
    -----
    Conventions: cosine by default (k(x, x) = 1 needs unit rows; the ``vendi-score``
    package's ``score_dual(X, normalize=True)`` is cosine too, while its ``score(samples, k)``
    takes any kernel); ``kernel="rbf"`` uses the Euclidean distance. Reference: D. Friedman and A. B. Dieng, "The Vendi Score: A Diversity Evaluation Metric
    for Machine Learning", TMLR 2023. Conventions: for q = 1 equals
    ``vendi_score.vendi.score_dual`` / ``score_K`` of the ``vendi-score`` package; eigenvalues
    at or below the spectrum's rank tolerance are dropped (they only matter for q < 1).
    Zero rows are left out of the cosine kernel (their cosine is undefined). Hand-written:
    the package is a test-only oracle (its ``score_X`` builds the n x n kernel and ignores q).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0]] * 10 + [[0.0, 1.0]] * 30)
    >>> print(round(vendi_score(X), 6))
    1.754765
    """
    q = _check_q(q)
    s = _kernel_spectrum(X, kernel=kernel, bandwidth=bandwidth, max_n=max_n, approx=approx, seed=seed,
                         precision=precision)
    value = float("nan") if s.degenerate else hill_number(s.nonzero, q=q)
    return VendiScore(value, s)


def vendi_score_K(K, /, *, q: float = 1.0, weights=None) -> float:
    r"""Vendi score of a given n x n kernel matrix with unit diagonal.

    .. math:: \mathrm{VS}_q = \exp\big(H_q(\lambda(K / n))\big) \quad\text{or, weighted,}\quad
              \exp\big(H_q(\lambda(K \circ \sqrt p \sqrt p^\top))\big)

    Parameters
    ----------
    K : array-like of shape (n, n)
        Symmetric, positive semi-definite, ``K_ii = 1``.
    q : float in (0, inf], default=1.0
    weights : array-like of shape (n,), optional
        Item probabilities ``p`` (normalised to sum 1).

    Returns
    -------
    float
        ``1 <= VS <= rank K``; 0 if no eigenvalue is above the tolerance (K all zero cannot
        happen with a unit diagonal).

    Raises
    ------
    EmbedLensInputError
        ``q`` not in (0, inf]; ``K`` not a 2-D numeric matrix or holding NaN / inf (from
        :func:`core.check_embeddings`, a :class:`NonFiniteRowsError`); not square; not
        symmetric (tolerance ``1e-8 * max(|K|, 1)``); without ``weights``, a diagonal entry
        farther than 1e-6 from 1 (the first is named); ``weights`` of the wrong length, with
        NaN / inf or negative entries, or summing to 0.

    Notes
    -----
    Positive semi-definiteness is not checked: negative eigenvalues are dropped with the
    ones below the tolerance. Reference: Friedman & Dieng, "The Vendi Score", TMLR 2023 (the README's example matrix
    below). Cost: O(n^3) (``scipy.linalg.eigvalsh``); prefer :func:`vendi_score` on the data,
    which uses the d x d form. Eigenvalues at or below ``max * n * eps`` are dropped.

    Examples
    --------
    >>> K = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> print(round(vendi_score_K(K), 7))
    2.1573005
    """
    q = _check_q(q)
    shape = np.shape(K)
    if len(shape) == 2:  # a float64 copy, the symmetry check's temporaries, K / n and the solver's copy
        require_memory(matrix_bytes(shape[0], shape[1], copies=5),
                       what=f"the exact Vendi score of a {shape[0]:,} x {shape[1]:,} kernel matrix",
                       avoid="pass the data to vendi_score instead (its d x d form), or a sample of the items")
    K = check_embeddings(K, name="K", dtype=np.float64)
    n = K.shape[0]
    if K.shape != (n, n):
        raise EmbedLensInputError(f"has shape {K.shape}; a kernel matrix is square (n x n)", source="K")
    scale = max(float(np.abs(K).max()), 1.0)
    if not np.allclose(K, K.T, rtol=0, atol=1e-8 * scale):
        raise EmbedLensInputError("is not symmetric; use (K + K.T) / 2 if the asymmetry is round-off",
                                  source="K")
    if weights is None:
        diag = np.diag(K)
        if not np.allclose(diag, 1.0, rtol=0, atol=1e-6):
            bad = int(np.flatnonzero(~np.isclose(diag, 1.0, rtol=0, atol=1e-6))[0])
            raise EmbedLensInputError(
                f"K[{bad}, {bad}] = {diag[bad]:.6g}; the Vendi score needs k(x, x) = 1: normalise with "
                "K / sqrt(outer(diag(K), diag(K)))", source="K")
        M = K / n
    else:
        p = np.asarray(weights, dtype=np.float64).ravel()
        if p.shape != (n,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
            raise EmbedLensInputError(f"weights must be {n} non-negative finite numbers, not all zero",
                                      source="weights")
        sp = np.sqrt(p / p.sum())
        M = K * np.outer(sp, sp)
    w = scipy.linalg.eigvalsh(M, check_finite=False)
    tol = max(float(w.max()), 0.0) * n * np.finfo(np.float64).eps
    return hill_number(w[w > tol], q=q)


def hill_curve(X, /, *, q=None, kernel: str = "cosine", bandwidth: float | None = None,
               max_n: int = 5000, approx: str = "subsample", seed: int = 0) -> HillCurve:
    r"""Vendi scores ``D_q`` over a grid of orders q (a Hill-number profile of one kernel spectrum).

    ``D_q`` is non-increasing in q: ``D_0.1`` counts nearly every non-zero mode, ``D_1`` is
    the Vendi score, ``D_2`` the participation ratio of the kernel spectrum, ``D_inf`` is
    ``1 / max p``. A flat curve means evenly spread modes.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
    q : array-like, optional
        Orders in (0, inf]; default :data:`DEFAULT_Q_GRID`.
    kernel, bandwidth, max_n, approx, seed
        As in :func:`vendi_score`.

    Returns
    -------
    HillCurve
        With the rows used, the method and the seed of the spectrum.

    Raises
    ------
    EmbedLensInputError
        Any order in ``q`` not in (0, inf]; otherwise as :func:`vendi_score` (a kernel other
        than cosine / RBF, a linear, not normalised :class:`Spectrum`, bad data).

    Notes
    -----
    Reference: Hill (1973); Friedman & Dieng (2023). Cost: one spectrum plus O(m) per q.

    Examples
    --------
    >>> curve = hill_curve(np.eye(4), q=[1.0, 2.0, np.inf])
    >>> print(curve.values.round(6).tolist())
    [4.0, 4.0, 4.0]
    """
    grid = DEFAULT_Q_GRID if q is None else np.asarray([_check_q(v) for v in np.ravel(q)], dtype=np.float64)
    s = _kernel_spectrum(X, kernel=kernel, bandwidth=bandwidth, max_n=max_n, approx=approx, seed=seed,
                         what="the Hill curve")
    p = s.nonzero
    values = np.full(len(grid), np.nan) if s.degenerate else np.array([hill_number(p, q=v) for v in grid])
    info = VendiScore(0.0, s)
    return HillCurve(q=grid, values=values, kernel=s.kernel, label=s.label, n=info.n, method=info.method,
                     seed=info.seed, message=info.message)


# --------------------------------------------------------------------------- coding rate


def _coding_spectrum(X) -> Spectrum:
    if isinstance(X, Spectrum):
        _unit_diagonal(X, "the coding rate")
        if X.kernel == "rbf":  # unit diagonal, but not a feature-space (cosine) covariance
            raise EmbedLensInputError(
                f"the coding rate is defined on unit-length rows; this spectrum is {X.label}: pass "
                "spectrum(X, kernel='cosine')", source="spectrum")
        return X.with_center(False)
    return spectrum(X, kernel="cosine", center=False)


def _check_eps2(eps2) -> float:
    return check_param("eps2", eps2, Interval(Real, 0, np.inf, closed="neither"), hint="default 0.5")


def coding_rate(X, /, *, eps2: float = 0.5) -> float:
    r"""Coding rate of unit-length embeddings (MCR^2; Yu et al., 2020), in nats.

    .. math::

        R(Z; \epsilon) = \tfrac12 \log\det\!\Big(I_d + \frac{d}{n \epsilon^2} Z Z^\top\Big)
                       = \tfrac12 \sum_i \log\!\Big(1 + \frac{d}{\epsilon^2} \lambda_i\Big)

    with ``Z = X^T`` (columns scaled to unit length) and ``lambda = eig(Z Z^T / n)`` -- the
    uncentred cosine spectrum that also gives the Vendi score.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
        A Spectrum must be of unit-length rows (``kernel="cosine"``).
    eps2 : float, default=0.5
        The squared distortion :math:`\epsilon^2`. (In ryanchankh/mcr2 the argument called
        ``eps`` is this squared value.)

    Returns
    -------
    float
        In nats, >= 0.

    Raises
    ------
    EmbedLensInputError
        ``eps2`` not a positive finite number; a :class:`Spectrum` whose kernel lacks a unit
        diagonal or is RBF (unit diagonal, but not a feature-space covariance); a centred
        Spectrum that keeps no moments. From :func:`core.spectra.spectrum`: ``X`` not a 2-D
        numeric matrix, rows holding NaN / inf, every row zero.

    Notes
    -----
    Conventions: cosine only (rows scaled to unit length, as MCR^2 assumes); ``eps2`` is
    :math:`\epsilon^2`, not :math:`\epsilon`. Reference: Y. Yu, K. H. R. Chan, C. You, C. Song, Y. Ma, "Learning Diverse and
    Discriminative Representations via the Principle of Maximal Coding Rate Reduction",
    NeurIPS 2020. Cost: one spectrum; the sum over eigenvalues is Sylvester's identity, so
    n < d costs the n x n form. Zero rows are left out. Hand-written: ryanchankh/mcr2 is a
    torch training loss, not a library; the closed form reuses the shared spectrum.

    Examples
    --------
    >>> print(round(coding_rate(np.ones((5, 4)), eps2=0.5), 6))  # 1/2 log(1 + d / eps2)
    1.098612
    """
    eps2 = _check_eps2(eps2)
    s = _coding_spectrum(X)
    return float(0.5 * np.log1p(s.d / eps2 * s.eigenvalues).sum())


def rate_reduction(X, labels, /, *, eps2: float = 0.5) -> RateReduction:
    r"""Rate reduction :math:`\Delta R = R(Z) - R_c(Z, \Pi)` of labelled embeddings (MCR^2).

    .. math::

        R_c = \sum_j \frac{n_j}{2n} \log\det\!\Big(I_d + \frac{d}{n_j \epsilon^2} Z_j Z_j^\top\Big)
            = \sum_j \frac{n_j}{n} R(Z_j)

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
        A dask array is read once, chunk by chunk (each class's gram of unit rows in float64,
        :func:`core._dask.class_grams`).
    labels : array-like of shape (n,)
        Class of each row (any hashable values); rows with a missing label are left out.
    eps2 : float, default=0.5

    Returns
    -------
    RateReduction
        ``delta_r``, ``r``, ``rc`` and the coding rate of each class.

    Raises
    ------
    EmbedLensInputError
        ``eps2`` not a positive finite number; ``X`` not a 2-D numeric matrix or with NaN / inf
        rows (:class:`NonFiniteRowsError`, from :func:`core.check_embeddings`); ``len(labels)
        != n``; every label missing; every labelled row zero (from :func:`coding_rate`).
    ValueError
        From :func:`core.tables.encode_labels`, for labels that are not 1-D.

    Notes
    -----
    Conventions: cosine (unit rows), ``eps2`` squared, nats, as :func:`coding_rate`.
    Reference: Yu et al., NeurIPS 2020 (as used in "Unsupervised Manifold Linearizing and
    Clustering", 2023). Cost: O(n d^2 + (k + 1) d^3) for k classes (one d x d spectrum each).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 6)
    >>> print(round(rate_reduction(X, [0] * 6 + [1] * 6).delta_r, 6))  # log 3 - log(5) / 2
    0.293893
    """
    eps2 = _check_eps2(eps2)
    lazy = _dask.is_dask(X)
    X = _dask.check_matrix(X) if lazy else check_embeddings(X)
    codes, classes = encode_labels(labels, X.shape[0])
    classes, missing = tuple(plain(c) for c in classes), int((codes < 0).sum())
    if not classes:
        raise EmbedLensInputError("every label is missing; rate reduction needs classes", source="labels")
    if lazy:  # one pass: each class's gram of unit rows; R from their sum
        n_rows, total, spectra = _class_spectra(X, codes, len(classes))
        if not n_rows.sum():
            raise EmbedLensInputError(f"all {int((codes >= 0).sum())} labelled rows are zero vectors, so their "
                                      "cosine similarity is undefined; load non-zero embeddings", source="X")
        r = coding_rate(_gram_spectrum(total, int(n_rows.sum())), eps2=eps2)
        rates_arr = np.array([0.0 if s is None else coding_rate(s, eps2=eps2) for s in spectra])
        rc = float((n_rows / n_rows.sum() * rates_arr).sum())
        return RateReduction(delta_r=r - rc, r=r, rc=rc, eps2=eps2, classes=classes, counts=n_rows,
                             class_rates=rates_arr, n_unlabelled=missing)
    rows = X if missing == 0 else X[codes >= 0]
    r = coding_rate(rows, eps2=eps2)
    counts, rates = [], []
    for j in range(len(classes)):
        s = spectrum(X[codes == j], kernel="cosine", center=False) if _has_nonzero(X[codes == j]) else None
        counts.append(0 if s is None else s.n)
        rates.append(0.0 if s is None else coding_rate(s, eps2=eps2))
    counts_arr = np.asarray(counts, dtype=np.int64)
    rates_arr = np.asarray(rates, dtype=np.float64)
    rc = float((counts_arr / counts_arr.sum() * rates_arr).sum())
    return RateReduction(delta_r=r - rc, r=r, rc=rc, eps2=eps2, classes=classes, counts=counts_arr,
                         class_rates=rates_arr, n_unlabelled=missing)


def _gram_spectrum(gram: np.ndarray, n: int) -> Spectrum:
    """The uncentred cosine spectrum of n unit rows from their gram ``U^T U`` (d x d), the dual form."""
    d = gram.shape[0]
    values = _eigvalsh(gram / n)
    return Spectrum(values, n=n, d=d, kernel="cosine", center=False, normalize=True, form="dual",
                    params={"n_input": n, "block_dtype": "float64", "engine": "dask",
                            "rank_tol": _rank_tol(values, d, "float64")})


def _class_spectra(X, codes: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray, list]:
    """One pass over a dask ``X`` (:func:`core._dask.class_grams`): per class, its non-zero rows and the
    uncentred cosine spectrum of their unit rows (None for a class without one), and the sum of the grams."""
    counts, grams = _dask.class_grams(X, codes, K)
    spectra = [_gram_spectrum(g, int(c)) if c else None for g, c in zip(grams, counts)]
    return counts, grams.sum(axis=0), spectra


def _rbf_class_vendi(X, members: np.ndarray, *, q: float, bandwidth, max_n, seed: int) -> VendiScore:
    """The RBF Vendi score of the rows ``members`` of X, as :func:`vendi_score` on ``X[members]`` gives it.

    Above ``max_n`` rows: the seeded subsample :func:`core.spectra.spectrum` draws (``form="subsample"``),
    and of a dask ``X`` only those rows are read (:func:`core._dask.sample_rows`).
    """
    check_param("max_n", max_n, Interval(Integral, 2, None, whole_floats=True))
    drawn = subsample(len(members), int(max_n), seed=seed)
    Z = _dask.sample_rows(X, members[drawn.rows])
    s = spectrum(Z, kernel="rbf", center=False, bandwidth=bandwidth, form="primal", seed=seed)
    if drawn.sampled:  # what spectrum(X[members], form="subsample") records
        s = replace(s, form="subsample", params={**s.params, "n_input": len(members), "subsample": int(max_n),
                                                 "method": "seeded uniform subsample"})
    return vendi_score(s, q=q)


def _has_nonzero(X: np.ndarray) -> bool:
    return bool(len(X)) and bool(np.any(X != 0))


def class_diversity(X, labels, /, *, q: float = 1.0, kernel: str = "cosine", eps2: float = 0.5,
                    bandwidth: float | None = None, max_n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Vendi score and coding rate of each class on its own.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
        A dask array is read once, chunk by chunk, for every class's gram of unit rows in
        float64 (:func:`core._dask.class_grams`: the uncentred cosine spectrum of each class, so
        its Vendi score and coding rate); the RBF kernel then reads only its seeded samples'
        rows (:func:`core.read_rows`): the bandwidth's and each class's. The numbers are the
        in-memory ones.
    labels : array-like of shape (n,)
        Rows with a missing label are left out.
    q, kernel, bandwidth, max_n, seed
        As in :func:`vendi_score`. For the RBF kernel, a missing bandwidth is resolved once
        on all of ``X`` (the median heuristic on a seeded sample of 1,000 rows), so every class
        uses the same kernel; a class above ``max_n`` rows uses the seeded subsample
        :func:`core.spectra.spectrum` draws from it.
    eps2 : float, default=0.5
        As in :func:`coding_rate`.

    Returns
    -------
    DataFrame
        One row per class: ``class``, ``n`` (rows the Vendi score used: a seeded subsample of
        ``max_n`` for the RBF kernel on a larger class), ``n_class`` (the class's rows),
        ``vendi``, ``coding_rate`` (on every non-zero row of the class), ``vendi_method`` and
        ``seed`` (None when nothing was drawn); NaN for a class of zero rows only. Cosine on
        a dask array: ``vendi_method`` is ``"dual d x d"`` for every class (its gram), also where
        the in-memory path takes the n x n form of a class with ``n <= d`` rows (same value).

    Raises
    ------
    EmbedLensInputError
        ``q`` not in (0, inf]; ``eps2`` not a positive finite number; ``X`` not a 2-D numeric
        matrix (a dask array: or with unknown chunk sizes); ``len(labels) != n``; ``kernel``
        not "cosine" / "rbf"; a bad ``max_n`` / ``bandwidth`` (RBF, from
        :func:`core.spectra.spectrum`).
    NonFiniteRowsError
        Rows holding NaN / inf, all listed (a dask array: found by its pass, before any
        sample is read).
    ValueError
        From :func:`core.tables.encode_labels`, for labels that are not 1-D.

    Notes
    -----
    Cost: one spectrum per class; cosine: O(n d^2 + k d^3) in all. A dask array holds the k
    d x d grams at once (8 k d^2 bytes).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0]] * 4 + [[1.0, 0.0], [0.0, 1.0]] * 2)
    >>> print(class_diversity(X, ["a"] * 4 + ["b"] * 4)["vendi"].round(6).tolist())
    [1.0, 2.0]
    """
    q = _check_q(q)
    eps2 = _check_eps2(eps2)
    lazy = _dask.is_dask(X)
    X = _dask.check_matrix(X) if lazy else check_embeddings(X)
    codes, classes = encode_labels(labels, X.shape[0])
    classes = tuple(plain(c) for c in classes)
    check_param("kernel", kernel, StrOptions({"cosine", "rbf"}))
    sizes = np.bincount(codes[codes >= 0], minlength=len(classes))
    if lazy:  # one pass: every class's gram of unit rows (refuses NaN / inf rows before any sample is read)
        cosine = _class_spectra(X, codes, len(classes))[2].__getitem__
    else:
        def cosine(j):
            part = X[codes == j]
            return spectrum(part, kernel="cosine", center=False) if _has_nonzero(part) else None
    if kernel == "rbf" and bandwidth is None:
        bandwidth = _median_distance(X, seed)
    rows = []
    for j, c in enumerate(classes):
        cos = cosine(j)
        if cos is None:
            rows.append({"class": c, "n": 0, "n_class": int(sizes[j]), "vendi": np.nan, "coding_rate": np.nan,
                         "vendi_method": None, "seed": None})
            continue
        if kernel == "cosine":
            vs = vendi_score(cos, q=q)
        else:
            vs = _rbf_class_vendi(X, np.flatnonzero(codes == j), q=q, bandwidth=bandwidth, max_n=max_n, seed=seed)
        rows.append({"class": c, "n": vs.n, "n_class": int(sizes[j]), "vendi": float(vs),
                     "coding_rate": coding_rate(cos, eps2=eps2), "vendi_method": vs.method, "seed": vs.seed})
    return pd.DataFrame(rows, columns=["class", "n", "n_class", "vendi", "coding_rate", "vendi_method", "seed"])
