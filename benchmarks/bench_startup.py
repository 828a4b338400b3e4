"""Time from `embedlens` start to the health endpoint answering, and to the first rendered page.

    python benchmarks/bench_startup.py             # 5 cold starts, medians
    python benchmarks/bench_startup.py --browser   # also: first Data page fully drawn in Chromium

Each start is a new server process (`python -m dashboard.cli --port P`, what the `embedlens`
command runs). "health" is the first 200 from /_stcore/health; "page" is the first time a
fresh headless Chromium shows the Data page's title with the script idle. The baseline is a
bare Streamlit app (`st.write("hi")`) started the same way: the part of start-up EmbedLens
adds on top of Streamlit itself.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(url: str, proc: subprocess.Popen, timeout: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter()
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("no health answer")


def _page_ready(url: str) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = b.new_page()
        page.goto(url)
        page.wait_for_selector("h1:has-text('digits-mlp')", timeout=120_000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)
        done = time.perf_counter()
        b.close()
    return done


def one_start(make_cmd, browser: bool) -> tuple[float, float | None]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "EMBEDLENS_DATA"}
    start = time.perf_counter()
    proc = subprocess.Popen(make_cmd(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        health = _wait_health(url, proc) - start
        page = (_page_ready(url) - start) if browser else None
        return health, page
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    def embedlens(port: int) -> list[str]:
        return [sys.executable, "-m", "dashboard.cli", "--address", "127.0.0.1", "--port", str(port)]

    with tempfile.TemporaryDirectory() as tmp:
        bare_app = Path(tmp) / "bare.py"
        bare_app.write_text("import streamlit as st\nst.write('hi')\n")

        def bare(port: int) -> list[str]:
            return [sys.executable, "-m", "streamlit", "run", str(bare_app), "--server.headless=true",
                    "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
                    f"--server.port={port}"]

        rows = {}
        for label, cmd, browser in [("bare streamlit app", bare, False), ("embedlens", embedlens, args.browser)]:
            runs = [one_start(cmd, browser) for _ in range(args.repeats)]
            rows[label] = runs
        print(f"{args.repeats} cold server starts each, medians (seconds)")
        for label, runs in rows.items():
            health = statistics.median(r[0] for r in runs)
            line = f"{label:22s} health endpoint: {health:6.2f} s"
            if runs[0][1] is not None:
                line += f"   Data page drawn in Chromium: {statistics.median(r[1] for r in runs):6.2f} s"
            print(line)


if __name__ == "__main__":
    main()
