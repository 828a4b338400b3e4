"""Entropies of diffusion and of paired views: DSE / DSMI and Schur-complement entropy (SCE).

:func:`diffusion_spectral_entropy` and :func:`diffusion_spectral_mutual_info` follow the
reference code of the DSE paper (ChenLiu-1996/DiffusionSpectralEntropy, ``dse_dsmi``);
:func:`schur_complement_entropy` and :func:`defocus` follow "Dissecting CLIP" (scendi-score).
Both families are O(n^2) or worse in some form, so they work on a seeded subsample (DSE) or
on d x d feature covariances (SCE) and record what they used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from types import MappingProxyType

import numpy as np
import pandas as pd
import scipy.linalg

from ._memory import matrix_bytes, require_memory
from ._numerics import eigvalsh_dc, median_pairwise_distance, unit_rows
from ._sampling import subsample
from numbers import Integral, Real

from ._validation import (EmbedLensInputError, Interval, StrOptions, check_embeddings, check_paired,
                          check_param)
from ._validation import plain
from . import _dask
from .tables import encode_labels

__all__ = [
    "DiffusionEntropy",
    "DiffusionMutualInfo",
    "SchurComplementEntropy",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_info",
    "schur_complement_entropy",
    "defocus",
    "DSE_PAPER_SIGMA",
]

DSE_PAPER_SIGMA = 10.0
"""The reference code's default Gaussian bandwidth."""

_SIGMA_RULES = {
    "given": "given",
    "median": "median pairwise distance (a deviation from the paper's fixed sigma = 10)",
}


@dataclass(frozen=True, eq=False)
class DiffusionEntropy:
    """Diffusion spectral entropy (bits) and what it was computed with.

    ``eigenvalues`` are ``|l|`` of the symmetric diffusion operator, descending (the
    trivial eigenvalue 1 included); ``sigma`` is the bandwidth actually used.
    """

    value: float
    sigma: float
    sigma_rule: str
    t: int
    n: int
    n_used: int
    seed: int
    eigenvalues: np.ndarray
    warning: str | None = None
    """Set when a given ``sigma`` is far off the sample's scale (see :func:`sigma_warning`)."""

    def __float__(self) -> float:
        return float(self.value)

    @property
    def max_value(self) -> float:
        """``log2(n_used)``: the entropy of n equal eigenvalues (sigma -> 0)."""
        return float(np.log2(self.n_used)) if self.n_used else 0.0


@dataclass(frozen=True, eq=False)
class DiffusionMutualInfo:
    """DSMI (bits) with the per-class terms ``p(c) [DSE(random n_c) - DSE(Z | Y = c)]``."""

    value: float
    table: pd.DataFrame
    """One row per class: ``class``, ``n``, ``dse_class``, ``dse_random`` (mean of draws), ``term``."""
    sigma: float
    sigma_rule: str
    t: int
    n: int
    n_used: int
    n_draws: int
    seed: int
    binned: bool
    """Whether ``y`` was continuous and cut into equal-width bins."""
    warning: str | None = None
    """Set when a given ``sigma`` is far off the sample's scale (see :func:`sigma_warning`)."""

    def __float__(self) -> float:
        return float(self.value)


