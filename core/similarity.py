"""Comparing views of the same items: CKA, Procrustes, mutual kNN, RSA, CCA (METRICS.md section 8).

Every function takes two views positionally (``X`` and ``Y``: the same n items, in the same
order, any widths) and options keyword-only, accepts any array-like (numpy, memory-mapped), and
returns a :class:`Similarity` (a ``float`` that names its metric, variant, rows and seed) or a
small frozen result holding one.

Linear statistics are computed in feature space from one pass over row blocks
(:func:`_cross_stats`): the centred cross products ``Xc^T Yc`` (d_X x d_Y), never an n x n
matrix. :func:`pairwise_matrix` shares them across every pair of views (one concatenated
centred Gram per group of views), one kNN graph per view for mutual kNN, and one rank vector
per view for RSA. A ``dask.array.Array`` view is read chunk by chunk: the same products from
:func:`core._dask.cross_moments` feed the same formulas (:class:`_Cross`); the sampled metrics
(RBF CKA, RSA) read their seeded sample's rows only; mutual kNN points to
:func:`core.sampled_knn_metric`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import scipy.linalg

from . import _dask
from ._memory import format_bytes, matrix_bytes, require_memory
from ._numerics import cosine_distances, median_pairwise_distance, pow2_scale
from ._sampling import subsample
from ._validation import (
    EmbedLensInputError,
    Interval,
    NonFiniteRowsError,
    StrOptions,
    check_embeddings,
    check_param,
    first_items,
    plural,
)

__all__ = [
    "COMPARISON_METRICS",
    "SINGLE_VIEW_METRICS",
    "PairwiseMatrix",
    "ProcrustesResult",
    "MutualKNN",
    "Similarity",
    "cca_similarity",
    "cka",
    "linear_regression_r2",
    "mutual_knn",
    "pairwise_matrix",
    "procrustes_distance",
    "rsa",
    "trajectory",
]

COMPARISON_METRICS = ("cka", "cka_debiased", "procrustes", "mutual_knn", "rsa", "cca")
"""Metric keys of :func:`pairwise_matrix` and of :func:`trajectory` with a reference view."""

SINGLE_VIEW_METRICS = ("effective_rank", "participation_ratio", "stable_rank", "rankme", "alpha", "vendi",
                       "intrinsic_dimension", "nc1")
"""Metric keys :func:`trajectory` computes on each view alone (``nc1`` needs ``labels=``)."""

_GRAM_DIMS = 4096
"""Most concatenated view dimensions held in one centred Gram (a 4096 x 4096 float64 block is
128 MB); wider sets of views are processed as pairs of groups."""
_BLOCK_ELEMENTS = 1 << 21
"""Elements of one float64 row block (16 MB): rows per block = this / concatenated width."""
_KERNEL_BUDGET = 512 << 20
"""Bytes of n x n float64 kernels RBF CKA's pairwise matrix holds at once."""
_RANK_TOL = 1e-12
"""Eigenvalues of a centred Gram below ``_RANK_TOL * d * max`` count as absent directions (CCA,
regression): the Gram's own rounding is about ``d * eps * max``."""


# --------------------------------------------------------------------------- results


class Similarity(float):
    """A comparison score (a ``float``) that says what it is.

    Attributes
    ----------
    metric : str
        ``"cka"``, ``"procrustes"``, ``"mutual_knn"``, ``"rsa"``, ``"cca"`` or ``"linreg_r2"``.
    variant : str
        E.g. ``"linear, debiased"``, ``"angular"``, ``"k=10, cosine"``.
    label : str
        For a card: ``"CKA (linear, debiased)"``.
    n : int
        Rows used.
    n_input : int
        Rows given.
    seed : int or None
        Of the subsample (None unless rows were sampled).
    method : str
        How it was computed: ``"feature space"``, ``"seeded uniform subsample of 2,000 rows"``,
        ``"exact kNN graphs"`` ...
    params : dict
        Every option used (bandwidths in the data's units, ranks, k ...).
    higher_is_similar : bool
        False for distances (Procrustes).
    message : str or None
        Why the value is undefined (NaN), if it is.
    """

    metric: str
    variant: str
    label: str
    n: int
    n_input: int
    seed: int | None
    method: str
    params: dict
    higher_is_similar: bool
    message: str | None

    _FIELDS = ("metric", "variant", "label", "n", "n_input", "seed", "method", "params", "higher_is_similar",
               "message")

    def __new__(cls, value: float, **info):
        obj = super().__new__(cls, value)
        info.setdefault("higher_is_similar", True)
        info.setdefault("message", None)
        info.setdefault("seed", None)
        info.setdefault("params", {})
        for key in cls._FIELDS:
            setattr(obj, key, info.get(key))
        return obj

    def __reduce__(self):  # keep the attributes through pickling (st.cache_data)
        return (_similarity_rebuild, (float(self), dict(self.__dict__)))

    @property
    def sampled(self) -> bool:
        """Whether rows were subsampled."""
        return self.seed is not None and self.n < self.n_input


def _similarity_rebuild(value: float, info: dict) -> Similarity:
    return Similarity(value, **info)


class _ScoredResult:
    """A result holding its score as ``value`` (a :class:`Similarity`): its label, and ``float()`` of it."""

    @property
    def label(self) -> str:
        return self.value.label

    def __float__(self) -> float:
        return float(self.value)


@dataclass(frozen=True, eq=False)
class ProcrustesResult(_ScoredResult):
    """An orthogonal Procrustes distance and the rotation that attains it.

    Attributes
    ----------
    value : Similarity
        The distance (``higher_is_similar=False``): angular in radians, in [0, pi/2], or
        euclidean, in [0, sqrt(2)] (both of the unit-Frobenius-norm centred views).
    rotation : ndarray of shape (d, d), float64, d = max(d_X, d_Y)
        Orthogonal ``Q`` minimising ``||Xp - Yp Q||_F`` where ``Xp``, ``Yp`` are the centred,
        unit-Frobenius-norm views zero-padded to d columns: ``Yp @ rotation`` is Y aligned to X.
    kind : str
        ``"angular"`` or ``"euclidean"``.
    nuclear_norm : float
        ``||Xp^T Yp||_*`` in [0, 1] (cosine of the angular distance).
    """

    value: Similarity
    rotation: np.ndarray
    kind: str
    nuclear_norm: float


@dataclass(frozen=True, eq=False)
class MutualKNN(_ScoredResult):
    """Mutual k-nearest-neighbour alignment and each item's neighbourhood overlap.

    Attributes
    ----------
    value : Similarity
        Mean of ``per_item``, in [0, 1].
    per_item : ndarray of shape (n,), float64
        ``|N_k^X(i) ∩ N_k^Y(i)| / k``; ``1 - per_item`` is how much item i's neighbourhood moved.
    k : int
    metric : str
        The kNN graphs' metric (``"cosine"`` or ``"euclidean"``).
    """

    value: Similarity
    per_item: np.ndarray
    k: int
    metric: str


@dataclass(frozen=True, eq=False)
class PairwiseMatrix:
    """One comparison metric over every pair of views.

    Attributes
    ----------
    values : ndarray of shape (m, m), float64
        Symmetric; ``values[i, j]`` = the metric of views i and j, the diagonal the self value
        (1 for similarities, 0 for Procrustes).
    names : tuple of str
    metric : str
        A key of :data:`COMPARISON_METRICS`.
    label : str
        The variant's label, e.g. ``"CKA (linear, biased)"``.
    params : dict
        The options used, and ``n`` / ``n_input`` / ``seed`` / ``method`` of the rows used.
    higher_is_similar : bool
    """

    values: np.ndarray
    names: tuple
    metric: str
    label: str
    params: dict = field(default_factory=dict)
    higher_is_similar: bool = True


# --------------------------------------------------------------------------- validation


def _check_one(X, name: str, min_rows: int):
    """:func:`core.check_embeddings`, or for a dask array :func:`core._dask.check_matrix` (nothing read)."""
    if _dask.is_dask(X):
        return _dask.check_matrix(X, name=name, min_rows=min_rows)
    return check_embeddings(X, name=name, min_rows=min_rows)


def _check_pair(X, Y, *, min_rows: int = 2, names: tuple[str, str] = ("X", "Y")):
    a, b = names
    X = _check_one(X, a, min_rows)
    Y = _check_one(Y, b, min_rows)
    if X.shape[0] != Y.shape[0]:
        raise EmbedLensInputError(
            f"{a} has {X.shape[0]:,} rows but {b} has {Y.shape[0]:,}; the two views must hold the same items "
            f"in the same order (row i of {a} and row i of {b} the same item)"
        )
    return X, Y


