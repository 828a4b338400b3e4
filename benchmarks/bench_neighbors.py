"""Benchmark: the shared kNN graph and TwoNN against the libraries a user would otherwise use.

    python benchmarks/bench_neighbors.py            # n = 100k x 384, k = 15 (long: sklearn ~5-10 min)
    python benchmarks/bench_neighbors.py --quick    # n = 5k x 64, a smoke run (~1 min)
    python benchmarks/bench_neighbors.py --tune     # pynndescent settings: recall and time at n = 20k

Every case runs in its own subprocess (fresh interpreter, threads pinned with
OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS = --threads) so its peak RSS (``ru_maxrss``) is its own;
"data only" is the RSS of a process that just builds the matrix; "of which the calls" is
the growth of the peak during the timed calls (after imports and data). Times are medians of
--repeats calls; before them each process makes one "warm-up" call on a 300-row matrix
through the same code path (imports, numba compilation or its on-disk cache, pynndescent's
JIT: what the first call of a fresh server pays), and "first" is the first call on the
real matrix. Recall is ``|found ∩ exact| / k`` averaged over all
points, against scikit-learn's brute-force ids from the same run (ties can lower it a hair).

Data (seeded, built identically in every subprocess):
  realistic: 20 Gaussian clusters in a 12-dim latent space, mapped into d dims through
             tanh of a random linear map plus the linear map, plus 5% isotropic noise
             (low intrinsic dimension, a decaying spectrum: how real embeddings look);
  gaussian:  isotropic standard normal in d dims (the hard case for NN-descent).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_data(kind: str, n: int, d: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, d), dtype=np.float32)
    latent, clusters = 12, 20
    centers = rng.standard_normal((clusters, latent)) * 2.0
    Z = centers[rng.integers(0, clusters, n)] + rng.standard_normal((n, latent))
    W = rng.standard_normal((latent, d)) / np.sqrt(latent)
    X = np.empty((n, d), np.float32)
    for s in range(0, n, 8192):  # in blocks, so building the data leaves no large peak behind
        L = Z[s : s + 8192] @ W
        X[s : s + 8192] = np.tanh(L) + 0.3 * L + 0.05 * rng.standard_normal(L.shape, dtype=np.float32)
    return X


# --------------------------------------------------------------------------- one case, in a child


def run_case(case: str, args) -> dict:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from core.neighbors import EXACT_MAX_N

    X = make_data(args.data, args.n, args.d)
    out: dict = {"case": case}
    if case == "data":
        return out
    tiny = make_data(args.data, 300, min(args.d, 16), seed=1)
    if case.startswith("embedlens-knn"):
        from core.neighbors import knn_graph

        method = case.split(":")[1]
        call = lambda: knn_graph(X, k=args.k, metric=args.metric, method=method)  # noqa: E731
        warm = lambda: knn_graph(tiny, k=args.k, metric=args.metric,  # noqa: E731
                                 method="approximate" if args.n > EXACT_MAX_N and method == "auto" else "exact")
    elif case == "sklearn-knn":
        from sklearn.neighbors import NearestNeighbors

        def call(data=X):
            nn = NearestNeighbors(n_neighbors=args.k + 1, metric=args.metric, algorithm="brute").fit(data)
            return nn.kneighbors(data)

        warm = lambda: call(tiny)  # noqa: E731
    elif case.startswith("embedlens-twonn"):
        from core.intrinsic_dim import intrinsic_dimension
        from core.neighbors import knn_graph

        method = case.split(":")[1]

        def call(data=X, method=method):  # the graph search is part of the timed call
            graph = knn_graph(data, k=2, metric="euclidean", method=method)
            return intrinsic_dimension(data, method="twonn", graph=graph)

        warm = lambda: call(tiny, "approximate" if args.n > EXACT_MAX_N and method == "auto" else "exact")  # noqa: E731
    elif case == "skdim-twonn":
        import warnings

        import skdim

        def call(data=X):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return skdim.id.TwoNN().fit(data)

        warm = lambda: call(tiny)  # noqa: E731
    else:
        raise SystemExit(f"unknown case {case}")
    t = time.perf_counter()
    warm()  # imports, numba compilation / cache loading, pynndescent's JIT: paid once per process
    out["warmup"] = time.perf_counter() - t
    out["rss_before_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # imports + data
    times, result = [], None
    for r in range(args.repeats + 1):
        t = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t)
        if r == 0 and args.repeats == 1 and case in {"sklearn-knn", "skdim-twonn"}:
            break  # the slow reference: one call, reported as is
    out["first"] = times[0]
    out["times"] = times[1:] if len(times) > 1 else times
    if case.startswith("embedlens-knn"):
        out["method"] = result.method
        out["params"] = {k: v for k, v in result.params.items() if isinstance(v, (int, float, str))}
        np.save(args.ids_out, result.indices)
    elif case == "sklearn-knn":
        dist, idx = result
        np.save(args.ids_out, _drop_self(idx, args.k))
    elif case.startswith("embedlens-twonn"):
        out["dimension"] = result.value
        out["graph"] = result.params["graph"]
        out["error"] = result.error
    elif case == "skdim-twonn":
        out["dimension"] = float(result.dimension_)
    return out


def _drop_self(idx, k):
    import numpy as np

    n = len(idx)
    is_self = idx == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(n, k)


# --------------------------------------------------------------------------- parent


def child(case: str, args, ids_out: str = "") -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--child", case, "--n", str(args.n), "--d", str(args.d),
           "--k", str(args.k), "--metric", args.metric, "--data", args.data,
           "--repeats", str(args.sk_repeats if case in {"sklearn-knn", "skdim-twonn"} else args.repeats),
           "--ids-out", ids_out or os.devnull]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def recall(found, exact) -> float:
    import numpy as np

    k = exact.shape[1]
    hits = (np.sort(found, axis=1)[:, :, None] == exact[:, None, :]).any(axis=2).sum(axis=1)
    return float(hits.mean() / k)


def fmt_mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def main_bench(args) -> None:
    import numpy as np

    print(f"data={args.data} n={args.n:,} d={args.d} k={args.k} metric={args.metric} threads={args.threads} "
          f"repeats={args.repeats} (references: {args.sk_repeats})", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench_nn_"))
    base = child("data", args)
    print(f"data only: peak RSS {fmt_mb(base['rss_kb'])}", flush=True)
    if args.skip_knn:
        return main_twonn(args)
    rows = []
    for case in ["sklearn-knn", "embedlens-knn:exact", "embedlens-knn:auto"]:
        res = child(case, args, str(tmp / f"{case.replace(':', '_')}.npy"))
        res["ids"] = np.load(tmp / f"{case.replace(':', '_')}.npy")
        rows.append(res)
        print(f"  done {case}: median {statistics.median(res['times']):.2f} s", flush=True)
    ref = rows[0]["ids"]
    t_ref = statistics.median(rows[0]["times"])
    print(f"\nkNN graph, k={args.k}, {args.metric}")
    print(f"{'case':32s} {'median s':>9s} {'first s':>8s} {'warm-up s':>9s} {'vs sklearn':>10s} {'recall':>7s} "
          f"{'peak RSS':>10s} {'of which the calls':>18s}")
    for r in rows:
        med = statistics.median(r["times"])
        label = r["case"] + (f" -> {r['method']}" if "method" in r else "")
        print(f"{label:32s} {med:9.2f} {r['first']:8.2f} {r['warmup']:9.2f} {t_ref / med:9.1f}x "
              f"{recall(r['ids'], ref):7.4f} "
              f"{fmt_mb(r['rss_kb']):>10s} {fmt_mb(r['rss_kb'] - r['rss_before_kb']):>18s}")
        if "params" in r:
            print(f"{'':32s} params: {r['params']}")
    if not args.skip_twonn:
        main_twonn(args)


def main_twonn(args) -> None:
    print(f"\nTwoNN (Euclidean, discard_fraction=0.1), n={args.n:,}")
    theirs = child("skdim-twonn", args)
    ours = [child("embedlens-twonn:exact", args), child("embedlens-twonn:auto", args)]
    t_theirs = statistics.median(theirs["times"])
    for r in (theirs, *ours):
        med = statistics.median(r["times"])
        err = f" ± {r['error']:.2f}" if "error" in r else ""
        print(f"{r['case']:32s} {med:9.2f} s  first {r['first']:.2f} s  warm-up {r['warmup']:.2f} s  "
              f"{t_theirs / med:7.1f}x  "
              f"ID {r['dimension']:.3f}{err}  peak RSS {fmt_mb(r['rss_kb'])} "
              f"(calls: {fmt_mb(r['rss_kb'] - r['rss_before_kb'])})" + (f"  [{r['graph']}]" if "graph" in r else ""))


def main_tune(args) -> None:
    """Recall and time of pynndescent settings at one n, against exact, on several data kinds."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from pynndescent import NNDescent

    from core.neighbors import knn_graph

    NNDescent(np.random.default_rng(0).standard_normal((300, 8)), n_neighbors=5,
              metric=args.metric).neighbor_graph  # pay the JIT before timing
    settings = [
        ("pynndescent defaults", {}),
        ("max_candidates=60 (chosen)", {"max_candidates": 60}),
        ("n_trees=32, n_iters=20, max_candidates=60", {"n_trees": 32, "n_iters": 20, "max_candidates": 60}),
    ]
    kinds = [("realistic", args.d), ("gaussian", 32), ("gaussian", args.d)]
    print(f"n={args.n:,} k={args.k} metric={args.metric} threads={args.threads}")
    print(f"{'data':16s} {'setting':44s} {'time s':>7s} {'exact s':>8s} {'recall':>7s}")
    for kind, d in kinds:
        X = make_data(kind, args.n, d)
        t = time.perf_counter()
        exact = knn_graph(X, k=args.k, metric=args.metric, method="exact")
        t_exact = time.perf_counter() - t
        for label, kw in settings:
            t = time.perf_counter()
            idx, _ = NNDescent(X, n_neighbors=args.k + 1, metric=args.metric, random_state=0,
                               low_memory=True, compressed=True, **kw).neighbor_graph
            elapsed = time.perf_counter() - t
            print(f"{kind + ' ' + str(d):16s} {label:44s} {elapsed:7.2f} {t_exact:8.2f} "
                  f"{recall(_drop_self(idx, args.k), exact.indices):7.4f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--k", type=int, default=15)
    p.add_argument("--metric", default="cosine", choices=["cosine", "euclidean"])
    p.add_argument("--data", default="realistic", choices=["realistic", "gaussian"])
    p.add_argument("--repeats", type=int, default=3, help="warm calls timed per EmbedLens case")
    p.add_argument("--sk-repeats", type=int, default=1, help="calls of the slow references")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--quick", action="store_true", help="n=5,000 x 64: a smoke run")
    p.add_argument("--tune", action="store_true", help="pynndescent settings at n (default 20k)")
    p.add_argument("--skip-twonn", action="store_true")
    p.add_argument("--skip-knn", action="store_true")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ids-out", default=os.devnull, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        out = run_case(args.child, args)
        out["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(out))
        return
    if args.quick:
        args.n, args.d = 5_000, 64
    if args.tune:
        if args.n == 100_000:
            args.n = 20_000
        main_tune(args)
        return
    main_bench(args)


if __name__ == "__main__":
    main()