@dataclass(frozen=True, eq=False)
class SchurComplementEntropy:
    """Schur-complement entropy of one view given another, and its parts.

    Attributes
    ----------
    score : float
        ``exp(-sum l log(l / tr S))`` over the eigenvalues of S (clamped at 1e-10): the
        diversity of the first view that the second does not explain.
    trace_s : float
        ``tr S`` in [0, 1]: the share of the first view's variance not explained.
    text_score : float
        The same formula on ``D = C_TI^T pinv(C_TT) C_TI`` (the explained part).
    trace_d : float
        ``tr D = 1 - tr S``.
    eigenvalues, text_eigenvalues : ndarray
        Of S and D, descending, clamped at 1e-10.
    kernel : {"linear", "rff"}
    params : Mapping
        ``n``, ``d_image``, ``d_text``, ``zero_rows_left_out``; RFF: ``sigma``,
        ``n_features``, ``seed``, ``shared_frequencies``.
    text_map : ndarray
        ``A* = C_TT^+ C_TI``, reused by :func:`defocus`.
    """

    score: float
    trace_s: float
    text_score: float
    trace_d: float
    eigenvalues: np.ndarray
    text_eigenvalues: np.ndarray
    kernel: str
    params: Mapping = field(default_factory=dict)
    text_map: np.ndarray | None = field(default=None, repr=False)
    """``A* = C_TT^+ C_TI``: the least-squares map from text to image features (for :func:`defocus`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __reduce__(self):  # the read-only params mapping does not pickle (st.cache_data pickles)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["params"] = dict(self.params)
        return (_rebuild, (type(self), values))

    def __float__(self) -> float:
        return float(self.score)


# --------------------------------------------------------------------------- DSE


def _check_sigma_t(sigma, t) -> None:
    check_param("sigma", sigma, Interval(Real, 0, np.inf, closed="neither"), StrOptions({"median"}),
                hint="paper default 10")
    check_param("t", t, Interval(Integral, 1, None, whole_floats=True), hint="diffusion steps; usually 1 or 2")


def _subsample(n: int, max_n: int, seed: int) -> np.ndarray | None:
    check_param("max_n", max_n, Interval(Integral, 2, None, whole_floats=True))
    sample = subsample(n, int(max_n), seed=seed)
    return sample.rows if sample.sampled else None


def _sq_distances(Z: np.ndarray, what: str = "diffusion spectral entropy") -> np.ndarray:
    from sklearn.metrics.pairwise import euclidean_distances

    m = len(Z)  # the distances, the kernel and the eigen-solver's work space: 4 m x m float64 at the peak
    require_memory(matrix_bytes(m, copies=4), what=f"{what} on {m:,} rows (4 {m:,} x {m:,} float64 matrices)",
                   avoid="use a smaller sample (max_n; the page's sample size)")

    D2 = euclidean_distances(np.asarray(Z, dtype=np.float64), squared=True)
    np.fill_diagonal(D2, 0.0)
    return np.clip(D2, 0.0, None, out=D2)


def _resolve_sigma(sigma, D2: np.ndarray) -> tuple[float, str]:
    if sigma == "median":
        return median_pairwise_distance(sq_distances=D2), _SIGMA_RULES["median"]
    return float(sigma), _SIGMA_RULES["given"]


SIGMA_SCALE_RANGE = 100.0
"""A given ``sigma`` more than this factor away from the median pairwise distance is warned about."""


def sigma_warning(sigma: float, rule: str, D2: np.ndarray) -> str | None:
    """A message when a given ``sigma`` is outside ``[median / 100, median * 100]``.

    ``median`` is the median positive pairwise distance of the rows used (``D2``: squared
    distances). Far below it every row is its own island (DSE -> log2 n); far above it all
    rows merge (DSE -> 0): the value then says nothing about the data. None for the median
    rule, or when no pair of rows is apart (all rows identical).

    Parameters
    ----------
    sigma : float
        The bandwidth used, in the data's units.
    rule : str
        How it was chosen (a value of the module's sigma rules: "given" is judged, "median" not).
    D2 : ndarray of shape (m, m)
        Squared Euclidean distances of the rows used (data units squared).

    Returns
    -------
    str or None
        The message (sigma, the median, which side, and the fix: the "median" rule), or None.

    Raises
    ------
    IndexError
        When ``D2`` is 1-D (from :func:`core._numerics.median_pairwise_distance`).
    """
    if rule != _SIGMA_RULES["given"] or D2.size == 0 or not (D2 > 0).any():
        return None
    median = median_pairwise_distance(sq_distances=D2)
    if median / SIGMA_SCALE_RANGE <= sigma <= median * SIGMA_SCALE_RANGE:
        return None
    side = "below" if sigma < median else "above"
    return (f"σ = {float(sigma):.4g} is far {side} the median pairwise distance of the rows used "
            f"({float(median):.4g}; outside [median / {SIGMA_SCALE_RANGE:g}, median × {SIGMA_SCALE_RANGE:g}]), so the "
            f"value mostly reflects σ ({'every row its own cluster: near log2 n' if side == 'below' else 'all rows merged: near 0'}); "
            f"use the \"median\" bandwidth rule (sigma=\"median\") or a σ on the data's scale")


def _dse_eigenvalues(D2: np.ndarray, sigma: float) -> np.ndarray:
    """|eigenvalues| of ``K = D^-1/2 G D^-1/2``, ``G = exp(-D2 / (2 sigma^2))``, descending."""
    G = np.exp(D2 * (-0.5 / sigma**2))
    root = 1.0 / np.sqrt(G.sum(axis=1))
    G *= root[:, None]
    G *= root[None, :]
    values = eigvalsh_dc(G, overwrite=True)
    return np.sort(np.abs(values))[::-1]


def _entropy_bits(eigenvalues: np.ndarray, t: int) -> float:
    """Shannon entropy (bits) of ``|l|^t / sum |l|^t``.

    Eigenvalues below ``m * eps * max|l|`` (m eigenvalues, eps of float64) are rounding noise
    of the eigensolver and count as 0: identical rows (one eigenvalue 1, the rest exactly 0)
    give exactly 0 bits instead of ~1e-13.
    """
    a = np.abs(eigenvalues.astype(np.float64))
    if a.size:
        a[a < a.size * np.finfo(np.float64).eps * a.max()] = 0.0
    a = a ** int(t)
    total = a.sum()
    if total <= 0:
        return 0.0
    p = a[a > 0] / total
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: no "-0" for a single eigenvalue


def diffusion_spectral_entropy(X, /, *, sigma: float | str = DSE_PAPER_SIGMA, t: int = 1,
                               max_n: int = 3000, seed: int = 0) -> DiffusionEntropy:
    r"""Diffusion spectral entropy (DSE) of a point cloud, in bits.

    .. math::

        G_{ij} = e^{-\lVert x_i - x_j\rVert^2 / 2\sigma^2},\quad
        K = D^{-1/2} G D^{-1/2},\quad a_i = \frac{|\lambda_i(K)|^t}{\sum_j |\lambda_j(K)|^t},\quad
        \mathrm{DSE} = -\sum_i a_i \log_2 a_i

    ``K`` has the spectrum of the diffusion operator ``D^-1 G``; the trivial eigenvalue 1 is
    kept (as in the current reference code). ``0 <= DSE <= log2 n``: exactly 0 for identical
    points (eigenvalues below ``m eps max|l|`` are eigensolver rounding noise, counted as 0),
    ``log2 k`` for k far-apart clumps, ``log2 n`` as sigma -> 0.

    Parameters
    ----------
    X : array-like of shape (n, d)
    sigma : float or "median", default=10.0
        Gaussian bandwidth. The value is very sensitive to it; 10 is the paper's default.
        ``"median"`` uses the median pairwise distance of the rows used -- a deviation from
        the paper, recorded in ``sigma_rule``.
    t : int, default=1
        Diffusion steps (eigenvalues are raised to t).
    max_n : int, default=3000
        Larger inputs are subsampled to ``max_n`` rows (seeded; the reference uses 10,000).
    seed : int, default=0

    Returns
    -------
    DiffusionEntropy
        ``value`` in bits, ``0 <= value <= log2(n_used)``; the ``sigma`` and ``sigma_rule``
        used, ``t``, ``n`` (rows given), ``n_used`` and ``seed`` of the subsample, the
        ``|eigenvalues|``, and ``warning`` when a given ``sigma`` is outside
        ``[median / 100, median * 100]`` of the median pairwise distance (:func:`sigma_warning`).

    Raises
    ------
    EmbedLensInputError
        ``sigma`` neither a positive finite number nor ``"median"``; ``t`` not a whole number
        >= 1; ``max_n < 2``; ``X`` not a 2-D numeric matrix, or with NaN / inf rows
        (:class:`NonFiniteRowsError`, from :func:`core.check_embeddings`).
    ValueError, TypeError
        From ``float(sigma)`` / ``float(t)`` / ``int(max_n)`` for a value that is not a number
        (e.g. ``t="a"``, ``sigma=None``); not converted to :class:`EmbedLensInputError`.

    Notes
    -----
    Conventions: Euclidean distances on the raw rows (not cosine), so a fixed ``sigma`` is in
    the data's units: the paper's 10 suits its activations, not unit-length embeddings
    (whose distances are at most 2; measured: 500 isotropic unit rows in 64 dimensions give
    0.14 bits at sigma = 10 against 3.77 with ``"median"``, of at most log2 500 = 8.97);
    ``sigma="median"`` adapts to the scale. Entropy in bits
    (log2), unlike the nats of :mod:`core.diversity`.
    Reference: D. Liao, C. Liu, et al., "Assessing Neural Network Representations During
    Training Using Noise-Resilient Diffusion Spectral Entropy", 2023 (reference code
    ``dse_dsmi/dse.py``; its ``classic_shannon_entropy=True`` is a different quantity). The
    reference adds machine epsilon to every ``a_i``; here ``0 log 0 = 0``. Cost:
    O(m^2 d + m^3) with ``m = min(n, max_n)``, O(m^2) memory. Hand-written: ``dse-dsmi`` is
    not a dependency (it pulls in its own stack) and the formula is a few lines over scipy.

    Examples
    --------
    >>> X = np.repeat(np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]]), 5, axis=0)
    >>> print(round(diffusion_spectral_entropy(X).value, 6))  # 4 far-apart clumps: log2 4
    2.0
    """
    _check_sigma_t(sigma, t)
    X = check_embeddings(X)
    n = X.shape[0]
    idx = _subsample(n, max_n, seed)
    Z = X if idx is None else X[idx]
    D2 = _sq_distances(Z)
    s, rule = _resolve_sigma(sigma, D2)
    values = _dse_eigenvalues(D2, s)
    return DiffusionEntropy(_entropy_bits(values, t), s, rule, int(t), n, len(Z), int(seed), values,
                            sigma_warning(s, rule, D2))


def _label_bins(y, n: int, bins: int, y_kind: str) -> tuple[np.ndarray, tuple, bool]:
    series = pd.Series(y) if not isinstance(y, pd.Series) else y.reset_index(drop=True)
    if len(series) != n:
        raise EmbedLensInputError(f"has {len(series)} values but X has {n} rows; one value per row", source="y")
    check_param("y_kind", y_kind, StrOptions({}, order=("auto", "discrete", "continuous")))
    continuous = y_kind == "continuous" or (
        y_kind == "auto" and pd.api.types.is_float_dtype(series)
        and not np.allclose(series.dropna(), np.round(series.dropna())))
    if continuous:
        values = series.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        lo, hi = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 1.0)
        edges = np.linspace(lo, hi, int(bins) + 1)
        codes = np.where(finite, np.clip(np.searchsorted(edges, values, side="right") - 1, 0, int(bins) - 1), -1)
        present = np.unique(codes[codes >= 0])
        remap = -np.ones(int(bins), dtype=np.int64)
        remap[present] = np.arange(len(present))
        codes = np.where(codes >= 0, remap[np.clip(codes, 0, None)], -1)
        classes = tuple(f"[{edges[b]:.3g}, {edges[b + 1]:.3g}{']' if b == bins - 1 else ')'}" for b in present)
        return codes.astype(np.int64), classes, True
    codes, classes = encode_labels(series, n)
    classes = tuple(plain(c) for c in classes)
    return codes, classes, False


def diffusion_spectral_mutual_info(X, y, /, *, sigma: float | str = DSE_PAPER_SIGMA, t: int = 1,
                                   max_n: int = 3000, seed: int = 0, n_draws: int = 5, bins: int = 10,
                                   y_kind: str = "auto") -> DiffusionMutualInfo:
    r"""Diffusion spectral mutual information DSMI(Z; Y) between embeddings and a label, in bits.

    .. math::

        \mathrm{DSMI}(Z; Y) = \sum_c p(c)\,\big[\mathrm{DSE}(Z^*_{n_c}) - \mathrm{DSE}(Z \mid Y = c)\big]

    where ``Z*_{n_c}`` is a random subset of ``n_c`` rows (the mean over ``n_draws`` seeded
    draws), so both terms are estimated at the same sample size.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : array-like of shape (n,)
        Class labels, or a continuous variable (cut into ``bins`` equal-width bins). Rows with
        a missing value are left out.
    sigma, t, seed
        As in :func:`diffusion_spectral_entropy`; ``"median"`` is resolved once on all rows
        used, so every term shares one kernel.
    max_n : int, default=3000
        Rows are subsampled (seeded) to ``max_n`` first; the class and random subsets are
        drawn from those. (The reference subsamples each DSE call separately.)
    n_draws : int, default=5
    bins : int, default=10
    y_kind : {"auto", "discrete", "continuous"}, default="auto"
        ``"auto"``: continuous when ``y`` holds non-integral floats.

    Returns
    -------
    DiffusionMutualInfo
        ``value`` in bits and the per-class ``table``; ``n`` rows given, ``n_used`` labelled
        rows used, ``n_draws``, ``seed``, ``binned``, and the ``sigma`` used.

    Raises
    ------
    EmbedLensInputError
        ``sigma`` / ``t`` as :func:`diffusion_spectral_entropy`; ``n_draws < 1`` or
        ``bins < 1``; ``X`` not a 2-D numeric matrix or with NaN / inf rows
        (:class:`NonFiniteRowsError`); ``len(y) != n``; ``y_kind`` not "auto" / "discrete" /
        "continuous"; fewer than 2 labelled rows; ``max_n < 2``.
    ValueError, TypeError
        From ``float()`` / ``int()`` of a non-numeric ``sigma``, ``t``, ``n_draws``, ``bins`` or
        ``max_n``; from :func:`core.tables.encode_labels` for a ``y`` that is not 1-D; from
        ``to_numpy(dtype=float64)`` for ``y_kind="continuous"`` with non-numeric values.

    Notes
    -----
    Conventions: Euclidean distances and bits, as :func:`diffusion_spectral_entropy`.
    Reference: Liao, Liu et al. (2023), ``dse_dsmi/dsmi.py``. Well-separated classes give
    about ``log2(#classes)``; permuted labels about 0. Cost: one m x m distance matrix
    (``m = min(n, max_n)``) and ``(1 + n_draws)`` eigendecompositions of ``n_c x n_c`` per class.

    Examples
    --------
    >>> X = np.repeat(np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]]), 10, axis=0)
    >>> print(round(diffusion_spectral_mutual_info(X, np.repeat([0, 1, 2, 3], 10)).value, 3))  # ~log2 4
    1.938
    """
    _check_sigma_t(sigma, t)
    check_param("n_draws", n_draws, Interval(Integral, 1, None, whole_floats=True))
    check_param("bins", bins, Interval(Integral, 1, None, whole_floats=True))
    X = check_embeddings(X)
    n = X.shape[0]
    codes, classes, binned = _label_bins(y, n, bins, y_kind)
    rows = np.flatnonzero(codes >= 0)
    if rows.size < 2:
        raise EmbedLensInputError("fewer than 2 rows have a label; DSMI needs labelled rows", source="y")
    pick = _subsample(rows.size, max_n, seed)
    if pick is not None:
        rows = rows[pick]
    codes = codes[rows]
    D2 = _sq_distances(X[rows], "diffusion spectral mutual information")
    s, rule = _resolve_sigma(sigma, D2)
    m = len(rows)
    out = []
    for j, c in enumerate(classes):
        members = np.flatnonzero(codes == j)
        if members.size == 0:
            continue
        dse_c = _entropy_bits(_dse_eigenvalues(D2[np.ix_(members, members)], s), t)
        rng = np.random.default_rng([int(seed), j])
        draws = []
        for _ in range(int(n_draws)):
            sub = subsample(m, members.size, rng=rng).rows  # a random subset the size of the class
            draws.append(_entropy_bits(_dse_eigenvalues(D2[np.ix_(sub, sub)], s), t))
        dse_r = float(np.mean(draws))
        out.append({"class": c, "n": int(members.size), "dse_class": dse_c, "dse_random": dse_r,
                    "term": members.size / m * (dse_r - dse_c)})
    table = pd.DataFrame(out, columns=["class", "n", "dse_class", "dse_random", "term"])
    return DiffusionMutualInfo(float(table["term"].sum()), table, s, rule, int(t), n, m, int(n_draws),
                               int(seed), binned, sigma_warning(s, rule, D2))


# --------------------------------------------------------------------------- SCE


def _unit_rows(A: np.ndarray) -> np.ndarray:
    """Unit-length rows in float64, scale-safe (zero rows stay zero)."""
    return unit_rows(A, dtype=np.float64)[0]


def _feature_maps(X_image, X_text, kernel: str, sigma: float, n_features: int, seed: int):
    """Feature maps ``phi_I``, ``phi_T`` (on unit-length rows) and their parameters."""
    params: dict = {}
    if kernel == "linear":
        return _unit_rows, _unit_rows, params
    check_param("kernel", kernel, StrOptions({"linear", "rff"}))
    check_param("sigma", sigma, Interval(Real, 0, np.inf, closed="neither"))
    check_param("n_features", n_features, Interval(Integral, 1, None, whole_floats=True))
    rng = np.random.default_rng(seed)
    dI, dT = X_image.shape[1], X_text.shape[1]
    W_I = rng.standard_normal((dI, int(n_features))) / sigma
    shared = dI == dT
    W_T = W_I if shared else rng.standard_normal((dT, int(n_features))) / sigma

    def rff(W):
        def phi(A):
            P = _unit_rows(A) @ W
            return np.hstack([np.cos(P), np.sin(P)]) / np.sqrt(W.shape[1])
        return phi

    params.update(sigma=float(sigma), n_features=int(n_features), seed=int(seed), shared_frequencies=shared)
    return rff(W_I), rff(W_T), params


def _check_regularization(regularization, kernel: str) -> float:
    value = check_param("regularization", regularization, StrOptions({"auto"}),
                        Interval(Real, 0, np.inf, closed="left"), hint="0: the exact pseudo-inverse")
    if value == "auto":
        return 1.0 if kernel == "rff" else 0.0
    return value


def _paired(X_image, X_text):
    """The two views checked: in memory (:func:`core.check_paired`), or as dask arrays in the same row chunks."""
    names = ("X_image", "X_text")
    if _dask.is_dask(X_image) or _dask.is_dask(X_text):
        return tuple(_dask.paired_views([X_image, X_text], names)), True
    return check_paired(X_image, X_text, names=names), False


def _feature_widths(X_image, X_text, kernel: str, n_features) -> tuple[int, int]:
    """Columns of ``phi_I`` and ``phi_T``: the views' own (linear) or ``2 * n_features`` (RFF)."""
    if kernel == "linear":
        return int(X_image.shape[1]), int(X_text.shape[1])
    return 2 * int(n_features), 2 * int(n_features)


