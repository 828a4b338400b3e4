"""Benchmark of the Compare core (issue 12) against what a user would otherwise run.

Run from the repository root::

    python benchmarks/bench_compare.py             # the full run (about 10 minutes on 2 cores)
    python benchmarks/bench_compare.py --quick     # a smoke run (n = 2,000, 8 views; about a minute)

BLAS threads are pinned (``--threads``, default 1, through OMP / OPENBLAS / MKL_NUM_THREADS
before numpy loads), so both sides of every comparison use the same threads. Times are medians
of ``--repeats`` runs (the reference, the 100,000-row case and the full matrices: of
``--ref-repeats``); peak memory is the largest extra memory ``tracemalloc`` saw during the first
run (numpy reports its buffers to it), on top of the inputs.

1. Linear CKA at n = 10,000 and 100,000, d = 768, float32 views: ``core.cka`` (feature space,
   float64 row blocks) against the n x n Gram formula as Kornblith et al.'s reference code
   (google-research ``representation_similarity``: ``gram_linear``, ``center_gram``, ``cka``)
   computes it, on the float32 arrays as given and on float64 copies; each value's error
   against the float64 reference. At 100,000 the reference is not run: see the printed reason.
2. The full matrix over the 30 views of ``sample_data/digits-mlp`` (435 pairs) for linear CKA
   and mutual kNN (k=10, cosine): ``core.pairwise_matrix`` against calling ``core.cka`` /
   ``core.mutual_knn`` 435 times; the largest difference between the two matrices.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pin_threads(k: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(k)


def _make_views(n: int, d: int, seed: int = 0):
    """Two float32 n x d views sharing a 64-dimensional signal, with offsets, built in blocks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    A = rng.standard_normal((64, d)).astype(np.float32)
    B = rng.standard_normal((64, d)).astype(np.float32)
    X = np.empty((n, d), np.float32)
    Y = np.empty((n, d), np.float32)
    for s in range(0, n, 8192):
        k = min(8192, n - s)
        Z = rng.standard_normal((k, 64), dtype=np.float32)
        X[s : s + k] = Z @ A + rng.standard_normal((k, d), dtype=np.float32) + 0.5
        Y[s : s + k] = np.tanh(Z @ B) + 0.5 * rng.standard_normal((k, d), dtype=np.float32) - 2.0
    return X, Y


def kornblith_cka(x, y):
    """Linear CKA as google-research/representation_similarity's ``cka`` computes it (n x n)."""
    import numpy as np

    def gram_linear(x):
        return x.dot(x.T)

    def center_gram(gram):
        if not np.allclose(gram, gram.T):
            raise ValueError("Input must be a symmetric matrix.")
        gram = gram.copy()
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
        return gram

    gram_x = center_gram(gram_linear(x))
    gram_y = center_gram(gram_linear(y))
    scaled_hsic = gram_x.ravel().dot(gram_y.ravel())
    return scaled_hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


def _timed(fn, repeats: int):
    """(median seconds, result, peak extra MB): the first run is traced by tracemalloc (its small
    overhead then lands in one of the repeats, not in the median)."""
    import tracemalloc

    times, out, peak = [], None, 0.0
    for r in range(repeats):
        if r == 0:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if r == 0:
            peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
            tracemalloc.stop()
    return statistics.median(times), out, peak


def _ram_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def bench_cka(n: int, d: int, repeats: int, ref_repeats: int, run_reference: bool) -> None:
    import numpy as np

    import core

    X, Y = _make_views(n, d)
    print(f"\n== linear CKA, n = {n:,} x d = {d}, float32 views ({X.nbytes / 2**20:,.0f} MB each)")
    t_core, s, mem_core = _timed(lambda: core.cka(X, Y), repeats)
    t_deb, s_deb, _ = _timed(lambda: core.cka(X, Y, debiased=True), repeats)
    print(f"core.cka                   {t_core:8.2f} s   peak +{mem_core:8,.0f} MB   value {float(s):.10f}")
    print(f"core.cka(debiased=True)    {t_deb:8.2f} s                      value {float(s_deb):.10f}")
    if not run_reference:
        need = 3 * n * n * 8 / 2**30
        print(f"reference (n x n Grams)    not run: two n x n float64 Grams and a centred copy take "
              f"{need:,.0f} GB ({n:,}^2 x 8 bytes each; float32: half) against {_ram_gb():,.0f} GB of RAM here, "
              f"and the O(n^2 d) products would take about {(n / 10_000) ** 2:,.0f}x the 10,000-row time")
        return
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    t_r64, r64, mem_r64 = _timed(lambda: kornblith_cka(X64, Y64), ref_repeats)
    t_r32, r32, mem_r32 = _timed(lambda: kornblith_cka(X, Y), ref_repeats)
    print(f"reference, float64 copies  {t_r64:8.2f} s   peak +{mem_r64:8,.0f} MB   value {float(r64):.10f}")
    print(f"reference, float32 as given {t_r32:7.2f} s   peak +{mem_r32:8,.0f} MB   value {float(r32):.10f}")
    print(f"ratio (reference / core): {t_r64 / t_core:.1f}x against float64, {t_r32 / t_core:.1f}x against "
          f"float32; |core - ref64| = {abs(float(s) - r64):.1e}, |ref32 - ref64| = {abs(float(r32) - r64):.1e}")


def bench_pairwise(repeats: int, n_views: int | None = None) -> None:
    import numpy as np

    import core

    ds = core.load(ROOT / "sample_data" / "digits-mlp")
    views = list(ds.views)[:n_views]
    m = len(views)
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    print(f"\n== full matrix over the {m} views of digits-mlp ({views[0].n:,} items, d = "
          f"{sorted({v.d for v in views})}), {len(pairs)} pairs")
    core.knn_graph(views[0].X, k=10)  # compile numba's top-k before timing

    def loop(fn):
        V = np.eye(m)
        for i, j in pairs:
            V[i, j] = V[j, i] = fn(views[i].X, views[j].X)
        return V

    cases = {
        "cka": lambda a, b: float(core.cka(a, b)),
        "mutual_knn": lambda a, b: float(core.mutual_knn(a, b, k=10).value),
    }
    for metric, fn in cases.items():
        t_m, pm, mem_m = _timed(lambda: core.pairwise_matrix(views, metric), repeats)
        t_l, V, mem_l = _timed(lambda: loop(fn), repeats)
        diff = float(np.nanmax(np.abs(pm.values - V)))
        print(f"{metric:11s} pairwise_matrix {t_m:7.2f} s (peak +{mem_m:6,.0f} MB)   {len(pairs)} calls "
              f"{t_l:7.2f} s (peak +{mem_l:6,.0f} MB)   ratio {t_l / t_m:5.1f}x   max |diff| {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ref-repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="n = 2,000 only, 2 repeats")
    args = ap.parse_args()
    _pin_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from threadpoolctl import threadpool_info

    print(f"numpy {np.__version__}; BLAS threads: "
          f"{sorted({(i['internal_api'], i['num_threads']) for i in threadpool_info()})}; "
          f"{os.cpu_count()} CPUs, {_ram_gb():,.0f} GB RAM")
    if args.quick:
        bench_cka(2_000, 768, 2, 1, True)
        bench_pairwise(1, n_views=8)
        return
    bench_cka(10_000, 768, args.repeats, args.ref_repeats, True)
    bench_cka(100_000, 768, args.ref_repeats, 0, False)
    bench_pairwise(args.ref_repeats)


if __name__ == "__main__":
    main()
