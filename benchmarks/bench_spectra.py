"""Benchmark of the spectral metrics (issue 4) against what a user would otherwise run.

Run from the repository root::

    python benchmarks/bench_spectra.py            # the full run (about 10-20 minutes on 2 cores)
    python benchmarks/bench_spectra.py --quick    # a small smoke run (under a minute)

Cases, each in a fresh subprocess with BLAS threads pinned (``--threads``, default 1, set
through OMP / OPENBLAS / MKL_NUM_THREADS before numpy loads and checked with threadpoolctl), so
both sides of every comparison use the same threads, and peak memory is that process's
``ru_maxrss`` (VmHWM for case 2):

0. Vendi (cosine, q=1) like for like at n = 5,000 and 100,000, d = 384: ``core.vendi_score(X,
   precision=p)`` against ``vendi_score.vendi.score_dual`` (the same d x d dual algorithm) on the
   same array in dtype p (float32 and float64), in one process, warm, interleaved repeats,
   medians and the median of the per-pair ratios.
1. Vendi (cosine, q=1) at n = 1k, 5k, 20k, d = 384: ``core.vendi_score`` (d x d dual form)
   against ``vendi_score.vendi.score_K`` on the n x n kernel (building K is timed apart).
   The package is skipped where its O(n^3) eigendecomposition is estimated (from the
   measured smaller n, times (n / n_prev)^3) to exceed ``--package-budget-s``, or its n x n
   kernel plus LAPACK workspace to exceed ``--package-memory-gb``; the output says so.
2. ``core.spectrum`` + every metric derived from it (participation ratio, effective rank,
   RankMe, PCA-k 0.90 / 0.95, power-law alpha) at n = 1,000,000 x d = 384 float32, against a
   bare ``X.T @ X`` then ``numpy.linalg.eigvalsh`` in the same process (interleaved repeats,
   medians); then the cosine spectrum + Vendi + Hill curve + coding rate the same way. Peak
   memory of each side in its own process (VmHWM, reset after X is made), as a multiple of the
   matrix size.
3. DSE at its default sample size (max_n = 3000) on n = 20,000 x 384: seconds, and the
   ``st.cache_data`` hit time of the dashboard's wrapper.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- in the subprocess


def _make_data(n: int, d: int, seed: int = 0):
    """n x d float32 with a power-law spectrum, 20 clusters and a common offset, built in blocks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    scales = (np.arange(1, d + 1) ** -0.6).astype(np.float32)
    centers = rng.standard_normal((20, d)).astype(np.float32) * 0.5 + 0.3
    X = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 8192):  # small temporaries: the peak stays near the matrix itself
        k = min(8192, n - start)
        block = rng.standard_normal((k, d), dtype=np.float32)
        block *= scales
        block += centers[rng.integers(0, 20, k)]
        X[start:start + k] = block
    return X


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _threads() -> list:
    from threadpoolctl import threadpool_info

    return sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def case_vendi_ours(n: int, d: int, repeats: int) -> dict:
    import core

    X = _make_data(n, d)
    times, value = _timed(lambda: core.vendi_score(X), repeats)
    return {"times": times, "value": value, "peak_mb": _peak_mb(), "threads": _threads()}


def case_vendi_package(n: int, d: int, repeats: int) -> dict:
    import numpy as np
    from sklearn.preprocessing import normalize
    from vendi_score import vendi

    X = _make_data(n, d)
    build, score = [], []
    value = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        Xn = normalize(X.astype(np.float64))
        K = Xn @ Xn.T
        t1 = time.perf_counter()
        value = vendi.score_K(K)
        t2 = time.perf_counter()
        build.append(t1 - t0)
        score.append(t2 - t1)
        del K, Xn
    return {"times": score, "build_times": build, "value": float(value), "peak_mb": _peak_mb(),
            "threads": _threads()}


def case_vendi_dual(n: int, d: int, repeats: int, precision: str) -> dict:
    """Like for like with ``vendi_score.vendi.score_dual`` (the same O(n d^2 + d^3) dual form).

    Both sides get the same array (float32, or float64 made before timing), in this one process
    with the same BLAS threads; each is called once untimed (warm), then the two alternate
    ``repeats`` times, so load drifts hit both.
    """
    import numpy as np
    from vendi_score import vendi

    import core

    X = _make_data(n, d)
    if precision == "float64":
        X = X.astype(np.float64)

    def ours():
        return core.vendi_score(X, precision=precision)

    def theirs():
        return vendi.score_dual(X)

    ours(), theirs()
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        a, out_ours = _timed(ours, 1)
        b, out_theirs = _timed(theirs, 1)
        t_ours += a
        t_theirs += b
    return {"ours": t_ours, "theirs": t_theirs, "value": float(out_ours), "package_value": float(out_theirs),
            "peak_mb": _peak_mb(), "threads": _threads()}


