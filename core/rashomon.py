"""Rashomon sets of multiplier models and the cloud of feature interaction scores (FISC).

Li, Wang, Deng & Barnard, "Exploring the cloud of feature interaction scores in a Rashomon set",
ICLR 2024 (reference code: github.com/Sichao-Li/generalized_rashomon_set; METRICS.md section 9).

Around a fitted reference model f*, the models searched are f_m(x) = f*(m o x), one multiplier
m_i per input feature. A greedy search per feature, sign and budget level finds the multipliers
that raise the loss by less than a share of epsilon; the pair models combine two of them (9
budget splits x 4 sign quadrants = 36 per pair). :func:`feature_interactions` then measures
main effects (model reliance) and feature interaction scores (FIS) for every model.

Everything is batched: for linear and logistic models (scikit-learn's LogisticRegression,
LinearRegression, Ridge, bare or after per-column scalers in a Pipeline) a batch of candidate
models is one matrix product on the coefficients; for scikit-learn's MLPClassifier /
MLPRegressor (the same) numba kernels run the forward pass from the weights, a permutation
being a rank-|S| update of the first layer; for any other model the candidates' inputs are
stacked into as few ``predict`` / ``predict_proba`` calls as memory allows. The chains of
the greedy search are independent and advance in lockstep, so every step of the search is
one batched evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ._memory import require_memory
from ._validation import EmbedLensInputError, Interval, StrOptions, check_param, first_items, plain, plural

__all__ = [
    "LOSSES",
    "QUADRANTS",
    "Stopped",
    "RashomonSet",
    "FeatureInteractions",
    "EmpiricalSet",
    "fit_reference_model",
    "rashomon_set",
    "feature_interactions",
    "halo_data",
    "swarm_data",
    "fis_summary",
    "empirical_rashomon_set",
]

LOSSES = ("log_loss", "mse", "mae", "zero_one")
"""Loss functions: log loss (on ``predict_proba``), mean squared / absolute error and the
zero-one loss (1 - accuracy; on ``predict``)."""

QUADRANTS = ("++", "+-", "-+", "--")
"""Sign quadrants of a pair model, in the reference code's order (q = 0 ... 3): the directions in
which m_i and m_j moved from 1. The halo draws quadrant q at theta = atan2(a_i, a_j) + q pi / 2."""

LEVELS = tuple(round(0.1 * k, 1) for k in range(11))
"""Budget levels a of the greedy search: 0, 0.1, ..., 1 (shares of epsilon)."""

_SPLITS = tuple((round(0.1 * k, 1), round(0.1 * (10 - k), 1)) for k in range(1, 10))
_QUADRANT_SIGNS = ((0, 0), (0, 1), (1, 0), (1, 1))  # per quadrant: (sign of i, sign of j), 0 = "+", 1 = "-"
_REJECTIONS = 4  # the step is divided by 10 on each rejection; a level ends at the 4th (precision step / 1e3)
_MAX_FLAT = 100  # a level ends after more than this many accepted steps in a row that leave the loss unchanged
_MAX_STEPS = 1000  # accepted steps per chain before it is stopped (and recorded as capped)
_LOG_CAP = -np.log(1e-15)  # log loss per row is capped here: probabilities are clipped to >= 1e-15
_BUDGET = 1 << 22  # floats per batched array (32 MiB)
_FEWER_ROWS = "use fewer rows of X (a seeded sample: the Rashomon page's \"Most rows\")"


def _require(floats: int, what: str, avoid: str = _FEWER_ROWS) -> None:
    """The memory guard (:func:`core._memory.require_memory`) of ``floats`` float64 values held at once."""
    require_memory(8 * int(floats), what=what, avoid=avoid)


class Stopped(Exception):
    """Raised when ``should_stop()`` returns True: the computation was stopped by the user."""


# --------------------------------------------------------------------------- validation helpers


def _tol(reference_loss: float) -> float:
    """Losses closer than this count as equal (the loss "does not move"): 1e-12 relative."""
    return 1e-12 * max(1.0, abs(reference_loss))


def _check_X(X) -> tuple[np.ndarray, tuple[str, ...] | None]:
    names = tuple(str(c) for c in X.columns) if isinstance(X, pd.DataFrame) else None
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EmbedLensInputError(f"X must be a numeric matrix (rows x features); converting it failed: {exc}",
                                  source="X") from None
    if arr.ndim != 2:
        raise EmbedLensInputError(f"X must be a 2-D matrix (rows x features); got {arr.ndim} dimensions "
                                  f"(shape {plain(arr.shape)})", source="X")
    n, p = arr.shape
    if n < 1:
        raise EmbedLensInputError("X has no rows; give at least one row", source="X")
    if p < 2:
        raise EmbedLensInputError(f"X has {plural(p, 'feature')}; a feature interaction needs at least 2 "
                                  "features (columns)", source="X")
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise EmbedLensInputError(f"X holds NaN or infinite values in {plural(len(rows), 'row')} "
                                  f"({first_items(rows)}); drop or impute them first", source="X",
                                  row=int(rows[0]))
    return arr, names


def _check_y(y, n: int) -> np.ndarray:
    arr = np.asarray(y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else y)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1:
        raise EmbedLensInputError(f"y must be one value per row; got shape {plain(arr.shape)}", source="y")
    if len(arr) != n:
        raise EmbedLensInputError(f"y has {plural(len(arr), 'value')} but X has {plural(n, 'row')}; give one "
                                  "target value per row of X", source="y")
    missing = pd.isna(arr)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise EmbedLensInputError(f"y is missing in {plural(len(rows), 'row')} ({first_items(rows)}); drop "
                                  "those rows from X and y", source="y", row=int(rows[0]))
    return arr


def _numeric_y(y: np.ndarray, loss: str) -> np.ndarray:
    try:
        out = y.astype(np.float64)
    except (TypeError, ValueError):
        raise EmbedLensInputError(f"loss={loss!r} needs a numeric target; y holds "
                                  f"{first_items(np.unique(y.astype(str)), 3)}; use loss='log_loss' or "
                                  "'zero_one' for labels", source="y") from None
    if not np.isfinite(out).all():
        raise EmbedLensInputError("y holds infinite values", source="y")
    return out


def _check_hooks(progress, should_stop):
    for name, hook in (("progress", progress), ("should_stop", should_stop)):
        if hook is not None and not callable(hook):
            raise EmbedLensInputError(f"{name} must be a function or None; got {type(hook).__name__}")


def _stop_check(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise Stopped("stopped by the user")


# --------------------------------------------------------------------------- evaluation engines


class _Engine:
    """Losses of multiplier models f*(m o x) on (X, y), in batches.

    ``base(M)``: the loss of each row of M (B x p). ``permuted_sets(M, col_sets, perms_list)``: per
    column set ``cols``, (B, P) losses with the columns ``cols`` of X replaced by X[perm, cols] (all
    together) for each of its perms (by default one ``permuted(M, cols, perms)`` per set).
    """

    evaluation = ""
    calls = 0
    fallback = None  # why a recognised model (linear, MLP) is evaluated by batched predict instead

    def base(self, M: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def permuted(self, M: np.ndarray, cols: tuple[int, ...], perms: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def permuted_sets(self, M, col_sets, perms_list) -> list[np.ndarray]:
        """:meth:`permuted` for several column sets (each with its permutations) of the same models."""
        return [self.permuted(M, cols, perms) for cols, perms in zip(col_sets, perms_list)]


class _PredictEngine(_Engine):
    """Any model with ``predict`` / ``predict_proba``: candidates' inputs stacked into few calls."""

    evaluation = "batched predict"

    def __init__(self, model, X, y, loss, target):
        self.model, self.X, self.loss = model, X, loss
        self.n, self.p = X.shape
        self.fn = model.predict_proba if loss == "log_loss" else model.predict
        self.target = target  # y as class indices (log_loss), labels (zero_one) or floats

    def _losses(self, out: np.ndarray, blocks: int) -> np.ndarray:
        n = self.n
        out = np.asarray(out)
        if self.loss == "log_loss":
            out = np.asarray(out, dtype=np.float64)
            if out.ndim == 1:
                rows = out.reshape(blocks, n)
                py = np.where(self.target[None, :] == 1, rows, 1.0 - rows)
            else:
                P = out.reshape(blocks, n, out.shape[-1])
                if P.shape[-1] <= int(self.target.max()):
                    raise EmbedLensInputError(f"predict_proba returned {P.shape[-1]} columns but y names class "
                                              f"index {int(self.target.max())}", source="model")
                py = np.take_along_axis(P, np.broadcast_to(self.target[None, :, None], (blocks, n, 1)), 2)[..., 0]
            return np.mean(-np.log(np.clip(py, 1e-15, 1.0)), axis=1)
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim != 1 or len(out) != blocks * n:
            raise EmbedLensInputError(f"predict returned shape {plain(out.shape)}; expected one value per row",
                                      source="model")
        rows = out.reshape(blocks, n)
        if self.loss == "zero_one":
            return np.mean(rows != self.target[None, :], axis=1)
        diff = rows.astype(np.float64) - self.target[None, :]
        return np.mean(diff * diff, axis=1) if self.loss == "mse" else np.mean(np.abs(diff), axis=1)

    def _run(self, inputs_of, count: int) -> np.ndarray:
        """Losses of ``count`` input blocks; ``inputs_of(a, b)`` stacks blocks a..b-1 (each n x p)."""
        per_call = max(1, _BUDGET // (self.n * self.p))
        rows = min(per_call, max(count, 1)) * self.n
        # the stacked inputs, the permuted copy and its gather, the product; the model's output
        _require(4 * rows * self.p + rows * 16, f"batched predict inputs of {rows:,} rows x {self.p} features")
        out = np.empty(count)
        for a in range(0, count, per_call):
            b = min(count, a + per_call)
            stacked = inputs_of(a, b).reshape((b - a) * self.n, self.p)
            out[a:b] = self._losses(self.fn(stacked), b - a)
            self.calls += 1
        return out

    def base(self, M):
        M = np.atleast_2d(M)
        return self._run(lambda a, b: self.X[None, :, :] * M[a:b, None, :], len(M))

    def permuted(self, M, cols, perms):
        M = np.atleast_2d(M)
        B, P = len(M), len(perms)
        cols = list(cols)

        def inputs(a, b):
            idx = np.arange(a, b)
            mi, pi = idx // P, idx % P
            Xs = np.broadcast_to(self.X, (b - a, self.n, self.p)).copy()
            Xs[:, :, cols] = self.X[perms[pi]][:, :, cols]
            return Xs * M[mi, None, :]

        return self._run(inputs, B * P).reshape(B, P)


class _LinearEngine(_Engine):
    """Linear / logistic models: f_m's logits are X @ (m o W) + b, one matrix product per batch.

    The permuted losses avoid an exponential per (row, class, model, permutation): with
    h = z - x_S W_S (the logits without the permuted columns) and g = x_S W_S,
    sum_k exp(h_rk + g_pi(r)k) = sum_k H_rk G_pi(r)k with H = exp(h - c_r), G = exp(g - d), so a
    permutation costs a gather, K products and one log per 16 rows
    (:func:`core._rashomon_kernels.permuted_log_loss`). METRICS.md section 9: "a batch of models
    is one matrix product".
    """

    evaluation = "coefficients"

    def __init__(self, W, b, X, target, loss):
        self.W, self.b, self.loss = np.ascontiguousarray(W), np.ascontiguousarray(b), loss
        self.X = np.ascontiguousarray(X)  # W (p, K), b (K,)
        self.n, self.p = X.shape
        self.K = W.shape[1]
        self.target = target  # class index per row (classifiers) or float (regression)

    def _coef(self, M):  # coefficients (p, K, B) of the models M (B, p)
        return self.W[:, :, None] * M.T[:, None, :]  # (p, K, B)

    def _logits(self, C):
        """Logits (n, K, B) for coefficients C (p, K, B); einsum, not BLAS: small products whose
        OpenBLAS threads fought for the cores of a shared machine (15x slower)."""
        return np.einsum("rc,ckb->rkb", self.X, C) + self.b[None, :, None]

    def _loss_from_logits(self, Z):
        """Mean loss per model from logits Z (n, K, B) (or (P, n, K, B): then (P, B))."""
        y = self.target
        if self.loss in ("mse", "mae"):
            d = Z[..., 0, :] - y[:, None]
            return np.mean(d * d if self.loss == "mse" else np.abs(d), axis=-2)
        if self.loss == "zero_one":
            return np.mean(np.argmax(Z, axis=-2) != y[:, None], axis=-2)
        c = Z.max(axis=-2)
        lse = c + np.log(np.exp(Z - c[..., None, :]).sum(axis=-2))
        zy = np.take_along_axis(Z, np.broadcast_to(y[:, None, None], Z.shape[:-2] + (1, Z.shape[-1])), -2)[..., 0, :]
        return np.mean(np.minimum(lse - zy, _LOG_CAP), axis=-2)

    def _chunk(self, B):
        step = max(1, _BUDGET // (self.n * self.K))
        # logits, their exponential, the per-column factors and their product, the permuted terms
        _require(8 * self.n * self.K * min(step, max(B, 1)),
                 f"the logits of {min(step, max(B, 1)):,} models on {self.n:,} rows x {self.K} outputs")
        return step

    def base(self, M):
        M = np.ascontiguousarray(np.atleast_2d(np.asarray(M, dtype=np.float64)))
        out = np.empty(len(M))
        self.calls += 1
        if self.loss == "log_loss":
            from ._rashomon_kernels import linear_log_loss

            linear_log_loss(self.X, self.W, self.b, M, self.target, 1e-15, out)
            return out
        step = self._chunk(len(M))
        for a in range(0, len(M), step):
            C = self._coef(M[a:a + step])
            out[a:a + step] = self._loss_from_logits(self._logits(C))
        return out

    def permuted_sets(self, M, col_sets, perms_list):
        M = np.atleast_2d(np.asarray(M, dtype=np.float64))
        B = len(M)
        col_sets = [list(c) for c in col_sets]
        outs = [np.empty((B, len(p))) for p in perms_list]
        if self.loss == "log_loss":  # the kernel reads the permutations row by row
            perms_list = [np.ascontiguousarray(np.asarray(p, dtype=np.intp).T) for p in perms_list]
        step = self._chunk(B)
        for a in range(0, B, step):
            C = self._coef(M[a:a + step])  # (p, K, b)
            Z = self._logits(C)
            if self.loss == "log_loss":
                self._log_loss_sets(Z, C, col_sets, perms_list, [o[a:a + step] for o in outs])  # perms (n, P)
            else:
                for cols, perms, o in zip(col_sets, perms_list, outs):
                    g = np.einsum("rs,skb->rkb", self.X[:, cols], C[cols])
                    o[a:a + step] = self._direct(Z - g, g, perms)
            self.calls += 1
        return outs

    def _log_loss_sets(self, Z, C, col_sets, perms_list, outs):
        """Log losses for each column set via :func:`core._rashomon_kernels.permuted_log_loss`.

        E = exp(z - row max) once per chunk of models; G_c = exp(g_c - max g_c) once per column
        (g_c = x_c C_c); a set's G is the product of its columns' G_c and H = E / G (the
        logits without the set, up to a row factor, which cancels in p_y). Safe while the
        set's logit spread (sum over its columns of max g_c - min g_c) is below 300: then every
        H_rk G_sk <= 1 and the largest term of each row is >= e^-300; else the direct formula.
        """
        import numba

        from ._rashomon_kernels import permuted_log_loss

        threads = numba.get_num_threads()
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        later = [set().union(*col_sets[k + 1:]) for k in range(len(col_sets))]
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k, (cols, perms_t, o) in enumerate(zip(col_sets, perms_list, outs)):  # perms_t: (n, P)
            for c in cols:
                if c not in cache:
                    g = self.X[:, c, None, None] * C[c][None]
                    top = g.max(axis=(0, 1))
                    cache[c] = (np.exp(g - top), top - g.min(axis=(0, 1)))
            spread = sum(cache[c][1] for c in cols)
            if np.all(spread < 300.0):
                G = cache[cols[0]][0]
                for c in cols[1:]:
                    G = G * cache[c][0]
                permuted_log_loss(E / G, G, self.target, perms_t, 1e-15, threads, o)
            else:
                g = np.einsum("rs,skb->rkb", self.X[:, cols], C[cols])
                o[:] = self._direct(Z - g, g, perms_t.T)
            for c in [c for c in cache if c not in later[k]]:
                del cache[c]

    def _direct(self, h, g, perms):
        """Losses (B, P) from logits h + g[perm] (n, K, B), in chunks of permutations."""
        n, K, B = h.shape
        P = len(perms)
        out = np.empty((B, P))
        per = max(1, _BUDGET // (n * K * B))
        for a in range(0, P, per):
            out[:, a:a + per] = self._loss_from_logits(h[None] + g[perms[a:a + per]]).T
        return out


def _affine_step(step, p):
    """(u, v) with step.transform(x) = (x - u) / v per column, or None (not a per-column scaler)."""
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    def arr(value, default):
        if value is None:
            return np.full(p, default)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (p,))

    try:
        if type(step) is StandardScaler:
            return (arr(getattr(step, "mean_", None) if step.with_mean else None, 0.0),
                    arr(getattr(step, "scale_", None) if step.with_std else None, 1.0))
        if type(step) is RobustScaler:
            return (arr(getattr(step, "center_", None) if step.with_centering else None, 0.0),
                    arr(getattr(step, "scale_", None) if step.with_scaling else None, 1.0))
        if type(step) is MaxAbsScaler:
            return np.zeros(p), arr(step.scale_, 1.0)
        if type(step) is MinMaxScaler and not step.clip:  # x s + m = (x - (-m / s)) / (1 / s)
            s, m = arr(step.scale_, 1.0), arr(step.min_, 0.0)
            return -m / s, 1.0 / s
    except (AttributeError, ValueError):  # not fitted, or fitted on another width
        return None
    return None


def _affine_prefix(model, p):
    """(final estimator, u, v, why not): a Pipeline's earlier steps folded into x -> (x - u) / v.

    The multipliers act on the raw features, before the scalers; a model whose weights act on
    (x - u) / v has them in raw units as W / v (rows) and b - (u / v) W. Only scikit-learn's
    per-column scalers (exact types, so a subclass's own transform is not trusted) fold;
    ``why not`` names the first step that does not (u, v are then None). A bare model: u = 0, v = 1.
    """
    from sklearn.pipeline import Pipeline

    u, v = np.zeros(p), np.ones(p)
    if not isinstance(model, Pipeline):
        return model, u, v, None
    steps = [s for _, s in model.steps if s is not None and s != "passthrough"]
    if not steps:
        return model, None, None, "the Pipeline has no steps"
    for step in steps[:-1]:
        uv = _affine_step(step, p)
        if uv is None:
            return steps[-1], None, None, (f"its step {type(step).__name__} is not a per-column scaler "
                                           "(StandardScaler, RobustScaler, MaxAbsScaler, MinMaxScaler)")
        u, v = u + uv[0] * v, v * uv[1]  # (((x - u) / v) - u2) / v2 = (x - (u + u2 v)) / (v v2)
    return steps[-1], u, v, None


def _linear_parts(model, p):
    """(W (p, K), b (K,), kind) of a linear / logistic model in raw input units, a str saying why
    it cannot be read from its coefficients, or None for any other model.

    A Pipeline may hold per-column scalers before the model (:func:`_affine_prefix`): the
    multipliers act on the raw features, so W_raw = W / v and b_raw = b - (u / v) W.
    """
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    est, u, v, why = _affine_prefix(model, p)
    if not isinstance(est, (LogisticRegression, LinearRegression, Ridge)):
        return None
    if why is not None:
        return f"{type(est).__name__} in a Pipeline where {why}"
    if isinstance(est, LogisticRegression):
        W = np.asarray(est.coef_, dtype=np.float64).T
        b = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
        if W.shape[1] == 1:  # binary: logits [0, z] of the classes (classes_[0], classes_[1])
            W, b = np.hstack([np.zeros_like(W), W]), np.concatenate([[0.0], b])
        kind = "classifier"
    elif isinstance(est, (LinearRegression, Ridge)):
        coef = np.asarray(est.coef_, dtype=np.float64)
        if coef.ndim == 2 and coef.shape[0] != 1:
            return None
        W = coef.reshape(-1, 1)
        b = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)[:1]
        kind = "regressor"
    if W.shape[0] != p:
        return None
    return W / v[:, None], b - (u / v) @ W, kind


_ACTIVATIONS = {"identity": 0, "logistic": 1, "tanh": 2, "relu": 3}


def _mlp_parts(model, p):
    """A scikit-learn MLPClassifier / MLPRegressor (bare or last in a Pipeline of per-column
    scalers) as (layers, activation, kind) in raw input units, a str saying why it cannot be
    read from its weights, or None for any other model.

    layers: [(W, b), ...] float64, the first (p, H1) with the scalers folded in (W / v,
    b - (u / v) W); a binary classifier's output layer gets a zero column in front (logits
    [0, z], as its predict_proba [1 - expit(z), expit(z)]).
    """
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    est, u, v, why = _affine_prefix(model, p)
    if not isinstance(est, (MLPClassifier, MLPRegressor)):
        return None
    name = type(est).__name__
    if why is not None:
        return f"{name} in a Pipeline where {why}"
    act = _ACTIVATIONS.get(getattr(est, "activation", None))
    coefs, intercepts = getattr(est, "coefs_", None), getattr(est, "intercepts_", None)
    out = getattr(est, "out_activation_", None)
    if act is None:
        return f"{name} with activation {getattr(est, 'activation', None)!r}"
    if coefs is None or intercepts is None or len(coefs) < 2:
        return f"{name} without a hidden layer"
    layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64).reshape(-1))
              for W, b in zip(coefs, intercepts)]
    K = layers[-1][0].shape[1]
    if isinstance(est, MLPClassifier):
        if not ((out == "softmax" and K >= 2) or (out == "logistic" and K == 1 and len(est.classes_) == 2)):
            return f"{name} with output {out!r} and {plural(K, 'output')} (multilabel?)"
        kind = "classifier"
        if K == 1:
            W, b = layers[-1]
            layers[-1] = (np.hstack([np.zeros_like(W), W]), np.concatenate([[0.0], b]))
    else:
        if out != "identity" or K != 1:
            return f"{name} with {plural(K, 'output')}"
        kind = "regressor"
    W1, b1 = layers[0]
    if W1.shape[0] != p:
        return f"{name} fitted on {plural(W1.shape[0], 'feature')}"
    layers[0] = (W1 / v[:, None], b1 - (u / v) @ W1)
    return layers, act, kind


