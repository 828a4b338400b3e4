"""A plain model-by-model implementation of the Rashomon search and the FISC (not in core).

The same algorithm as ``core.rashomon`` (the reference code's greedy search, with all columns of
a pair permuted together and every effect of a pair model measured on that model), written the
slow, obvious way: one ``predict`` / ``predict_proba`` call per candidate model and per
permutation, on a copy of X whose columns are scaled by the multipliers. The test suite checks
the batched search against it (tests/core/test_rashomon.py) and the benchmark times it
(benchmarks/bench_rashomon.py).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

LEVELS = [k / 10 for k in range(11)]
SPLITS = [(k, 10 - k) for k in range(1, 10)]  # level indices (a_i, a_j), a_i + a_j = 1
QUADRANTS = [(+1, +1), (+1, -1), (-1, +1), (-1, -1)]  # "++", "+-", "-+", "--"


def coded_target(model, y, loss):
    """y as predict_proba column indices (log loss), labels (zero-one) or floats."""
    y = np.asarray(y)
    if loss == "log_loss":
        classes = getattr(model, "classes_", None)
        if classes is None:
            return y.astype(np.intp)
        return np.array([list(classes).index(v) for v in y], dtype=np.intp)
    if loss == "zero_one":
        return y
    return y.astype(np.float64)


def loss_of(model, X, y, loss):
    """One model's loss on X (one call to the model)."""
    if loss == "log_loss":
        P = np.asarray(model.predict_proba(X), dtype=np.float64)
        py = np.where(y == 1, P, 1 - P) if P.ndim == 1 else P[np.arange(len(y)), y]
        return float(np.mean(-np.log(np.clip(py, 1e-15, 1.0))))
    pred = np.asarray(model.predict(X)).reshape(len(y))
    if loss == "zero_one":
        return float(np.mean(pred != y))
    d = pred.astype(np.float64) - y
    return float(np.mean(d * d)) if loss == "mse" else float(np.mean(np.abs(d)))


def scaled(X, m):
    return X * m[None, :]


def search(model, X, y, *, loss, epsilon=None, epsilon_rate=0.1, step=0.1):
    """The greedy search, one chain after the other, one model at a time.

    Returns (multipliers, losses, in_set, L*, epsilon, kept features, pairs), rows ordered as
    core.rashomon.RashomonSet's: reference, singles (feature, sign +/-, level), pairs (pair,
    split, quadrant).
    """
    yc = coded_target(model, y, loss)
    n, p = X.shape
    L_star = loss_of(model, X, yc, loss)
    eps = epsilon if epsilon is not None else epsilon_rate * L_star
    tol = 1e-12 * max(1.0, abs(L_star))
    level_m = np.ones((p, 2, 11))
    level_l = np.full((p, 2, 11), L_star)
    moved = np.zeros(p, dtype=bool)
    for i in range(p):
        for si, s in enumerate((1.0, -1.0)):
            m, cur, prev, flat, steps, capped = 1.0, L_star, L_star, 0, 0, False
            for lv, a in enumerate(LEVELS):
                if capped:
                    level_m[i, si, lv], level_l[i, si, lv] = m, cur
                    continue
                lr, rejections = float(step), 0
                while rejections < 4:
                    cand = m + s * lr
                    mult = np.ones(p)
                    mult[i] = cand
                    L = loss_of(model, scaled(X, mult), yc, loss)
                    rise = 0.0 if abs(L - L_star) <= tol else L - L_star
                    moved[i] |= rise != 0.0
                    if rise < a * eps:
                        m, cur, steps = cand, L, steps + 1
                        if abs(L - prev) <= tol:
                            flat += 1
                        else:
                            flat, prev = 0, L
                        if steps >= 1000:
                            capped = True
                            break
                        if flat > 100:
                            break
                    else:
                        lr /= 10.0
                        rejections += 1
                level_m[i, si, lv], level_l[i, si, lv] = m, cur
    kept = [i for i in range(p) if moved[i]]
    pairs = list(combinations(kept, 2))
    rows, losses = [np.ones(p)], [L_star]
    for i in kept:
        for si in range(2):
            for lv in range(11):
                r = np.ones(p)
                r[i] = level_m[i, si, lv]
                rows.append(r)
                losses.append(level_l[i, si, lv])
    for i, j in pairs:
        for ki, kj in SPLITS:
            for qi, qj in QUADRANTS:
                r = np.ones(p)
                r[i] = level_m[i, 0 if qi > 0 else 1, ki]
                r[j] = level_m[j, 0 if qj > 0 else 1, kj]
                rows.append(r)
                losses.append(loss_of(model, scaled(X, r), yc, loss))
    M, losses = np.array(rows), np.array(losses)
    return M, losses, losses <= L_star + eps, L_star, eps, kept, pairs


def permutations(n, count, seed):
    """core.rashomon's convention: rng = default_rng(seed); perms = rng.permutation(n), count times."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(count)]


def effect(model, X, y, loss, m, cols, perms):
    """phi_S(f_m): mean over perms of L(f_m(X with the columns S permuted together)) - L(f_m(X))."""
    base = loss_of(model, scaled(X, m), y, loss)
    out = []
    for pi in perms:
        Xp = X.copy()
        Xp[:, cols] = X[pi][:, cols]
        out.append(loss_of(model, scaled(Xp, m), y, loss))
    return float(np.mean(out)) - base


def interactions(model, X, y, M, kept, pairs, *, loss, n_permutations=(30, 100), seed=0, only=None):
    """Main effects {(feature, model): phi} for the reference and single models, and
    FIS {(i, j, model): (fis, joint, main_i, main_j)} for the reference and each pair's 36 models
    (of the pairs in ``only`` when given: a subset, as ``feature_interactions(pairs=...)``)."""
    yc = coded_target(model, y, loss)
    n1, n2 = n_permutations
    perms = permutations(len(X), max(n1, n2), seed)
    n_single = 22 * len(kept)
    main = {}
    for model_row in range(1 + n_single):
        for f in kept:
            main[(f, model_row)] = effect(model, X, yc, loss, M[model_row], [f], perms[:n1])
    fis = {}
    for k, (i, j) in enumerate(pairs):
        if only is not None and (i, j) not in only:
            continue
        start = 1 + n_single + 36 * k
        for model_row in [0, *range(start, start + 36)]:
            m = M[model_row]
            joint = effect(model, X, yc, loss, m, [i, j], perms[:n2])
            mi = effect(model, X, yc, loss, m, [i], perms[:n1])
            mj = effect(model, X, yc, loss, m, [j], perms[:n1])
            fis[(i, j, model_row)] = (joint - mi - mj, joint, mi, mj)
    return main, fis