def _covariance_metrics(X):
    import core

    s = core.spectrum(X)
    return s, (core.participation_ratio(s), core.effective_rank(s), core.rankme(s), core.pca_k(s, share=0.90),
               core.pca_k(s, share=0.95), core.powerlaw_alpha(s).alpha)


def _cosine_metrics(X):
    import core

    s = core.spectrum(X, kernel="cosine", center=False)
    return s, (core.vendi_score(s), core.hill_curve(s).values[-1], core.coding_rate(s))


def _bare(X):
    import numpy as np

    G = X.T @ X
    return np.linalg.eigvalsh(G)


def case_big_time(n: int, d: int, repeats: int) -> dict:
    import numpy as np

    import core  # noqa: F401  (imported before timing)

    X = _make_data(n, d)
    bare, cov, cos = [], [], []
    for _ in range(repeats):  # interleaved, so machine load hits all sides alike
        for bucket, fn in ((bare, _bare), (cov, _covariance_metrics), (cos, _cosine_metrics)):
            t0 = time.perf_counter()
            fn(X)
            bucket.append(time.perf_counter() - t0)
    s, metrics = _covariance_metrics(X)
    # accuracy of the float32 blocks: against float64 blocks over the same X
    exact = core.spectrum(X, precision="float64")
    top = exact.eigenvalues[0]
    err = float(np.max(np.abs(s.eigenvalues - exact.eigenvalues)) / top)
    rel10 = float(np.max(np.abs(s.eigenvalues[:10] / exact.eigenvalues[:10] - 1)))
    return {"bare": bare, "cov": cov, "cos": cos, "metrics": [float(m) for m in metrics],
            "block_dtype": s.params["block_dtype"], "err_vs_float64": err, "rel_err_top10": rel10,
            "threads": _threads(), "matrix_mb": X.nbytes / 2**20}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def case_big_memory(n: int, d: int, side: str) -> dict:
    import core  # noqa: F401

    baseline = _status_mb("VmRSS")  # the interpreter with numpy, scipy, pandas, scikit-learn loaded
    X = _make_data(n, d)
    with open("/proc/self/clear_refs", "w") as f:  # Linux: reset the peak (VmHWM) to the current RSS
        f.write("5")
    before = _status_mb("VmRSS")
    {"bare": _bare, "cov": _covariance_metrics, "cos": _cosine_metrics}[side](X)
    return {"peak_mb": _status_mb("VmHWM"), "peak_before_mb": before, "baseline_mb": baseline,
            "matrix_mb": X.nbytes / 2**20}


def case_dse(n: int, d: int, max_n: int, repeats: int) -> dict:
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import core
    from dashboard.data import spectra as data

    X = _make_data(n, d)
    times, value = _timed(lambda: core.diffusion_spectral_entropy(X, max_n=max_n), repeats)
    fp = core.fingerprint_array(X)
    t0 = time.perf_counter()
    data.diffusion_entropy(fp, X, sigma=10.0, t=1, max_n=max_n)
    miss = time.perf_counter() - t0
    hits, _ = _timed(lambda: data.diffusion_entropy(fp, X, sigma=10.0, t=1, max_n=max_n), max(repeats, 5))
    return {"times": times, "value": value.value, "n_used": value.n_used, "miss": miss, "hits": hits,
            "threads": _threads()}


# --------------------------------------------------------------------------- the parent


def run_case(args, name: str, **kw) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--case", name, "--params", json.dumps(kw)]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"case {name} {kw} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def med(xs) -> float:
    return statistics.median(xs)


