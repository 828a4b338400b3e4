"""One eigen-spectrum per (view, kernel, options), and the metrics read off it.

:func:`spectrum` makes one pass over ``X`` and returns a :class:`Spectrum`: the eigenvalues
(descending) of the covariance ``X^T X / n`` (linear / cosine kernels, centred or not) or of a
kernel matrix ``K / n`` (RBF). Every spectral metric -- participation ratio, effective rank,
RankMe, PCA-k, the power-law exponent here; Vendi, Hill numbers and coding rate in
:mod:`core.diversity` -- accepts either the data or a precomputed :class:`Spectrum`, so one
eigendecomposition feeds all of them.

Forms (what ``form="auto"`` resolves to, recorded in :attr:`Spectrum.form`):

``"dual"``
    linear / cosine kernel with d < n: the d x d second-moment matrix, O(n d^2 + d^3). The
    nonzero eigenvalues of ``X X^T / n`` (n x n) equal those of ``X^T X / n`` (d x d).
``"primal"``
    the n x n kernel matrix: linear / cosine with n <= d, or RBF with n <= ``max_n``;
    O(n^2 d + n^3).
``"subsample"``
    RBF with n > ``max_n``: the n x n form on a seeded subsample of ``max_n`` rows.
``"rff"``
    RBF with n > ``max_n`` and ``approx="rff"``: random Fourier features
    ``[cos(W^T x), sin(W^T x)] / sqrt(D)``, ``W ~ N(0, h^-2 I)``, in the dual form.

Memory: the dual form streams ``X`` in row blocks and never copies it. Blocks are formed in
float64 when ``n * d <= 2**25`` and otherwise in float32 (BLAS ``syrk``, about twice the speed
of float64) with the block products accumulated in float64; see :func:`spectrum` for why that
is accurate enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, fields, replace
from functools import partial
from types import MappingProxyType

import numpy as np
import scipy.linalg

from . import _dask
from ._dask import is_dask
from ._memory import matrix_bytes, require_memory
from ._numerics import eigvalsh_dc, median_pairwise_distance, pow2_scale, rescaled, row_norms, unit_rows
from ._sampling import subsample
from numbers import Integral, Real

from ._validation import (DROP_ROWS_HINT, SHARD_ROWS_HINT, EmbedLensInputError, Interval, StrOptions, check_embeddings, check_param,
                          invalid_message, nonfinite_rows, nonfinite_rows_error)

__all__ = [
    "Spectrum",
    "PowerLawFit",
    "spectrum",
    "participation_ratio",
    "stable_rank",
    "effective_rank",
    "rankme",
    "pca_k",
    "powerlaw_alpha",
    "KERNELS",
]

KERNELS = ("linear", "cosine", "rbf")
FLOAT64_MAX_ENTRIES = 2**25
"""``precision="auto"`` forms row blocks in float64 up to this many entries of X (n * d)."""
_EPS64 = np.finfo(np.float64).eps
_EPS32 = float(np.finfo(np.float32).eps)


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues of one covariance or kernel operator, with how they were obtained.

    Attributes
    ----------
    eigenvalues : ndarray of shape (m,), float64
        Descending, negative round-off clipped to 0. Linear / cosine: eigenvalues of the
        (centred) second moment ``X^T X / n`` (or, equally, of ``X X^T / n``); RBF: of ``K / n``
        (centred as ``H K H / n`` when ``center``). For cosine and uncentred RBF they sum to 1.
    n : int
        Rows the spectrum was computed from (after leaving out zero rows for the cosine
        kernel, or after subsampling).
    d : int
        Columns of the input.
    kernel : {"linear", "cosine", "rbf"}
    center : bool
    normalize : bool
        Whether rows were scaled to unit length first (always true for ``"cosine"``).
    form : {"dual", "primal", "subsample", "rff"}
        What ``form="auto"`` resolved to.
    params : Mapping
        Everything else used: ``n_input``, ``zero_rows_left_out``, ``bandwidth``, ``seed``,
        ``n_features``, ``block_dtype``, ``rank_tol``, ``mean_square_norm`` (the data's scale),
        ``degenerate`` and ``message`` (see :attr:`degenerate`), ...
    """

    eigenvalues: np.ndarray
    n: int
    d: int
    kernel: str = "linear"
    center: bool = True
    normalize: bool = False
    form: str = "dual"
    params: Mapping = field(default_factory=dict)
    moments: tuple | None = field(default=None, repr=False)
    """Private: ``("dual", mean, centred covariance)`` or ``("primal", uncentred K / n)``,
    kept so that :meth:`with_center` needs no second pass over the data."""

    def __post_init__(self) -> None:
        values = np.asarray(self.eigenvalues, dtype=np.float64)
        values = np.sort(np.clip(values, 0.0, None))[::-1].copy()
        values.flags.writeable = False
        object.__setattr__(self, "eigenvalues", values)
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __reduce__(self):  # the read-only params mapping does not pickle (st.cache_data pickles)
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["params"] = dict(self.params)
        return (_rebuild, (type(self), values))

    @classmethod
    def from_eigenvalues(cls, eigenvalues, *, n: int | None = None, d: int | None = None,
                         kernel: str = "linear", center: bool = True) -> Spectrum:
        """A spectrum you already have (e.g. from another tool); ``n``, ``d`` default to its length.

        >>> s = Spectrum.from_eigenvalues([4.0, 2.0, 1.0, 1.0])
        >>> print(round(participation_ratio(s), 6))  # 8^2 / 22
        2.909091
        """
        values = np.asarray(eigenvalues, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all():
            raise EmbedLensInputError("eigenvalues must be a non-empty list of finite numbers",
                                      source="eigenvalues")
        m = values.size
        params = {"rank_tol": float(np.abs(values).max() * m * _EPS64)}
        if not float(np.clip(values, 0.0, None).sum()) > 0:
            params.update(degenerate=True, message=_ZERO_MESSAGE)
        return cls(values, n=int(n or m), d=int(d or m), kernel=kernel, center=center,
                   form="given", params=params)

    @property
    def degenerate(self) -> bool:
        """Whether the total variance is zero relative to the data's scale (e.g. all rows identical).

        Every ratio read off a degenerate spectrum (explained-variance ratio, participation
        ratio, effective rank, PCA-k, alpha, Vendi, ...) is undefined: those functions return
        NaN and :attr:`message` says why. "Zero" means at most the rounding noise of the
        data's dtype: ``total <= mean_square_norm * max(16 d eps^2, 10 m eps64)`` (``eps`` of
        float32 for float32 data or blocks), so the noise left by centring identical rows counts.
        """
        return bool(self.params.get("degenerate", False)) or not self.total > 0

    @property
    def message(self) -> str | None:
        """Why the spectrum is degenerate (None when it is not)."""
        if not self.degenerate:
            return None
        return str(self.params.get("message") or _ZERO_MESSAGE)

    # ------------------------------------------------------------------ derived views

    @property
    def total(self) -> float:
        """Sum of the eigenvalues (total variance; 1 for the cosine and RBF kernels uncentred)."""
        return float(self.eigenvalues.sum())

    @property
    def rank_tol(self) -> float:
        """Eigenvalues at or below this are numerically zero: ``max * m * eps64`` (float32 blocks:
        at least ``10 * eps32 * max``, their measured noise floor)."""
        return float(self.params.get("rank_tol", 0.0))

    @property
    def nonzero(self) -> np.ndarray:
        """The eigenvalues above :attr:`rank_tol`."""
        return self.eigenvalues[self.eigenvalues > self.rank_tol]

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """``l / sum(l)``; all NaN for a :attr:`degenerate` spectrum (see :attr:`message`)."""
        if self.degenerate:
            return np.full_like(self.eigenvalues, np.nan)
        return self.eigenvalues / self.total

    @property
    def cumulative(self) -> np.ndarray:
        """Cumulative explained-variance ratio; ``cumulative[k-1]`` is the share of the top k."""
        return np.cumsum(self.explained_variance_ratio)

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values of the (centred) data matrix: ``sqrt(n * l)``."""
        return np.sqrt(self.n * self.eigenvalues)

    @property
    def label(self) -> str:
        """A short description, e.g. ``"cosine, centred, dual d x d"``."""
        parts = [self.kernel]
        if self.kernel == "rbf" and "bandwidth" in self.params:
            parts[0] += f" h={self.params['bandwidth']:.3g}"
        parts.append("centred" if self.center else "uncentred")
        seed = self.params.get("seed", 0)
        n_input = self.params.get("n_input", self.n)
        parts.append({"dual": "dual d x d", "primal": "n x n",
                      "subsample": f"seeded subsample of {self.n:,} of {n_input:,} rows (seed {seed})",
                      "rff": f"{self.params.get('n_features', 0):,} random Fourier frequencies (seed {seed})",
                      "given": "given"}.get(self.form, self.form))
        return ", ".join(parts)

    def with_center(self, center: bool) -> Spectrum:
        """The same operator centred or uncentred, from the stored moments (no pass over X)."""
        if center == self.center:
            return self
        if self.moments is None:
            raise EmbedLensInputError(
                f"this spectrum ({self.label}) keeps no moments, so it cannot be "
                f"{'centred' if center else 'uncentred'}; compute spectrum(X, center={center})",
                source="spectrum",
            )
        kind, *arrays = self.moments
        if kind == "dual":
            mean, cov = arrays
            matrix = cov if center else cov + np.outer(mean, mean)
        else:
            (gram,) = arrays
            matrix = _double_center(gram) if center else gram
        values = _eigvalsh(matrix, self.params.get("block_dtype", "float64"))
        params = dict(self.params)
        params["rank_tol"] = _rank_tol(values, matrix.shape[0], params.get("block_dtype", "float64"))
        params.update(_degeneracy(values, params.get("mean_square_norm", 0.0), matrix.shape[0], self.d,
                                  params.get("data_eps", _EPS64), center))
        return replace(self, eigenvalues=values, center=center, params=params)


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit of ``log l_i = c - alpha log i`` over ``i = start .. stop`` (1-based).

    ``alpha`` and ``r2`` are NaN when fewer than 3 eigenvalues are in range.
    """

    alpha: float
    intercept: float
    r2: float
    start: int
    stop: int

    @property
    def n_points(self) -> int:
        return max(0, self.stop - self.start + 1)

    def __float__(self) -> float:
        return float(self.alpha)


# --------------------------------------------------------------------------- the spectrum


def spectrum(
    X,
    /,
    *,
    kernel: str = "linear",
    center: bool = True,
    normalize: bool = False,
    form: str = "auto",
    bandwidth: float | None = None,
    max_n: int = 5000,
    approx: str = "subsample",
    n_features: int = 1024,
    seed: int = 0,
    precision: str = "auto",
    block_rows: int = 4096,
) -> Spectrum:
    r"""Eigen-spectrum of the covariance (linear / cosine) or kernel matrix (RBF) of ``X``.

    .. math::

        C = \frac1n \sum_i (x_i - \bar x)(x_i - \bar x)^\top, \qquad
        \lambda(C) = \lambda\!\left(\tfrac1n X_c X_c^\top\right) \setminus \{0\}

    Linear / cosine: the d x d ("dual") form when d < n, else the n x n ("primal") form. RBF
    ``k(x, y) = exp(-||x - y||^2 / (2 h^2))``: the n x n form of ``K / n`` up to ``max_n`` rows,
    then a seeded subsample of ``max_n`` rows or ``2 * n_features`` random Fourier features
    (``approx``); what was used is recorded in the result.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d)
        A dask array is read chunk by chunk (:func:`core._dask.feature_moments`: the same
        moments, summed in float64 over the chunks); forms that need rows (n x n, the RBF
        subsample) compute just those rows.
    kernel : {"linear", "cosine", "rbf"}, default="linear"
        ``"cosine"`` is the linear kernel on unit-length rows (zero rows are left out and
        counted in ``params["zero_rows_left_out"]``: their cosine is undefined).
    center : bool, default=True
        Subtract the mean (feature space) / double-centre ``H K H`` (kernel).
    normalize : bool, default=False
        Scale rows to unit length first (implied by ``"cosine"``).
    form : {"auto", "dual", "primal", "subsample", "rff"}, default="auto"
    bandwidth : float, optional
        RBF bandwidth ``h``; default the median pairwise distance of up to 1,000 seeded rows.
    max_n : int, default=5000
        Largest n for the exact n x n RBF form.
    approx : {"subsample", "rff"}, default="subsample"
        RBF above ``max_n``.
    n_features : int, default=1024
        Random frequencies for ``"rff"`` (2 * n_features features).
    seed : int, default=0
    precision : {"auto", "float64", "float32"}, default="auto"
        Dtype of the row blocks of the dual form. ``"auto"``: float64 when
        ``n * d <= 2**25``, else float32 blocks whose ``syrk`` products are summed in float64.
        A float32 X is then read in place (no copy) and centred through the mean outer
        product ``C = X^T X / n - m m^T``; when ``|m|^2 / tr C > 50`` (a mean that dwarfs the
        spread, where float32 products would lose the small eigenvalues) a second pass
        subtracts m first (``params["second_pass"]``). Measured error of the eigenvalues:
        about 1e-7 of the largest at ``|m|^2 / tr C = 93``.
    block_rows : int, default=4096
        Rows per block (memory: one block of ``block_rows x d``; all of X in one block when
        ``n <= 2 * block_rows``).

    Returns
    -------
    Spectrum
        Eigenvalues (descending, float64) with ``n`` (rows used), ``form``, ``params`` (rows
        left out, bandwidth, seed, block dtype, rank tolerance, degeneracy) and the moments.
        A zero spectrum is returned, flagged :attr:`Spectrum.degenerate`, not raised.

    Raises
    ------
    EmbedLensInputError
        ``kernel`` not in :data:`KERNELS`; ``precision`` not "auto" / "float64" / "float32";
        ``block_rows < 1``; a ``form`` the kernel does not have (linear / cosine: "dual",
        "primal"; RBF: "primal", "subsample", "rff"); RBF: ``approx`` not "subsample" / "rff",
        ``max_n < 2``, a bandwidth that is not a positive finite number; cosine (or
        ``normalize``): every row zero; float32 blocks whose second moments overflow even
        after rescaling. From :func:`core.check_embeddings`: ``X`` not a 2-D numeric matrix,
        no rows or columns. Rows holding NaN / inf: a plain :class:`EmbedLensInputError`
        naming them (not :class:`NonFiniteRowsError`; the data are read once, with
        ``allow_nonfinite=True``).
    ValueError, TypeError
        From ``int(block_rows)``, ``int(max_n)`` or ``np.isfinite(bandwidth)`` for a value that
        is not a number (these are not converted to :class:`EmbedLensInputError`).

    Notes
    -----
    Conventions: ``form="dual"`` here is the d x d feature-space second moment ``X^T X / n``
    and ``"primal"`` the n x n Gram / kernel matrix, following the ``vendi-score`` package
    (``score_dual`` works on ``X^T X``). Kernel-methods texts (SVMs, kernel PCA) use the
    opposite words: there the *primal* problem lives in feature space (d x d) and the *dual*
    in the n x n Gram matrix. The eigenvalues are those of ``C`` divided by n (numpy's
    ``np.cov`` divides by n - 1; scikit-learn's ``PCA.explained_variance_`` too), which
    cancels in every ratio read off them. The default ``kernel="linear"`` is Euclidean
    (raw inner products); the Vendi score, Hill curve and coding rate default to cosine.

    Cost: dual O(n d^2 + d^3) time, O(d^2 + block_rows d) extra memory, no copy of X;
    primal O(n^2 d + n^3) time, O(n^2) memory. Hand-written: scikit-learn's PCA copies and
    centres X in float64 (8 n d bytes); this streams X and keeps the moments for reuse.
    Reference: the dual/primal identity is the one used by the Vendi score's ``score_dual``
    (Friedman & Dieng, 2023).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> s = spectrum(X, kernel="cosine", center=False)
    >>> print(s.form, s.eigenvalues.round(3).tolist())
    dual [0.5, 0.5]
    """
    check_param("kernel", kernel, StrOptions(KERNELS, order=KERNELS))
    check_param("precision", precision, StrOptions({}, order=("auto", "float64", "float32")))
    check_param("block_rows", block_rows, Interval(Integral, 1, None, whole_floats=True))
    normalize = bool(normalize) or kernel == "cosine"
    # NaN / inf are found from the result (they poison the moments), so X is read only once.
    X = _dask.check_matrix(X) if is_dask(X) else check_embeddings(X, allow_nonfinite=True)
    n, d = X.shape
    if kernel == "rbf":
        return _rbf_spectrum(X, center=center, normalize=normalize, form=form, bandwidth=bandwidth,
                             max_n=max_n, approx=approx, n_features=n_features, seed=seed,
                             block_rows=block_rows)
    check_param("form", form, StrOptions({}, order=("auto", "dual", "primal")),
                hint=f"the forms of the {kernel} kernel")
    if form == "auto":
        form = "dual" if d < n else "primal"
    _guard_matrix(n if form == "primal" else d, form, n=n, d=d, block_rows=int(block_rows),
                  avoid=("use fewer rows (a sample) or the dual form (form='dual', a d x d matrix)" if form == "primal"
                         else "reduce the dimensions first (e.g. PCA), or use the primal form (form='primal', "
                              "an n x n matrix) when there are fewer rows than dimensions"))
    if form == "dual":
        mean, cov, used, pass_params = _moments_of(X)(X, normalize=normalize, precision=precision,
                                                      block_rows=int(block_rows))
        block_dtype = pass_params["block_dtype"]
        matrix = cov if center else cov + np.outer(mean, mean)
        moments = ("dual", mean, cov)
        scale2 = float(np.trace(cov)) + float(mean @ mean)
    else:
        _raise_nonfinite(X)
        Z, used = _rows(X, normalize)
        Z, s2 = (Z, 1.0) if normalize else rescaled(Z, dtype=np.float64)
        gram = (Z @ Z.T) * (s2 * s2 / used)
        matrix = _double_center(gram) if center else gram
        moments, block_dtype = ("primal", gram), "float64"
        scale2 = float(np.trace(gram))
    values = _eigvalsh(matrix, block_dtype)
    data_eps = _data_eps(X, block_dtype)
    params = {"n_input": n, "zero_rows_left_out": n - used, "block_dtype": block_dtype,
              "rank_tol": _rank_tol(values, matrix.shape[0], block_dtype),
              "mean_square_norm": scale2, "data_eps": data_eps}
    params.update(_degeneracy(values, scale2, matrix.shape[0], d, data_eps, center))
    if form == "dual":
        params.update(pass_params)
    return Spectrum(values, n=used, d=d, kernel=kernel, center=bool(center), normalize=normalize,
                    form=form, params=params, moments=moments)


_ZERO_MESSAGE = "the spectrum is zero, so its ratios are undefined"


def _data_eps(X: np.ndarray, block_dtype: str) -> float:
    """Relative rounding of the values the moments were formed from (float32 data or blocks: eps32)."""
    small = X.dtype.kind == "f" and X.dtype.itemsize <= 4 or X.dtype.kind in "iub"
    return _EPS32 if small or block_dtype == "float32" else _EPS64


def _degeneracy(values: np.ndarray, scale2: float, m: int, d: int, data_eps: float, center: bool) -> dict:
    """``{"degenerate", "message"}``: is the total variance zero relative to the data's scale?

    ``scale2`` is the mean squared row norm (the uncentred trace). Rounding of the data (``eps``
    relative, so ``d eps^2`` of ``scale2`` in variance) and of the float64 moments (``m eps64``
    relative, from cancellation when centring) both count as zero.
    """
    total = float(np.clip(values, 0.0, None).sum())
    tol = float(scale2) * max(16.0 * d * data_eps**2, 10.0 * m * _EPS64)
    if total > tol and total > 0:
        return {"degenerate": False, "message": None}
    if not scale2 > 0:
        msg = "all rows are zero: the spectrum is zero, so its ratios are undefined"
    elif center:
        msg = "all rows are identical: the covariance is zero, so ratios are undefined"
    else:
        msg = _ZERO_MESSAGE
    return {"degenerate": True, "message": msg}


def _rank_tol(values: np.ndarray, m: int, block_dtype: str) -> float:
    """``max * m * eps64``; float32 blocks: at least ``10 * eps32 * max`` (their measured noise floor)."""
    top = float(values.max()) if values.size else 0.0
    rel = m * _EPS64 if block_dtype != "float32" else max(m * _EPS64, 10 * _EPS32)
    return float(top * rel)


def _eigvalsh(matrix: np.ndarray, block_dtype: str = "float64") -> np.ndarray:
    """Eigenvalues, descending, clipped at 0, of the symmetrised float64 ``matrix``.

    For moments formed from float32 blocks the solve is done in float32 too (LAPACK ``ssyevr``):
    about 1.4x faster at d = 384, and its error (about ``eps32 * l_1``) stays below those blocks'
    own noise floor, :func:`_rank_tol`'s ``10 eps32 l_1``.
    """
    matrix = (matrix + matrix.T) / 2.0
    if block_dtype == "float32":
        unit = pow2_scale(matrix)  # float32 holds neither 1e-48 nor 1e40: solve at unit scale, exactly
        values = scipy.linalg.eigvalsh((matrix / unit).astype(np.float32), check_finite=False).astype(np.float64)
        values *= unit
    else:
        values = eigvalsh_dc(matrix)
    return np.clip(values[::-1], 0.0, None)


def _double_center(K: np.ndarray) -> np.ndarray:
    """``H K H`` with ``H = I - 11^T / n``, without forming H."""
    row = K.mean(axis=0)
    return K - row[None, :] - row[:, None] + row.mean()


def _raise_nonfinite(X: np.ndarray, name: str = "X") -> None:
    bad = _dask.nonfinite_rows(X) if is_dask(X) else nonfinite_rows(X)
    if len(bad):
        raise nonfinite_rows_error(bad, X.shape[0], source=name,
                                   hint=SHARD_ROWS_HINT if is_dask(X) else DROP_ROWS_HINT)


def _rows(X: np.ndarray, normalize: bool) -> tuple[np.ndarray, int]:
    """Float64 copy of the rows (unit length and without zero rows when ``normalize``)."""
    if not normalize:
        Z = np.asarray(X, dtype=np.float64)
        return Z, len(Z)
    Z, norms = unit_rows(X, dtype=np.float64)  # scale-safe at any float32 / float64 magnitude
    keep = norms > 0
    if not keep.any():
        raise EmbedLensInputError(
            f"all {len(Z)} rows are zero vectors, so their cosine similarity is undefined; "
            "use kernel='linear' or load non-zero embeddings", source="X")
    Z = Z if keep.all() else Z[keep]
    return Z, len(Z)


SHIFT_RATIO = 50.0
"""Float32 blocks of X itself are used without centring when ``|mean|^2 / tr(C)`` is at most this;
above it, a second pass subtracts the mean first (see :func:`_feature_moments`)."""


SHIFT_RATIO_64 = 1e4
"""The same for float64 blocks of unit rows (the moments lose about ``ratio * eps64`` relative)."""
_DASK_LIMITS = _dask.MomentLimits(FLOAT64_MAX_ENTRIES, SHIFT_RATIO, SHIFT_RATIO_64)


def _moments_of(X):
    """:func:`_feature_moments`, or its chunk-wise twin :func:`core._dask.feature_moments` for a dask array."""
    return partial(_dask.feature_moments, limits=_DASK_LIMITS) if is_dask(X) else _feature_moments


def _one_read(X):
    """For a dask array, a context in which the linear and cosine moments come from one read of it."""
    if not is_dask(X):
        return nullcontext()
    return _dask.shared_pass(X, [{"normalize": False}, {"normalize": True}], limits=_DASK_LIMITS)


def _feature_moments(
    X: np.ndarray,
    *,
    normalize: bool = False,
    precision: str = "auto",
    block_rows: int = 4096,
    transform=None,
    dim: int | None = None,
    name: str = "X",
) -> tuple[np.ndarray, np.ndarray, int, dict]:
    """Mean and centred covariance (float64) of the rows of ``X`` (or of ``transform(rows)``).

    Streams X in blocks of ``block_rows`` rows; each block's ``syrk`` product (numpy runs
    ``A.T @ A`` as BLAS syrk) is added to a float64 sum, and ``C = G / n - m m^T``.

    Float64 blocks (small X, or RFF features) are copies anyway, so the copy also subtracts a
    pilot mean (of the first block). Float32 blocks of a float32 X are views: no copy at all,
    so the float32 products see the uncentred rows. Measured on 300k x 384 float32 against
    float64 (4096-row blocks): the largest eigenvalue error is 1.6e-8, 1.3e-8, 1.2e-7, 1.1e-6
    of the top eigenvalue at ``|mean|^2 / tr(C)`` = 0, 7, 93, 958 -- so above ``SHIFT_RATIO``
    (50) a second pass subtracts the (now known) mean first, and the result says so.
    Returns ``(mean, cov, rows used, params)``.
    """
    n, d = X.shape
    dim = d if dim is None else dim
    if precision == "auto":
        precision = "float64" if n * max(d, dim) <= FLOAT64_MAX_ENTRIES else "float32"
    dtype = np.float64 if precision == "float64" else np.float32
    views = (dtype == np.float32 and X.dtype == np.float32 and X.flags.c_contiguous and not normalize
             and transform is None)
    # float64 blocks of unit rows (the Vendi / coding-rate path) skip the pilot shift, which costs
    # two more passes over each block; |mean| <= 1 there, and a second pass below catches a mean
    # that dwarfs the spread (rows of nearly one direction)
    unit_rows64 = dtype == np.float64 and normalize and transform is None
    shift = None if dtype == np.float32 or unit_rows64 else "pilot"
    params = {"block_dtype": precision, "block_rows": int(block_rows), "second_pass": False}
    acc, col, used, shift = _moment_pass(X, dtype, int(block_rows), normalize, transform, dim, shift, views,
                                         name, check=True)
    scale = 1.0
    if acc is None:  # products overflowed or underflowed in the block dtype: rescale by a power of two
        scale = pow2_scale(X)
        params["rescaled_by"] = scale
        acc, col, used, shift = _moment_pass(X, dtype, int(block_rows), normalize, transform, dim, "pilot",
                                             False, name, scale=scale)
    m = col / used
    mean = shift + m
    cov = acc / used - np.outer(m, m)
    if dtype == np.float32 or unit_rows64:
        ratio = float(mean @ mean) / max(float(np.trace(cov)), np.finfo(np.float64).tiny)
        params["mean_to_variance"] = ratio
        if ratio > (SHIFT_RATIO if dtype == np.float32 else SHIFT_RATIO_64):
            acc, col, used, shift = _moment_pass(X, dtype, int(block_rows), normalize, transform, dim,
                                                 mean.astype(dtype), False, name, scale=scale)
            m = col / used
            mean = shift + m
            cov = acc / used - np.outer(m, m)
            params["second_pass"] = True
    if scale != 1.0:
        mean, cov = mean * scale, cov * (scale * scale)
    return mean, (cov + cov.T) / 2.0, used, params


_SAFE_SQ = {np.dtype(np.float32): (2.0**-100, 2.0**100), np.dtype(np.float64): (2.0**-900, 2.0**900)}
"""Squared norms inside these bounds are exact enough in the block dtype; outside, :func:`row_norms`."""


def _unit_scale(block: np.ndarray, dtype, X, name) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, 1 / ||row||)`` for one block: scale-safe over the whole float32 / float64 range.

    The squares are formed in the block dtype (fast); rows whose square over- or underflows
    there (or holds NaN / inf) get their norm from :func:`core._numerics.row_norms` instead.
    """
    wide = block if dtype == np.float32 else np.asarray(block, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sq = np.einsum("ij,ij->i", wide, wide)
    lo, hi = _SAFE_SQ[np.dtype(sq.dtype)]
    norms = np.sqrt(sq, dtype=np.float64)
    suspicious = ~((sq >= lo) & (sq <= hi))  # NaN / inf, over- or underflow, or a zero row
    if suspicious.any():
        norms[suspicious] = row_norms(block[suspicious])
        if not np.isfinite(norms).all():
            _raise_nonfinite(X, name)
    keep = norms > 0
    return keep, 1.0 / norms[keep]


def _moment_pass(X, dtype, b, normalize, transform, dim, shift, views, name, *, check=False, scale=1.0):
    """One pass: ``(sum of (x - shift)(x - shift)^T, sum of (x - shift), rows, shift)`` in float64.

    ``scale``: a power of two the rows are divided by first (exact). ``check``: return
    ``(None, ...)`` instead of raising when the products over- or underflow in ``dtype``
    (the caller then rescales).
    """
    n = X.shape[0]
    unit = 1.0 / float(scale)
    b = n if n <= 2 * b else max(1, b)  # up to 2 blocks' worth: one BLAS call (a small tail block is slow)
    buf = None if views else np.empty((b, dim), dtype=dtype)
    ones = np.ones(b, dtype=dtype)
    acc = np.zeros((dim, dim), dtype=np.float64)
    col = np.zeros(dim, dtype=np.float64)
    used = 0
    for start in range(0, n, b):
        block = X[start:start + b]
        scale = None
        if normalize:
            keep, inv = _unit_scale(block, dtype, X, name)
            if not keep.all():
                block = block[keep]
            small = dtype == np.float32 and not (inv.size == 0 or (inv.max() < 2.0**120 and inv.min() > 2.0**-120))
            scale = (inv if small else inv.astype(dtype))[:, None]
        elif unit != 1.0:
            scale = np.full((1, 1), unit)  # float64: 1 / scale may not fit the block dtype
        if transform is not None:
            block = transform(block if scale is None else block * scale)
            scale = None
        k = len(block)
        if k == 0:
            continue
        if isinstance(shift, str):  # "pilot": the mean of the first block
            first = block if scale is None else block * scale
            shift = np.mean(first, axis=0, dtype=np.float64).astype(dtype)
        if views:
            out = block
        else:
            out = buf[:k]
            if scale is not None:
                np.multiply(block, scale, out=out, casting="unsafe")
                if shift is not None:
                    out -= shift
            elif shift is not None:
                np.subtract(block, shift, out=out, casting="unsafe")
            else:
                out[...] = block
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # checked after the pass
            acc += out.T @ out  # BLAS syrk: numpy detects A.T @ A on one buffer
            col += ones[:k] @ out  # BLAS gemv on the block just read (in cache)
        used += k
    if used == 0:
        raise EmbedLensInputError(
            f"all {n} rows are zero vectors, so their cosine similarity is undefined; "
            "use kernel='linear' or load non-zero embeddings", source=name)
    finite = np.isfinite(acc).all() and np.isfinite(col).all()
    if not finite:
        _raise_nonfinite(X, name)
    # mean square below ~1e8 x the dtype's smallest normal: products may have underflowed
    tiny = float(np.finfo(dtype).tiny) * 1e8
    if check and transform is None and not normalize:
        suspicious = not finite
        if finite:
            m = col / used
            full = m if shift is None or isinstance(shift, str) else m + np.asarray(shift, dtype=np.float64)
            suspicious = np.trace(acc) / used - m @ m + full @ full < tiny  # the uncentred mean square
        if suspicious and pow2_scale(X) != 1.0:
            return None, None, used, None
    if not finite:
        raise EmbedLensInputError(
            "the second moments overflowed (entries too large for float32); rescale X", source=name)
    shift = np.zeros(dim) if shift is None else np.asarray(shift, dtype=np.float64)
    return acc, col, used, shift


def _median_distance(X: np.ndarray, seed: int, *, sample: int = 1000, normalize: bool = False) -> float:
    """The median pairwise distance of a seeded sample of ``sample`` rows (of a dask array, only those are read)."""
    idx = subsample(X.shape[0], sample, seed=seed).rows
    Z, _ = _rows(_dask.sample_rows(X, idx), normalize)
    return median_pairwise_distance(Z)


def _guard_matrix(side: int, form: str, *, n: int, d: int, block_rows: int, avoid: str) -> None:
    """Refuse (:func:`core._memory.require_memory`) a spectrum whose ``side x side`` matrix does not fit.

    Peak: the moment / kernel matrix, its centred and symmetrised copies and the eigen-solver's
    work space (5 float64 matrices), plus a float64 copy of the rows (primal forms) or one
    block of them and its products (dual forms).
    """
    rows = matrix_bytes(n, d) if form in ("primal", "subsample") else matrix_bytes(min(block_rows, n), d, copies=3)
    require_memory(matrix_bytes(side, copies=5) + rows,
                   what=f"the {form} spectrum's {side:,} x {side:,} float64 matrix (n = {n:,}, d = {d:,})",
                   avoid=avoid)


def _rbf_gram(Z: np.ndarray, bandwidth: float) -> np.ndarray:
    from sklearn.metrics.pairwise import rbf_kernel

    return rbf_kernel(Z, gamma=1.0 / (2.0 * bandwidth**2))


def _rbf_spectrum(X, *, center, normalize, form, bandwidth, max_n, approx, n_features, seed,
                  block_rows) -> Spectrum:
    n, d = X.shape
    _raise_nonfinite(X)
    check_param("approx", approx, StrOptions({"subsample", "rff"}))
    check_param("max_n", max_n, Interval(Integral, 2, None, whole_floats=True))
    check_param("form", form, StrOptions({}, order=("auto", "primal", "subsample", "rff")),
                hint="the forms of the rbf kernel")
    if form == "auto":
        form = "primal" if n <= max_n else approx
    if bandwidth is None:
        bandwidth = _median_distance(X, seed, normalize=normalize)
        rule = "median pairwise distance"
    else:
        rule = "given"
    check_param("bandwidth", bandwidth, Interval(Real, 0, np.inf, closed="neither"))
    params = {"n_input": n, "bandwidth": float(bandwidth), "bandwidth_rule": rule, "seed": int(seed)}
    if rule != "given":  # the median is taken over a seeded sample of rows
        params["bandwidth_sample"] = min(1000, n)
    if form == "rff":
        _guard_matrix(2 * int(n_features), "random-feature", n=n, d=2 * int(n_features), block_rows=4096,
                      avoid="use fewer random features (n_features)")
        rng = np.random.default_rng(seed)
        W = (rng.standard_normal((d, int(n_features))) / bandwidth).astype(np.float64)
        D = int(n_features)

        def features(block):
            P = np.asarray(block, dtype=np.float64) @ W
            return np.hstack([np.cos(P), np.sin(P)]) / np.sqrt(D)

        mean, cov, used, pass_params = _moments_of(X)(
            X, normalize=normalize, precision="float64", block_rows=min(block_rows, 4096),
            transform=features, dim=2 * D)
        block_dtype = pass_params["block_dtype"]
        matrix = cov if center else cov + np.outer(mean, mean)
        values = _eigvalsh(matrix)
        scale2 = float(np.trace(cov)) + float(mean @ mean)
        params.update(n_features=D, zero_rows_left_out=n - used, block_dtype=block_dtype,
                      rank_tol=_rank_tol(values, matrix.shape[0], block_dtype), mean_square_norm=scale2,
                      data_eps=_data_eps(X, block_dtype), method="random Fourier features")
        params.update(_degeneracy(values, scale2, matrix.shape[0], d, params["data_eps"], center))
        return Spectrum(values, n=used, d=d, kernel="rbf", center=bool(center), normalize=normalize,
                        form="rff", params=params, moments=("dual", mean, cov))
    rows = X
    m = min(n, int(max_n)) if form == "subsample" else n
    _guard_matrix(m, "primal", n=m, d=d, block_rows=int(block_rows),
                  avoid="use a smaller sample (max_n) or random Fourier features (approx='rff')")
    if form == "subsample" and n > max_n:
        idx = subsample(n, int(max_n), seed=seed).rows
        rows = _dask.sample_rows(X, idx)  # of a dask X only those rows are read
        params["subsample"] = int(max_n)
    Z, used = _rows(rows, normalize)
    gram = _rbf_gram(Z, bandwidth) / max(used, 1)
    matrix = _double_center(gram) if center else gram
    values = _eigvalsh(matrix)
    scale2 = float(np.trace(gram))
    params.update(zero_rows_left_out=len(rows) - used, block_dtype="float64",
                  rank_tol=_rank_tol(values, matrix.shape[0], "float64"), mean_square_norm=scale2,
                  data_eps=_data_eps(X, "float64"),
                  method="seeded uniform subsample" if "subsample" in params else "exact n x n")
    params.update(_degeneracy(values, scale2, matrix.shape[0], d, params["data_eps"], center))
    return Spectrum(values, n=used, d=d, kernel="rbf", center=bool(center), normalize=normalize,
                    form=form, params=params, moments=("primal", gram))


def as_spectrum(X, **options) -> Spectrum:
    """``X`` itself when it is a :class:`Spectrum`, else ``spectrum(X, **options)``.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
    **options
        Keyword options of :func:`spectrum`; ignored (not checked) when ``X`` is a Spectrum.

    Returns
    -------
    Spectrum

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` (bad options, a matrix that is not 2-D numeric, NaN / inf rows).
    """
    return X if isinstance(X, Spectrum) else spectrum(X, **options)


# --------------------------------------------------------------------------- summaries


def participation_ratio(X, /) -> float:
    r"""Participation ratio of the covariance spectrum, :math:`(\sum_i l_i)^2 / \sum_i l_i^2`.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
        Data (its centred linear spectrum is used) or a precomputed :class:`Spectrum`.

    Returns
    -------
    float
        In ``[1, rank]``; NaN for a degenerate spectrum (all points identical: see
        :attr:`Spectrum.message`).

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).

    Notes
    -----
    Conventions: on data, the *centred* Euclidean (linear-kernel) covariance spectrum, as in
    Gao et al.; pass ``spectrum(X, kernel="cosine")`` for the cosine version. Equals the Hill number D_2 of the explained-variance ratio. Reference: Gao, Trautmann,
    Yu et al., "A theory of multineuronal dimensionality, dynamics and measurement" (2017);
    METRICS.md section 1. Cost: one spectrum, O(n d^2 + d^3).

    Examples
    --------
    >>> X = np.diag([1.0, 1.0, 1.0, 1.0])
    >>> print(round(participation_ratio(X), 6))
    3.0
    """
    s = as_spectrum(X)
    if s.degenerate:
        return float("nan")
    values = s.eigenvalues
    return float(values.sum() ** 2 / float((values**2).sum()))


def stable_rank(X, /) -> float:
    r"""Stable rank of the centred data, :math:`\|X_c\|_F^2 / \|X_c\|_2^2 = \sum_i l_i / l_1`.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
        Data (its centred linear spectrum is used) or a precomputed :class:`Spectrum`.

    Returns
    -------
    float
        In ``[1, rank]``: the total variance in units of the largest direction's; NaN for a
        degenerate spectrum (all points identical: see :attr:`Spectrum.message`).

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).

    Notes
    -----
    Conventions: like :func:`participation_ratio`, on the *centred* covariance spectrum; a
    ``Spectrum`` of another kernel gives that kernel's version. Always at most the
    participation ratio (``sum l_i^2 <= l_1 sum l_i``), equal to it for a flat spectrum; unlike
    it, one dominant direction alone sets it. Reference: Rudelson &
    Vershynin, "Sampling from large matrices: an approach through geometric functional
    analysis" (J. ACM, 2007). Cost: one spectrum, O(n d^2 + d^3).

    Examples
    --------
    >>> X = np.diag([1.0, 1.0, 1.0, 1.0])
    >>> print(round(stable_rank(X), 6))
    3.0
    """
    s = as_spectrum(X)
    if s.degenerate:
        return float("nan")
    values = s.eigenvalues
    return float(values.sum() / values[0])


def effective_rank(X, /) -> float:
    r"""Effective rank (Roy & Vetterli, 2007): :math:`\exp(H_1(s / \sum s))`, s = singular values.

    The singular values of the centred data matrix are ``sqrt(n * l)``, so ``p`` is
    proportional to ``sqrt(l)`` -- not to ``l`` as in the Vendi score of the same matrix.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum

    Returns
    -------
    float
        In ``[1, rank]``; NaN for a degenerate spectrum (:attr:`Spectrum.degenerate`).

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).

    Notes
    -----
    Conventions: on data, the *centred* Euclidean spectrum (Roy & Vetterli centre nothing:
    they take any matrix; :func:`rankme` is the uncentred variant). Reference: O. Roy and M. Vetterli, "The effective rank: a measure of effective
    dimensionality", EUSIPCO 2007. Cost: one spectrum.

    Examples
    --------
    >>> print(round(effective_rank(Spectrum.from_eigenvalues([1.0, 1.0, 0.0])), 6))
    2.0
    """
    s = as_spectrum(X)
    if s.degenerate:
        return float("nan")
    return _exp_entropy(np.sqrt(s.nonzero))


def rankme(X, /, *, eps: float = 1e-7) -> float:
    r"""RankMe (Garrido et al., 2023): effective rank of the *uncentred* embedding matrix.

    .. math:: p_k = \sigma_k / \lVert\sigma\rVert_1 + \epsilon, \qquad
              \mathrm{RankMe} = \exp\left(-\sum_k p_k \log p_k\right)

    over the ``min(n, d)`` singular values ``sigma`` of X (no centring).

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
        A centred :class:`Spectrum` is uncentred from its stored moments (no second pass).
    eps : float, default=1e-7
        Added to every ``p_k`` (as in the paper); not checked, so a negative ``eps``
        can give NaN.

    Returns
    -------
    float
        ``exp`` of the entropy, about ``[1, min(n, d)]``; NaN for a degenerate spectrum.

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).
        A :class:`Spectrum` that is centred and keeps no moments (e.g.
        :meth:`Spectrum.from_eigenvalues` with the default ``center=True``): it cannot be
        uncentred.

    Notes
    -----
    Reference: Q. Garrido, R. Balestriero, L. Najman, Y. LeCun, "RankMe: Assessing the
    downstream performance of pretrained self-supervised representations by their rank",
    ICML 2023. Cost: one spectrum (plus a d x d eigendecomposition when uncentring).

    Examples
    --------
    >>> print(round(rankme(np.eye(3)), 4))
    3.0
    """
    s = as_spectrum(X, center=False).with_center(False)
    if s.degenerate:
        return float("nan")
    sigma = np.sqrt(s.n * s.eigenvalues[: min(s.n, s.d)])
    total = sigma.sum()
    p = sigma / total + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def pca_k(X, /, *, share: float = 0.90) -> int:
    """PCA-k: the fewest principal components whose explained variance reaches ``share``.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
    share : float in (0, 1], default=0.90

    Returns
    -------
    int or float
        The count; NaN (a float) for a degenerate spectrum (:attr:`Spectrum.degenerate`).

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).
        ``share`` outside (0, 1] (NaN included), checked first.
    TypeError
        From the comparison ``0 < share`` when ``share`` is not a number.

    Notes
    -----
    Conventions: on data, the centred Euclidean spectrum (scikit-learn's
    ``PCA(n_components=share)`` picks the same k, up to the 1e-12 slack). METRICS.md section 1. A relative slack of 1e-12 absorbs round-off (k equal eigenvalues
    reach a share of exactly j/k at component j). Cost: one spectrum.

    Examples
    --------
    >>> print(pca_k(Spectrum.from_eigenvalues([5.0, 3.0, 1.0, 1.0]), share=0.9))
    3
    """
    check_param("share", share, Interval(Real, 0, 1, closed="right"), hint="e.g. 0.9 or 0.95")
    s = as_spectrum(X)
    if s.degenerate:
        return float("nan")
    cum = s.cumulative
    return int(np.searchsorted(cum, share - 1e-12) + 1)


def powerlaw_alpha(X, /, *, fit_range: tuple[int, int] | None = None, share: float = 0.99,
                   floor: float = 1e-12) -> PowerLawFit:
    r"""Power-law decay exponent alpha of the eigen-spectrum (alpha-ReQ; Agrawal et al., 2022).

    Least squares of :math:`\log l_i = c - \alpha \log i` over ``i = start .. stop``.

    Parameters
    ----------
    X : array-like of shape (n, d) or Spectrum
    fit_range : (int, int), optional
        1-based inclusive ``(start, stop)``. Default: ``i = 1`` to the PCA-``share`` index,
        leaving out eigenvalues below ``floor`` times the largest.
    share : float, default=0.99
    floor : float, default=1e-12

    Returns
    -------
    PowerLawFit
        ``alpha``, ``intercept``, ``r2`` and the range used; NaN alpha when fewer than 3
        eigenvalues are in range or the spectrum is degenerate.

    Raises
    ------
    EmbedLensInputError
        From :func:`spectrum` when ``X`` is data: not a 2-D numeric matrix, no rows, or rows
        holding NaN / inf (the message names them).
        A ``fit_range`` outside ``1 <= start <= stop <= m`` (m eigenvalues); with the default
        range, a ``share`` outside (0, 1] (from :func:`pca_k`).

    Notes
    -----
    Conventions: on data, the centred Euclidean spectrum; ``alpha`` is reported positive for
    a decaying spectrum (``l_i ~ i^-alpha``).

    Reference: K. K. Agrawal, A. K. Mondal, A. Ghosh, B. Richards, "alpha-ReQ: Assessing
    representation quality in self-supervised learning by measuring eigenspectrum decay",
    NeurIPS 2022. Cost: one spectrum plus O(d).

    Examples
    --------
    >>> fit = powerlaw_alpha(Spectrum.from_eigenvalues(np.arange(1, 101) ** -1.5))
    >>> print(round(fit.alpha, 6), round(fit.r2, 6))
    1.5 1.0
    """
    s = as_spectrum(X)
    if s.degenerate:
        return PowerLawFit(float("nan"), float("nan"), float("nan"), 1, 0)
    values = s.eigenvalues
    top = float(values[0]) if values.size else 0.0
    positive = int((values > floor * top).sum()) if top > 0 else 0
    if fit_range is None:
        start = 1
        stop = min(pca_k(Spectrum.from_eigenvalues(values), share=share), positive) if top > 0 else 0
    else:
        start, stop = (int(v) for v in fit_range)
        if not (1 <= start <= stop <= values.size):
            raise EmbedLensInputError(invalid_message(
                "fit_range", fit_range, expected=f"a pair (start, stop) with 1 <= start <= stop <= {values.size}",
                hint="1-based, inclusive"))
        stop = min(stop, positive)
    if stop - start + 1 < 3:
        return PowerLawFit(float("nan"), float("nan"), float("nan"), start, max(stop, start - 1))
    i = np.arange(start, stop + 1, dtype=np.float64)
    x, y = np.log(i), np.log(values[start - 1:stop])
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return PowerLawFit(float(-slope), float(intercept), r2, start, stop)


def _exp_entropy(weights: np.ndarray) -> float:
    """``exp(H_1(w / sum w))`` with ``0 log 0 = 0``; 0 for an empty or zero vector."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[w > 0]
    if w.size == 0:
        return 0.0
    p = w / w.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def _rebuild(cls, values: dict):
    return cls(**values)