def _schur_parts(X_image, X_text, *, kernel, sigma, n_features, seed, block_rows=8192, regularization="auto"):
    """``C_TT, C_TI, C_II, A, phi_I, phi_T, params`` of paired views (numpy or dask, one pass over the rows)."""
    reg = _check_regularization(regularization, kernel)
    (X_image, X_text), lazy = _paired(X_image, X_text)
    phi_I, phi_T, params = _feature_maps(X_image, X_text, kernel, sigma, n_features, seed)
    n = X_image.shape[0]
    dI, dT = _feature_widths(X_image, X_text, kernel, n_features)
    F = dI + dT
    b = min(block_rows, n)  # the moment matrix, its block product and sum; a block of features and its parts
    require_memory(matrix_bytes(F, copies=4) + matrix_bytes(b, F, copies=3),
                   what=f"Schur-complement entropy's {F:,} x {F:,} feature moment matrix",
                   avoid=("use fewer random Fourier features (n_features)" if kernel == "rff" else
                          "reduce the views' dimensions first (e.g. PCA)"))
    # one pass: Phi^T Phi of the stacked features [phi_I(x), phi_T(t)] over the pairs without a zero row
    acc, used, engine = _dask.paired_feature_gram([X_image, X_text], [phi_I, phi_T], F,
                                                  names=("X_image", "X_text"), block_rows=block_rows)
    if lazy:
        params.update(engine)
    return (*_schur_from_moments(acc, used, n, dI, reg, kernel, params, X_image.shape[1], X_text.shape[1]),
            phi_I, phi_T, params)