def _mlp_forward(X, layers, act):
    """The last layer's values (n, K) of an MLP in raw units (numpy; the check of the fold)."""
    from scipy.special import expit

    Z = X
    for k, (W, b) in enumerate(layers):
        Z = Z @ W + b
        if k < len(layers) - 1:
            Z = (Z, expit(Z), np.tanh(Z), np.maximum(Z, 0.0))[act]
    return Z


class _MLPEngine(_Engine):
    """scikit-learn MLPs: the forward pass from ``coefs_`` / ``intercepts_`` (numba kernels).

    Multipliers scale the rows of the first weight matrix; permuting columns S changes the first
    layer's pre-activations by a rank-|S| update, z' = z + sum_{c in S} (x_pi c - x_c) m_c W1[c],
    so z is computed once per row and model and the later layers run per permutation
    (:func:`core._rashomon_kernels.mlp_loss`, fused per tile: no temporaries of size
    models x permutations x rows x units).
    """

    evaluation = "MLP weights"
    _LOSS_CODES = {"log_loss": 0, "mse": 1, "mae": 2, "zero_one": 3}

    def __init__(self, layers, act, X, target, loss):
        (W1, b1), rest = layers[0], layers[1:]
        self.W1, self.b1 = np.ascontiguousarray(W1), np.ascontiguousarray(b1)
        self.Ws = np.ascontiguousarray(np.concatenate([np.ascontiguousarray(W).ravel() for W, _ in rest]))
        self.bs = np.ascontiguousarray(np.concatenate([b for _, b in rest]))
        self.shapes = np.array([W.shape for W, _ in rest], dtype=np.intp).reshape(-1, 2)
        self.act = int(act)
        self.code = self._LOSS_CODES[loss]
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.n, self.p = X.shape
        self.y = np.ascontiguousarray(np.asarray(target, dtype=np.float64))

    def _run(self, M, cols, perms_t):
        import numba

        from ._rashomon_kernels import mlp_loss

        out = np.empty((len(M), perms_t.shape[1]))
        cols = np.asarray(list(cols), dtype=np.intp)
        mlp_loss(self.X, M, self.W1, self.b1, self.Ws, self.bs, self.shapes, self.act, cols, perms_t, self.y,
                 self.code, 1e-15, numba.get_num_threads(), out)
        self.calls += 1
        return out / self.n  # the kernel sums over rows: the same division as np.mean

    def base(self, M):
        M = np.ascontiguousarray(np.atleast_2d(np.asarray(M, dtype=np.float64)))
        return self._run(M, (), np.zeros((self.n, 1), dtype=np.intp))[:, 0]

    def permuted_sets(self, M, col_sets, perms_list):
        M = np.ascontiguousarray(np.atleast_2d(np.asarray(M, dtype=np.float64)))
        return [self._run(M, cols, np.ascontiguousarray(np.asarray(perms, dtype=np.intp).T))
                for cols, perms in zip(col_sets, perms_list)]


