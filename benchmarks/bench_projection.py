"""Maps: PCA / UMAP / t-SNE against the libraries called directly, the cache, the figure, the browser.

    python benchmarks/bench_projection.py             # compute: PCA, UMAP, t-SNE, cache hit, figure
    python benchmarks/bench_projection.py --quick     # a small smoke run of the same cases
    python benchmarks/bench_projection.py --browser   # Chromium: points drawn / selected, cached map on
                                                      # screen, first UMAP after a server start

Data: synthetic 384-d embeddings (20 clusters on a 16-d subspace plus noise, float32, seed 0),
written once to a temporary .npy and memory-mapped by each case. Every case runs in its own
subprocess (so peak memory, ru_maxrss, is that case's), with numba / OpenMP / BLAS pinned to
the machine's cores (printed). Compiled numba code is warmed on a tiny array first: these are
warm timings; the first-after-start cost is measured by --browser. Times are medians of the
repeats shown; "ratio" is ours / library (below 1: ours is faster).
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def blobs(n: int, d: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, 16)) * 3
    labels = rng.integers(0, 20, n)
    W = (rng.standard_normal((16, d)) / 4).astype(np.float32)
    X = np.empty((n, d), np.float32)
    for s in range(0, n, 100_000):
        Z = (centers[labels[s:s + 100_000]] + rng.standard_normal((len(labels[s:s + 100_000]), 16))).astype(np.float32)
        X[s:s + 100_000] = Z @ W + 0.1 * rng.standard_normal((len(Z), d), dtype=np.float32)
    return X, labels


# --------------------------------------------------------------------------- one case (subprocess)


def _trust(X, Y) -> float:
    from core.quality import trustworthiness

    return trustworthiness(X, Y, n_neighbors=15, metric="cosine", sample=2000).value


def _tsne_jobs() -> int:
    """The threads EmbedLens gives openTSNE (core.projection._tsne): half the cores, 1 to 8."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def run_case(case: str, path: str, repeats: int) -> dict:
    X = np.load(path, mmap_mode="r")
    X = np.ascontiguousarray(X)
    from core.neighbors import knn_graph
    from core.projection import project
    from core.warmup import warm_up

    if case.startswith(("umap", "tsne")):
        warm_up(steps=("umap",) if X.shape[0] <= 20_000 else ("umap", "pynndescent"))
        import umap  # noqa: F401  (import cost is not part of a warm timing)
    times, extra = [], {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        if case == "pca_ours":
            Y = project(X, method="pca", quality=False).coords
            if X.shape[0] > 50_000 and "agreement" not in extra:
                t_done = time.perf_counter()
                exact = project(X, method="pca", quality=False, fit_rows=None).coords
                extra["agreement"] = [abs(float(np.corrcoef(Y[:, j], exact[:, j])[0, 1])) for j in range(2)]
                t0 += time.perf_counter() - t_done  # not part of the timing
        elif case == "pca_ours_exact":
            Y = project(X, method="pca", quality=False, fit_rows=None).coords
        elif case == "pca_ours_quality":
            Y = project(X, method="pca").coords
        elif case.startswith("pca_sklearn"):
            from sklearn.decomposition import PCA

            solver = case.split(":")[1] if ":" in case else "auto"
            Y = PCA(n_components=2, svd_solver=solver, random_state=0).fit_transform(X)
        elif case == "umap_ours":  # the shared graph is built (and timed) here too
            g = knn_graph(X, k=15, metric="cosine")
            t_graph = time.perf_counter() - t0
            Y = project(X, method="umap", graph=g, quality=False).coords
            extra.setdefault("graph_s", []).append(t_graph)
        elif case == "umap_ours_parallel":  # every core, the seed ignored (not reproducible)
            if "warm" not in extra:  # compile umap-learn's parallel layout first, untimed
                project(X[:2000], method="umap", parallel=True, n_epochs=5, quality=False)
                extra["warm"] = True
                t0 = time.perf_counter()
            g = knn_graph(X, k=15, metric="cosine")
            t_graph = time.perf_counter() - t0
            Y = project(X, method="umap", graph=g, quality=False, parallel=True).coords
            extra.setdefault("graph_s", []).append(t_graph)
        elif case.startswith("umap_umap-learn"):
            import umap

            # like for like: the same metric, neighbours, min_dist and epochs as ours; seeded
            # (umap-learn then lays out on one thread, as ours does) or on every core
            parallel = case.endswith(":parallel")
            kw = dict(n_neighbors=15, min_dist=0.1, metric="cosine",
                      random_state=None if parallel else 0, n_jobs=-1 if parallel else 1)
            if "warm" not in extra:  # compile umap-learn's code paths first, untimed
                umap.UMAP(**{**kw, "n_epochs": 5}).fit(X[:5000])
                extra["warm"] = True
                t0 = time.perf_counter()
            Y = umap.UMAP(**kw).fit_transform(X)
        elif case == "tsne_ours":
            g = knn_graph(X, k=90, metric="cosine")
            Y = project(X, method="tsne", graph=g, quality=False).coords
        elif case == "tsne_sklearn":
            from sklearn.manifold import TSNE

            # like for like: perplexity 30, cosine, PCA init, 250 exaggerated + 500 plain
            # iterations (scikit-learn's max_iter counts both), the same threads; scikit-learn's
            # gradient is Barnes-Hut at every n (ours is Barnes-Hut below 10,000 points)
            Y = TSNE(perplexity=30.0, metric="cosine", init="pca", max_iter=750, method="barnes_hut",
                     n_jobs=_tsne_jobs(), random_state=0).fit_transform(X)
        elif case == "tsne_openTSNE":
            import openTSNE

            # like for like: openTSNE builds its own kNN (k = 3 x perplexity), the rest as ours
            gradient = "fft" if X.shape[0] >= 10_000 else "bh"
            Y = np.asarray(openTSNE.TSNE(perplexity=30.0, metric="cosine", n_iter=500, early_exaggeration_iter=250,
                                         negative_gradient_method=gradient, initialization="pca",
                                         n_jobs=_tsne_jobs(), random_state=0).fit(X))
        else:
            raise SystemExit(f"unknown case {case}")
        times.append(time.perf_counter() - t0)
    if case.startswith(("umap", "tsne")):
        extra["trustworthiness"] = _trust(X, Y)
    return {"times": times, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def run_io_case(case: str, n: int, repeats: int) -> dict:
    """Cache hit and figure build + serialisation, on synthetic 2-D coordinates."""
    import plotly.io as pio

    from core.cache import DiskCache
    from core.projection import Projection, load_projection, save_projection
    from dashboard.figures.projection import MapColor, projection_figure, projection_info

    rng = np.random.default_rng(0)
    coords = rng.standard_normal((n, 2)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    times, extra = [], {}
    if case == "cache_hit":
        with tempfile.TemporaryDirectory() as tmp:
            cache = DiskCache(tmp)
            p = Projection(coords=coords, method="umap", n_components=2, seed=0, params={"n_neighbors": 15},
                           preservation=rng.random(n).astype(np.float32), preservation_k=15)
            save_projection(cache, "ab" * 20, p)
            for _ in range(repeats):
                t0 = time.perf_counter()
                q = load_projection(cache, "ab" * 20)
                times.append(time.perf_counter() - t0)
            assert q is not None and q.from_cache
    else:
        render = case.split(":")[1]
        color = MapColor("categorical", "label", labels.astype(object))
        for _ in range(repeats):
            t0 = time.perf_counter()
            info = projection_info(coords, np.arange(n), color=color, render=render)
            text = pio.to_json(projection_figure(info), validate=False)
            times.append(time.perf_counter() - t0)
        extra = {"json_mb": len(text) / 1e6, "drawn": info.n_drawn}
    return {"times": times, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


# --------------------------------------------------------------------------- driver


def _sub(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _s(t: float) -> str:
    return f"{t:8.3f} s" if t < 1 else f"{t:8.2f} s"


def _row(name: str, n: int, ours: dict, lib: dict | None, lib_name: str = "") -> None:
    mo = statistics.median(ours["times"])
    line = f"{name:<30} n={n:>9,}  ours {_s(mo)}  (x{len(ours['times'])}, {ours['rss_mb']:6.0f} MB)"
    if lib is not None:
        ml = statistics.median(lib["times"])
        line += f"  | {lib_name} {_s(ml)} ({lib['rss_mb']:6.0f} MB)  ratio {mo / ml:5.2f}"
    if "trustworthiness" in ours:
        line += f"  trustworthiness: ours {ours['trustworthiness']:.3f}"
        if lib is not None and "trustworthiness" in lib:
            line += f" / {lib_name} {lib['trustworthiness']:.3f}"
    print(line, flush=True)
    if "graph_s" in ours:  # the shared graph is built once per view and reused by other metrics
        g = statistics.median(ours["graph_s"])
        layout = mo - g
        print(f"{'':30}   of which the shared kNN graph {g:.2f} s, the layout {layout:.2f} s"
              + (f" (layout alone / {lib_name}: {layout / statistics.median(lib['times']):.2f})" if lib else ""),
              flush=True)


def compute(quick: bool, only: str | None = None, max_n: int | None = None) -> None:
    sizes = {"pca": [5_000, 20_000] if quick else [10_000, 100_000, 1_000_000],
             "umap": [3_000] if quick else [10_000, 100_000],
             "tsne": [2_000] if quick else [5_000, 10_000]}
    if only:
        sizes = {k: (v if k == only else []) for k, v in sizes.items()}
    if max_n:
        sizes = {k: [n for n in v if n <= max_n] for k, v in sizes.items()}
    reps = {"pca": 3 if quick else 5, "umap": 1 if quick else 2, "tsne": 1 if quick else 2}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for n in sorted({n for ns in sizes.values() for n in ns}):
            paths[n] = str(Path(tmp) / f"x{n}.npy")
            # made in a subprocess: a child inherits the parent's resident size as its starting peak
            subprocess.run([sys.executable, __file__, "--make", paths[n], "--n", str(n)], cwd=ROOT, check=True)
        print("== PCA (scikit-learn), 384 dims; ours fits the axes on 50,000 sampled rows above that")
        for n in sizes["pca"]:
            ours = _sub(["--case", "pca_ours", "--data", paths[n], "--repeats", str(reps["pca"])])
            lib = _sub(["--case", "pca_sklearn", "--data", paths[n], "--repeats", str(reps["pca"])])
            _row("PCA (auto solver)", n, ours, lib, "sklearn PCA() default")
            if n >= 1_000_000 or quick:
                exact = _sub(["--case", "pca_ours_exact", "--data", paths[n], "--repeats", str(reps["pca"])])
                _row("  ours, axes fitted on all rows", n, exact, None)
                print(f"{'':30}   |correlation| of sampled-axes vs all-rows coordinates: "
                      f"PC1 {ours['agreement'][0]:.5f}, PC2 {ours['agreement'][1]:.5f}")
                for solver in ("covariance_eigh", "randomized", "full"):
                    if solver == "full" and n >= 1_000_000:
                        continue
                    s = _sub(["--case", f"pca_sklearn:{solver}", "--data", paths[n], "--repeats", str(reps["pca"])])
                    _row(f"  sklearn solver={solver}", n, s, None)
            q = _sub(["--case", "pca_ours_quality", "--data", paths[n], "--repeats", str(reps["pca"])])
            _row("PCA + quality (2k sample)", n, q, None)
        print("== UMAP, 384 dims, like for like: 15 neighbours, min_dist 0.1, cosine, default epochs;"
              " ours = shared cosine kNN graph + umap-learn's layout")
        for n in sizes["umap"]:
            r = 1 if n >= 100_000 else reps["umap"]
            ours = _sub(["--case", "umap_ours", "--data", paths[n], "--repeats", str(r)])
            lib = _sub(["--case", "umap_umap-learn", "--data", paths[n], "--repeats", str(r)])
            _row("UMAP seeded (1 thread)", n, ours, lib, "umap.UMAP(seeded, cosine)")
            par = _sub(["--case", "umap_ours_parallel", "--data", paths[n], "--repeats", str(r)])
            lib_par = _sub(["--case", "umap_umap-learn:parallel", "--data", paths[n], "--repeats", str(r)])
            _row("UMAP every core (no seed)", n, par, lib_par, "umap.UMAP(n_jobs=-1, cosine)")
        print(f"== t-SNE, 384 dims, like for like: perplexity 30, cosine, PCA init, 250 + 500 iterations,"
              f" {_tsne_jobs()} thread(s); ours = openTSNE on the shared graph (k=90)")
        for n in sizes["tsne"]:
            ours = _sub(["--case", "tsne_ours", "--data", paths[n], "--repeats", str(reps["tsne"])])
            ot = _sub(["--case", "tsne_openTSNE", "--data", paths[n], "--repeats", str(reps["tsne"])])
            gradient = "FFT" if n >= 10_000 else "Barnes-Hut"
            _row(f"t-SNE ({gradient})", n, ours, ot, f"openTSNE.TSNE({gradient})")
            if n < 10_000:  # scikit-learn has no FFT gradient: compared only where both are Barnes-Hut
                sk = _sub(["--case", "tsne_sklearn", "--data", paths[n], "--repeats", "1"])
                _row("t-SNE (Barnes-Hut)", n, ours, sk, "sklearn TSNE(barnes_hut)")
    if only:  # a section was asked for: skip the cache and figure timings
        return
    print("== disk cache hit (coordinates + per-point preservation, checksums verified)")
    for n in [100_000] if quick else [100_000, 1_000_000]:
        _row("cache hit", n, _sub(["--io", "cache_hit", "--n", str(n), "--repeats", "5"]), None)
    print("== figure: projection_info + projection_figure + plotly.io.to_json (what Streamlit sends)")
    for n, render in ([(100_000, "points")] if quick else
                      [(100_000, "points"), (1_000_000, "points"), (1_000_000, "auto")]):
        r = _sub(["--io", f"figure:{render}", "--n", str(n), "--repeats", "3"])
        _row(f"figure ({render}, {r['drawn']:,} drawn)", n, r, None)
        print(f"{'':30}   JSON {r['json_mb']:.1f} MB")


# --------------------------------------------------------------------------- browser


def _browser(quick: bool, sizes_arg: str | None = None, umap_part: bool = True) -> None:
    import pandas as pd
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server

    chart = '[data-testid="stPlotlyChart"]'
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'

    def wait_idle(page, timeout=600_000):
        page.wait_for_selector('[data-test-connection-state="CONNECTED"]', timeout=timeout)
        page.wait_for_timeout(300)
        page.wait_for_selector(idle, timeout=timeout)

    def wait_for_final_map(page) -> None:
        """The map is drawn and no longer the PCA preview of a running job."""
        page.wait_for_selector(f"{chart} canvas.gl-canvas-context", timeout=900_000)
        page.wait_for_function(
            "() => ![...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
            ".some(e => e.innerText.includes('Showing PCA while'))", timeout=900_000, polling=250)
        wait_idle(page)

    def dataset(root: Path, name: str, n: int, d: int, seed: int = 0) -> None:
        X, labels = blobs(n, d=d, seed=seed)
        (root / name).mkdir(parents=True)
        np.save(root / name / "x.npy", X)
        pd.DataFrame({"label": labels}).to_parquet(root / name / "metadata.parquet")

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        data, cache = Path(tmp) / "data", Path(tmp) / "cache"
        sizes = [2_000, 20_000, 100_000] if quick else [2_000, 100_000, 250_000, 500_000, 1_000_000]
        if sizes_arg:
            sizes = [int(x) for x in sizes_arg.split(",")]
        for n in sizes:
            dataset(data, f"scale-{n}", n, 16)
        n_umap = 3_000 if quick else 10_000
        for name, seed in (("umap-a", 1), ("umap-b", 2), ("umap-c", 3)):
            dataset(data, name, n_umap, 384, seed)  # other data each: no graph or map is reused
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def selected_value(page):
            card = page.locator('[data-testid="stMetric"]', has_text="Selected items")
            return card.locator('[data-testid="stMetricValue"]').inner_text(timeout=600_000)

        def open_map(link: str) -> tuple[object, float, float, float]:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(link)
            page.wait_for_selector('[data-testid="stApp"]', timeout=600_000)
            t_shell = time.perf_counter()
            page.wait_for_selector(f"{chart} canvas.gl-canvas-context", timeout=900_000)
            t_canvas = time.perf_counter()
            wait_idle(page)
            return page, t_shell - t0, t_canvas - t_shell, time.perf_counter() - t_shell

        print("== points drawn and selected in Chromium (2-D PCA map from the disk cache; box over most of the map)")
        print("   'shell': navigation until Streamlit's app shell exists; 'canvas': shell until the WebGL map is drawn;"
              " 'idle': shell until the whole page (panels too) is done")
        env = {"EMBEDLENS_DATA": str(data), "EMBEDLENS_CACHE": str(cache), "EMBEDLENS_WARMUP": "off",
               "EMBEDLENS_UPLOADS": str(Path(tmp) / "up")}
        proc, url, _ = start_server(env)
        try:
            for n in sizes:
                for render in (["points", "auto"] if n > 250_000 else ["points"]):
                    link = f"{url}/map?ds=scale-{n}" + ("&mr=points" if render == "points" else "")
                    open_map(link)[0].close()  # computes and caches the PCA
                    page, shell, canvas, done = open_map(link)
                    page.locator(chart).first.hover()
                    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
                    box = page.locator(f"{chart} .nsewdrag").first.bounding_box()
                    page.mouse.move(box["x"] + 2, box["y"] + 2)
                    page.mouse.down()
                    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.8, steps=12)
                    t_up = time.perf_counter()
                    page.mouse.up()
                    value = selected_value(page)
                    t_sel = time.perf_counter()
                    print(f"  n={n:>9,} {render:<6}  shell {shell:4.1f} s  canvas {canvas:5.1f} s  idle {done:5.1f} s  "
                          f"box-select -> panel {t_sel - t_up:5.1f} s  selected {value}", flush=True)
                    page.close()
        finally:
            stop_server(proc)

        if not umap_part:
            browser.close()
            return
        print(f"== first UMAP after a server start ({n_umap:,} x 384, new data each time, so no graph or map reuse)")
        for label, extra in (("numba cache on disk", {}),
                             ("no numba cache (first run ever)", {"NUMBA_CACHE_DIR": str(Path(tmp) / "nb")})):
            cold_env = {**env, **extra, "EMBEDLENS_WARMUP": "umap", "EMBEDLENS_CACHE": str(Path(tmp) / f"c{len(extra)}")}
            proc, url, _ = start_server(cold_env)
            try:
                out = {}
                for case, ds in (("direct link at start", "umap-a"), ("warm", "umap-b")):
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    t0 = time.perf_counter()
                    page.goto(f"{url}/map?ds={ds}&mm=umap")
                    wait_for_final_map(page)
                    out[case] = time.perf_counter() - t0
                    page.close()
                print(f"  {label:<32} direct link at start {out['direct link at start']:6.1f} s  "
                      f"warm {out['warm']:6.1f} s  ratio {out['direct link at start'] / out['warm']:.2f}", flush=True)
            finally:
                stop_server(proc)
        # the usual path: the app opens on the Data page; the map is asked for a little later
        proc, url, _ = start_server({**env, "EMBEDLENS_WARMUP": "umap", "NUMBA_CACHE_DIR": str(Path(tmp) / "nb2"),
                                     "EMBEDLENS_CACHE": str(Path(tmp) / "c9")})
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/data?ds=umap-c")
            wait_idle(page)
            page.wait_for_timeout(45_000)
            t0 = time.perf_counter()
            page.goto(f"{url}/map?ds=umap-c&mm=umap")
            wait_for_final_map(page)
            print(f"  no numba cache, Data page first, map asked 45 s later: {time.perf_counter() - t0:6.1f} s", flush=True)
        finally:
            stop_server(proc)
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--case")
    ap.add_argument("--io")
    ap.add_argument("--data")
    ap.add_argument("--n", type=int)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--make")
    ap.add_argument("--only", choices=["pca", "umap", "tsne"], help="run one section of the compute cases")
    ap.add_argument("--max-n", type=int, help="skip the compute sizes above this many points")
    ap.add_argument("--sizes", help="--browser: comma-separated point counts (default 2k ... 1M)")
    ap.add_argument("--no-umap", action="store_true", help="--browser: skip the first-UMAP-after-start part")
    a = ap.parse_args()
    if a.make:
        np.save(a.make, blobs(a.n)[0])
        return
    if a.case:
        print(json.dumps(run_case(a.case, a.data, a.repeats)))
        return
    if a.io:
        print(json.dumps(run_io_case(a.io, a.n, a.repeats)))
        return
    cores = os.cpu_count()
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(cores)
    print(f"threads pinned to {cores} (numba, OpenMP, BLAS); seeded UMAP lays out on 1 thread by design; "
          f"openTSNE in EmbedLens uses {max(1, min(8, cores // 2))}")
    if a.browser:
        _browser(a.quick, a.sizes, not a.no_umap)
    else:
        compute(a.quick, a.only, a.max_n)


if __name__ == "__main__":
    main()