def _schur_from_moments(acc, used: int, n: int, dI: int, reg: float, kernel: str, params: dict, d_image: int,
                        d_text: int):
    """``C_TT, C_TI, C_II, A`` from the summed moments ``acc`` of ``used`` pairs (both engines); fills ``params``.

    ``acc`` is ``Phi^T Phi`` of the stacked features ``[phi_I, phi_T]`` (``dI`` image feature columns first).
    """
    if used == 0:
        raise EmbedLensInputError("every pair has a zero vector; SCE needs non-zero embeddings", source="X_image")
    C = acc / used
    C = (C + C.T) / 2.0
    C_II, C_TI, C_TT = C[:dI, :dI], C[dI:, :dI], C[dI:, dI:]
    dT = C_TT.shape[0]
    ridge = reg * float(np.trace(C_TT)) / used
    if ridge > 0:
        A = scipy.linalg.solve(C_TT + ridge * np.eye(dT), C_TI, assume_a="pos", check_finite=False)
    else:
        A = scipy.linalg.pinvh(C_TT) @ C_TI
    params.update(n=used, d_image=d_image, d_text=d_text, zero_rows_left_out=n - used,
                  text_features=dT, regularization=reg, ridge=ridge,
                  inverse=f"ridge (C_TT + {ridge:.3g} I)^-1, lambda = {reg:g} tr(C_TT) / n" if ridge > 0
                  else "exact pseudo-inverse")
    if used < 2 * dT:
        params["warning"] = (
            f"only {used:,} pairs for {dT:,} {'random Fourier' if kernel == 'rff' else 'text'} features: "
            + ("the ridge keeps the text features from reproducing the image features exactly, but the value "
               "is biased at this size" if ridge > 0 else "with the exact pseudo-inverse the text features can "
               "reproduce the image features (tr S -> 0, SCE -> 1) whatever the data")
            + f"; use at least {2 * dT:,} pairs" + (" or fewer frequencies" if kernel == "rff" else ""))
    return C_TT, C_TI, C_II, A


