"""Benchmark of the Rashomon FISC (issue 13): core.rashomon against a model-by-model loop.

Run from the repository root::

    python benchmarks/bench_rashomon.py            # every case, full FISC (several minutes)
    python benchmarks/bench_rashomon.py --quick    # 10 / 20 permutations
    python benchmarks/bench_rashomon.py --case mlp # the MLP case only

The full FISC: the greedy search over 6 features (2 signs x 11 budget levels each), the 36
joint models of each of the 15 pairs, main effects of every feature for the reference and the
132 single-feature models (30 permutations), and FIS of the reference and the 540 pair models
(100 permutations of both columns of the pair, 30 of each column alone), for a logistic
regression (StandardScaler + LogisticRegression, ``core.fit_reference_model``) on

1. the sample data ``sample_data/digits-mlp``: features = the top 6 principal components of the
   view ``seed0/hidden2/epoch100`` (scikit-learn PCA), target = the ``label`` column (10 classes);
2. scikit-learn's breast-cancer data: its **first 6 features** (mean radius, texture,
   perimeter, area, smoothness, compactness), target = malignant / benign.

Each case runs ``core.rashomon_set`` + ``core.feature_interactions`` (batched: one matrix
product per batch of models, numba kernels for the losses), then the loop of
``tests/core/rashomon_loop.py`` (the same algorithm as the reference code,
Sichao-Li/generalized_rashomon_set, one ``predict_proba`` call per candidate model and per
permutation, with its own numpy log loss, which is cheaper than the reference code's
``sklearn.metrics.log_loss``) in the same process, and prints both times, their ratio and
whether the two sets are identical (multipliers bit for bit; losses, main effects and FIS to
1e-9). BLAS and numba threads are pinned (``--threads``, default 1) for both sides. The
one-off cost of loading numba and the compiled kernels in a new process is timed apart
(a warm-up on a tiny problem), as the app pays it once per server process.

3. The MLP case (``--case mlp``): the same digits features and target with the page's "small
   MLP" (``fit_reference_model(kind="mlp")``: StandardScaler + MLPClassifier, 32 ReLU units).
   core's MLP path (the forward pass from the weights, numba) runs the full FISC. The
   batched-``predict_proba`` path (forced by a wrapper that hides the MLP) and the loop take
   many minutes for the full FISC, so all three are also timed on a subset: the full
   search, then main effects of every model and FIS of one pair (x0 x x1), with 5 / 10
   permutations; the sets and effects of the three are compared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="BLAS and numba threads for both sides")
    ap.add_argument("--quick", action="store_true", help="10 / 20 permutations instead of 30 / 100")
    ap.add_argument("--case", choices=["digits", "cancer", "both", "mlp", "all"], default="all",
                    help="both: digits and cancer (logistic); all: those and the MLP case")
    return ap.parse_args()


def main() -> None:
    args = _args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(ROOT))

    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_info

    import core
    from core import feature_interactions, fit_reference_model, rashomon_set
    from core.warmup import warm_up
    from tests.core import rashomon_loop as loop

    perms = (10, 20) if args.quick else (30, 100)
    blas = sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})
    print(f"# bench_rashomon: threads={args.threads} (BLAS {blas}), permutations {perms}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    t0 = time.perf_counter()
    warm_up(steps=("rashomon",))  # a logistic and an MLP set with their FIS on 60 x 3 rows
    print(f"warm-up (load numba and the compiled kernels, once per process): {time.perf_counter() - t0:.2f} s")

    cases = []
    if args.case in ("digits", "both", "all", "mlp"):
        ds = core.load(ROOT / "sample_data" / "digits-mlp")
        view = next(v for v in ds.views if v.name == "seed0/hidden2/epoch100")
        X = PCA(6, random_state=0).fit_transform(np.asarray(view.X, dtype=np.float64))
        y = ds.metadata["label"].to_numpy()
        digits = (f"digits-mlp {view.name}: top-6 PCs, label (10 classes)", X, y)
        if args.case != "mlp":
            cases.append(digits)
    if args.case in ("cancer", "both", "all"):
        X, y = load_breast_cancer(return_X_y=True)
        cases.append(("breast cancer: first 6 features, 2 classes", X[:, :6], y))

    for name, X, y in cases:
        model = fit_reference_model(X, y)
        print(f"\n## {name}: n = {len(X)}, p = {X.shape[1]}")
        t = time.perf_counter()
        rset = rashomon_set(model, X, y)
        t_search = time.perf_counter() - t
        t = time.perf_counter()
        fi = feature_interactions(rset, X, y, n_permutations=perms)
        t_fis = time.perf_counter() - t
        print(f"core:  search {t_search:7.2f} s   effects {t_fis:7.2f} s   total {t_search + t_fis:7.2f} s   "
              f"({rset.n_models} models, {rset.params['loss_evaluations']} search / pair losses, "
              f"{rset.params['evaluation']})")

        t = time.perf_counter()
        M, losses, in_set, L_star, eps, kept, pairs = loop.search(model, X, y, loss="log_loss")
        l_search = time.perf_counter() - t
        t = time.perf_counter()
        main, fis = loop.interactions(model, X, y, M, kept, pairs, loss="log_loss", n_permutations=perms)
        l_fis = time.perf_counter() - t
        print(f"loop:  search {l_search:7.2f} s   effects {l_fis:7.2f} s   total {l_search + l_fis:7.2f} s")

        names = list(rset.feature_names)
        eff = np.array([main[(names.index(f), m)] for f, m in zip(fi.main["feature"], fi.main["model"])])
        fisl = np.array([fis[(names.index(i), names.index(j), m)][0]
                         for i, j, m in zip(fi.fis["i"], fi.fis["j"], fi.fis["model"])])
        same_m = M.shape == rset.multipliers.shape and bool(np.array_equal(M, rset.multipliers))
        d_loss = float(np.max(np.abs(losses - rset.losses))) if same_m else float("nan")
        d_main = float(np.max(np.abs(eff - fi.main["effect"].to_numpy())))
        d_fis = float(np.max(np.abs(fisl - fi.fis["fis"].to_numpy())))
        identical = same_m and bool(np.array_equal(in_set, rset.in_set)) and max(d_loss, d_main, d_fis) < 1e-9
        print(f"ratio: search {l_search / t_search:6.1f}x   effects {l_fis / t_fis:6.1f}x   "
              f"total {(l_search + l_fis) / (t_search + t_fis):6.1f}x")
        print(f"identical sets: {identical} (multipliers equal: {same_m}; max |diff| loss {d_loss:.1e}, "
              f"main effect {d_main:.1e}, FIS {d_fis:.1e}; in-set models {int(rset.in_set.sum())} of "
              f"{rset.n_models})")

    if args.case in ("mlp", "all"):
        _mlp_case(digits, perms, loop)


class _ProbaOnly:
    """Hides the MLP behind predict_proba: core takes its batched-predict path."""

    def __init__(self, model):
        self.model, self.classes_ = model, model.classes_

    def predict_proba(self, X):
        return self.model.predict_proba(X)


def _timed(fn):
    import time

    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def _mlp_case(case, perms, loop) -> None:
    """The page's small MLP: core's MLP path (full FISC), and on a subset against batched predict
    and the loop."""
    import numpy as np

    from core import feature_interactions, fit_reference_model, rashomon_set

    name, X, y = case
    model, t_fit, _ = _timed(lambda: fit_reference_model(X, y, kind="mlp", seed=0))
    print(f"\n## {name}, small MLP (StandardScaler + MLPClassifier, 32 ReLU units; fit {t_fit:.2f} s): "
          f"n = {len(X)}, p = {X.shape[1]}")
    rset, s_w, s_c = _timed(lambda: rashomon_set(model, X, y))
    fi, f_w, f_c = _timed(lambda: feature_interactions(rset, X, y, n_permutations=perms))
    print(f"core, full FISC {perms}: search {s_w:7.2f} s   effects {f_w:7.2f} s   total {s_w + f_w:7.2f} s   "
          f"(CPU {s_c + f_c:.2f} s; {rset.n_models} models, {rset.params['evaluation']})")

    sub_perms, pair = (5, 10), [(0, 1)]
    print(f"subset: full search, main effects of all {1 + rset.n_single} models, FIS of pair x0 x x1, "
          f"{sub_perms} permutations")
    fs, t_fs, c_fs = _timed(lambda: feature_interactions(rset, X, y, pairs=pair, n_permutations=sub_perms))
    core_t = s_w + t_fs
    print(f"core (MLP weights):  search {s_w:7.2f} s   effects {t_fs:7.2f} s   total {core_t:7.2f} s "
          f"(CPU {s_c + c_fs:.2f} s)")
    wrapped = _ProbaOnly(model)
    rb, b_s, b_sc = _timed(lambda: rashomon_set(wrapped, X, y))
    fb, b_f, b_fc = _timed(lambda: feature_interactions(rb, X, y, pairs=pair, n_permutations=sub_perms))
    print(f"batched predict:     search {b_s:7.2f} s   effects {b_f:7.2f} s   total {b_s + b_f:7.2f} s "
          f"(CPU {b_sc + b_fc:.2f} s; {rb.params['evaluation']})   ratio {(b_s + b_f) / core_t:6.1f}x")
    found, l_s, l_sc = _timed(lambda: loop.search(model, X, y, loss="log_loss"))
    M, losses, in_set, _, _, kept, pairs = found
    (main, fis), l_f, l_fc = _timed(lambda: loop.interactions(model, X, y, M, kept, pairs, loss="log_loss",
                                                              n_permutations=sub_perms, only=pair))
    print(f"loop:                search {l_s:7.2f} s   effects {l_f:7.2f} s   total {l_s + l_f:7.2f} s "
          f"(CPU {l_sc + l_fc:.2f} s)   ratio {(l_s + l_f) / core_t:6.1f}x")
    names = list(rset.feature_names)
    eff_loop = np.array([main[(names.index(f), m)] for f, m in zip(fs.main["feature"], fs.main["model"])])
    fis_loop = np.array([fis[(names.index(i), names.index(j), m)][0]
                         for i, j, m in zip(fs.fis["i"], fs.fis["j"], fs.fis["model"])])
    same_b = bool(np.array_equal(rset.multipliers, rb.multipliers))
    same_l = M.shape == rset.multipliers.shape and bool(np.array_equal(M, rset.multipliers))
    d_b = max(float(np.max(np.abs(rset.losses - rb.losses))) if same_b else np.inf,
              float(np.max(np.abs(fs.main["effect"].to_numpy() - fb.main["effect"].to_numpy()))),
              float(np.max(np.abs(fs.fis["fis"].to_numpy() - fb.fis["fis"].to_numpy()))))
    d_l = max(float(np.max(np.abs(rset.losses - losses))) if same_l else np.inf,
              float(np.max(np.abs(fs.main["effect"].to_numpy() - eff_loop))),
              float(np.max(np.abs(fs.fis["fis"].to_numpy() - fis_loop))))
    print(f"identical sets: vs batched predict {same_b and d_b < 1e-9} (multipliers equal: {same_b}, "
          f"max |diff| of losses, main effects, FIS {d_b:.1e}); vs loop {same_l and d_l < 1e-9} "
          f"(multipliers equal: {same_l}, max |diff| {d_l:.1e})")


if __name__ == "__main__":
    main()