def pair_ratio(ours, bare) -> float:
    """Median of run-by-run ratios: each pair ran back to back, so slow drifts in load cancel."""
    return statistics.median(a / b for a, b in zip(ours, bare))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads for every case (default 1)")
    p.add_argument("--repeats", type=int, default=None, help="repeats per timing (default 5, quick 3)")
    p.add_argument("--package-budget-s", type=float, default=300.0,
                   help="skip vendi-score's score_K where its estimated time exceeds this (default 300)")
    p.add_argument("--package-memory-gb", type=float, default=8.0,
                   help="skip vendi-score's score_K where K + LAPACK workspace exceed this (default 8)")
    p.add_argument("--cases", default="dual,vendi,big,dse",
                   help="which of dual,vendi,big,dse to run (default all)")
    p.add_argument("--case")
    p.add_argument("--params")
    args = p.parse_args()
    if args.case:
        kw = json.loads(args.params)
        fn = {"vendi_ours": case_vendi_ours, "vendi_package": case_vendi_package, "vendi_dual": case_vendi_dual,
              "big_time": case_big_time,
              "big_memory": case_big_memory, "dse": case_dse}[args.case]
        print(json.dumps(fn(**kw)))
        return

    quick = args.quick
    reps = args.repeats or (3 if quick else 5)
    d = 384
    print(f"bench_spectra: threads={args.threads} (OMP/OPENBLAS/MKL_NUM_THREADS), repeats={reps}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    cases = set(args.cases.split(","))
    if "dual" in cases:
        dual_case(args, reps, d, quick)
    if "vendi" in cases:
        vendi_case(args, reps, d, quick)
    if "big" in cases:
        big_case(args, reps, d, quick)
    if "dse" in cases:
        dse_case(args, reps, d, quick)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (other processes share these CPUs: compare "
          "the interleaved runs, not single numbers)")


def dual_case(args, reps: int, d: int, quick: bool) -> None:
    sizes = [2000, 5000] if quick else [5000, 100_000]
    dual_reps = max(reps, 9)
    print(f"\n0. Vendi (cosine, q=1), d = {d}, like for like: core.vendi_score(X, precision=p) vs "
          "vendi_score.vendi.score_dual(X)\n   (both the d x d dual form; the same array, dtype = p; one process, "
          f"{args.threads} BLAS thread(s); warm; {dual_reps} interleaved repeats; medians)")
    print(f"{'n':>8} {'precision':>9} {'ours ms':>9} {'score_dual ms':>14} {'ours / theirs':>14} "
          f"{'median pair ratio':>18} {'rel diff':>9}")
    for n in sizes:
        for precision in ("float32", "float64"):
            r = run_case(args, "vendi_dual", n=n, d=d, repeats=dual_reps, precision=precision)
            rel = abs(r["value"] - r["package_value"]) / r["package_value"]
            print(f"{n:>8,} {precision:>9} {med(r['ours']) * 1e3:>9.2f} {med(r['theirs']) * 1e3:>14.2f} "
                  f"{med(r['ours']) / med(r['theirs']):>13.2f}x {pair_ratio(r['ours'], r['theirs']):>17.2f}x "
                  f"{rel:>9.1e}")
    print("   ratio < 1: ours is faster. score_dual normalises with scikit-learn and runs X.T @ X and "
          "scipy.linalg.eigvalsh in the array's dtype.")


def vendi_case(args, reps: int, d: int, quick: bool) -> None:
    print("\n1. Vendi (cosine, q=1), d = 384: core.vendi_score (dual d x d) vs vendi_score.vendi.score_K (n x n)")
    print(f"{'n':>7} {'ours s':>9} {'package s':>10} {'build K s':>10} {'speed-up':>9} {'rel diff':>9} "
          f"{'ours MB':>8} {'pkg MB':>8}")
    sizes = [1000, 2000] if quick else [1000, 5000, 20000]
    prev = None
    for n in sizes:
        ours = run_case(args, "vendi_ours", n=n, d=d, repeats=reps)
        est_s = None if prev is None else prev[1] * (n / prev[0]) ** 3
        mem_gb = 2 * n * n * 8 / 1e9  # K (float64) + eigvalsh workspace of the same size
        skip = None
        if est_s is not None and est_s > args.package_budget_s:
            skip = f"estimated {est_s:,.0f} s > budget {args.package_budget_s:.0f} s"
        if mem_gb > args.package_memory_gb:
            skip = (skip + "; " if skip else "") + f"needs ~{mem_gb:.1f} GB > {args.package_memory_gb:.0f} GB"
        if skip:
            print(f"{n:>7,} {med(ours['times']):>9.4f} {'skipped':>10} {'':>10} {'':>9} {'':>9} "
                  f"{ours['peak_mb']:>8.0f} {'':>8}   package skipped: {skip} (O(n^3) eigvalsh of {n:,} x {n:,})")
            continue
        pkg = run_case(args, "vendi_package", n=n, d=d, repeats=max(1, reps if n <= 5000 else 1))
        speed = med(pkg["times"]) / med(ours["times"])
        rel = abs(ours["value"] - pkg["value"]) / pkg["value"]
        print(f"{n:>7,} {med(ours['times']):>9.4f} {med(pkg['times']):>10.3f} {med(pkg['build_times']):>10.3f} "
              f"{speed:>8.0f}x {rel:>9.1e} {ours['peak_mb']:>8.0f} {pkg['peak_mb']:>8.0f}   VS = {ours['value']:.6f}")
        prev = (n, med(pkg["times"]))
    print(f"   threads seen: {ours['threads']}")



def big_case(args, reps: int, d: int, quick: bool) -> None:
    n_big = 100_000 if quick else 1_000_000
    print(f"\n2. spectrum + derived metrics, n = {n_big:,} x d = {d} float32, vs bare X.T @ X + np.linalg.eigvalsh")
    big = run_case(args, "big_time", n=n_big, d=d, repeats=reps)
    b, c, k = med(big["bare"]), med(big["cov"]), med(big["cos"])
    print(f"   bare X.T @ X + eigvalsh                 : {b:8.3f} s  (runs {', '.join(f'{t:.2f}' for t in big['bare'])})")
    print(f"   spectrum(X) + PR, eff. rank, RankMe,    : {c:8.3f} s  = {c / b:.2f}x bare  "
          f"(runs {', '.join(f'{t:.2f}' for t in big['cov'])}; fastest runs: "
          f"{min(big['cov']) / min(big['bare']):.2f}x; median of per-repeat ratios {pair_ratio(big['cov'], big['bare']):.2f}x)")
    print("     PCA-k (0.90, 0.95), power-law alpha")
    print(f"   spectrum(X, 'cosine') + Vendi, Hill,    : {k:8.3f} s  = {k / b:.2f}x bare  "
          f"(runs {', '.join(f'{t:.2f}' for t in big['cos'])}; fastest runs: "
          f"{min(big['cos']) / min(big['bare']):.2f}x; median of per-repeat ratios {pair_ratio(big['cos'], big['bare']):.2f}x)")
    print("     coding rate")
    print(f"   blocks in {big['block_dtype']}; max |l - l_float64| / l_1 = {big['err_vs_float64']:.1e}, "
          f"top-10 eigenvalues relative error {big['rel_err_top10']:.1e}")
    print(f"   metrics: PR={big['metrics'][0]:.3f} eff.rank={big['metrics'][1]:.3f} RankMe={big['metrics'][2]:.3f} "
          f"PCA90={big['metrics'][3]:.0f} PCA95={big['metrics'][4]:.0f} alpha={big['metrics'][5]:.3f}")
    for side, label in (("bare", "bare X.T @ X + eigvalsh"), ("cov", "spectrum + covariance metrics"),
                        ("cos", "cosine spectrum + Vendi/Hill/coding")):
        mem = run_case(args, "big_memory", n=n_big, d=d, side=side)
        added = mem["peak_mb"] - mem["peak_before_mb"]
        print(f"   peak memory, {label:<36}: {mem['peak_mb']:6.0f} MB = {mem['peak_mb'] / mem['matrix_mb']:.2f}x the "
              f"{mem['matrix_mb']:.0f} MB matrix (process before X: {mem['baseline_mb']:.0f} MB; the computation "
              f"added {added:.0f} MB = {added / mem['matrix_mb']:.2f}x)")



def dse_case(args, reps: int, d: int, quick: bool) -> None:
    max_n = 500 if quick else 3000
    print(f"\n3. DSE at its default sample size (max_n = {max_n:,}), n = 20,000 x 384")
    dse = run_case(args, "dse", n=20000, d=d, max_n=max_n, repeats=max(1, reps // 2 + 1))
    print(f"   core.diffusion_spectral_entropy: {med(dse['times']):.3f} s (median of {len(dse['times'])}; "
          f"{dse['n_used']:,} rows, DSE = {dse['value']:.4f} bits)")
    print(f"   dashboard.data.spectra.diffusion_entropy: first call {dse['miss']:.3f} s, cache hit "
          f"{med(dse['hits']) * 1e3:.2f} ms (median of {len(dse['hits'])})")


if __name__ == "__main__":
    main()