def _label_codes(model, y) -> np.ndarray:
    """y as indices into ``model.classes_`` (-1 for a label the model does not know)."""
    classes = np.asarray(model.classes_)
    lookup = {c.item() if isinstance(c, np.generic) else c: k for k, c in enumerate(classes)}
    return np.array([lookup.get(v.item() if isinstance(v, np.generic) else v, -1) for v in y], dtype=np.intp)


def _checked(model, build, X, y, loss, target, source: str):
    """(engine, None) when the engine ``build(target in its coding)`` gives the reference model's
    loss on (X, y) as the model's own outputs do (batched predict; 1e-9 relative), else (None, why not)."""
    engine = build(_label_codes(model, y) if loss == "zero_one" else target)
    ones = np.ones((1, X.shape[1]))
    check = _PredictEngine(model, X, y, loss, target).base(ones)[0]
    got = engine.base(ones)[0]
    if not abs(got - check) <= 1e-9 * max(1.0, abs(check)):
        return None, (f"the {type(model).__name__}'s loss from its {source} ({got:.12g}) differs from its own "
                      f"({check:.12g})")
    return engine, None


def _mlp_engine(model, parts, X, y, loss, target):
    """The MLP engine, checked against the model's own outputs on X; or (None, why not)."""
    layers, act, _kind = parts
    Z = _mlp_forward(X, layers, act)
    if loss == "log_loss":
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        own, what = np.asarray(model.predict_proba(X), dtype=np.float64), "predict_proba"
        diff = float(np.max(np.abs(P - own))) if own.shape == P.shape else np.inf
        scale = 1.0
    elif loss == "zero_one":
        own, what = np.asarray(model.predict(X)), "predict"
        mine = np.asarray(model.classes_)[np.argmax(Z, axis=1)]
        diff = float(np.mean(mine != own.reshape(-1))) if own.size == len(X) else np.inf
        scale = 1.0
    else:
        own, what = np.asarray(model.predict(X), dtype=np.float64).reshape(-1), "predict"
        diff = float(np.max(np.abs(Z[:, 0] - own))) if own.size == len(X) else np.inf
        scale = max(1.0, float(np.max(np.abs(own))) if own.size else 1.0)
    if not diff <= 1e-9 * scale:
        return None, (f"the {type(model).__name__}'s {what} differs from the forward pass on its weights (max "
                      f"|difference| {diff:.2g} on X)")
    engine, why = _checked(model, lambda coded: _MLPEngine(layers, act, X, coded, loss), X, y, loss, target,
                           "weights")
    if engine is not None:
        engine.calls = 0  # its params["batches"] leave the check out (a linear engine's count it)
    return engine, why