def _schur_score(S: np.ndarray) -> tuple[float, float, np.ndarray]:
    values = scipy.linalg.eigvalsh((S + S.T) / 2.0, check_finite=False)
    values = np.sort(np.clip(values, 1e-10, None))[::-1]
    total = values.sum()
    return float(np.exp(-(values * np.log(values / total)).sum())), float(np.trace(S)), values


def schur_complement_entropy(X_image, X_text, /, *, kernel: str = "linear", sigma: float = 3.5,
                             n_features: int = 2500, seed: int = 0,
                             regularization: float | str = "auto") -> SchurComplementEntropy:
    r"""Schur-complement entropy (SCE): diversity of one view not explained by a paired view.

    .. math::

        S = C_{II} - C_{TI}^\top C_{TT}^{+} C_{TI}, \qquad
        \mathrm{SCE} = \exp\Big(-\sum_i \lambda_i \log \frac{\lambda_i}{\sum_j \lambda_j}\Big)
        = \mathrm{VS}_1(\lambda / \operatorname{tr} S)^{\operatorname{tr} S}

    with ``C_AB = Phi_A^T Phi_B / n`` (uncentred), ``lambda = eig(S)`` clamped at 1e-10.
    ``D = C_TI^T C_TT^+ C_TI`` is the text-explained part: ``S + D = C_II``, ``tr S + tr D = 1``.

    Parameters
    ----------
    X_image : array-like or dask.array.Array of shape (n, d_I)
        The view whose diversity is measured (e.g. image embeddings).
    X_text : array-like or dask.array.Array of shape (n, d_T)
        The conditioning view, row-aligned (e.g. the prompts' text embeddings). When either
        view is a dask array, both are read once, chunk by chunk (a numpy view in the dask
        view's row chunks): each chunk gives ``Phi^T Phi`` of its stacked features in float64
        (the same map, and for RFF the same W from ``seed``), summed in a tree
        (:func:`core._dask.paired_feature_gram`); the rest is the in-memory computation, and
        ``params`` adds ``engine="dask"`` and ``chunks``.
    kernel : {"linear", "rff"}, default="linear"
        Feature map on unit-length rows: identity, or Gaussian random Fourier features
        ``[cos(W^T x), sin(W^T x)] / sqrt(D)``, ``W ~ N(0, sigma^-2 I)`` (the same W for both
        views when their dimensions agree).
    sigma : float, default=3.5
        RFF bandwidth (paper default).
    n_features : int, default=2500
        RFF frequencies D (paper default; the moment matrix is 4D x 4D -- heavy).
    seed : int, default=0
    regularization : float or "auto", default="auto"
        ``C_TT^+`` is replaced by the ridge inverse ``(C_TT + lambda I)^-1`` with
        ``lambda = regularization * tr(C_TT) / n`` (the variance n rows can resolve). ``"auto"``:
        1 for ``"rff"``, 0 (the exact pseudo-inverse) for ``"linear"``. Without it, RFF with
        ``n <= 2 * n_features`` rows lets the text features reproduce the image features
        exactly (tr S = 0, SCE = 1 for any data); with it, two independent 1,000 x 16 views
        (256 frequencies) give 1.261 against 1.258 from 100,000 pairs (exact inverse).

    Returns
    -------
    SchurComplementEntropy
        ``score``, ``trace_s``, ``text_score`` (same formula on D), ``trace_d`` and both spectra;
        ``params["ridge"]``, ``params["inverse"]`` and, when there are fewer than two pairs per
        text feature, ``params["warning"]``.

    Raises
    ------
    EmbedLensInputError
        Views of different lengths, every pair with a zero row, a bad kernel (not "linear" /
        "rff") / sigma / n_features (RFF only: sigma must be a positive finite number and
        n_features >= 1) / regularization (not "auto" or a finite number >= 0); either view not
        a 2-D numeric matrix (a dask view: or with unknown chunk sizes) or with NaN / inf rows
        (:class:`NonFiniteRowsError`, from :func:`core.check_paired`; for dask views found by
        the pass, all rows of the first view holding any listed).
    ValueError, TypeError
        From ``float(regularization)``, ``np.isfinite(sigma)`` or ``int(n_features)`` for a
        value that is not a number; not converted to :class:`EmbedLensInputError`.

    Notes
    -----
    Conventions: both views are scaled to unit rows first (cosine geometry, as the
    reference's normalised CLIP features); the moments are *uncentred*, unlike
    :func:`core.spectra.spectrum`'s default. Reference: A. Ospanov, M. Jalali, F. Farnia, "Dissecting CLIP: Decomposition with a Schur
    Complement-based Approach", 2024 (scendi-score ``scendi/metric/algorithm_utils.py``; its
    ``kernel='cosine'`` path is a different quantity). Pairs where either row is zero are left
    out. Cost: O(n (d_I + d_T)^2 + (d_I + d_T)^3); RFF with D frequencies: O(n D^2 + D^3).
    Hand-written: scendi-score needs torch and a GPU-oriented pipeline; this is numpy/scipy.
    The reference regularises the text covariance's inverse (in float32); here the ridge above.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 8))
    >>> print(round(schur_complement_entropy(X, X).score, 4))  # text explains everything
    1.0
    """
    C_TT, C_TI, C_II, A, _, _, params = _schur_parts(X_image, X_text, kernel=kernel, sigma=sigma,
                                                     n_features=n_features, seed=seed,
                                                     regularization=regularization)
    D = C_TI.T @ A
    score, trace_s, values = _schur_score(C_II - D)
    text_score, trace_d, text_values = _schur_score(D)
    return SchurComplementEntropy(score, trace_s, text_score, trace_d, values, text_values, kernel, params, A)


