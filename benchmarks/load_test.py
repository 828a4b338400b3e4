"""A bounded loopback load test: N simultaneous headless browser sessions open the sample pages.

    python benchmarks/load_test.py                          # 8 sessions; Data, Map, Spectra; 2 rounds
    python benchmarks/load_test.py --sessions 4 --pages data,map,spectra,compare
    python benchmarks/load_test.py --url http://127.0.0.1:8501 --rounds 1

Starts an EmbedLens server on a free loopback port (the bundled sample data, a fresh disk cache,
the numba warm-up as a user's server runs it) unless ``--url`` names one, then launches one
headless Chromium with N browser contexts -- N separate Streamlit sessions -- that all open
their pages at the same time. Session i visits the page list starting at page i (so the pages
are requested concurrently, not in lock step); every round repeats the visits on fresh
contexts. Round 1 meets a cold server (nothing computed, nothing cached); later rounds show
the steady state.

Page-ready time: from ``page.goto`` to the page drawn and idle -- the app connected, the script
finished (``data-test-script-state="notRunning"``, twice, 0.3 s apart, as the browser tests wait)
and the page's own element present (``READY``: the title, the Map's WebGL canvas, a Spectra
chart). An error is an exception box, an error alert, an uncaught page error or a time-out; each
is listed. The pages are URL paths of the app (``data``, ``map``, ``spectra``; pages added later,
such as ``compare``, by name) with the query in ``QUERY``, or ``name?query`` on the command line.

Prints p50 / p95 / max page-ready seconds per page and round, and the errors (0 expected).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("EMBEDLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEW = "seed0/hidden2/epoch100"
QUERY = {
    "data": "ds=digits-mlp",
    "map": f"ds=digits-mlp&view={VIEW}&mc=label",
    "spectra": f"ds=digits-mlp&view={VIEW}",
    "geometry": f"ds=digits-mlp&view={VIEW}",
    "compare": "ds=digits-mlp",
}
"""The link each page is opened with (sample data)."""
READY = {
    "data": "h1",
    "map": '[data-testid="stPlotlyChart"] canvas',
    "spectra": '[data-testid="stPlotlyChart"]',
    "geometry": '[data-testid="stPlotlyChart"]',
}
"""The element that says a page is drawn (default: its title)."""
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(cache: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run dashboard/app.py`` on a free loopback port, as the browser tests start it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("EMBEDLENS_DATA",)}
    env.update(EMBEDLENS_CACHE=str(cache), EMBEDLENS_UPLOADS=str(cache / "uploads"))
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
           "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
           "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    while time.perf_counter() - start < 120:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not answer /_stcore/health in 120 s")


def _split(spec: str) -> tuple[str, str]:
    name, _, query = spec.partition("?")
    return name, query or QUERY.get(name, "ds=digits-mlp")


async def _open(context, base: str, spec: str, timeout_ms: float) -> tuple[str, float, str | None]:
    """(page, seconds to ready, error or None) for one visit in a fresh page of ``context``."""
    name, query = _split(spec)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    start = time.perf_counter()
    try:
        await page.goto(f"{base}/{name}?{query}", timeout=timeout_ms)
        await page.wait_for_selector('[data-test-connection-state="CONNECTED"]', timeout=timeout_ms)
        await page.wait_for_selector(READY.get(name, "h1"), timeout=timeout_ms)
        await page.wait_for_selector(IDLE, timeout=timeout_ms)
        await page.wait_for_timeout(300)  # a rerun that was just requested starts
        await page.wait_for_selector(IDLE, timeout=timeout_ms)
        seconds = time.perf_counter() - start - 0.3
        shown = await page.locator(ERRORS).all_inner_texts()
        errors += [f"on the page: {t[:160]}" for t in shown]
    except Exception as exc:  # noqa: BLE001 - a time-out or a crash is the error this counts
        seconds = time.perf_counter() - start
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    finally:
        await page.close()
    return name, seconds, "; ".join(errors) or None


async def _session(browser, base: str, pages: list[str], offset: int, timeout_ms: float) -> list:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        order = pages[offset % len(pages):] + pages[: offset % len(pages)]
        return [await _open(context, base, spec, timeout_ms) for spec in order]
    finally:
        await context.close()


async def run(base: str, sessions: int, pages: list[str], rounds: int, timeout_s: float) -> list[list]:
    """Every round: ``sessions`` concurrent sessions, each opening every page; the visits per round."""
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(rounds):
                visits = await asyncio.gather(*(_session(browser, base, pages, i, timeout_s * 1000)
                                                for i in range(sessions)))
                results.append([v for s in visits for v in s])
        finally:
            await browser.close()
    return results


def _pct(values: list[float], q: float) -> float:
    """The ``q`` quantile, linearly interpolated (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, 100 * q))


def report(results: list[list], sessions: int) -> int:
    """Print the table; returns the number of errors."""
    n_errors = 0
    print(f"{sessions} simultaneous sessions, {os.cpu_count()} CPU cores, page-ready seconds")
    print(f"{'round':>5}  {'page':<10} {'visits':>6} {'p50':>7} {'p95':>7} {'max':>7}  errors")
    for r, visits in enumerate(results, start=1):
        names = list(dict.fromkeys(v[0] for v in visits))
        for name in names + ["all"]:
            mine = [v for v in visits if name in ("all", v[0])]
            ok = [s for _, s, e in mine if e is None]
            errs = [e for _, _, e in mine if e is not None]
            times = ok or [s for _, s, _ in mine]
            print(f"{r:>5}  {name:<10} {len(mine):>6} {_pct(times, 0.5):>7.2f} {_pct(times, 0.95):>7.2f} "
                  f"{max(times):>7.2f}  {len(errs)}")
        for name, _, e in visits:
            if e is not None:
                n_errors += 1
                print(f"       error on {name}: {e}")
    return n_errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8, help="simultaneous browser sessions (default 8)")
    ap.add_argument("--pages", default="data,map,spectra",
                    help="comma-separated page paths, each optionally name?query (default data,map,spectra)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of visits (1: cold server; default 2)")
    ap.add_argument("--url", help="an EmbedLens server already running (default: start one)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds a page may take before it is an error")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 64:
        ap.error("--sessions must be between 1 and 64 (a bounded loopback test)")
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    proc = None
    with tempfile.TemporaryDirectory(prefix="embedlens-load-") as tmp:
        if args.url:
            base = args.url.rstrip("/")
        else:
            proc, base = start_server(Path(tmp) / "cache")
        try:
            started = time.perf_counter()
            results = asyncio.run(run(base, args.sessions, pages, args.rounds, args.timeout))
            errors = report(results, args.sessions)
            print(f"total {time.perf_counter() - started:.1f} s; {errors} errors")
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
