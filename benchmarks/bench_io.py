"""Time core.load against the readers a user would otherwise call, on the same files.

    python benchmarks/bench_io.py            # 1,000,000 x 384 float32 (1.5 GB per file)
    python benchmarks/bench_io.py --quick    # 100,000 x 384

Each case runs in a fresh subprocess (so its peak RSS is its own) and is repeated; the
table gives medians. Files are read warm (from the page cache, after one untimed read), which
is what a server reopening a dataset sees. ``core.load`` does more than the baselines: it
checks every row for NaN / inf, converts to a read-only float32 matrix and hashes it for the
fingerprint, so the ratio is the price of those guarantees.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "numpy.load (mmap, touch every page)": "npy_numpy_mmap",
    "numpy.load (read into memory)": "npy_numpy",
    "core.load .npy": "npy_core",
    "pyarrow.parquet.read_table": "parquet_arrow",
    "pyarrow read_table + to numpy": "parquet_arrow_numpy",
    "core.load .parquet": "parquet_core",
}


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def one(case: str, folder: Path) -> dict:
    """Run one case in this process; returns seconds and peak RSS. Imports are not timed."""
    import numpy as np
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    import core

    before = _peak_rss()
    start = time.perf_counter()
    if case == "npy_numpy_mmap":
        X = np.load(folder / "X.npy", mmap_mode="r")
        float(X.sum(dtype=np.float64))  # a memory map is free until it is read
    elif case == "npy_numpy":
        X = np.load(folder / "X.npy")
    elif case == "npy_core":
        X = core.load(folder / "X.npy").views[0].X
    elif case == "parquet_arrow":
        X = pq.read_table(folder / "X.parquet")
    elif case == "parquet_arrow_numpy":
        t = pq.read_table(folder / "X.parquet")
        col = t.column("embedding").combine_chunks()
        X = col.flatten().to_numpy().reshape(len(col), -1)
    elif case == "parquet_core":
        X = core.load(folder / "X.parquet").views[0].X
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_bytes": _peak_rss() - before}


def make_files(folder: Path, n: int, d: int) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    np.save(folder / "X.npy", X)
    col = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), d)
    pq.write_table(pa.table({"embedding": col}), folder / "X.parquet", compression="none")
    return X.nbytes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.folder)))
        return
    n, d = (100_000 if args.quick else 1_000_000), 384
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        folder = Path(tmp)
        nbytes = make_files(folder, n, d)
        print(f"matrix: {n:,} x {d} float32 = {nbytes / 2**20:,.0f} MiB; repeats: {args.repeats} (medians)")
        results = {}
        for label, case in CASES.items():
            runs = []
            for i in range(args.repeats + 1):  # the first run warms the page cache, untimed
                out = subprocess.run(
                    [sys.executable, __file__, "--one", case, "--folder", str(folder)],
                    capture_output=True, text=True, check=True,
                )
                if i:
                    runs.append(json.loads(out.stdout))
            results[label] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak": statistics.median(r["peak_bytes"] for r in runs),
            }
        base_npy = results["numpy.load (read into memory)"]["seconds"]
        base_pq = results["pyarrow read_table + to numpy"]["seconds"]
        print(f"{'case':40s} {'median s':>9s} {'vs baseline':>12s} {'+peak RSS':>10s} {'/matrix':>8s}")
        for label, r in results.items():
            base = base_pq if "parquet" in label or "pyarrow" in label else base_npy
            print(
                f"{label:40s} {r['seconds']:9.3f} {r['seconds'] / base:11.2f}x "
                f"{r['peak'] / 2**20:8,.0f}Mi {r['peak'] / nbytes:7.2f}x"
            )
        print("baselines: numpy.load (read into memory) for .npy; pyarrow read_table + to numpy for Parquet")
        print("+peak RSS: growth of the process's peak resident memory during the load (imports excluded)")


if __name__ == "__main__":
    main()