def defocus(X_image, X_text, /, *, kernel: str = "linear", sigma: float = 3.5, n_features: int = 2500,
            seed: int = 0, sce: SchurComplementEntropy | None = None,
            regularization: float | str = "auto") -> np.ndarray:
    r"""Text-removed ("defocused") embeddings: :math:`\tilde x = \phi_I(x) - \phi_T(t) A^*`.

    ``A* = C_TT^+ C_TI`` is the least-squares map from the text features to the image
    features, so ``x~`` is the part of each image embedding that its paired text does not
    predict (its covariance is the Schur complement S of :func:`schur_complement_entropy`).

    Parameters
    ----------
    X_image, X_text : array-like or dask.array.Array of shape (n, d_I) and (n, d_T)
        As in :func:`schur_complement_entropy`. When either is a dask array the result is a
        lazy dask array (the defocused rows of 100M items do not fit in memory either): the
        map ``A*`` is fitted now (one chunk-wise pass, or none with ``sce``) and applied chunk
        by chunk when the result is computed or stored (``.compute()``, ``.to_zarr(...)``).
    kernel, sigma, n_features, seed, regularization
        As in :func:`schur_complement_entropy`.
    sce : SchurComplementEntropy, optional
        The result of :func:`schur_complement_entropy` on the same views: its map ``A*``,
        kernel and RFF parameters are reused (no second pass for the moments).

    Returns
    -------
    ndarray or dask.array.Array of shape (n, d_I) (linear) or (n, 2 * n_features) (rff), float32
        Row-aligned with the input; a pair with a zero row keeps its rows' features (0 for
        the zero side). A dask array (in the dask view's row chunks) when either view is one.

    Raises
    ------
    EmbedLensInputError
        As :func:`schur_complement_entropy` (without ``sce``); with ``sce``, a map whose shape
        does not fit the views' feature dimensions ("sce was computed for other views").
        Views of different lengths or not valid matrices (from :func:`core.check_paired`).
    NonFiniteRowsError
        Rows holding NaN / inf (from :func:`core.check_paired`, or the pass of
        :func:`schur_complement_entropy`). Dask views with ``sce``: raised when the lazy result
        is computed, by the chunk holding them (its rows named).
    ValueError, TypeError
        As :func:`schur_complement_entropy`, for non-numeric options.

    Notes
    -----
    Conventions: unit rows (cosine), as :func:`schur_complement_entropy`. With ``sce`` only
    the map's shape is checked, not that it came from these rows.
    Reference: Ospanov, Jalali & Farnia, "Dissecting CLIP", 2024. Cost: as SCE plus
    O(n d_T d_I).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> print(round(float(np.abs(defocus(X, X)).max()), 6))  # identical views: nothing left
    0.0
    """
    (X_image, X_text), lazy = _paired(X_image, X_text)
    if sce is not None and sce.text_map is not None:
        p = sce.params
        kernel = sce.kernel
        if kernel == "rff":
            sigma, n_features, seed = p["sigma"], p["n_features"], p["seed"]
        phi_I, phi_T, _ = _feature_maps(X_image, X_text, kernel, sigma, n_features, seed)
        A = sce.text_map
        dI, dT = _feature_widths(X_image, X_text, kernel, n_features)
        if A.shape != (dT, dI):
            raise EmbedLensInputError(f"sce was computed for other views (map of shape {A.shape})", source="sce")
    else:
        _, _, _, A, phi_I, phi_T, _ = _schur_parts(X_image, X_text, kernel=kernel, sigma=sigma,
                                                   n_features=n_features, seed=seed,
                                                   regularization=regularization)
    mapped = partial(_defocused, phi_I=phi_I, phi_T=phi_T, A=A)
    if lazy:  # the fitted map, chunk by chunk, when the result is computed
        return _dask.map_paired_rows(mapped, [X_image, X_text], A.shape[1], names=("X_image", "X_text"))
    out = np.empty((X_image.shape[0], A.shape[1]), dtype=np.float32)
    for start in range(0, X_image.shape[0], 8192):
        sl = slice(start, start + 8192)
        out[sl] = mapped(X_image[sl], X_text[sl])
    return out


def _defocused(image: np.ndarray, text: np.ndarray, *, phi_I, phi_T, A: np.ndarray) -> np.ndarray:
    """``phi_I(x) - phi_T(t) A*`` of paired rows (float64)."""
    return phi_I(image) - phi_T(text) @ A


def _rebuild(cls, values: dict):
    return cls(**values)