def _check_views(views, *, min_rows: int = 2, names=None):
    """(arrays, names) of a sequence of views (arrays or core.types.View) over the same n items."""
    if views is None or isinstance(views, np.ndarray) or not isinstance(views, Sequence) or len(views) < 1:
        raise EmbedLensInputError(
            "views must be a list of (n, d) matrices (or core.View objects) over the same items; "
            f"got {type(views).__name__}"
        )
    arrays, auto = [], []
    for i, v in enumerate(views):
        X = getattr(v, "X", v)
        auto.append(str(getattr(v, "name", f"view {i}")))
        arrays.append(_check_one(X, f"views[{i}]", min_rows))
    ns = [a.shape[0] for a in arrays]
    if len(set(ns)) > 1:
        bad = next(i for i, k in enumerate(ns) if k != ns[0])
        raise EmbedLensInputError(
            f"views[0] has {ns[0]:,} rows but views[{bad}] has {ns[bad]:,}; every view must hold the same "
            "items in the same order"
        )
    if names is None:
        names = auto
    names = tuple(str(s) for s in names)
    if len(names) != len(arrays):
        raise EmbedLensInputError(f"names has {len(names)} entries for {plural(len(arrays), 'view')}; "
                                  "give one name per view")
    return arrays, names


def _tick(progress, value):
    if progress is not None:
        progress(float(min(max(value, 0.0), 1.0)))


# --------------------------------------------------------------------------- feature-space statistics