def _make_engine(model, X, y, loss):
    """The engine for ``model`` on (X, y), and the target in the engine's coding."""
    needs = "predict_proba" if loss == "log_loss" else "predict"
    if not callable(getattr(model, needs, None)):
        has = [a for a in ("predict", "predict_proba") if callable(getattr(model, a, None))]
        if not has:
            raise EmbedLensInputError(f"model is a {type(model).__name__} without predict or predict_proba; give "
                                      "a fitted model (a scikit-learn estimator, a pipeline or any object with "
                                      "those methods)", source="model")
        raise EmbedLensInputError(f"loss={loss!r} needs model.{needs}, which a {type(model).__name__} lacks; "
                                  f"use loss={'mse' if needs == 'predict_proba' else 'log_loss'!r} or give "
                                  f"a model with {needs}", source="model")
    from sklearn.base import BaseEstimator
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if isinstance(model, BaseEstimator):
        last = model.steps[-1][1] if hasattr(model, "steps") else model  # a Pipeline: its final step
        try:
            if isinstance(last, BaseEstimator):
                check_is_fitted(last)
        except NotFittedError:
            raise EmbedLensInputError(f"the {type(model).__name__} is not fitted; fit it on (X, y) first, or use "
                                      "fit_reference_model", source="model") from None
    p = X.shape[1]
    n_in = getattr(model, "n_features_in_", None)
    if isinstance(n_in, (int, np.integer)) and int(n_in) != p:
        raise EmbedLensInputError(f"the model was fitted on {plural(n_in, 'feature')} but X has {p}; give the "
                                  "columns the model was fitted on", source="X")
    if loss in ("mse", "mae"):
        target = _numeric_y(y, loss)
    elif loss == "log_loss":
        classes = getattr(model, "classes_", None)
        if classes is not None:
            try:
                target = _label_codes(model, y)
            except TypeError:  # an unhashable label
                target = None
            if target is None or (target < 0).any():
                classes = np.asarray(classes)
                unknown = [v for v in np.unique(y.astype(str)) if v not in {str(c) for c in classes}]
                raise EmbedLensInputError(f"y holds labels the model does not know ({first_items(unknown, 3)}); "
                                          f"the model's classes are {first_items(classes, 10)}", source="y")
        else:
            try:
                target = y.astype(np.float64)
            except (TypeError, ValueError):
                target = None
            if target is None or not np.all(target == np.round(target)) or target.min() < 0:
                raise EmbedLensInputError("the model has no classes_, so y must hold class indices 0, 1, ... (the "
                                          "columns of predict_proba)", source="y")
            target = target.astype(np.intp)
    else:  # zero_one compares predict's labels with y
        target = y
    engine, fallback = None, None
    linear = _linear_parts(model, p)
    parts = linear if linear is not None else _mlp_parts(model, p)
    if isinstance(parts, str):
        fallback = f"not read from its weights: {parts}"
    elif parts is not None and (parts[-1] == "classifier") == (loss in ("log_loss", "zero_one")):
        # (else, e.g. mse on a classifier's predict: batched predict, as for any model)
        if linear is not None:
            W, b, _kind = linear  # a one-vs-rest logistic model fails the check: its probabilities are not a softmax
            engine, fallback = _checked(model, lambda coded: _LinearEngine(W, b, X, coded, loss), X, y, loss, target,
                                        "coefficients")
        else:
            engine, fallback = _mlp_engine(model, parts, X, y, loss, target)
    if engine is None:
        engine = _PredictEngine(model, X, y, loss, target)
        engine.fallback = fallback
    return engine


# --------------------------------------------------------------------------- the Rashomon set


