"""Numba kernels behind the losses of linear / logistic models and MLPs in :mod:`core.rashomon`.

Written by hand because no library scores one permuted design under many coefficient vectors
at once: scikit-learn's ``permutation_importance`` refits nothing but calls ``predict_proba``
once per (model, permutation), and a numpy version spends its time on (perms x rows x classes x
models) temporaries. With the logits split as z'_r = h_r + g_pi(r) (h: the columns not
permuted, g: the permuted ones), p_y = exp(h_ry + g_pi(r)y) / sum_k exp(h_rk + g_pi(r)k)
= H_ry G_pi(r)y / sum_k H_rk G_pi(r)k with H = exp(h - row max), G = exp(g - max): the kernel
needs no exponential, and one log per 16 rows (the log of a product of clipped
probabilities, each >= 1e-15, so the product stays >= 1e-240).

For a scikit-learn MLP the same holds with a rank-|S| update of the first layer's
pre-activations (:func:`mlp_loss`): z' = z + sum_{c in S} (x_pi(r)c - x_rc) m_c W1[c],
then the later layers and the loss fused per tile of evaluations, so nothing of size
(models x permutations x rows x units) is ever stored (numpy's version of the same products
took ~5x the kernel's time: its GEMM alone as long as the whole kernel, the rest passes over
those temporaries).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["permuted_log_loss", "linear_log_loss", "mlp_loss"]

_CHUNK = 16  # rows per log: a product of 16 probabilities >= 1e-15 is >= 1e-240 (no underflow)


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def permuted_log_loss(H, G, y, perms_t, p_min, n_chunks, out):  # pragma: no cover
    """Mean log loss of B linear models on P row permutations of the permuted columns.

    For model b and permutation t: out[b, t] = -mean_r log clip(p_r, p_min, 1) with
    p_r = H[r, y_r, b] G[pi_t(r), y_r, b] / sum_k H[r, k, b] G[pi_t(r), k, b]. Rows outermost,
    permutations inside: each row of H is read once for all permutations (2.3x faster than
    one pass over H per permutation for 10 classes; the work is memory-bound).

    Parameters
    ----------
    H : ndarray of shape (n, K, B), float64
        exp(logits of the columns not permuted), up to a factor per row (it cancels).
    G : ndarray of shape (n, K, B), float64
        exp(logits of the permuted columns - their maximum), by the row the values come from.
    y : ndarray of shape (n,), intp
        Class index of each row.
    perms_t : ndarray of shape (n, P), intp
        The P row permutations, transposed (perms_t[r, t] = pi_t(r)), C-contiguous.
    p_min : float
        Probabilities are clipped to at least this (1e-15), as the log loss does.
    n_chunks : int
        Groups of permutations run in parallel (numba's thread count; an argument because a
        cached kernel cannot call ``numba.get_num_threads``).
    out : ndarray of shape (B, P), float64
        Written in place.

    Returns
    -------
    None

    Raises
    ------
    IndexError
        Not raised: numba does not bounds-check; the caller passes matching shapes.
    """
    n, K, B = H.shape
    P = perms_t.shape[1]
    n_chunks = max(1, min(P, n_chunks))
    per = (P + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        t0 = c * per
        t1 = min(P, t0 + per)
        q = max(0, t1 - t0)
        prod = np.ones((q, B))
        acc = np.zeros((q, B))
        S = np.empty(B)
        for r in range(n):
            Hr = H[r]
            yr = y[r]
            for t in range(q):
                Gs = G[perms_t[r, t0 + t]]
                for b in range(B):
                    S[b] = Hr[0, b] * Gs[0, b]
                for k in range(1, K):
                    for b in range(B):
                        S[b] += Hr[k, b] * Gs[k, b]
                pr = prod[t]
                for b in range(B):
                    pr[b] *= min(max(Hr[yr, b] * Gs[yr, b] / S[b], p_min), 1.0)
            if (r + 1) % _CHUNK == 0 or r == n - 1:
                for t in range(q):
                    for b in range(B):
                        acc[t, b] += np.log(prod[t, b])
                        prod[t, b] = 1.0
        for t in range(q):
            for b in range(B):
                out[b, t0 + t] = -acc[t, b] / n


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def linear_log_loss(X, W, b, M, y, p_min, out):  # pragma: no cover
    """Mean log loss of B multiplier models of one linear classifier: logits X (m o W) + b.

    out[j] = mean_r min(logsumexp_k z_rk - z_ry, -log p_min), z = X diag(M[j]) W + b: the log
    loss with probabilities clipped to at least ``p_min``, from the logits (no BLAS call: on a
    shared machine OpenBLAS threads made these small products 15x slower).

    Parameters
    ----------
    X : ndarray of shape (n, p), float64
    W : ndarray of shape (p, K), float64
        Coefficients in raw input units.
    b : ndarray of shape (K,), float64
        Intercepts.
    M : ndarray of shape (B, p), float64
        Multipliers, one model per row.
    y : ndarray of shape (n,), intp
        Class index of each row.
    p_min : float
        Probability clip (1e-15).
    out : ndarray of shape (B,), float64
        Written in place.

    Returns
    -------
    None

    Raises
    ------
    IndexError
        Not raised: numba does not bounds-check; the caller passes matching shapes.
    """
    n, p = X.shape
    K = W.shape[1]
    B = M.shape[0]
    cap = -np.log(p_min)
    for j in numba.prange(B):
        C = np.empty((p, K))
        for c in range(p):
            for k in range(K):
                C[c, k] = M[j, c] * W[c, k]
        z = np.empty(K)
        acc = 0.0
        for r in range(n):
            for k in range(K):
                z[k] = b[k]
            for c in range(p):
                xc = X[r, c]
                for k in range(K):
                    z[k] += xc * C[c, k]
            zmax = z[0]
            for k in range(1, K):
                zmax = max(zmax, z[k])
            s = 0.0
            for k in range(K):
                s += np.exp(z[k] - zmax)
            acc += min(max(zmax + np.log(s) - z[y[r]], 0.0), cap)
        out[j] = acc / n


# --------------------------------------------------------------------------- MLP forward passes
# f_m(x) = f*(m o x) for a scikit-learn MLP: the multipliers scale the rows of the first weight
# matrix (in raw input units, a Pipeline's scalers folded in). A tile of E evaluations is held
# as (units, E) arrays, so every loop over units runs over E contiguous values and vectorises.

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split as in fdlibm: n * _LN2_HI is exact for |n| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_LOG2E = 1.4426950408889634
_SHIFT = 6755399441055744.0  # 1.5 * 2^52: v + _SHIFT rounds v to an integer held in the low bits
_SHIFT_BITS = 0x4338000000000000  # the bits of _SHIFT
_MAX_PERMS = 128  # evaluations per tile: the permutations of a task (at most this) times rows


@numba.njit(fastmath={"contract"}, cache=True, nogil=True)
def _exp_nonpos(x, m, tmp):  # pragma: no cover
    """exp(x[e]) in place for e < m and x[e] <= 0 (below -700 taken as -700: e^-700 ~ 1e-304).

    By hand because numba calls libm's scalar exp (no SVML here), which made the exponentials
    of the softmax half of an MLP evaluation; this form vectorises. exp(v) = 2^k e^r with
    k = round(v / ln 2) (the 1.5 * 2^52 shift), r = v - k ln 2 in two parts (|r| <= 0.347),
    e^r by its Taylor polynomial of degree 13 (remainder < 4e-18), and 2^k built from its
    bits; error within about 1 ulp (checked against numpy's exp in the tests). Not fastmath:
    reassociation would cancel the shift.
    """
    for e in range(m):
        v = max(x[e], -700.0)
        t = v * _LOG2E + _SHIFT
        k = t - _SHIFT
        r = (v - k * _LN2_HI) - k * _LN2_LO
        q = 1.0 / 6227020800.0
        q = q * r + 1.0 / 479001600.0
        q = q * r + 1.0 / 39916800.0
        q = q * r + 1.0 / 3628800.0
        q = q * r + 1.0 / 362880.0
        q = q * r + 1.0 / 40320.0
        q = q * r + 1.0 / 5040.0
        q = q * r + 1.0 / 720.0
        q = q * r + 1.0 / 120.0
        q = q * r + 1.0 / 24.0
        q = q * r + 1.0 / 6.0
        q = q * r + 0.5
        q = q * r + 1.0
        x[e] = q * r + 1.0
        tmp[e] = t
    bits = tmp.view(np.int64)
    for e in range(m):
        bits[e] = (bits[e] - _SHIFT_BITS + 1023) << 52  # 2^k
    for e in range(m):
        x[e] *= tmp[e]


@numba.njit(fastmath=True, cache=True, nogil=True)
def _activate(A, units, E, act, U, tmp):  # pragma: no cover
    """The hidden activation in place on A[:units, :E]: 0 identity, 1 logistic, 2 tanh, 3 relu."""
    if act == 3:
        for j in range(units):
            for e in range(E):
                A[j, e] = max(A[j, e], 0.0)
    elif act == 1 or act == 2:
        c = 1.0 if act == 1 else 2.0
        for j in range(units):
            for e in range(E):
                U[e] = -c * abs(A[j, e])
            _exp_nonpos(U, E, tmp)  # u = e^(-|a|) (logistic) or e^(-2|a|) (tanh), in (0, 1]
            if act == 1:  # expit(a) = 1 / (1 + u) for a >= 0, u / (1 + u) below
                for e in range(E):
                    A[j, e] = (1.0 if A[j, e] >= 0.0 else U[e]) / (1.0 + U[e])
            else:  # tanh(a) = sign(a) (1 - u) / (1 + u)
                for e in range(E):
                    A[j, e] = np.copysign((1.0 - U[e]) / (1.0 + U[e]), A[j, e])


@numba.njit(fastmath=True, cache=True, nogil=True)
def _forward_tile(A, A2, E, Ws, bs, shapes, act, U, tmp):  # pragma: no cover
    """Layers after the first: A[:H1, :E] (first-layer pre-activations) -> the output values.

    Returns the buffer (A or A2) whose first ``shapes[-1, 1]`` rows hold the last layer's
    values (logits, or the regression output) for the E evaluations.
    """
    L = shapes.shape[0]
    _activate(A, shapes[0, 0], E, act, U, tmp)
    src, dst = A, A2
    wo = 0
    bo = 0
    for layer in range(L):
        hin = shapes[layer, 0]
        hout = shapes[layer, 1]
        for k in range(hout):
            bk = bs[bo + k]
            for e in range(E):
                dst[k, e] = bk
        for j in range(hin):
            for k in range(hout):
                w = Ws[wo + j * hout + k]
                for e in range(E):
                    dst[k, e] += src[j, e] * w
        wo += hin * hout
        bo += hout
        if layer < L - 1:
            _activate(dst, hout, E, act, U, tmp)
        src, dst = dst, src
    return src


@numba.njit(fastmath=True, cache=True, nogil=True)
def _tile_loss(O, E, K, yv, loss, lv, EX, tmp):  # pragma: no cover
    """Per evaluation e < E of the output values O (K, E): lv[e] = p_y (loss 0: softmax of the
    logits, unclipped), the squared (1) or absolute (2) error, or the zero-one loss (3; the
    first largest logit is the prediction; a class index < 0 never matches)."""
    if loss == 0:
        for e in range(E):
            lv[e] = O[0, e]
        for k in range(1, K):
            for e in range(E):
                lv[e] = max(lv[e], O[k, e])
        for k in range(K):
            for e in range(E):
                EX[k * E + e] = O[k, e] - lv[e]
        _exp_nonpos(EX, K * E, tmp)
        for e in range(E):
            lv[e] = EX[e]
        for k in range(1, K):
            for e in range(E):
                lv[e] += EX[k * E + e]
        for e in range(E):
            lv[e] = EX[int(yv[e]) * E + e] / lv[e]
    elif loss == 1 or loss == 2:
        for e in range(E):
            d = O[0, e] - yv[e]
            lv[e] = d * d if loss == 1 else abs(d)
    else:
        for e in range(E):
            best = 0
            for k in range(1, K):
                if O[k, e] > O[best, e]:
                    best = k
            lv[e] = 0.0 if best == int(yv[e]) else 1.0


@numba.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def mlp_loss(X, M, W1, b1, Ws, bs, shapes, act, cols, perms_t, y, loss, p_min, n_chunks,
             out):  # pragma: no cover
    """Summed loss (over the n rows) of B multiplier models of one MLP on P row permutations of
    the columns ``cols``.

    Model b's first-layer pre-activations are z_r = x_r diag(M[b]) W1 + b1; the permuted
    columns S change them by a rank-|S| update, z' = z_r + sum_{c in S} (x_pi(r)c - x_rc)
    M[b, c] W1[c], so z_r is computed once per row for all the permutations of a task. The
    hidden activation follows every layer but the last, whose values are the logits (log loss,
    zero-one) or the prediction (squared / absolute error). A tile holds the task's
    permutations (at most 128) times as many rows as fit in 128 evaluations. Log loss:
    -log clip(softmax_y, p_min, 1), one log per 16 rows of a product of clipped probabilities
    (each >= p_min, so 16 of them stay >= 1e-240). With S = 0 and P = 1: the losses on X.

    Parameters
    ----------
    X : ndarray of shape (n, p), float64
    M : ndarray of shape (B, p), float64
        Multipliers, one model per row.
    W1 : ndarray of shape (p, H1), float64
        First weight matrix in raw input units (a Pipeline's scalers folded in).
    b1 : ndarray of shape (H1,), float64
    Ws : ndarray, float64
        The later layers' weight matrices, each (h_in, h_out) row-major, concatenated.
    bs : ndarray, float64
        Their biases, concatenated.
    shapes : ndarray of shape (L, 2), intp
        (h_in, h_out) of each later layer (L >= 1; the last is the output layer).
    act : int
        Hidden activation: 0 identity, 1 logistic, 2 tanh, 3 relu.
    cols : ndarray of shape (S,), intp
        The columns permuted together (S = 0: none).
    perms_t : ndarray of shape (n, P), intp
        The P row permutations, transposed (perms_t[r, t] = pi_t(r)), C-contiguous (read only
        when S > 0).
    y : ndarray of shape (n,), float64
        Class index (loss 0, 3; -1: a label the model does not know) or target value (1, 2).
    loss : int
        0 log loss, 1 squared error, 2 absolute error, 3 zero-one.
    p_min : float
        Probability clip of the log loss (1e-15).
    n_chunks : int
        Threads to keep busy (numba's thread count; an argument because a cached kernel cannot
        call ``numba.get_num_threads``).
    out : ndarray of shape (B, P), float64
        Written in place: the sum over rows (the caller divides by n; fastmath would turn the
        division into a multiplication by 1 / n, one ulp away from ``np.mean``, which decides
        ties of a zero-one loss with the budget).

    Returns
    -------
    None

    Raises
    ------
    IndexError
        Not raised: numba does not bounds-check; the caller passes matching shapes.
    """
    n, p = X.shape
    H1 = W1.shape[1]
    B = M.shape[0]
    P = perms_t.shape[1]
    S = cols.shape[0]
    L = shapes.shape[0]
    K = shapes[L - 1, 1]
    width = H1
    for layer in range(L):
        width = max(width, shapes[layer, 1])
    groups = max(1, (P + _MAX_PERMS - 1) // _MAX_PERMS, min(P, (n_chunks + B - 1) // max(B, 1)))
    per = (P + groups - 1) // groups
    R = max(1, _MAX_PERMS // per)  # rows per tile
    T = R * per
    for task in numba.prange(B * groups):
        b = task // groups
        t0 = (task % groups) * per
        q = max(0, min(P, t0 + per) - t0)
        W1m = np.empty((p, H1))
        for c in range(p):
            for j in range(H1):
                W1m[c, j] = M[b, c] * W1[c, j]
        Z0 = np.empty((H1, R))
        xt = np.empty(R)
        D = np.empty((max(S, 1), T))
        A = np.empty((width, T))
        A2 = np.empty((width, T))
        EX = np.empty(width * T)
        tmp = np.empty(width * T)
        U = np.empty(T)
        yv = np.empty(T)
        lv = np.empty(T)
        acc = np.zeros(max(q, 1))
        prod = np.ones(max(q, 1))
        for r0 in range(0, n, R):
            rb = min(R, n - r0)
            E = rb * q
            for j in range(H1):
                for i in range(rb):
                    Z0[j, i] = b1[j]
            for c in range(p):
                for i in range(rb):
                    xt[i] = X[r0 + i, c]
                for j in range(H1):
                    w = W1m[c, j]
                    for i in range(rb):
                        Z0[j, i] += xt[i] * w
            for s in range(S):
                c = cols[s]
                for i in range(rb):
                    xr = X[r0 + i, c]
                    for t in range(q):
                        D[s, i * q + t] = X[perms_t[r0 + i, t0 + t], c] - xr
            for j in range(H1):
                if q == 1:
                    for i in range(rb):
                        A[j, i] = Z0[j, i]
                else:
                    for i in range(rb):
                        zj = Z0[j, i]
                        for t in range(q):
                            A[j, i * q + t] = zj
                for s in range(S):
                    w = W1m[cols[s], j]
                    for e in range(E):
                        A[j, e] += D[s, e] * w
            for i in range(rb):
                for t in range(q):
                    yv[i * q + t] = y[r0 + i]
            O = _forward_tile(A, A2, E, Ws, bs, shapes, act, U, tmp)
            _tile_loss(O, E, K, yv, loss, lv, EX, tmp)
            if loss == 0:
                for i in range(rb):
                    for t in range(q):
                        prod[t] *= min(max(lv[i * q + t], p_min), 1.0)
                    if (r0 + i + 1) % _CHUNK == 0 or r0 + i == n - 1:
                        for t in range(q):
                            acc[t] -= np.log(prod[t])
                            prod[t] = 1.0
            else:
                for t in range(q):
                    for i in range(rb):
                        acc[t] += lv[i * q + t]
        for t in range(q):
            out[b, t0 + t] = acc[t]