@dataclass(frozen=True, eq=False)
class _View:
    """One view ready for blocked centred products: ``(X[rows] / scale - mean)`` in float64."""

    X: np.ndarray
    scale: float
    mean: np.ndarray  # (d,), in units of X / scale; exact for constant columns
    constant: np.ndarray  # (d,) bool: every value of the column equal

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    def block(self, s: int, e: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows s:e centred, float64 (written into ``out``, shape (e - s, d), when given)."""
        if out is None:
            out = np.empty((e - s, self.d))
        np.divide(np.asarray(self.X[s:e]), self.scale, out=out, dtype=np.float64)
        out -= self.mean
        return out


def _prepare(X: np.ndarray) -> _View:
    """One pass over row blocks: the largest magnitude (-> an exact power-of-two scale), the
    float64 column sums and each column's min / max (constant columns get their exact value as
    mean, so they centre to exactly 0)."""
    n, d = X.shape
    total = np.zeros(d)
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    rows = max(1, _BLOCK_ELEMENTS // max(d, 1))
    for s in range(0, n, rows):
        b = np.asarray(X[s : s + rows])
        total += b.sum(axis=0, dtype=np.float64)
        np.minimum(lo, b.min(axis=0), out=lo)
        np.maximum(hi, b.max(axis=0), out=hi)
    scale = pow2_scale(np.array([np.max(np.abs(lo)), np.max(np.abs(hi))])) if n else 1.0
    mean = total / n / scale
    constant = lo == hi
    mean[constant] = hi[constant] / scale
    return _View(X, scale, mean, constant)


_FEWER_DIMS = "use views with fewer dimensions (e.g. a PCA projection of each)"
_FEWER_VIEWS = "compare fewer views, or views with fewer dimensions (e.g. a PCA projection of each)"


def _require_cross(dims: list[int], n: int, budget: int, avoid: str) -> None:
    """The memory guard (:func:`core._memory.require_memory`) of :func:`_cross_stats`: every centred
    cross product d_i x d_j (i <= j) it keeps, plus one pass's accumulator and row block, in float64."""
    kept = sum(dims[i] * dims[j] for i in range(len(dims)) for j in range(i, len(dims)))
    total = sum(dims)
    width = min(total, 2 * max(budget, max(dims, default=0)))
    block = min(max(16, _BLOCK_ELEMENTS // max(width, 1)), n) * width  # one pass's row block (and its A)
    nbytes = 8 * (kept + width * width + block + 2 * total * len(dims))
    require_memory(nbytes, what=f"the centred cross products of {plural(len(dims), 'view')} "
                                f"({total:,} dimensions in all, {kept:,} Gram entries)", avoid=avoid)


def _require_kernels(s: int, copies: int, what: str, avoid: str) -> None:
    """The memory guard of ``copies`` s x s float64 matrices (kernels, distances) held at once."""
    require_memory(matrix_bytes(s, copies=copies), what=f"{what} ({copies} x {s:,} x {s:,} float64, "
                   f"{format_bytes(matrix_bytes(s))} each)", avoid=avoid)


def _groups(dims: list[int], budget: int) -> list[list[int]]:
    out, cur, width = [], [], 0
    for i, d in enumerate(dims):
        if cur and width + d > budget:
            out.append(cur)
            cur, width = [], 0
        cur.append(i)
        width += d
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True, eq=False)
class _Cross:
    """Centred feature-space products of m views over n rows (all float64, data / scale units).

    ``gram(i, j) = Xc_i^T Xc_j``; for the unbiased HSIC: ``aa[i, j] = a_i . a_j`` (a_i = squared
    row norms of Xc_i), ``za[i][:, j] = Xc_i^T a_j``, ``colsum[i] = Xc_i^T 1``, ``asum[i] = sum a_i``.
    Built in memory by :func:`_cross_stats`, or chunk-wise by :func:`core._dask.cross_moments`
    (``colsum`` then exactly 0, ``params`` its engine and chunks); the formulas below serve both.
    """

    n: int
    blocks: dict
    aa: np.ndarray
    za: list
    colsum: list
    asum: np.ndarray
    params: dict = field(default_factory=dict)

    def gram(self, i: int, j: int) -> np.ndarray:
        return self.blocks[(i, j)] if (i, j) in self.blocks else self.blocks[(j, i)].T

    def hsic_biased(self, i: int, j: int) -> float:
        """``||Xc_i^T Xc_j||_F^2`` (the biased HSIC times (n - 1)^2)."""
        G = self.gram(i, j)
        return float(np.einsum("ij,ij->", G, G))

    def hsic_unbiased(self, i: int, j: int) -> float:
        """Song et al. (2012), with K = Xc_i Xc_i^T, L = Xc_j Xc_j^T and K~, L~ their zero-diagonal
        copies, expanded in feature space:

        tr(K~L~) = ||Xi^T Xj||^2 - a_i.a_j;  1^T K~ 1 = ||Xi^T 1||^2 - sum a_i;
        1^T K~ L~ 1 = (Xi s_i - a_i).(Xj s_j - a_j)
                    = s_i^T (Xi^T Xj) s_j - s_i.(Xi^T a_j) - s_j.(Xj^T a_i) + a_i.a_j, s = X^T 1.
        """
        n = self.n
        G = self.gram(i, j)
        si, sj = self.colsum[i], self.colsum[j]
        t1 = float(np.einsum("ij,ij->", G, G)) - self.aa[i, j]
        ki = float(si @ si) - self.asum[i]
        kj = float(sj @ sj) - self.asum[j]
        t2 = ki * kj / ((n - 1) * (n - 2))
        k1l = float(si @ G @ sj) - float(si @ self.za[i][:, j]) - float(sj @ self.za[j][:, i]) + self.aa[i, j]
        t3 = 2.0 / (n - 2) * k1l
        return (t1 + t2 - t3) / (n * (n - 3))


def _cross_stats(views: list[_View], n: int, *, progress=None, budget: int | None = None,
                 avoid: str = _FEWER_DIMS) -> _Cross:
    """All centred cross products of ``views`` from passes over row blocks (one pass when the
    views' total width fits ``budget``; else one per pair of view groups). Refused first (the
    memory guard, naming ``avoid``) when the products would not fit the memory budget."""
    m = len(views)
    dims = [v.d for v in views]
    budget = _GRAM_DIMS if budget is None else budget
    _require_cross(dims, n, budget, avoid)
    groups = _groups(dims, budget)
    blocks: dict = {}
    aa = np.zeros((m, m))
    za = [np.zeros((d, m)) for d in dims]
    colsum = [np.zeros(d) for d in dims]
    asum = np.zeros(m)
    tasks = [(a, b) for a in range(len(groups)) for b in range(a, len(groups))]
    for t, (a, b) in enumerate(tasks):
        ga, gb = groups[a], groups[b]
        members = ga if a == b else ga + gb
        width_a = sum(dims[i] for i in ga)
        width = sum(dims[i] for i in members)
        acc = np.zeros((width_a, width if a == b else width - width_a))
        rows = max(16, _BLOCK_ELEMENTS // max(width, 1))
        off = np.concatenate([[0], np.cumsum([dims[i] for i in members])])
        buf = np.empty((min(rows, n), width))
        for s in range(0, n, rows):
            e = min(n, s + rows)
            Z = buf[: e - s]
            for p, i in enumerate(members):
                views[i].block(s, e, out=Z[:, off[p] : off[p + 1]])
            if a == b:
                acc += Z.T @ Z  # symmetric rank-k update (numpy calls syrk for Z.T @ Z)
            else:
                acc += Z[:, :width_a].T @ Z[:, width_a:]
            A = np.empty((e - s, len(members)))
            for p in range(len(members)):
                zp = Z[:, off[p] : off[p + 1]]
                A[:, p] = np.einsum("ij,ij->i", zp, zp)
            ZA, AA = Z.T @ A, A.T @ A
            # each ordered pair of views is owned by one pass: within ga when a == b, ga x gb otherwise
            for p, i in enumerate(members):
                for q, j in enumerate(members):
                    if a == b or ((i in ga) != (j in ga)):
                        za[i][:, j] += ZA[off[p] : off[p + 1], q]
                        aa[i, j] += AA[p, q]
                if a == b:
                    colsum[i] += Z[:, off[p] : off[p + 1]].sum(axis=0)
                    asum[i] += A[:, p].sum()
            _tick(progress, (t + e / n) / len(tasks))
        off = np.concatenate([[0], np.cumsum([dims[i] for i in members])])
        for p, i in enumerate(ga):
            for q, j in enumerate(members):
                if (a == b and q >= p) or (a != b and j not in ga):
                    c0 = off[q] - (0 if a == b else width_a)
                    blocks[(i, j)] = acc[off[p] : off[p + 1], c0 : c0 + dims[j]].copy()
    return _Cross(n, blocks, aa, za, colsum, asum)


def _feature_cross(arrays: list, n: int, *, names, progress=None, budget: int | None = None,
                   avoid: str = _FEWER_DIMS) -> _Cross:
    """The centred feature-space products of the views: in memory (:func:`_cross_stats`) or, when
    any view is a dask array, chunk-wise in one pass per pair of view groups
    (:func:`core._dask.cross_moments`: all views' stacked Gram in one pass while their widths add
    up to ``budget``, like :func:`_cross_stats`); the same memory guard either way."""
    if not any(_dask.is_dask(a) for a in arrays):
        return _cross_stats([_prepare(a) for a in arrays], n, progress=progress, budget=budget, avoid=avoid)
    dims = [int(a.shape[1]) for a in arrays]
    budget = _GRAM_DIMS if budget is None else budget
    _require_cross(dims, n, budget, avoid)
    c = _dask.cross_moments(arrays, groups=_groups(dims, budget), hsic=True, names=list(names))
    return _Cross(n, c.grams, c.aa, c.za, [np.zeros(d) for d in dims], c.sq_norms,
                  params={k: c.params[k] for k in ("engine", "chunks", "passes")})


def _sampled_rows(X, rows, name: str) -> np.ndarray:
    """``X[rows]`` in memory. A dask array: one pass refuses NaN / inf rows anywhere in it (as
    :func:`core.check_embeddings` does in memory), then only the chunks holding ``rows`` are read
    (:func:`core._dask.take_rows`), so the seeded sample gives the in-memory numbers."""
    if not _dask.is_dask(X):
        return np.asarray(X[rows])
    _dask._raise_nonfinite(X, name, error=NonFiniteRowsError)
    return _dask.take_rows(X, rows)


def _engine(*arrays) -> dict:
    """``{"engine": "dask", "chunks": ...}`` when a view is a dask array (its row chunks), else empty."""
    lazy = [a for a in arrays if _dask.is_dask(a)]
    return {"engine": "dask", "chunks": len(lazy[0].chunks[0])} if lazy else {}


def _refuse_dask_knn(arrays) -> None:
    if any(_dask.is_dask(a) for a in arrays):
        raise EmbedLensInputError(
            "mutual kNN needs every item's exact neighbours, which a dask array (a view read chunk by chunk) "
            "does not give here; use core.sampled_knn_metric(X, kind='mutual_knn', Y=Y) for its mean over all "
            "items from a declared seeded sample (with its standard error), or compare an in-memory subset "
            "(core._dask.take_rows)")


# --------------------------------------------------------------------------- CKA


def _cka_label(kernel: str, debiased: bool, bandwidth: float | None = None) -> tuple[str, str]:
    bias = "debiased" if debiased else "biased"
    variant = f"linear, {bias}" if kernel == "linear" else f"RBF σ={bandwidth:g}·median, {bias}"
    return variant, f"CKA ({variant})"


def _cka_from_cross(c: _Cross, i: int, j: int, debiased: bool) -> tuple[float, str | None]:
    h = c.hsic_unbiased if debiased else c.hsic_biased
    hii, hjj = h(i, i), h(j, j)
    if hii <= 0 or hjj <= 0:
        if c.hsic_biased(i, i) == 0 or c.hsic_biased(j, j) == 0:
            which = "X" if c.hsic_biased(i, i) == 0 else "Y"
            return math.nan, f"{which} has zero variance (every row the same): CKA is undefined"
        return math.nan, ("the unbiased HSIC of a view with itself is not positive (too few rows for this "
                          "many dimensions); use the biased estimator or more rows")
    return h(i, j) / math.sqrt(hii * hjj), None


def _rbf_kernel(Xs: np.ndarray, fraction: float, median: float | None = None) -> tuple[np.ndarray, float, float]:
    """Gaussian kernel exp(-||xi - xj||^2 / (2 sigma^2)) of the sampled rows, sigma = fraction *
    median distance between distinct rows; returns (K, sigma in the data's units, the median in
    the rescaled units, to pass back as ``median`` when the same rows' kernel is rebuilt)."""
    v = _prepare(Xs)
    Z = v.block(0, Xs.shape[0])
    sq = np.einsum("ij,ij->i", Z, Z)
    D2 = Z @ Z.T  # ||zi||^2 + ||zj||^2 - 2 zi.zj, built in place (one m x m buffer)
    D2 *= -2.0
    D2 += sq[:, None]
    D2 += sq[None, :]
    np.maximum(D2, 0.0, out=D2)
    np.fill_diagonal(D2, 0.0)
    med = median_pairwise_distance(sq_distances=D2) if median is None else median
    sigma = fraction * med
    D2 /= -2.0 * sigma * sigma
    K = np.exp(D2, out=D2)
    return K, sigma * v.scale, med


def _kernel_repr(K: np.ndarray, debiased: bool):
    """(matrix M, row sums r, total c) such that HSIC(K, L) is an inner product of the two;
    overwrites K (debiased: K~, its diagonal set to 0; biased: H K H)."""
    n = K.shape[0]
    if debiased:
        np.fill_diagonal(K, 0.0)
        r = K.sum(axis=1)
        return K, r, float(r.sum())
    mu = K.mean(axis=0)
    K -= mu[None, :]
    K -= (mu - mu.mean())[:, None]
    return K, np.zeros(n), 0.0


def _kernel_hsic(a, b, n: int, debiased: bool) -> float:
    Ma, ra, ca = a
    Mb, rb, cb = b
    t1 = float(np.einsum("ij,ij->", Ma, Mb))
    if not debiased:
        return t1
    return (t1 + ca * cb / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(ra @ rb)) / (n * (n - 3))


def cka(X, Y, /, *, kernel: str = "linear", debiased: bool = False, bandwidth: float | None = None,
        max_n: int = 5000, seed: int = 0) -> Similarity:
    r"""Centred kernel alignment (Kornblith et al., 2019) of two views of the same items.

    .. math::

        \mathrm{CKA}(K, L) = \frac{\mathrm{HSIC}(K, L)}{\sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}},
        \qquad \text{linear: } \frac{\|Y_c^\top X_c\|_F^2}{\|X_c^\top X_c\|_F \|Y_c^\top Y_c\|_F}

    Linear kernel: computed in feature space from the centred cross products (d_X x d_Y, one pass
    over row blocks in float64 on the data divided by an exact power of two), never an n x n
    matrix; all rows are used. ``debiased=True`` uses the unbiased HSIC estimator of Song et al.
    (2012), ``[tr(K~L~) + 1'K~1 1'L~1/((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3))`` with K~ the
    kernel with its diagonal set to 0, in every term; for the linear kernel each term is expanded
    in feature-space products (``tr(K~L~) = ||X^T Y||_F^2 - a.b``, a = squared row norms, row sums
    ``K 1 = X (X^T 1)``). The biased estimator is inflated when n is not much larger than d
    (independent views score high); the debiased one is not. RBF kernel:
    ``exp(-||x_i - x_j||^2 / (2 sigma^2))`` on at most ``max_n`` rows (the same seeded subsample
    for X and Y), ``sigma = bandwidth * median distance`` between distinct rows of each view.
    Reference code: google-research ``representation_similarity`` (Kornblith), whose median
    includes the zero diagonal; here zero distances are left out.

    Dask arrays (either view or both): the linear kernel's products are summed chunk by chunk
    (:func:`core._dask.cross_moments`, the same numbers; ``params`` gain ``engine="dask"``,
    ``chunks`` and ``passes``); RBF reads only its seeded subsample's rows (after one pass that
    refuses NaN / inf rows).

    Parameters
    ----------
    X, Y : array-like or dask.array.Array of shape (n, d_X) and (n, d_Y)
        Two views of the same n >= 2 items (n >= 4 when debiased), rows in the same order; a
        dask array is read chunk by chunk, never as a whole.
    kernel : {"linear", "rbf"}, default="linear"
    debiased : bool, default=False
        Unbiased HSIC (Song et al. 2012) in every term.
    bandwidth : float, optional
        RBF only: sigma as a fraction of the median pairwise distance (default 0.5).
    max_n : int, default=5000
        RBF only: rows above this are subsampled (seeded, declared in the result).
    seed : int, default=0
        Of the RBF subsample.

    Returns
    -------
    Similarity
        In [0, 1] (debiased: can be slightly negative); ``metric="cka"``, ``variant`` e.g.
        ``"linear, debiased"``, ``label`` ``"CKA (linear, debiased)"``, ``params`` with the
        kernel, ``debiased`` and (RBF) the bandwidth fraction and both sigmas in data units. NaN
        with ``.message`` when a view has zero variance (or, debiased, when a self-HSIC estimate
        is not positive).

    Raises
    ------
    EmbedLensInputError
        A view that is not a 2-D numeric matrix, holds NaN / inf (:class:`NonFiniteRowsError`,
        naming the rows; in a dask array found by the pass that reads it), has unknown dask
        chunk sizes or fewer than 2 rows (4 when debiased); different row counts; a bad
        ``kernel``, ``bandwidth``, ``max_n`` or ``seed``.
    """
    kernel = check_param("kernel", kernel, StrOptions({"linear", "rbf"}))
    debiased = bool(debiased)
    X, Y = _check_pair(X, Y)
    if debiased and X.shape[0] < 4:
        raise EmbedLensInputError(f"debiased CKA needs at least 4 rows (the unbiased HSIC divides by n (n - 3)); "
                                  f"X and Y have {X.shape[0]}: use debiased=False or more rows")
    n = X.shape[0]
    if kernel == "linear":
        if bandwidth is not None:
            raise EmbedLensInputError(f"bandwidth={bandwidth!r} is only used by kernel='rbf'; leave it out for "
                                      "kernel='linear'")
        c = _feature_cross([X, Y], n, names=("X", "Y"), avoid=f"{_FEWER_DIMS}, or kernel='rbf' on max_n rows")
        value, message = _cka_from_cross(c, 0, 1, debiased)
        variant, label = _cka_label("linear", debiased)
        return Similarity(value, metric="cka", variant=variant, label=label, n=n, n_input=n,
                          method="feature space", params={"kernel": "linear", "debiased": debiased, **c.params},
                          message=message)
    frac = 0.5 if bandwidth is None else check_param("bandwidth", bandwidth, Interval(Real, 0, None, closed="neither"))
    max_n = check_param("max_n", max_n, Interval(Integral, 4 if debiased else 2, None))
    seed = check_param("seed", seed, Interval(Integral, 0, None))
    sample = subsample(n, max_n, seed=seed)
    # Kx held while Ky and its squared distances are built
    _require_kernels(sample.n_used, 3, "RBF CKA's two kernels", "use a smaller sample (max_n) or kernel='linear'")
    Kx, sx, _ = _rbf_kernel(np.asarray(_sampled_rows(X, sample.rows, "X"), dtype=np.float64), frac)
    Ky, sy, _ = _rbf_kernel(np.asarray(_sampled_rows(Y, sample.rows, "Y"), dtype=np.float64), frac)
    m = sample.n_used
    rx, ry = _kernel_repr(Kx, debiased), _kernel_repr(Ky, debiased)
    hxx, hyy, hxy = (_kernel_hsic(rx, rx, m, debiased), _kernel_hsic(ry, ry, m, debiased),
                     _kernel_hsic(rx, ry, m, debiased))
    message = None
    if hxx <= 0 or hyy <= 0:
        value = math.nan
        message = "a view's kernel has no variation (every row the same) or its unbiased self-HSIC is not positive"
    else:
        value = hxy / math.sqrt(hxx * hyy)
    variant, label = _cka_label("rbf", debiased, frac)
    return Similarity(value, metric="cka", variant=variant, label=label, n=m, n_input=n,
                      seed=seed if sample.sampled else None, method=_sample_method(sample),
                      params={"kernel": "rbf", "debiased": debiased, "bandwidth": frac, "sigma_x": sx,
                              "sigma_y": sy, "max_n": max_n, "seed": seed, **_engine(X, Y)}, message=message)


def _sample_method(sample) -> str:
    if sample.sampled:
        return f"seeded uniform subsample of {sample.n_used:,} rows (seed {sample.seed})"
    return f"all {sample.n_input:,} rows"


# --------------------------------------------------------------------------- Procrustes


def _procrustes_from_cross(c: _Cross, i: int, j: int, kind: str, *, rotation: bool = False):
    """(distance, nuclear norm, rotation or None, message)."""
    G = c.gram(i, j)  # Xc^T Yc
    nx = float(np.trace(c.gram(i, i)))
    ny = float(np.trace(c.gram(j, j)))
    if nx == 0 or ny == 0:
        which = "X" if nx == 0 else "Y"
        return math.nan, math.nan, None, f"{which} has zero variance (every row the same): Procrustes is undefined"
    M = G / math.sqrt(nx * ny)
    if rotation:
        dx, dy = M.shape
        d = max(dx, dy)
        P = np.zeros((d, d))
        P[:dx, :dy] = M
        U, sv, Vt = scipy.linalg.svd(P.T, check_finite=False)  # Yp^T Xp = U S V^T -> Q = U V^T
        Q = U @ Vt
    else:
        sv = scipy.linalg.svdvals(M, check_finite=False)
        Q = None
    nuc = float(min(max(sv.sum(), 0.0), 1.0))
    if kind == "angular":
        value = math.acos(nuc)
    else:
        value = math.sqrt(max(2.0 - 2.0 * nuc, 0.0))
    return value, nuc, Q, None


def procrustes_distance(X, Y, /, *, kind: str = "angular") -> ProcrustesResult:
    r"""Orthogonal Procrustes distance (Williams et al. 2021; netrep ``LinearMetric(alpha=1)``).

    Both views are centred and scaled to unit Frobenius norm, and the narrower is zero-padded to
    d = max(d_X, d_Y) columns. With :math:`\|\cdot\|_*` the nuclear norm (sum of singular values):

    .. math::

        \theta = \arccos \|X_c^\top Y_c\|_*, \qquad
        d_E = \min_{Q^\top Q = I} \|X_c - Y_c Q\|_F = \sqrt{2 - 2 \|X_c^\top Y_c\|_*}

    The angular form is a metric (triangle inequality) on views up to rotation, translation and
    isotropic scaling. Relation to ``scipy.spatial.procrustes`` (which also fits a scale):
    its disparity is ``1 - ||Xc^T Yc||_*^2 = sin^2(theta)``. Hand-written around
    ``scipy.linalg.svd`` rather than ``scipy.linalg.orthogonal_procrustes`` because the cross
    product is accumulated over row blocks (memory-mapped views) and shared by
    :func:`pairwise_matrix`.

    Parameters
    ----------
    X, Y : array-like or dask.array.Array of shape (n, d_X) and (n, d_Y)
        Two views of the same n >= 2 items (dask: summed chunk by chunk, ``params["engine"] ==
        "dask"``).
    kind : {"angular", "euclidean"}, default="angular"

    Returns
    -------
    ProcrustesResult
        ``.value`` (a :class:`Similarity` with ``higher_is_similar=False``; radians in
        [0, pi/2] for angular, [0, sqrt 2] for euclidean; NaN with ``.message`` when a view has
        zero variance), ``.rotation`` (d x d orthogonal, ``Yp @ rotation`` ~ ``Xp``), ``.kind``,
        ``.nuclear_norm``.

    Raises
    ------
    EmbedLensInputError
        Bad views (see :func:`cka`: NaN / inf rows named, in a dask array too), different row
        counts, or a bad ``kind``.
    """
    kind = check_param("kind", kind, StrOptions({"angular", "euclidean"}))
    X, Y = _check_pair(X, Y)
    n = X.shape[0]
    c = _feature_cross([X, Y], n, names=("X", "Y"))
    value, nuc, Q, message = _procrustes_from_cross(c, 0, 1, kind, rotation=True)
    if Q is None:
        d = max(X.shape[1], Y.shape[1])
        Q = np.full((d, d), np.nan)
    sim = Similarity(value, metric="procrustes", variant=kind, label=f"Procrustes distance ({kind})", n=n,
                     n_input=n, method="feature space", params={"kind": kind, **c.params}, higher_is_similar=False,
                     message=message)
    return ProcrustesResult(sim, Q, kind, nuc)


# --------------------------------------------------------------------------- mutual kNN


def _overlap(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Per row, how many indices the two (n, k) rows of distinct indices share."""
    both = np.sort(np.hstack([ix, iy]), axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1)


def _graph(X, graph, k: int, metric: str, which: str):
    from .neighbors import knn_graph

    if graph is None:
        return knn_graph(X, k=k, metric=metric)
    if not hasattr(graph, "indices"):
        raise EmbedLensInputError(f"graph_{which} is a {type(graph).__name__}; expected a core.NeighborGraph "
                                  "(from core.knn_graph)")
    return graph.check(X.shape[0], metric=metric, k=k).restrict(k)


def mutual_knn(X, Y, /, *, k: int = 10, metric: str = "cosine", graph_x=None, graph_y=None) -> MutualKNN:
    r"""Mutual k-nearest-neighbour alignment (Huh et al., 2024, "The Platonic Representation Hypothesis").

    .. math:: m_k = \frac{1}{n} \sum_i \frac{|N_k^X(i) \cap N_k^Y(i)|}{k}

    with :math:`N_k^X(i)` the k nearest neighbours of item i in X, itself excluded (reference:
    minyoungg/platonic-rep ``metrics.py``), on the shared kNN graphs (:func:`core.knn_graph`).

    Parameters
    ----------
    X, Y : array-like of shape (n, d_X) and (n, d_Y)
        Two views of the same n items; ``1 <= k < n``.
    k : int, default=10
    metric : {"cosine", "euclidean"}, default="cosine"
    graph_x, graph_y : core.NeighborGraph, optional
        Precomputed graphs of X / Y in ``metric`` with at least k neighbours (restricted to k).

    Returns
    -------
    MutualKNN
        ``.value`` (a :class:`Similarity` in [0, 1], ``method`` naming the graphs' search),
        ``.per_item`` (n,), ``.k``, ``.metric``.

    Raises
    ------
    EmbedLensInputError
        Bad views, different row counts, a bad ``k`` or ``metric``, or a graph with other rows,
        another metric or fewer than k neighbours; a dask array (its way out:
        :func:`core.sampled_knn_metric` with ``kind="mutual_knn"``, a declared seeded sample).
    """
    metric = check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    _refuse_dask_knn((X, Y))
    X, Y = _check_pair(X, Y)
    n = X.shape[0]
    k = check_param("k", k, Interval(Integral, 1, n - 1), hint=f"k counts neighbours besides the item: 1 to n - 1 = {n - 1}")
    gx = _graph(X, graph_x, k, metric, "x")
    gy = _graph(Y, graph_y, k, metric, "y")
    return _mutual_from_graphs(gx, gy, k, metric, n)


def _mutual_from_graphs(gx, gy, k: int, metric: str, n: int) -> MutualKNN:
    per_item = _overlap(np.asarray(gx.indices[:, :k]), np.asarray(gy.indices[:, :k])) / k
    methods = sorted({gx.method, gy.method})
    value = Similarity(float(per_item.mean()), metric="mutual_knn", variant=f"k={k}, {metric}",
                       label=f"Mutual kNN (k={k}, {metric})", n=n, n_input=n,
                       method=f"{' and '.join(methods)} kNN graphs", params={"k": k, "metric": metric})
    return MutualKNN(value, per_item, k, metric)


# --------------------------------------------------------------------------- RSA


def _condensed(Xs: np.ndarray, metric: str) -> np.ndarray:
    """Condensed distances of the rows (scipy order): cosine via core._numerics.cosine_distances
    (exact for near-duplicates, zero rows at distance 1), euclidean by pdist on the rows divided
    by an exact power of two."""
    from scipy.spatial.distance import pdist, squareform

    if metric == "cosine":
        return squareform(cosine_distances(Xs, Xs), checks=False)
    A = np.asarray(Xs, dtype=np.float64)
    return pdist(A / pow2_scale(A))


def _average_ranks(d: np.ndarray) -> np.ndarray:
    """1-based ranks of ``d``, ties sharing their average rank (``scipy.stats.rankdata``'s default).

    Hand-written because ``rankdata`` took 1.4-1.9 s on 1.6 million distances here against 0.45 s
    for this (numpy's unstable argsort suffices: tied values get the same average either way),
    and :func:`pairwise_matrix` ranks every view's distances.
    """
    order = np.argsort(d)
    sd = d[order]
    start = np.empty(len(sd), bool)
    start[:1] = True
    np.not_equal(sd[1:], sd[:-1], out=start[1:])
    first = np.flatnonzero(start)
    counts = np.diff(np.append(first, len(sd)))
    out = np.empty(len(d))
    out[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return out


def rsa(X, Y, /, *, metric: str = "cosine", max_n: int = 2000, seed: int = 0) -> Similarity:
    r"""Representational similarity analysis: Spearman correlation of the two views' distances.

    .. math:: \rho_S\big(\mathrm{vec}_{i<j}\, d_X(x_i, x_j),\ \mathrm{vec}_{i<j}\, d_Y(y_i, y_j)\big)

    over the condensed (upper-triangle) distance matrices (Kriegeskorte et al. 2008), by
    ``scipy.stats.spearmanr``. Above ``max_n`` rows the same seeded subsample of items is used
    in both views, and declared in the result.

    Parameters
    ----------
    X, Y : array-like or dask.array.Array of shape (n, d_X) and (n, d_Y)
        Two views of the same n >= 3 items; of a dask array only the sampled rows are read (after
        one pass that refuses NaN / inf rows).
    metric : {"cosine", "euclidean"}, default="cosine"
    max_n : int, default=2000
        Most rows used (m (m - 1) / 2 distances per view).
    seed : int, default=0

    Returns
    -------
    Similarity
        In [-1, 1]; NaN with ``.message`` when a view's distances are all equal.

    Raises
    ------
    EmbedLensInputError
        Bad views (NaN / inf rows named, in a dask array too), different row counts, fewer
        than 3 rows, or a bad option.
    """
    from scipy.stats import spearmanr

    metric = check_param("metric", metric, StrOptions({"cosine", "euclidean"}))
    X, Y = _check_pair(X, Y, min_rows=3)
    max_n = check_param("max_n", max_n, Interval(Integral, 3, None))
    seed = check_param("seed", seed, Interval(Integral, 0, None))
    n = X.shape[0]
    sample = subsample(n, max_n, seed=seed)
    # a view's full distance matrix while its condensed copy is made; then both condensed copies and their ranks
    _require_kernels(sample.n_used, 3, "RSA's distances and their ranks", "use a smaller sample (max_n)")
    dx = _condensed(_sampled_rows(X, sample.rows, "X"), metric)
    dy = _condensed(_sampled_rows(Y, sample.rows, "Y"), metric)
    message = None
    if np.ptp(dx) == 0 or np.ptp(dy) == 0:
        value, message = math.nan, "a view's distances are all equal: their rank correlation is undefined"
    else:
        value = float(spearmanr(dx, dy)[0])
    return _rsa_result(value, metric, sample, max_n, seed, message, engine=_engine(X, Y))


def _rsa_result(value, metric, sample, max_n, seed, message=None, engine=None) -> Similarity:
    return Similarity(value, metric="rsa", variant=f"Spearman, {metric}", label=f"RSA (Spearman, {metric})",
                      n=sample.n_used, n_input=sample.n_input, seed=seed if sample.sampled else None,
                      method=_sample_method(sample),
                      params={"metric": metric, "max_n": max_n, "seed": seed, **(engine or {})}, message=message)


# --------------------------------------------------------------------------- CCA and regression


def _whitener(G: np.ndarray) -> np.ndarray:
    """W (d x r) with W^T G W = I on G's range (eigenvalues above _RANK_TOL * d * max)."""
    lam, U = scipy.linalg.eigh(G, check_finite=False)
    top = lam[-1] if len(lam) else 0.0
    keep = lam > _RANK_TOL * max(len(lam), 1) * top if top > 0 else np.zeros(len(lam), bool)
    return U[:, keep] / np.sqrt(lam[keep])


def _cca_from_cross(c: _Cross, i: int, j: int, n_components, whiteners=None):
    if whiteners is None:
        Wx, Wy = _whitener(c.gram(i, i)), _whitener(c.gram(j, j))
    else:
        Wx, Wy = whiteners[i], whiteners[j]
    rx, ry = Wx.shape[1], Wy.shape[1]
    if rx == 0 or ry == 0:
        return math.nan, rx, ry, 0, f"{'X' if rx == 0 else 'Y'} has zero variance: CCA is undefined"
    rho = np.clip(scipy.linalg.svdvals(Wx.T @ c.gram(i, j) @ Wy, check_finite=False), 0.0, 1.0)
    kmax = min(rx, ry)
    k = kmax if n_components is None else min(n_components, kmax)
    return float(np.mean(rho[:k] ** 2)), rx, ry, k, None


def cca_similarity(X, Y, /, *, n_components: int | None = None) -> Similarity:
    r"""Mean squared canonical correlation of two views (CCA; Hotelling 1936; as in Raghu et al.'s SVCCA).

    .. math:: R^2_{CCA} = \frac{1}{k} \sum_{i=1}^{k} \rho_i^2, \quad
              \rho = \sigma\big((X_c^\top X_c)^{-1/2} X_c^\top Y_c (Y_c^\top Y_c)^{-1/2}\big)

    Invariant to any invertible affine map of either view (for views identifiable only up to one).
    Directions of a view with variance below ``1e-12 * d`` times its largest are left out (its
    rank). With d close to n every canonical correlation tends to 1 (over-fitting): compare views
    with n much larger than d, or reduce them first. Hand-written from the feature-space Grams
    (whitening by ``scipy.linalg.eigh``): scikit-learn's ``CCA`` fits components one by one by
    an iterative (NIPALS) method, and the Grams are shared with CKA in :func:`pairwise_matrix`.

    Parameters
    ----------
    X, Y : array-like or dask.array.Array of shape (n, d_X) and (n, d_Y)
        Two views of the same n >= 2 items (dask: summed chunk by chunk, ``params["engine"] ==
        "dask"``).
    n_components : int, optional
        Average over the ``n_components`` largest correlations (default: all,
        min(rank X, rank Y)).

    Returns
    -------
    Similarity
        In [0, 1]; ``params`` holds both ranks and the components averaged. NaN with
        ``.message`` when a view has zero variance.

    Raises
    ------
    EmbedLensInputError
        Bad views (NaN / inf rows named, in a dask array too), different row counts, or a bad
        ``n_components``.
    """
    X, Y = _check_pair(X, Y)
    if n_components is not None:
        n_components = check_param("n_components", n_components, Interval(Integral, 1, None))
    n = X.shape[0]
    c = _feature_cross([X, Y], n, names=("X", "Y"))
    return _cca_result(c, 0, 1, n_components, n)


def _cca_result(c, i, j, n_components, n) -> Similarity:
    value, rx, ry, k, message = _cca_from_cross(c, i, j, n_components)
    return Similarity(value, metric="cca", variant="mean ρ²", label="CCA (mean ρ²)", n=n, n_input=n,
                      method="feature space", params={"n_components": k, "rank_x": rx, "rank_y": ry, **c.params},
                      message=message)


def linear_regression_r2(X, Y, /) -> Similarity:
    r"""R^2 of predicting Y from X by least squares with an intercept (pooled over Y's columns).

    .. math:: R^2 = 1 - \frac{\min_B \|Y_c - X_c B\|_F^2}{\|Y_c\|_F^2}
              = \frac{\|W^\top X_c^\top Y_c\|_F^2}{\mathrm{tr}(Y_c^\top Y_c)}, \quad W W^\top = (X_c^\top X_c)^+

    (scikit-learn's ``r2_score(..., multioutput="variance_weighted")`` of a ``LinearRegression``
    fit). Not symmetric: it asks how much of Y is a linear function of X. Hand-written from the
    feature-space Grams (one pass over row blocks, no n x d_Y residual), with X's directions below
    ``1e-12 * d`` times its largest variance left out.

    Parameters
    ----------
    X : array-like or dask.array.Array of shape (n, d_X)
        The predictors.
    Y : array-like or dask.array.Array of shape (n, d_Y)
        The predicted view, same n >= 2 items (either may be a dask array: summed chunk by
        chunk, ``params["engine"] == "dask"``).

    Returns
    -------
    Similarity
        In [0, 1] (``metric="linreg_r2"``); NaN with ``.message`` when Y has zero variance.

    Raises
    ------
    EmbedLensInputError
        Bad views (NaN / inf rows named, in a dask array too) or different row counts.
    """
    X, Y = _check_pair(X, Y)
    n = X.shape[0]
    c = _feature_cross([X, Y], n, names=("X", "Y"))
    W = _whitener(c.gram(0, 0))
    tyy = float(np.trace(c.gram(1, 1)))
    message = None
    if tyy == 0:
        value, message = math.nan, "Y has zero variance: R² is undefined"
    else:
        P = W.T @ c.gram(0, 1)
        value = float(min(max(np.einsum("ij,ij->", P, P) / tyy, 0.0), 1.0))
    return Similarity(value, metric="linreg_r2", variant="Y from X", label="Linear R² (Y from X)", n=n,
                      n_input=n, method="feature space", params={"rank_x": int(W.shape[1]), **c.params},
                      message=message)


# --------------------------------------------------------------------------- pairwise matrix


_OPTIONS = {
    "cka": {"kernel", "bandwidth", "max_n", "seed"},
    "cka_debiased": {"kernel", "bandwidth", "max_n", "seed"},
    "procrustes": {"kind"},
    "mutual_knn": {"k", "metric"},
    "rsa": {"metric", "max_n", "seed"},
    "cca": {"n_components"},
}


def _check_options(metric: str, options: dict) -> None:
    extra = sorted(set(options) - _OPTIONS[metric])
    if extra:
        raise EmbedLensInputError(
            f"option {first_items(extra)} is not used by metric={metric!r}; its options are "
            f"{', '.join(sorted(_OPTIONS[metric])) or 'none'}"
        )


def pairwise_matrix(views, metric, /, *, names=None, progress: Callable[[float], None] | None = None,
                    **options) -> PairwiseMatrix:
    """A comparison metric for every pair of views, from statistics shared across pairs.

    Linear CKA (biased / debiased), Procrustes and CCA read one set of centred feature-space cross
    products of all views (one pass over row blocks; views grouped so that one Gram block stays
    within 4,096 dimensions); mutual kNN builds one kNN graph per view (:func:`core.knn_graph`)
    and intersects them per pair; RSA ranks each view's condensed distances once (the same
    seeded rows for all views) and correlates the ranks (Spearman = Pearson of ranks); RBF CKA
    builds each view's kernel once per group of views that fits 512 MB. Each value equals the
    two-view function's.

    Parameters
    ----------
    views : sequence of array-like or dask.array.Array (n, d_i), or core.View
        At least one view; all over the same n items in the same order. Dask arrays: the linear
        metrics read every view's chunks together (the stacked centred Gram, one pass per pair
        of view groups: one pass while the views' widths add up to 4,096); RBF CKA and RSA read
        only their seeded sample's rows (after one pass per dask view refusing NaN / inf rows).
    metric : str, positional-only
        A key of :data:`COMPARISON_METRICS`: ``"cka"``, ``"cka_debiased"`` (CKA with
        ``debiased=True``), ``"procrustes"``, ``"mutual_knn"``, ``"rsa"``, ``"cca"``.
    names : sequence of str, optional
        One per view (default: each View's ``name``, else ``"view i"``).
    progress : callable, optional
        Called with the fraction done (0 to 1).
    **options
        The two-view function's options: cka: ``kernel``, ``bandwidth``, ``max_n``, ``seed``;
        procrustes: ``kind``; mutual_knn: ``k``, ``metric`` (the kNN distance); rsa: ``metric``,
        ``max_n``, ``seed``; cca: ``n_components``.

    Returns
    -------
    PairwiseMatrix
        ``.values`` (m x m float64, symmetric), ``.names``, ``.metric``, ``.label``, ``.params``
        (the options, and ``n``, ``n_input``, ``seed``, ``method`` of the rows used),
        ``.higher_is_similar``. A pair whose value is undefined holds NaN.

    Raises
    ------
    EmbedLensInputError
        An unknown ``metric`` or an option it does not take; views that are not a list of 2-D
        numeric finite matrices over the same rows (NaN / inf rows named, in dask arrays too);
        bad option values (as the two-view function); ``"mutual_knn"`` on a dask array (use
        :func:`core.sampled_knn_metric`).
    """
    metric = check_param("metric", metric, StrOptions(set(COMPARISON_METRICS), order=COMPARISON_METRICS))
    _check_options(metric, options)
    arrays, names = _check_views(views, names=names,
                                 min_rows=3 if metric == "rsa" else 4 if metric == "cka_debiased" else 2)
    m, n = len(arrays), arrays[0].shape[0]
    vnames = [f"views[{i}]" for i in range(m)]
    V = np.full((m, m), np.nan)
    params: dict = {}
    higher = True
    if metric in ("cka", "cka_debiased"):
        debiased = metric == "cka_debiased"
        kernel = check_param("kernel", options.get("kernel", "linear"), StrOptions({"linear", "rbf"}))
        if kernel == "rbf":
            V, params, label = _pairwise_rbf(arrays, debiased, options, progress)
        else:
            if options.get("bandwidth") is not None:
                raise EmbedLensInputError("bandwidth is only used by kernel='rbf'; leave it out for kernel='linear'")
            c = _feature_cross(arrays, n, names=vnames, progress=progress, avoid=_FEWER_VIEWS)
            h = c.hsic_unbiased if debiased else c.hsic_biased
            self_h = [h(i, i) for i in range(m)]
            for i in range(m):
                for j in range(i, m):
                    if self_h[i] > 0 and self_h[j] > 0:
                        V[i, j] = V[j, i] = h(i, j) / math.sqrt(self_h[i] * self_h[j])
            params = {"kernel": "linear", "debiased": debiased, "n": n, "n_input": n, "seed": None,
                      "method": "feature space", **c.params}
            label = _cka_label("linear", debiased)[1]
    elif metric == "procrustes":
        kind = check_param("kind", options.get("kind", "angular"), StrOptions({"angular", "euclidean"}))
        c = _feature_cross(arrays, n, names=vnames, progress=progress, avoid=_FEWER_VIEWS)
        for i in range(m):
            for j in range(i, m):
                V[i, j] = V[j, i] = _procrustes_from_cross(c, i, j, kind)[0]
        params = {"kind": kind, "n": n, "n_input": n, "seed": None, "method": "feature space", **c.params}
        label, higher = f"Procrustes distance ({kind})", False
    elif metric == "cca":
        nc = options.get("n_components")
        if nc is not None:
            nc = check_param("n_components", nc, Interval(Integral, 1, None))
        c = _feature_cross(arrays, n, names=vnames, progress=progress, avoid=_FEWER_VIEWS)
        whiteners = [_whitener(c.gram(i, i)) for i in range(m)]
        for i in range(m):
            for j in range(i, m):
                V[i, j] = V[j, i] = _cca_from_cross(c, i, j, nc, whiteners)[0]
        params = {"n_components": nc, "n": n, "n_input": n, "seed": None, "method": "feature space", **c.params}
        label = "CCA (mean ρ²)"
    elif metric == "mutual_knn":
        _refuse_dask_knn(arrays)
        V, params, label = _pairwise_knn(arrays, options, progress)
    else:
        V, params, label = _pairwise_rsa(arrays, options, progress)
    _tick(progress, 1.0)
    return PairwiseMatrix(V, names, metric, label, params, higher)


def _pairwise_knn(arrays, options, progress):
    from .neighbors import knn_graph

    n, m = arrays[0].shape[0], len(arrays)
    kmetric = check_param("metric", options.get("metric", "cosine"), StrOptions({"cosine", "euclidean"}))
    k = check_param("k", options.get("k", 10), Interval(Integral, 1, n - 1))
    graphs = []
    for i, a in enumerate(arrays):
        graphs.append(knn_graph(a, k=k, metric=kmetric))
        _tick(progress, 0.9 * (i + 1) / m)
    V = np.ones((m, m))
    for i in range(m):
        for j in range(i + 1, m):
            V[i, j] = V[j, i] = _overlap(graphs[i].indices, graphs[j].indices).mean() / k
    methods = sorted({g.method for g in graphs})
    params = {"k": k, "metric": kmetric, "n": n, "n_input": n, "seed": None,
              "method": f"{' and '.join(methods)} kNN graphs"}
    return V, params, f"Mutual kNN (k={k}, {kmetric})"


def _pairwise_rsa(arrays, options, progress):
    n, m = arrays[0].shape[0], len(arrays)
    dmetric = check_param("metric", options.get("metric", "cosine"), StrOptions({"cosine", "euclidean"}))
    max_n = check_param("max_n", options.get("max_n", 2000), Interval(Integral, 3, None))
    seed = check_param("seed", options.get("seed", 0), Interval(Integral, 0, None))
    sample = subsample(n, max_n, seed=seed)
    s = sample.n_used
    P = s * (s - 1) // 2
    # every view's ranks (float32) kept; per view: its full distances, the condensed copy, the sort and the ranks
    require_memory(4 * m * P + matrix_bytes(s, copies=4),
                   what=f"RSA's ranked distances of {plural(m, 'view')} ({P:,} pairs of {s:,} rows each)",
                   avoid="use a smaller sample (max_n) or fewer views")
    R = np.empty((m, P), dtype=np.float32)
    constant = []
    for i, a in enumerate(arrays):
        d = _condensed(_sampled_rows(a, sample.rows, f"views[{i}]"), dmetric)
        constant.append(np.ptp(d) == 0)
        R[i] = _average_ranks(d)  # multiples of 1/2 up to ~2e6: exact in float32
        del d
        _tick(progress, 0.8 * (i + 1) / m)
    mu = (P + 1) / 2.0
    cross = np.zeros((m, m))
    chunk = max(1, _BLOCK_ELEMENTS // m)
    for start in range(0, P, chunk):  # not `s`: that is the sample size above
        B = R[:, start : start + chunk].astype(np.float64) - mu
        cross += B @ B.T
    norms = np.sqrt(np.diag(cross))
    with np.errstate(invalid="ignore", divide="ignore"):
        V = cross / np.outer(norms, norms)
    bad = np.array(constant)
    V[bad, :] = np.nan
    V[:, bad] = np.nan
    params = {"metric": dmetric, "max_n": max_n, "seed": seed if sample.sampled else None, "n": sample.n_used,
              "n_input": n, "method": _sample_method(sample), **_engine(*arrays)}
    return V, params, f"RSA (Spearman, {dmetric})"


def _pairwise_rbf(arrays, debiased, options, progress):
    n, m = arrays[0].shape[0], len(arrays)
    frac = options.get("bandwidth")
    frac = 0.5 if frac is None else check_param("bandwidth", frac, Interval(Real, 0, None, closed="neither"))
    max_n = check_param("max_n", options.get("max_n", 5000), Interval(Integral, 4 if debiased else 2, None))
    seed = check_param("seed", options.get("seed", 0), Interval(Integral, 0, None))
    sample = subsample(n, max_n, seed=seed)
    s = sample.n_used
    per_group = max(1, _KERNEL_BUDGET // (2 * 8 * s * s))
    groups = [list(range(g, min(m, g + per_group))) for g in range(0, m, per_group)]
    # two groups' kernels held at once, and one more being built
    _require_kernels(s, min(m, 2 * per_group) + 1, f"RBF CKA's kernels of {plural(m, 'view')}",
                     "use a smaller sample (max_n) or kernel='linear'")
    reprs: dict = {}
    medians: dict = {}  # a kernel rebuilt for a later group pair skips its median
    rows: dict = {}  # a dask view's sampled rows, read once (its NaN scan too)

    def sampled(i):
        if not _dask.is_dask(arrays[i]):
            return arrays[i][sample.rows]
        if i not in rows:
            rows[i] = _sampled_rows(arrays[i], sample.rows, f"views[{i}]")
        return rows[i]

    def get(i):
        if i not in reprs:
            K, _, medians[i] = _rbf_kernel(np.asarray(sampled(i), dtype=np.float64), frac, medians.get(i))
            reprs[i] = _kernel_repr(K, debiased)
        return reprs[i]

    H = np.full((m, m), np.nan)
    tasks = [(a, b) for a in range(len(groups)) for b in range(a, len(groups))]
    for t, (a, b) in enumerate(tasks):
        for i in list(reprs):
            if i not in groups[a] and i not in groups[b]:
                del reprs[i]
        for i in groups[a]:
            for j in groups[b]:
                if j >= i:
                    H[i, j] = H[j, i] = _kernel_hsic(get(i), get(j), s, debiased)
        _tick(progress, (t + 1) / len(tasks))
    d = np.diag(H).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        V = H / np.sqrt(np.outer(d, d))
    bad = ~(d > 0)
    V[bad, :] = np.nan
    V[:, bad] = np.nan
    params = {"kernel": "rbf", "debiased": debiased, "bandwidth": frac, "max_n": max_n,
              "seed": seed if sample.sampled else None, "n": s, "n_input": n, "method": _sample_method(sample),
              **_engine(*arrays)}
    return V, params, _cka_label("rbf", debiased, frac)[1]


# --------------------------------------------------------------------------- trajectory


def _single_view(metric: str, X, options: dict) -> tuple[float, str]:
    from . import diversity, intrinsic_dim, labels, spectra
    from .metric_text import METRICS

    if metric in ("effective_rank", "participation_ratio", "stable_rank", "rankme"):
        value = getattr(spectra, metric)(X, **options)
    elif metric == "alpha":
        value = spectra.powerlaw_alpha(X, **options).alpha
    elif metric == "vendi":
        value = diversity.vendi_score(X, **options)
    elif metric == "intrinsic_dimension":
        value = intrinsic_dim.intrinsic_dimension(X, **options).value
    else:  # nc1
        opts = dict(options)
        if "labels" not in opts:
            raise EmbedLensInputError("metric='nc1' needs labels=: one class label per item")
        value = labels.neural_collapse(X, opts.pop("labels"), **opts).nc1
    return float(value), METRICS[metric].title if metric in METRICS else metric


def trajectory(views, metric, /, *, reference=None, names=None, progress: Callable[[float], None] | None = None,
               **options):
    """A metric along training: one row per view, with its run, layer and step.

    A key of :data:`SINGLE_VIEW_METRICS` is computed on each view alone (``options`` go to the
    core function: :func:`core.effective_rank`, :func:`core.vendi_score`,
    :func:`core.intrinsic_dimension`, :func:`core.neural_collapse` with ``labels=`` ...); a key
    of :data:`COMPARISON_METRICS` compares each view with ``reference`` (e.g. CKA to the final
    checkpoint, or to the same layer of another seed), reusing the reference's kNN graph for
    mutual kNN.

    Parameters
    ----------
    views : sequence of core.View
        Uses ``.X`` (an array, or a dask.array.Array wherever the metric's function takes one),
        ``.name``, ``.run``, ``.layer``, ``.step``.
    metric : str, positional-only
        A key of :data:`SINGLE_VIEW_METRICS` or :data:`COMPARISON_METRICS`.
    reference : core.View or int, optional
        Required for a comparison metric: the view (or its index in ``views``) every view is
        compared with.
    names : sequence of str, optional
        Overrides the views' names in the ``name`` column.
    progress : callable, optional
        Called with the fraction done (0 to 1).
    **options
        Options of the metric's function (as in :func:`pairwise_matrix` for comparisons).

    Returns
    -------
    pandas.DataFrame
        Columns ``name, run, layer, step, value, metric, label``; one row per view, in the order
        given (sort by ``step`` to plot). ``step`` is nullable (pandas ``Int64``).

    Raises
    ------
    EmbedLensInputError
        An unknown ``metric``; a comparison metric without (or with an out-of-range)
        ``reference``; views over different rows; ``"mutual_knn"`` with a dask view (before
        reading it; use :func:`core.sampled_knn_metric`); and what the metric's function raises.
    """
    import pandas as pd

    allowed = SINGLE_VIEW_METRICS + COMPARISON_METRICS
    metric = check_param("metric", metric, StrOptions(set(allowed), order=allowed))
    if views is None or not isinstance(views, Sequence) or not len(views):
        raise EmbedLensInputError("views must be a non-empty list of core.View objects")
    names = tuple(str(getattr(v, "name", f"view {i}")) for i, v in enumerate(views)) if names is None else tuple(names)
    if len(names) != len(views):
        raise EmbedLensInputError(f"names has {len(names)} entries for {plural(len(views), 'view')}")
    rows = []
    if metric in COMPARISON_METRICS:
        ref = _reference(views, reference)
        if metric == "mutual_knn":
            _refuse_dask_knn([getattr(v, "X", None) for v in views] + [ref.X])
        _check_options(metric, options)
        compare = _comparer(metric, ref, options)
        for i, v in enumerate(views):
            value, label = compare(v.X)
            rows.append((names[i], v, value, label))
            _tick(progress, (i + 1) / len(views))
    else:
        for i, v in enumerate(views):
            value, label = _single_view(metric, v.X, options)
            rows.append((names[i], v, value, label))
            _tick(progress, (i + 1) / len(views))
    return pd.DataFrame({
        "name": [r[0] for r in rows],
        "run": [str(getattr(r[1], "run", "")) for r in rows],
        "layer": [str(getattr(r[1], "layer", "")) for r in rows],
        "step": pd.array([getattr(r[1], "step", None) for r in rows], dtype="Int64"),
        "value": np.array([r[2] for r in rows], dtype=np.float64),
        "metric": metric,
        "label": [r[3] for r in rows],
    })


def _reference(views, reference):
    if reference is None:
        raise EmbedLensInputError("a comparison metric needs reference=: the view (or its index) every view is "
                                  "compared with")
    if isinstance(reference, (Integral, np.integer)) and not isinstance(reference, bool):
        if not 0 <= int(reference) < len(views):
            raise EmbedLensInputError(f"reference={int(reference)} is invalid: expected an index from 0 to "
                                      f"{len(views) - 1}")
        return views[int(reference)]
    if not hasattr(reference, "X"):
        raise EmbedLensInputError(f"reference is a {type(reference).__name__}; expected a core.View or an index")
    return reference


def _comparer(metric: str, ref, options: dict):
    """f(X) -> (value, label) comparing X with the reference view.

    Only the reference's kNN graph is built once; CKA, Procrustes, RSA and CCA prepare the
    reference again for each view (the pairwise matrix shares them; here one pass per view)."""
    if metric == "mutual_knn":
        from .neighbors import knn_graph

        k = options.get("k", 10)
        kmetric = options.get("metric", "cosine")
        gref = knn_graph(check_embeddings(ref.X, name="reference", min_rows=2), k=k, metric=kmetric)

        def f(X):
            r = mutual_knn(X, ref.X, k=k, metric=kmetric, graph_y=gref)
            return float(r.value), r.label
        return f
    if metric == "procrustes":
        def f(X):
            r = procrustes_distance(X, ref.X, **options)
            return float(r.value), r.label
        return f
    fn = {"cka": lambda X: cka(X, ref.X, **options), "cka_debiased": lambda X: cka(X, ref.X, debiased=True, **options),
          "rsa": lambda X: rsa(X, ref.X, **options), "cca": lambda X: cca_similarity(X, ref.X, **options)}[metric]

    def f(X):
        s = fn(X)
        return float(s), s.label
    return f