@dataclass(frozen=True, eq=False)
class RashomonSet:
    """Multiplier models f_m(x) = f*(m o x) around a reference model f*, with their losses.

    Models (rows of ``multipliers``): row 0 is the reference (all ones); then, for each kept
    feature i, sign (+, -) and budget level a in 0, 0.1, ..., 1, the greedy search's model (m_i
    at that level, other multipliers 1; loss < L* + a epsilon); then, for each pair, its 36
    joint models (9 budget splits x 4 sign quadrants), kept with their measured loss even when
    it exceeds L* + epsilon (``in_set`` False; the halo plot's super-additive signal).

    Attributes
    ----------
    model : object
        The reference model f*.
    multipliers : ndarray, shape (models, p), float64, read-only
        One row per model.
    losses : ndarray, shape (models,)
        The loss of each model on the data of the search.
    in_set : ndarray of bool, shape (models,)
        ``losses <= reference_loss + epsilon``.
    reference_loss : float
        L*, the reference model's loss.
    epsilon : float
        The set's loss tolerance.
    loss : str
        One of :data:`LOSSES`.
    feature_names : tuple of str, length p
    features : tuple of int
        Indices of the features kept: a feature leaves only when the loss does not move with its
        multiplier (every loss its search measured equals L*).
    pairs : tuple of (int, int)
        All pairs of kept features, i < j.
    level_multipliers : ndarray, shape (p, 2, 11), read-only
        m_i found at each budget level, by feature, sign (0 "+", 1 "-") and level (NaN for the
        features dropped).
    params : dict
        loss, epsilon, epsilon_rate, epsilon_given, step, seed, evaluation ("coefficients",
        "MLP weights" or "batched predict"), fallback (why a linear model or MLP is evaluated by
        batched predict after all, else None), levels, dropped features, capped chains, loss
        evaluations, batches.
    label : str
        One line saying what the set is.
    """

    model: object = field(repr=False)
    multipliers: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)
    in_set: np.ndarray = field(repr=False)
    reference_loss: float
    epsilon: float
    loss: str
    feature_names: tuple
    features: tuple
    pairs: tuple
    level_multipliers: np.ndarray = field(repr=False)
    params: dict = field(repr=False)
    label: str

    @property
    def n_models(self) -> int:
        """Number of models (rows of ``multipliers``), the reference included."""
        return int(len(self.losses))

    @property
    def n_single(self) -> int:
        """Number of single-feature models (kept features x 2 signs x 11 levels)."""
        return 22 * len(self.features)

    def _feature(self, f) -> int:
        if isinstance(f, str):
            if f not in self.feature_names:
                raise EmbedLensInputError(f"no feature named {f!r}; the features are "
                                          f"{first_items(self.feature_names, 10)}")
            return self.feature_names.index(f)
        return int(f)

    def pair_offset(self, i, j) -> int:
        """Row of the first of the 36 models of pair (i, j) (indices or names, any order).

        Parameters
        ----------
        i, j : int or str
            Two kept features.

        Returns
        -------
        int

        Raises
        ------
        EmbedLensInputError
            When (i, j) is not a pair of the set.
        """
        a, b = sorted((self._feature(i), self._feature(j)))
        try:
            k = self.pairs.index((a, b))
        except ValueError:
            raise EmbedLensInputError(f"({plain(i)!r}, {plain(j)!r}) is not a pair of this Rashomon set; its "
                                      f"pairs are {first_items([self.pair_name(*q) for q in self.pairs], 6)}") from None
        return 1 + self.n_single + 36 * k

    def single_offset(self, i) -> int:
        """Row of the first single-feature model of feature ``i`` ("+" levels 0..1, then "-").

        Parameters
        ----------
        i : int or str
            A kept feature.

        Returns
        -------
        int

        Raises
        ------
        EmbedLensInputError
            When ``i`` is not a kept feature.
        """
        f = self._feature(i)
        if f not in self.features:
            raise EmbedLensInputError(f"feature {plain(i)!r} is not kept in this Rashomon set")
        return 1 + 22 * self.features.index(f)

    def pair_name(self, i, j) -> str:
        """``"name_i × name_j"``.

        Parameters
        ----------
        i, j : int or str

        Returns
        -------
        str

        Raises
        ------
        EmbedLensInputError
            An unknown feature name.
        """
        return f"{self.feature_names[self._feature(i)]} × {self.feature_names[self._feature(j)]}"

    def _pair_rows(self, i, j) -> tuple[slice, bool]:
        a, b = self._feature(i), self._feature(j)
        start = self.pair_offset(a, b)
        return slice(start, start + 36), a > b

    def pair_multipliers(self, i, j) -> np.ndarray:
        """The 36 joint models of pair (i, j): (36, p), ordered by budget split then quadrant.

        Parameters
        ----------
        i, j : int or str
            Two kept features (index or name).

        Returns
        -------
        ndarray, shape (36, p)

        Raises
        ------
        EmbedLensInputError
            When (i, j) is not a pair of the set.
        """
        rows, _ = self._pair_rows(i, j)
        return self.multipliers[rows]

    def pair_losses(self, i, j) -> np.ndarray:
        """The measured losses of the 36 joint models of pair (i, j).

        Parameters
        ----------
        i, j : int or str

        Returns
        -------
        ndarray, shape (36,)

        Raises
        ------
        EmbedLensInputError
            When (i, j) is not a pair of the set.
        """
        rows, _ = self._pair_rows(i, j)
        return self.losses[rows]

    def pair_table(self, i, j) -> pd.DataFrame:
        """The 36 joint models of pair (i, j), as a table.

        Parameters
        ----------
        i, j : int or str
            Two kept features; the table's ``_i`` columns are for ``i`` as given.

        Returns
        -------
        DataFrame
            Columns ``model, alpha_i, alpha_j, quadrant, m_i, m_j, loss, in_set`` (alpha: the share
            of epsilon given to each feature; quadrant: the signs of the two moves, "++" ...).

        Raises
        ------
        EmbedLensInputError
            When (i, j) is not a pair of the set.
        """
        rows, swapped = self._pair_rows(i, j)
        a, b = self._feature(i), self._feature(j)
        alpha = np.array([s for s in _SPLITS for _ in range(4)])
        quad = np.array([q for _ in _SPLITS for q in QUADRANTS])
        if swapped:  # stored for (b, a): swap the roles
            alpha = alpha[:, ::-1]
            quad = np.array([q[::-1] for q in quad])
        return pd.DataFrame({
            "model": np.arange(rows.start, rows.stop), "alpha_i": alpha[:, 0], "alpha_j": alpha[:, 1],
            "quadrant": quad, "m_i": self.multipliers[rows, a], "m_j": self.multipliers[rows, b],
            "loss": self.losses[rows], "in_set": self.in_set[rows]})

    @property
    def models(self) -> pd.DataFrame:
        """Every model: ``model, kind ("reference" / "single" / "pair"), i, j, alpha_i, alpha_j,
        sign, loss, in_set`` (i, j feature names; a single model's level is its ``alpha_i``)."""
        kinds, i, j, ai, aj, sign = [], [], [], [], [], []
        names = self.feature_names
        kinds.append("reference"), i.append(""), j.append(""), ai.append(np.nan), aj.append(np.nan), sign.append("")
        for f in self.features:
            for s in "+-":
                for a in LEVELS:
                    kinds.append("single"), i.append(names[f]), j.append(""), ai.append(a), aj.append(np.nan)
                    sign.append(s)
        for a_, b_ in self.pairs:
            for (x, z) in _SPLITS:
                for q in QUADRANTS:
                    kinds.append("pair"), i.append(names[a_]), j.append(names[b_]), ai.append(x), aj.append(z)
                    sign.append(q)
        return pd.DataFrame({"model": np.arange(self.n_models), "kind": kinds, "i": i, "j": j, "alpha_i": ai,
                             "alpha_j": aj, "sign": sign, "loss": self.losses, "in_set": self.in_set})


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _greedy_search(engine, p, L_star, eps, step, progress, should_stop):
    """Lockstep greedy search of every (feature, sign) chain; returns level multipliers and losses.

    Per chain (feature i, sign s): m = 1; for each budget level a in 0, 0.1, ..., 1 (m carries
    over from the level before): lr = step; propose m + s lr; accept (m moves) while
    L(f_m) - L* < a eps, else lr /= 10; the level ends at the 4th rejection, or after more than
    100 accepted steps in a row that leave the loss unchanged (the reference code's rule for a
    feature the model ignores). Loss differences within 1e-12 (relative) count as 0.
    """
    C = 2 * p
    feat = np.repeat(np.arange(p), 2)
    sign = np.tile([1.0, -1.0], p)
    m = np.ones(C)
    lr = np.full(C, float(step))
    rej = np.zeros(C, dtype=np.int64)
    level = np.zeros(C, dtype=np.int64)
    flat = np.zeros(C, dtype=np.int64)
    steps = np.zeros(C, dtype=np.int64)
    prev = np.full(C, L_star)
    cur = np.full(C, L_star)
    moved = np.zeros(C, dtype=bool)
    capped = np.zeros(C, dtype=bool)
    m_lev = np.ones((C, len(LEVELS)))
    l_lev = np.full((C, len(LEVELS)), L_star)
    budget = np.asarray(LEVELS) * eps
    tol = _tol(L_star)
    active = np.ones(C, dtype=bool)
    evaluations = 0
    while active.any():
        _stop_check(should_stop)
        idx = np.flatnonzero(active)
        cand = m[idx] + sign[idx] * lr[idx]
        rows = np.ones((len(idx), p))
        rows[np.arange(len(idx)), feat[idx]] = cand
        L = engine.base(rows)
        evaluations += len(idx)
        diff = L - L_star
        rise = np.where(np.abs(diff) <= tol, 0.0, diff)
        moved[idx] |= rise != 0.0
        ok = rise < budget[level[idx]]
        acc = idx[ok]
        m[acc] = cand[ok]
        cur[acc] = L[ok]
        steps[acc] += 1
        same = np.abs(L[ok] - prev[acc]) <= tol
        flat[acc] = np.where(same, flat[acc] + 1, 0)
        prev[acc] = np.where(same, prev[acc], L[ok])
        rj = idx[~ok]
        lr[rj] = lr[rj] / 10.0
        rej[rj] += 1
        cap = acc[steps[acc] >= _MAX_STEPS]
        capped[cap] = True
        end = np.unique(np.concatenate([acc[flat[acc] > _MAX_FLAT], rj[rej[rj] >= _REJECTIONS], cap]))
        if len(end):
            m_lev[end, level[end]] = m[end]
            l_lev[end, level[end]] = cur[end]
            for c in cap:  # a capped chain keeps its multiplier for the levels left
                m_lev[c, level[c]:] = m[c]
                l_lev[c, level[c]:] = cur[c]
                level[c] = len(LEVELS) - 1
            level[end] += 1
            lr[end] = float(step)
            rej[end] = 0
            active[end[level[end] >= len(LEVELS)]] = False
        if progress is not None:
            progress(0.8 * float(np.mean(level)) / len(LEVELS), f"searching multipliers: level "
                     f"{int(level[active].min()) if active.any() else len(LEVELS) - 1} of 10")
    return (m_lev.reshape(p, 2, -1), l_lev.reshape(p, 2, -1), moved.reshape(p, 2).any(axis=1),
            capped.reshape(p, 2), evaluations)


def _set_models(level_m, level_l, kept, pairs, p, L_star):
    """Multipliers (and known losses, NaN for the pair models) of every model of the set."""
    rows = [np.ones(p)]
    losses = [L_star]
    for f in kept:
        for s in range(2):
            for lv in range(len(LEVELS)):
                r = np.ones(p)
                r[f] = level_m[f, s, lv]
                rows.append(r)
                losses.append(level_l[f, s, lv])
    for i, j in pairs:
        for k in range(1, 10):
            for si, sj in _QUADRANT_SIGNS:
                r = np.ones(p)
                r[i] = level_m[i, si, k]
                r[j] = level_m[j, sj, 10 - k]
                rows.append(r)
                losses.append(np.nan)
    return np.array(rows), np.array(losses)


