"""Benchmark of the scale-out path (issue 16): spectra out of core, a LocalCluster, sample-then-extend UMAP.

Run from the repository root (needs ``pip install -e '.[scale]'``)::

    python benchmarks/bench_scale.py                  # 10,000,000 x 384 float32 (15 GB of shards)
    python benchmarks/bench_scale.py --n 2000000      # a moderate size first
    python benchmarks/bench_scale.py --n 200000 --inmem-n 100000 --umap-n 50000 --umap-sample 5000  # smoke

Every case runs in a fresh subprocess, so its peak memory is that process's own ``ru_maxrss``
(``resource.getrusage``; it counts the pages of memory-mapped shards while they are mapped):

0. ``generate``: n x d float32 (power-law spectrum, 20 clusters, a common offset) written as
   ``.npy`` shards of ``--shard-rows`` rows under ``--dir`` (default /tmp/embedlens-scale), block by
   block (never the whole matrix in memory). Deleted at the end unless ``--keep``.
1. ``profile-ooc``: :func:`core.spectral_profile` (the centred covariance spectrum and the cosine
   kernel spectrum from one read; participation ratio, stable rank, effective rank, RankMe,
   PCA-90/95, alpha, Vendi, Hill curve, coding rate) on :func:`core.open_sharded` of the shards,
   dask's threaded scheduler: seconds, GB/s of float32 read, peak memory. Target: under 2 GB.
2. ``profile-inmem`` vs ``profile-ooc-small`` on the largest size that fits (``--inmem-n``, default
   1,000,000 rows: the first shards): the in-memory numpy path on the matrix already in memory
   (``np.load`` of the shards, not timed) against the out-of-core path on the same rows read from
   the shards (page-cached right after generation: this measures the computation, not the disk).
3. ``cluster-1`` / ``cluster-2``: the same profile as case 1 on a ``distributed.LocalCluster`` of 1
   and 2 worker processes, one thread each (each worker reads the shards itself). The clock starts
   once the workers are up and have imported ``core`` (the threaded case has it imported too), so
   it times the computation, not a cluster's start (seconds of its own on 2 cores).
5. ``sample``: the app's in-memory sample of the view (``--sample`` rows, default 50,000) read with
   ``core.read_rows`` against dask's own ``X[rows].compute()``, medians of 3.
4. ``umap``: :func:`core.sample_then_extend_umap` of the first ``--umap-n`` rows (default
   1,000,000), fitted on ``--umap-sample`` (default 50,000), transform in dask chunks
   (``--skip-umap`` leaves it out: it takes many minutes on 2 cores).

BLAS threads: 1 per dask thread for the out-of-core cases (2 dask threads on 2 cores); the
in-memory case runs with the default (all cores) and with 1 thread, and the faster is compared
(multi-threaded OpenBLAS degrades badly on an oversubscribed machine). Each case prints the
machine's 1-minute load average when it ended. ``--repeat 3`` runs the out-of-core and cluster cases
3 times each (interleaved) and prints their medians; ``--skip-inmem`` leaves out case 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _threads() -> list:
    from threadpoolctl import threadpool_info

    return sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})


# --------------------------------------------------------------------------- cases (in a subprocess)


def case_generate(folder: str, n: int, d: int, shard_rows: int, seed: int = 0) -> dict:
    import numpy as np

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scales = (np.arange(1, d + 1) ** -0.6).astype(np.float32)
    centers = rng.standard_normal((20, d)).astype(np.float32) * 0.5 + 0.3
    t = time.perf_counter()
    shards = 0
    for s0 in range(0, n, shard_rows):
        rows = min(shard_rows, n - s0)
        mm = np.lib.format.open_memmap(out / f"part-{shards:05d}.npy", mode="w+", dtype=np.float32,
                                       shape=(rows, d))
        for start in range(0, rows, 65_536):
            k = min(65_536, rows - start)
            block = rng.standard_normal((k, d), dtype=np.float32)
            block *= scales
            block += centers[rng.integers(0, 20, k)]
            mm[start:start + k] = block
        mm.flush()
        del mm
        shards += 1
    return {"seconds": time.perf_counter() - t, "shards": shards, "gb": n * d * 4 / 1e9, "peak_mb": _peak_mb()}


def _profile_numbers(p) -> dict:
    return {k: round(float(v), 6) for k, v in p.values().items()}


def case_profile_ooc(folder: str, n: int | None = None, chunk_mb: float = 128.0) -> dict:
    from core import open_sharded, spectral_profile

    view = open_sharded(folder, chunk_mb=chunk_mb)
    X = view.X if n is None else view.X[:n]
    t = time.perf_counter()
    p = spectral_profile(X)
    seconds = time.perf_counter() - t
    rows = X.shape[0]
    return {"seconds": seconds, "rows": rows, "gb": rows * view.d * 4 / 1e9,
            "gb_per_s": rows * view.d * 4 / 1e9 / seconds, "peak_mb": _peak_mb(), "chunks": len(X.chunks[0]),
            "block_dtype": p.covariance.params["block_dtype"], "values": _profile_numbers(p),
            "threads": _threads()}


def case_profile_inmem(folder: str, n: int) -> dict:
    import numpy as np

    from core import open_sharded, spectral_profile

    view = open_sharded(folder)
    X = np.asarray(view.X[:n])  # read into memory (not timed)
    base = _peak_mb()
    t = time.perf_counter()
    p = spectral_profile(X)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": n, "gb": X.nbytes / 1e9, "gb_per_s": X.nbytes / 1e9 / seconds,
            "peak_mb": _peak_mb(), "peak_before_mb": base, "block_dtype": p.covariance.params["block_dtype"],
            "values": _profile_numbers(p), "threads": _threads()}


def _import_core() -> None:
    import core.outofcore  # noqa: F401


def case_cluster(folder: str, workers: int) -> dict:
    from distributed import Client, LocalCluster

    from core import open_sharded, spectral_profile

    view = open_sharded(folder)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(_import_core)  # workers up, with core imported, before the clock starts
        t = time.perf_counter()
        p = spectral_profile(view.X)
        seconds = time.perf_counter() - t
        worker_peak = max(client.run(_peak_mb).values())
    return {"seconds": seconds, "rows": view.n, "gb_per_s": view.n * view.d * 4 / 1e9 / seconds,
            "peak_mb": _peak_mb(), "worker_peak_mb": worker_peak, "values": _profile_numbers(p)}


def case_umap(folder: str, n: int, sample: int, chunk_rows: int) -> dict:
    from core import open_sharded, sample_then_extend_umap
    from core.warmup import warm_up

    view = open_sharded(folder)
    warm_up()  # numba compilation off the clock
    t = time.perf_counter()
    m = sample_then_extend_umap(view.X[:n], sample_size=sample, seed=0, chunk_rows=chunk_rows)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": n, "sample": len(m.sample_rows), "peak_mb": _peak_mb(),
            "label": m.label, "finite": bool(__import__("numpy").isfinite(m.coordinates).all()),
            "chunks": m.params["chunks"]}


def case_sample(folder: str, size: int, way: str) -> dict:
    """The app's in-memory sample of an out-of-core view: ``size`` seeded rows of all n, read with
    ``core.read_rows`` (one memory-map per shard, the rows' own pages) or, as a user of dask would, with
    dask's fancy indexing ``X[rows].compute()`` (each chunk holding a row read whole)."""
    import numpy as np

    from core import open_sharded, read_rows
    from core.outofcore import _draw

    view = open_sharded(folder)
    rows = _draw(view.n, size, 0, None).rows
    t = time.perf_counter()
    out = read_rows(view.X, rows) if way == "read_rows" else view.X[rows].compute()
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": int(len(rows)), "of": view.n, "peak_mb": _peak_mb(),
            "checksum": float(np.asarray(out, dtype=np.float64).sum())}


