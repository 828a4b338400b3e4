"""Share links in Chromium (issue 14): how long a pasted link takes to draw when its numbers are cached.

    python benchmarks/bench_links.py [--repeats 3]

Prints, each the median of ``--repeats`` opens in a fresh browser context (no cookies, no session; the
server's caches warm from one earlier open):

- a 100,000 x 64 dataset's Map link (PCA, coloured by label): navigation until the WebGL chart holds
  all 100,000 points, and until the page is idle;
- the Compare page of the 30-view sample (its CKA matrix from the cache): until the matrix is drawn;
- the Rashomon page of the sample at its defaults (30 / 100 permutations; the set from the cache):
  until the halo is drawn;

and link lengths: a link with every field of every page set (1,000 of 1,797 items selected), and the
100,000-point map with a box over about half of it selected (a bitmap of rows in file order).

Timings are printed, never asserted (tests/ assert the links themselves). One run, on whatever machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N, D = 100_000, 64
CHART = '[data-testid="stPlotlyChart"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def make_dataset(folder: Path, n: int = N, d: int = D, seed: int = 0) -> np.ndarray:
    """``n`` x ``d`` float32 Gaussian blobs (10 centres) and a label column, written as .npy + Parquet."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(10, d))
    labels = rng.integers(0, 10, size=n)
    X = (centres[labels] + rng.normal(size=(n, d))).astype(np.float32)
    folder.mkdir(parents=True)
    np.save(folder / "x.npy", X)
    pd.DataFrame({"id": [f"item-{i:06d}" for i in range(n)], "label": labels.astype(str)}).to_parquet(
        folder / "metadata.parquet")
    return X


def _idle(page, timeout: float = 900_000) -> None:
    page.wait_for_selector('[data-test-connection-state="CONNECTED"]', timeout=timeout)
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout)


def _timed(browser, url: str, drawn: str) -> tuple[float, float]:
    """Seconds from navigation until ``drawn`` (a JS predicate) holds, and until the page is idle."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(url)
        try:
            page.wait_for_function(drawn, timeout=600_000, polling=50)
        except Exception:
            seen = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd =>
                (gd._fullData || []).map(t => t.type + ':' + (t.x ? t.x.length : '-')).join(' '))""")
            raise RuntimeError(f"{url}: not drawn in 600 s; charts on the page: {seen}") from None
        t_drawn = time.perf_counter() - t0
        _idle(page)
        return t_drawn, time.perf_counter() - t0
    finally:
        context.close()


MAP_DRAWN = f"""() => {{ const gd = document.querySelector('.st-key-map_0 .js-plotly-plot');
    if (!gd || !gd._fullData || !gd.querySelector('canvas.gl-canvas-context')) return false;
    // one WebGL trace per label: all {N:,} points across them
    return gd._fullData.reduce((n, t) => n + (t.type === 'scattergl' && t.x ? t.x.length : 0), 0) === {N}; }}"""
MATRIX_DRAWN = "() => document.querySelector('.st-key-cmp_matrix .js-plotly-plot .scatterlayer .point')"
HALO_DRAWN = ("() => document.querySelector('.st-key-rsh_halo .js-plotly-plot .main-svg') && "
              "!document.querySelector('[data-testid=\"stProgress\"]')")


def _median(xs) -> str:
    return f"{statistics.median(xs):5.2f} s (runs: {', '.join(f'{x:.2f}' for x in xs)})"


def link_lengths(X: np.ndarray) -> None:
    from dashboard.state import ViewState, encode_selection, share_url
    from tests.app.test_links_property import every_field_set

    print(f"  every field of every page set on the 30-view sample, 1,000 of 1,797 items selected: "
          f"{len(share_url(every_field_set(), 'http://127.0.0.1:8501')):,} characters")
    from sklearn.decomposition import PCA

    pc = PCA(2, random_state=0).fit_transform(X)
    rows = np.flatnonzero((pc[:, 0] < np.median(pc[:, 0])))  # a box over the left half of the map
    sel = encode_selection(rows, len(X))
    big = share_url(ViewState(dataset="scale", page="map", map_selection=sel), "http://127.0.0.1:8501")
    print(f"  100,000-point map, a box over its left half ({len(rows):,} items) selected: {len(big):,} characters "
          f"(a bitmap of rows in file order; {len(big) / len(X):.3f} characters per item)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--links-only", action="store_true", help="only the link lengths (no server)")
    args = parser.parse_args()
    if args.links_only:
        with tempfile.TemporaryDirectory() as tmp:
            print("== link lengths")
            link_lengths(make_dataset(Path(tmp) / "scale"))
        return

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        X = make_dataset(tmp / "data" / "scale")
        # the sample datasets beside the generated one, so one server serves all three links
        import shutil

        import core

        for name in ("digits-mlp",):
            shutil.copytree(core.sample_data_dir() / name, tmp / "data" / name)
        env = {"EMBEDLENS_DATA": str(tmp / "data"), "EMBEDLENS_CACHE": str(tmp / "cache"),
               "EMBEDLENS_UPLOADS": str(tmp / "uploads"), "EMBEDLENS_WARMUP": "off", "EMBEDLENS_TEST_HOOKS": "0"}
        proc, url, startup = start_server(env)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"server up in {startup:.1f} s; {args.repeats} opens each in a fresh browser context after one "
                  "warming open")
            cases = [(f"Map, {N:,} x {D} (PCA, colour by label)", f"{url}/map?ds=scale&mc=label", MAP_DRAWN),
                     ("Compare, CKA matrix of the 30-view sample", f"{url}/compare?ds=digits-mlp", MATRIX_DRAWN),
                     ("Rashomon, the sample at its defaults", f"{url}/rashomon?ds=digits-mlp", HALO_DRAWN)]
            for label, link, drawn in cases:
                t0 = time.perf_counter()
                _timed(browser, link, drawn)  # computes and caches
                first = time.perf_counter() - t0
                runs = [_timed(browser, link, drawn) for _ in range(args.repeats)]
                print(f"== {label}\n  first open (computing) {first:6.1f} s\n"
                      f"  cached: drawn {_median([r[0] for r in runs])}\n"
                      f"          idle  {_median([r[1] for r in runs])}", flush=True)
        finally:
            browser.close()
            stop_server(proc)
        print("== link lengths")
        link_lengths(X)


if __name__ == "__main__":
    main()