def rashomon_set(model, X, y, /, *, loss: str = "log_loss", epsilon: float | None = None,
                 epsilon_rate: float = 0.1, step: float = 0.1, seed: int = 0, feature_names=None,
                 progress: Callable[[float, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> RashomonSet:
    """The Rashomon set of multiplier models around a fitted reference model (greedy search).

    The models are f_m(x) = f*(m o x), one multiplier per input feature (for a linear or
    logistic model, the same as scaling its coefficients). The Rashomon set is
    R(epsilon) = {f : L(f) <= L(f*) + epsilon}, epsilon = ``epsilon_rate`` L(f*) unless
    ``epsilon`` is given (needed when L(f*) = 0).

    Greedy search (Li et al. 2024, the reference code's ``_greedy_search``): per feature i, sign
    s (+, -) and budget level a in 0, 0.1, ..., 1, move m_i from 1 (carrying m over from the
    level before) in steps of ``step``, accepting while L(f_m) - L* < a epsilon and dividing the
    step by 10 on a rejection; a level ends at the 4th rejection (precision ``step`` / 1000) or
    after more than 100 accepted steps in a row that leave the loss unchanged. A chain stops
    after 1000 accepted steps (recorded in ``params["capped"]``). A feature leaves the set only
    when the loss does not move with its multiplier (every loss of both its chains equals L*;
    the reference code's rule), never because of its permutation importance.

    Pair models (i, j): budget splits (a_i, a_j) = (0.1, 0.9) ... (0.9, 0.1) times the 4 sign
    quadrants, m_i from i's chain at level a_i and m_j from j's at a_j: 36 models per pair, kept
    with their measured loss even above L* + epsilon (``in_set`` False).

    All (feature, sign) chains advance in lockstep, so each step is one batched evaluation:
    for LogisticRegression / LinearRegression / Ridge a batch is one matrix product on the
    coefficients, and for MLPClassifier / MLPRegressor the forward pass runs from
    ``coefs_`` / ``intercepts_`` (numba; the multipliers scale the rows of the first weight
    matrix), both bare or after per-column scalers (StandardScaler, RobustScaler, MaxAbsScaler,
    MinMaxScaler) in a Pipeline, the multipliers acting on the raw features, before the
    scalers. Both are checked against the model's own outputs on X and fall back to batched
    ``predict`` (saying why in ``params["fallback"]`` and the label) when they differ by more
    than 1e-9; any other model gets its candidates' inputs stacked into few ``predict`` calls.

    Parameters
    ----------
    model : object
        A fitted model with ``predict_proba`` (for ``loss="log_loss"``) or ``predict``: a
        scikit-learn estimator, a Pipeline, or any plain class.
    X : array-like, shape (n, p)
        The data the losses are measured on (finite; p >= 2). A DataFrame's columns name the
        features.
    y : array-like, shape (n,)
        Targets: labels of ``model.classes_`` (or class indices) for log_loss / zero_one,
        numbers for mse / mae.
    loss : {"log_loss", "mse", "mae", "zero_one"}, default="log_loss"
        Log loss = -mean log max(p_y, 1e-15) (probabilities clipped at 1e-15, as usual);
        zero_one = 1 - accuracy.
    epsilon : float, optional
        Absolute tolerance (> 0); overrides ``epsilon_rate``.
    epsilon_rate : float, default=0.1
        epsilon = epsilon_rate L* when ``epsilon`` is None.
    step : float, default=0.1
        First step of each level's multiplier moves, in (0, 1].
    seed : int, default=0
        Recorded in ``params`` (the search draws nothing; :func:`feature_interactions` takes
        its own seed).
    feature_names : sequence of str, optional
        One per column (default: the DataFrame's columns, else "x0", "x1", ...).
    progress : callable(fraction, text), optional
        Called as the search advances (fraction in [0, 1]).
    should_stop : callable() -> bool, optional
        Polled before each batch; True raises :class:`Stopped`.

    Returns
    -------
    RashomonSet

    Raises
    ------
    EmbedLensInputError
        A model without predict / predict_proba (or without the one ``loss`` needs), X not a
        finite 2-D matrix with at least 2 features, y of another length or with missing values,
        labels the model does not know, an unknown loss, a bad parameter, or L* = 0 without
        ``epsilon``.
    Stopped
        When ``should_stop()`` returned True.

    References
    ----------
    Li, Wang, Deng & Barnard, "Exploring the cloud of feature interaction scores in a Rashomon
    set", ICLR 2024.
    """
    loss = check_param("loss", loss, StrOptions(set(LOSSES), order=LOSSES))
    if epsilon is not None:
        epsilon = check_param("epsilon", epsilon, Interval(Real, 0, None, closed="neither"),
                              hint="or None to use epsilon_rate")
    epsilon_rate = check_param("epsilon_rate", epsilon_rate, Interval(Real, 0, None, closed="neither"))
    step = check_param("step", step, Interval(Real, 0, 1, closed="right"))
    seed = check_param("seed", seed, Interval(Integral, 0, None, closed="left"))
    _check_hooks(progress, should_stop)
    Xa, df_names = _check_X(X)
    ya = _check_y(y, len(Xa))
    n, p = Xa.shape
    names = _feature_names(feature_names, df_names, p)
    engine = _make_engine(model, Xa, ya, loss)
    L_star = float(engine.base(np.ones((1, p)))[0])
    if not np.isfinite(L_star):
        raise EmbedLensInputError(f"the reference model's loss is {L_star}; check the model's outputs",
                                  source="model")
    if epsilon is None:
        if L_star <= 0.0:
            raise EmbedLensInputError("the reference model's loss L* is 0, so epsilon_rate x L* = 0 leaves no "
                                      "room; give an absolute epsilon (e.g. epsilon=0.1)")
        eps = epsilon_rate * L_star
    else:
        eps = float(epsilon)
    if progress is not None:
        progress(0.0, "searching multipliers")
    level_m, level_l, moved, capped, evaluations = _greedy_search(engine, p, L_star, eps, step, progress,
                                                                  should_stop)
    kept = tuple(int(f) for f in np.flatnonzero(moved))
    pairs = tuple(combinations(kept, 2))
    M, losses = _set_models(level_m, level_l, kept, pairs, p, L_star)
    todo = np.flatnonzero(np.isnan(losses))
    if len(todo):
        _stop_check(should_stop)
        if progress is not None:
            progress(0.85, f"measuring {plural(len(todo), 'pair model')}")
        losses[todo] = engine.base(M[todo])
        evaluations += len(todo)
    in_set = losses <= L_star + eps
    level_m = level_m.copy()
    level_m[[f for f in range(p) if f not in kept]] = np.nan
    dropped = tuple(names[f] for f in range(p) if f not in kept)
    params = {"loss": loss, "epsilon": eps, "epsilon_rate": None if epsilon is not None else epsilon_rate,
              "epsilon_given": epsilon is not None, "step": step, "seed": seed, "evaluation": engine.evaluation,
              "levels": LEVELS, "dropped": dropped,
              "capped": tuple((names[f], "+-"[s]) for f, s in zip(*np.nonzero(capped))),
              "fallback": engine.fallback, "n_rows": n, "loss_evaluations": int(evaluations),
              "batches": int(engine.calls)}
    eps_text = f"ε = {eps:.4g}" + ("" if epsilon is not None else f" ({epsilon_rate:.0%} of L*)")
    label = (f"Rashomon set: {plural(len(kept), 'feature')}, {plural(len(M), 'model')} "
             f"({int(in_set.sum())} within L* + ε), {loss.replace('_', ' ')} L* = {L_star:.4g}, {eps_text}, "
             f"step {step:g}, {n:,} rows, {engine.evaluation}")
    if engine.fallback:
        label += f" ({engine.fallback})"
    if dropped:
        label += f"; dropped (loss does not move): {', '.join(dropped)}"
    if progress is not None:
        progress(1.0, "done")
    return RashomonSet(model=model, multipliers=_readonly(M), losses=_readonly(losses), in_set=_readonly(in_set),
                       reference_loss=L_star, epsilon=eps, loss=loss, feature_names=names, features=kept,
                       pairs=pairs, level_multipliers=_readonly(level_m), params=params, label=label)


def _feature_names(feature_names, df_names, p) -> tuple[str, ...]:
    if feature_names is None:
        return df_names if df_names is not None else tuple(f"x{i}" for i in range(p))
    names = tuple(str(s) for s in feature_names)
    if len(names) != p:
        raise EmbedLensInputError(f"feature_names has {plural(len(names), 'name')} but X has "
                                  f"{plural(p, 'column')}; give one name per column", source="feature_names")
    if len(set(names)) != p:
        raise EmbedLensInputError("feature_names repeats a name; give distinct names", source="feature_names")
    return names


def fit_reference_model(X, y, /, *, kind: str = "logistic", seed: int = 0):
    """A reference model f* for :func:`rashomon_set`: logistic regression or a small MLP.

    Both are scikit-learn Pipelines of a StandardScaler and the model, fitted on (X, y):
    ``"logistic"`` = LogisticRegression (lbfgs, max_iter 1000; a classifier, so y are labels);
    ``"mlp"`` = MLPClassifier (one hidden layer of 32 ReLU units, adam, max_iter 500, seeded),
    or MLPRegressor for a float target that is not whole numbers. The multipliers of
    :func:`rashomon_set` act on the raw features, before the scaler.

    Parameters
    ----------
    X : array-like, shape (n, p)
        Finite features, p >= 2.
    y : array-like, shape (n,)
        Labels (logistic; at least 2 classes) or labels / numbers (mlp).
    kind : {"logistic", "mlp"}, default="logistic"
    seed : int, default=0
        The MLP's random_state (LogisticRegression draws nothing).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted.

    Raises
    ------
    EmbedLensInputError
        Bad X / y (see :func:`rashomon_set`), a single class, a float target for the logistic
        model, or an unknown kind.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kind = check_param("kind", kind, StrOptions({"logistic", "mlp"}, order=("logistic", "mlp")))
    seed = check_param("seed", seed, Interval(Integral, 0, None, closed="left"))
    Xa, _ = _check_X(X)
    ya = _check_y(y, len(Xa))
    numeric = ya.dtype.kind == "f" and not np.all(ya == np.round(ya))
    if numeric and kind == "logistic":
        raise EmbedLensInputError("the target holds fractional numbers; a logistic model needs labels. Pick a "
                                  "label column, or kind='mlp' for a regression", source="y")
    if not numeric and len(np.unique(ya.astype(str))) < 2:
        raise EmbedLensInputError("the target has a single class; a classifier needs at least 2", source="y")
    if kind == "logistic":
        est = LogisticRegression(max_iter=1000)
    elif numeric:
        est = MLPRegressor(hidden_layer_sizes=(32,), max_iter=500, random_state=seed)
    else:
        est = MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=seed)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_pipeline(StandardScaler(), est).fit(Xa, ya)


# --------------------------------------------------------------------------- effects and FIS


@dataclass(frozen=True, eq=False)
class FeatureInteractions:
    """Main effects (model reliance) and feature interaction scores of every model of a set.

    Attributes
    ----------
    main : DataFrame
        Columns ``feature, model, effect, loss, reference``: phi_i(f) for each kept feature and
        each model of the reference and single-feature part of the set (``loss``: the model's
        loss in the set; ``reference``: the reference model's rows).
    fis : DataFrame
        Columns ``i, j, model, fis, loss, in_set, reference, joint, main_i, main_j``: for each
        pair (i, j feature names), the reference and the pair's 36 models:
        fis = joint - main_i - main_j = phi_ij(f) - phi_i(f) - phi_j(f).
    rset : RashomonSet
    params : dict
        n_permutations (singles, pairs), seed, pairs, n_rows, evaluation, fallback, batches.
    label : str
    """

    main: pd.DataFrame = field(repr=False)
    fis: pd.DataFrame = field(repr=False)
    rset: RashomonSet = field(repr=False)
    params: dict = field(repr=False)
    label: str


def _check_permutations(n_permutations) -> tuple[int, int]:
    if isinstance(n_permutations, (Integral, np.integer)) and not isinstance(n_permutations, bool):
        n_permutations = (n_permutations, n_permutations)
    try:
        a, b = n_permutations
    except (TypeError, ValueError):
        from ._validation import invalid_message

        raise EmbedLensInputError(invalid_message("n_permutations", n_permutations,
                                                  expected="a pair (singles, pairs) of integers >= 1")) from None
    return (check_param("n_permutations[0]", a, Interval(Integral, 1, None, closed="left")),
            check_param("n_permutations[1]", b, Interval(Integral, 1, None, closed="left")))


def feature_interactions(rset: RashomonSet, X, y, /, *, pairs=None, n_permutations=(30, 100), seed: int = 0,
                         progress: Callable[[float, str], None] | None = None,
                         should_stop: Callable[[], bool] | None = None) -> FeatureInteractions:
    """Main effects (model reliance) and FIS of every model of a Rashomon set (the FISC).

    phi_S(f) = mean over permutations pi of L(f(X with the columns of S permuted by pi)) - L(f(X));
    main effect = phi_i, FIS_ij(f) = phi_ij(f) - phi_i(f) - phi_j(f), all three on the same model
    f (Li et al. 2024, METRICS.md section 9). For a pair, **both columns are permuted together**
    (one pi for both); the reference code permutes only the last column of the pair (its
    ``loss_shuffle`` restores the copy inside the column loop), and it takes phi_i, phi_j of
    the single-feature models instead of the pair model itself: both differ here.

    Permutations: ``n_permutations[0]`` for phi_i (30), ``n_permutations[1]`` for phi_ij (100),
    drawn once from ``seed`` (numpy default_rng) and shared by every feature, pair and model
    (common random numbers: the differences between models are not permutation noise); the
    singles use the first ``n_permutations[0]`` of the same sequence. Main effects are computed
    for the reference and the single-feature models (all within the set), FIS for the
    reference and each pair's 36 models (``in_set`` flags those above L* + epsilon).

    Parameters
    ----------
    rset : RashomonSet
        From :func:`rashomon_set`.
    X : array-like, shape (n, p)
        The data to permute (usually the search's; any rows with the same p columns).
    y : array-like, shape (n,)
    pairs : sequence of (i, j), optional
        Pairs (indices or names) to score; default every pair of the set.
    n_permutations : (int, int) or int, default=(30, 100)
        Permutations for single features and for pairs.
    seed : int, default=0
    progress : callable(fraction, text), optional
    should_stop : callable() -> bool, optional
        Polled before each batch; True raises :class:`Stopped`.

    Returns
    -------
    FeatureInteractions

    Raises
    ------
    EmbedLensInputError
        X / y invalid or of another width than the set, a pair not in the set, bad parameters.
    Stopped
        When ``should_stop()`` returned True.

    References
    ----------
    Li, Wang, Deng & Barnard, ICLR 2024; Fisher, Rudin & Dominici, "All models are wrong, but
    many are useful" (model reliance), JMLR 2019.
    """
    if not isinstance(rset, RashomonSet):
        raise EmbedLensInputError(f"rset must be a RashomonSet (from rashomon_set); got {type(rset).__name__}")
    n1, n2 = _check_permutations(n_permutations)
    seed = check_param("seed", seed, Interval(Integral, 0, None, closed="left"))
    _check_hooks(progress, should_stop)
    Xa, _ = _check_X(X)
    ya = _check_y(y, len(Xa))
    n, p = Xa.shape
    if p != rset.multipliers.shape[1]:
        raise EmbedLensInputError(f"X has {plural(p, 'column')} but the Rashomon set has "
                                  f"{plural(rset.multipliers.shape[1], 'feature')}", source="X")
    if pairs is None:
        pair_list = list(rset.pairs)
    else:
        pair_list = []
        for q in pairs:
            a, b = q
            rset.pair_offset(a, b)  # validates
            pair_list.append(tuple(sorted((rset._feature(a), rset._feature(b)))))
        pair_list = list(dict.fromkeys(pair_list))
    engine = _make_engine(rset.model, Xa, ya, rset.loss)
    rng = np.random.default_rng(seed)
    # the permutations (built, then stacked) and the transposed copies of a pair's three sets
    _require(n * (2 * max(n1, n2) + n2 + 2 * n1),
             f"{max(n1, n2)} permutations of {n:,} rows", avoid=f"{_FEWER_ROWS} or fewer permutations (n_permutations)")
    perms = np.stack([rng.permutation(n) for _ in range(max(n1, n2))]) if n > 0 else np.zeros((0, 0), int)
    names = rset.feature_names
    feats = list(rset.features)
    total = len(feats) + len(pair_list)
    done = 0

    def tick(text):
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(1.0, done / max(total, 1)), text)

    # main effects: the reference and single-feature models
    main_models = np.arange(1 + rset.n_single)
    Mm = rset.multipliers[main_models]
    _stop_check(should_stop)
    base_main = engine.base(Mm)
    main_rows = []
    phi_single = {}
    for f0 in range(0, len(feats), 2):  # two features per batch: progress and Stop stay responsive
        _stop_check(should_stop)
        group = feats[f0:f0 + 2]
        for f, losses in zip(group, engine.permuted_sets(Mm, [(f,) for f in group], [perms[:n1]] * len(group))):
            eff = losses.mean(axis=1) - base_main
            phi_single[f] = eff
            main_rows.append(pd.DataFrame({"feature": names[f], "model": main_models, "effect": eff,
                                           "loss": rset.losses[main_models], "reference": main_models == 0}))
            tick(f"main effect of {names[f]}")
    main = pd.concat(main_rows, ignore_index=True) if main_rows else pd.DataFrame(
        columns=["feature", "model", "effect", "loss", "reference"])
    fis_rows = []
    for i, j in pair_list:
        start = rset.pair_offset(i, j)
        models = np.concatenate([[0], np.arange(start, start + 36)])
        M = rset.multipliers[models]
        _stop_check(should_stop)
        base = engine.base(M)
        base[0] = base_main[0]
        lj, li, lk = engine.permuted_sets(M, [(i, j), (i,), (j,)], [perms[:n2], perms[:n1], perms[:n1]])
        joint = lj.mean(axis=1) - base
        mi = li.mean(axis=1) - base
        mj = lk.mean(axis=1) - base
        mi[0], mj[0] = phi_single[i][0], phi_single[j][0]  # the reference's, as in .main
        tick(f"FIS of {names[i]} × {names[j]}")
        fis_rows.append(pd.DataFrame({"i": names[i], "j": names[j], "model": models, "fis": joint - mi - mj,
                                      "loss": rset.losses[models], "in_set": rset.in_set[models],
                                      "reference": models == 0, "joint": joint, "main_i": mi, "main_j": mj}))
    fis = pd.concat(fis_rows, ignore_index=True) if fis_rows else pd.DataFrame(
        columns=["i", "j", "model", "fis", "loss", "in_set", "reference", "joint", "main_i", "main_j"])
    params = {"n_permutations": (n1, n2), "seed": seed, "pairs": tuple(pair_list), "n_rows": n,
              "evaluation": engine.evaluation, "fallback": engine.fallback, "batches": int(engine.calls)}
    label = (f"FISC: {plural(len(pair_list), 'pair')}, {plural(len(feats), 'feature')}, "
             f"{n1} / {n2} permutations (singles / pairs, all columns of a pair together), seed {seed}, "
             f"{n:,} rows")
    if progress is not None:
        progress(1.0, "done")
    return FeatureInteractions(main=main, fis=fis, rset=rset, params=params, label=label)


# --------------------------------------------------------------------------- plot data


def halo_data(rset: RashomonSet, /, *, pair) -> pd.DataFrame:
    """The halo plot's data for one pair: one row per (budget split, sign quadrant), 36 rows.

    theta = atan2(a_i, a_j) + q pi / 2 for quadrant q (:data:`QUADRANTS` order: "++", "+-",
    "-+", "--"); ``expected`` = epsilon (the loss rise if the two features' effects simply
    added: a_i eps + a_j eps); ``measured`` = L(f_{m_i, m_j}) - L*. Measured outside expected:
    a super-additive interaction in that quadrant; inside: cancelling (Li et al. 2024).

    Parameters
    ----------
    rset : RashomonSet
    pair : (int or str, int or str)
        Two kept features.

    Returns
    -------
    DataFrame
        Columns ``alpha_i, alpha_j, quadrant, theta, expected, measured, model, m_i, m_j, in_set``
        (theta in radians).

    Raises
    ------
    EmbedLensInputError
        When ``pair`` is not a pair of the set.
    """
    try:
        i, j = pair
    except (TypeError, ValueError):
        raise EmbedLensInputError(f"pair must be two features (i, j); got {plain(pair)!r}") from None
    t = rset.pair_table(i, j)
    q = t["quadrant"].map({s: k for k, s in enumerate(QUADRANTS)}).to_numpy()
    theta = np.arctan2(t["alpha_i"].to_numpy(), t["alpha_j"].to_numpy()) + q * np.pi / 2
    return pd.DataFrame({"alpha_i": t["alpha_i"], "alpha_j": t["alpha_j"], "quadrant": t["quadrant"],
                         "theta": theta, "expected": rset.epsilon,
                         "measured": t["loss"].to_numpy() - rset.reference_loss, "model": t["model"],
                         "m_i": t["m_i"], "m_j": t["m_j"], "in_set": t["in_set"]})


def swarm_data(result: FeatureInteractions, /, *, kind: str = "fis", absolute: bool = False) -> pd.DataFrame:
    """The swarm plot's data: one row per (feature pair or feature, model).

    Parameters
    ----------
    result : FeatureInteractions
    kind : {"fis", "main"}, default="fis"
        FIS per pair, or main effects (model reliance) per feature.
    absolute : bool, default=False
        |value| instead of the value.

    Returns
    -------
    DataFrame
        Columns ``row`` (pair "i × j" or feature name), ``value``, ``loss``, ``reference``,
        ``in_set``, ``model``.

    Raises
    ------
    EmbedLensInputError
        An unknown kind, or ``result`` not a FeatureInteractions.
    """
    if not isinstance(result, FeatureInteractions):
        raise EmbedLensInputError(f"result must be a FeatureInteractions; got {type(result).__name__}")
    kind = check_param("kind", kind, StrOptions({"fis", "main"}, order=("fis", "main")))
    if kind == "fis":
        t = result.fis
        out = pd.DataFrame({"row": t["i"].astype(str) + " × " + t["j"].astype(str), "value": t["fis"],
                            "loss": t["loss"], "reference": t["reference"], "in_set": t["in_set"],
                            "model": t["model"]})
    else:
        t = result.main
        out = pd.DataFrame({"row": t["feature"].astype(str), "value": t["effect"], "loss": t["loss"],
                            "reference": t["reference"], "in_set": True, "model": t["model"]})
    if absolute:
        out["value"] = out["value"].abs()
    return out.reset_index(drop=True)


def fis_summary(result: FeatureInteractions) -> pd.DataFrame:
    """Per pair: the reference model's FIS, min and max over the set, and the share that flips sign.

    Over the models within the set (``in_set``; the reference included in min / max).
    ``sign_flip_share`` = share of the pair's in-set models other than the reference whose FIS
    has the opposite sign to the reference's (FIS_ref x FIS < 0); NaN when there are none. The
    FIS cloud (FISC) of Li, Wang, Deng & Barnard, ICLR 2024.

    Parameters
    ----------
    result : FeatureInteractions

    Returns
    -------
    DataFrame
        Columns ``pair, i, j, reference, min, max, sign_flip_share, n_models``, one row per pair.

    Raises
    ------
    EmbedLensInputError
        When ``result`` is not a FeatureInteractions.
    """
    if not isinstance(result, FeatureInteractions):
        raise EmbedLensInputError(f"result must be a FeatureInteractions; got {type(result).__name__}")
    rows = []
    for (i, j), t in result.fis.groupby(["i", "j"], sort=False):
        t = t[t["in_set"]]
        ref = float(t.loc[t["reference"], "fis"].iloc[0]) if t["reference"].any() else np.nan
        others = t.loc[~t["reference"], "fis"].to_numpy(dtype=float)
        share = float(np.mean(others * ref < 0)) if len(others) else np.nan
        rows.append({"pair": f"{i} × {j}", "i": i, "j": j, "reference": ref, "min": float(t["fis"].min()),
                     "max": float(t["fis"].max()), "sign_flip_share": share, "n_models": int(len(t))})
    return pd.DataFrame(rows, columns=["pair", "i", "j", "reference", "min", "max", "sign_flip_share", "n_models"])


# --------------------------------------------------------------------------- empirical set of runs


@dataclass(frozen=True)
class EmpiricalSet:
    """Runs whose recorded score is within epsilon of the best: an empirical Rashomon set.

    Attributes
    ----------
    members : tuple of str
        Run names within the set, best first.
    best : str
        The best run.
    epsilon : float
    threshold : float
        The worst score a member may have (best loss + epsilon, or best accuracy - epsilon).
    scores : dict
        Every run's score, as given.
    higher_is_better : bool
    label : str
    """

    members: tuple
    best: str
    epsilon: float
    threshold: float
    scores: dict = field(repr=False)
    higher_is_better: bool
    label: str


def empirical_rashomon_set(scores: Mapping, /, *, epsilon: float | None = None, epsilon_rate: float = 0.1,
                           higher_is_better: bool = False) -> EmpiricalSet:
    """The runs whose recorded loss (or accuracy) is within epsilon of the best run's.

    Losses: members have L <= L_best + epsilon, epsilon = ``epsilon_rate`` L_best unless given.
    Accuracies (``higher_is_better``): members have A >= A_best - epsilon, epsilon =
    ``epsilon_rate`` (1 - A_best) unless given (the same rule on the error 1 - A; the scores
    must then lie in [0, 1]).

    Parameters
    ----------
    scores : mapping of str to float
        Run name -> recorded loss (or accuracy).
    epsilon : float, optional
        Absolute tolerance (>= 0).
    epsilon_rate : float, default=0.1
    higher_is_better : bool, default=False

    Returns
    -------
    EmpiricalSet

    Raises
    ------
    EmbedLensInputError
        No runs, a score that is not a finite number, accuracies outside [0, 1] without
        ``epsilon``, or a best loss of 0 (or accuracy of 1) without ``epsilon``.
    """
    if not isinstance(scores, Mapping) or not scores:
        raise EmbedLensInputError("scores must be a non-empty mapping of run name -> recorded loss or accuracy")
    vals = {}
    for k, v in scores.items():
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = np.nan
        if not np.isfinite(x):
            raise EmbedLensInputError(f"run {str(k)!r} has score {plain(v)!r}; every score must be a finite "
                                      "number (leave runs without one out)")
        vals[str(k)] = x
    if epsilon is not None:
        epsilon = check_param("epsilon", epsilon, Interval(Real, 0, None, closed="left"))
    epsilon_rate = check_param("epsilon_rate", epsilon_rate, Interval(Real, 0, None, closed="neither"))
    names = list(vals)
    arr = np.array([vals[k] for k in names])
    order = np.argsort(-arr if higher_is_better else arr, kind="stable")
    best = names[order[0]]
    b = vals[best]
    if epsilon is None:
        if higher_is_better:
            if arr.min() < 0 or arr.max() > 1:
                raise EmbedLensInputError("higher_is_better without epsilon reads scores as accuracies in [0, 1]; "
                                          "give an absolute epsilon for other scores")
            base = 1.0 - b
        else:
            base = b
        if base <= 0:
            raise EmbedLensInputError(f"the best run {best!r} scores {b:g}, so epsilon_rate leaves no room; give an "
                                      "absolute epsilon")
        eps = epsilon_rate * base
    else:
        eps = float(epsilon)
    thr = b - eps if higher_is_better else b + eps
    members = tuple(names[k] for k in order if (arr[k] >= thr if higher_is_better else arr[k] <= thr))
    what = "accuracy" if higher_is_better else "loss"
    label = (f"Empirical Rashomon set: {len(members)} of {plural(len(names), 'run')} with {what} within "
             f"ε = {eps:.4g} of the best ({best}: {b:.4g})")
    return EmpiricalSet(members=members, best=best, epsilon=eps, threshold=thr, scores=dict(scores),
                        higher_is_better=bool(higher_is_better), label=label)