CASES = {"generate": case_generate, "profile-ooc": case_profile_ooc, "profile-inmem": case_profile_inmem,
         "cluster": case_cluster, "umap": case_umap, "sample": case_sample}


# --------------------------------------------------------------------------- driver


def _run(case: str, env_threads: int | None, **kwargs) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("EMBEDLENS_WARMUP", "off")
    if env_threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(env_threads)
    out = subprocess.run([sys.executable, __file__, "--case", case, "--kwargs", json.dumps(kwargs)], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load_1min"] = os.getloadavg()[0]  # this machine is shared: the load the case ran under
    return result


def _median(results: list[dict]) -> dict:
    """The run of median seconds, with every run's seconds and load."""
    out = dict(sorted(results, key=lambda r: r["seconds"])[len(results) // 2])
    out["seconds_runs"] = [round(r["seconds"], 2) for r in results]
    out["load_runs"] = [round(r["load_1min"], 2) for r in results]
    return out


def _worst(a: dict, b: dict) -> float:
    """Largest relative difference between two cases' summary values."""
    return max(abs(a["values"][k] - b["values"][k]) / max(abs(b["values"][k]), 1e-12) for k in b["values"])


def _show(title: str, r: dict) -> None:
    keep = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k not in ("values",)}
    print(f"{title}: {json.dumps(keep)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--dir", default="/tmp/embedlens-scale")
    ap.add_argument("--shard-rows", type=int, default=500_000)
    ap.add_argument("--inmem-n", type=int, default=1_000_000)
    ap.add_argument("--umap-n", type=int, default=1_000_000)
    ap.add_argument("--umap-sample", type=int, default=50_000)
    ap.add_argument("--umap-chunk-rows", type=int, default=10_000)
    ap.add_argument("--skip-umap", action="store_true")
    ap.add_argument("--skip-cluster", action="store_true")
    ap.add_argument("--skip-inmem", action="store_true", help="leave out the in-memory comparison (case 2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the out-of-core and cluster cases")
    ap.add_argument("--keep", action="store_true", help="keep the generated shards")
    ap.add_argument("--sample", type=int, default=50_000,
                    help="the pages' sample of the view: rows drawn (0: leave the case out)")
    ap.add_argument("--case")
    ap.add_argument("--kwargs")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](**json.loads(args.kwargs))))
        return
    folder = Path(args.dir) / f"n{args.n}-d{args.d}"
    gb = args.n * args.d * 4 / 1e9
    print(f"bench_scale: n={args.n:,} d={args.d} ({gb:.1f} GB float32) in {folder}; load {os.getloadavg()}",
          flush=True)
    try:
        if not (folder.exists() and any(folder.glob("*.npy"))):
            _show("generate", _run("generate", None, folder=str(folder), n=args.n, d=args.d,
                                   shard_rows=args.shard_rows))
        if args.sample:  # cold page cache is not ours to arrange: both ways read the shards right after generation
            picks = {way: [_run("sample", 1, folder=str(folder), size=args.sample, way=way) for _ in range(3)]
                     for way in ("read_rows", "dask")}
            for way, rs in picks.items():
                _show(f"the pages' sample, {args.sample:,} of {args.n:,} rows, {way} (median of 3)", _median(rs))
            a, b = _median(picks["read_rows"]), _median(picks["dask"])
            assert a["checksum"] == b["checksum"]
            print(f"  read_rows vs dask fancy indexing: {a['seconds']:.2f} vs {b['seconds']:.2f} s "
                  f"({b['seconds'] / a['seconds']:.1f}x faster), same rows", flush=True)
        runs: dict[str, list] = {"threads": [], "one": [], "two": []}
        for r in range(args.repeat):  # interleaved, so a change of the machine's load hits every case alike
            tag = f" [run {r + 1} of {args.repeat}]" if args.repeat > 1 else ""
            runs["threads"].append(_run("profile-ooc", 1, folder=str(folder)))
            _show(f"profile out of core (all rows, threaded scheduler, 2 threads){tag}", runs["threads"][-1])
            if not args.skip_cluster:
                runs["one"].append(_run("cluster", 1, folder=str(folder), workers=1))
                _show(f"LocalCluster, 1 worker process x 1 thread{tag}", runs["one"][-1])
                runs["two"].append(_run("cluster", 1, folder=str(folder), workers=2))
                _show(f"LocalCluster, 2 worker processes x 1 thread{tag}", runs["two"][-1])
        ooc = _median(runs["threads"])
        if not args.skip_inmem:
            small = min(args.inmem_n, args.n)
            inmem = _run("profile-inmem", None, folder=str(folder), n=small)
            _show(f"profile in memory ({small:,} rows, numpy, default BLAS threads)", inmem)
            inmem1 = _run("profile-inmem", 1, folder=str(folder), n=small)
            _show(f"profile in memory ({small:,} rows, numpy, 1 BLAS thread)", inmem1)
            if inmem1["gb_per_s"] > inmem["gb_per_s"]:  # oversubscribed machine: compare with the faster one
                inmem = inmem1
            ooc_small = _run("profile-ooc", 1, folder=str(folder), n=small)
            _show(f"profile out of core ({small:,} rows, same rows)", ooc_small)
            ratio = ooc_small["gb_per_s"] / inmem["gb_per_s"]
            print(f"  in memory vs out of core: {inmem['gb_per_s']:.2f} vs {ooc_small['gb_per_s']:.2f} GB/s "
                  f"(ratio {ratio:.2f}); largest relative difference of the summaries "
                  f"{_worst(ooc_small, inmem):.1e}", flush=True)
        if not args.skip_cluster:
            one, two = _median(runs["one"]), _median(runs["two"])
            worst = max(_worst(r, ooc) for r in runs["one"] + runs["two"])
            t0, t1, t2 = ooc["seconds"], one["seconds"], two["seconds"]
            loads = f"{ooc['load_runs']}, {one['load_runs']}, {two['load_runs']}"
            print(f"  medians of {args.repeat}: threaded scheduler {t0:.1f} s, 1 worker {t1:.1f} s, "
                  f"2 workers {t2:.1f} s (loads {loads}); 2 workers vs 1: {t1 / t2:.2f}x faster, "
                  f"vs threads: {t0 / t2:.2f}x; largest relative difference of the summaries, cluster vs "
                  f"threads: {worst:.1e}", flush=True)
        if not args.skip_umap:
            um = _run("umap", 1, folder=str(folder), n=min(args.umap_n, args.n), sample=args.umap_sample,
                      chunk_rows=args.umap_chunk_rows)
            _show("sample-then-extend UMAP", um)
        print("summary values (out of core, all rows):", json.dumps(ooc["values"]), flush=True)
    finally:
        if not args.keep and folder.exists():
            shutil.rmtree(folder)
            print(f"deleted {folder}", flush=True)


if __name__ == "__main__":
    main()
