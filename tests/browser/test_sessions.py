"""Two browser sessions on one server at the same time never see each other's state or jobs.

Two contexts (separate cookies, separate Streamlit sessions) work on different datasets and pages,
interleaved: each keeps its own dataset, view, selection and search, in its page and its link.
Jobs: a t-SNE one session starts is not shown to a session on another dataset; a session asking
for the same map joins it; when the first presses Stop, the second's map is computed on.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from .conftest import start_server, stop_server, wait_idle

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
VIEW = "seed0/hidden2/epoch100"


def _query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}


def _selected(page) -> str:
    card = page.locator('[data-testid="stMetric"]', has_text="Selected items")
    return card.locator('[data-testid="stMetricValue"]').inner_text()


def _box(page, x0, y0, x1, y1) -> None:
    page.locator(CHART).first.hover()
    page.locator('.modebar-btn[data-title="Box Select"]').first.click()
    box = page.locator(f"{CHART} .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=12)
    page.mouse.up()
    page.wait_for_function("() => new URLSearchParams(window.location.search).has('msel')", timeout=30_000)
    wait_idle(page)


def _dataset(page) -> str:
    return page.evaluate("""() => document.querySelector('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').value""")


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sessions")
    proc, url, _ = start_server({"EMBEDLENS_UPLOADS": str(tmp / "uploads"), "EMBEDLENS_CACHE": str(tmp / "cache"),
                                 "EMBEDLENS_WARMUP": "off"})
    yield url
    stop_server(proc)


def test_two_sessions_keep_their_own_dataset_page_and_selection(sample_server, browser):
    ctx_a = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx_b = browser.new_context(viewport={"width": 1400, "height": 1000})
    a, b = ctx_a.new_page(), ctx_b.new_page()
    try:
        a.goto(f"{sample_server}/map?ds=digits-mlp&view={VIEW}&mc=label")
        b.goto(f"{sample_server}/data?ds=digits-paired&q=7")
        wait_idle(a)
        wait_idle(b)
        a.wait_for_selector(f"{CHART} canvas.gl-canvas-context", timeout=60_000)
        _box(a, 0.05, 0.05, 0.5, 0.55)
        sel_a, count_a = _query(a)["msel"], _selected(a)
        b.goto(f"{sample_server}/map?ds=digits-paired&q=7")
        wait_idle(b)
        b.wait_for_selector(f"{CHART} canvas.gl-canvas-context", timeout=60_000)
        _box(b, 0.5, 0.4, 0.95, 0.95)
        sel_b, count_b = _query(b)["msel"], _selected(b)
        assert sel_a != sel_b
        # A acts again (a rerun): its dataset, view, colour and selection are still its own
        a.get_by_role("tab", name="Details").click()
        wait_idle(a)
        qa, qb = _query(a), _query(b)
        assert (qa["ds"], qa["view"], qa["mc"], qa["msel"]) == ("digits-mlp", VIEW, "label", sel_a)
        assert qb["ds"] == "digits-paired" and qb["msel"] == sel_b and "mc" not in qb
        a.get_by_role("tab", name="Selection").click()
        wait_idle(a)
        assert _selected(a) == count_a and _selected(b) == count_b
        assert _dataset(a) == "digits-mlp" and _dataset(b) == "digits-paired"
        # B's Data page search (a dataset-scoped setting) went with its own dataset change, not A's
        b.goto(f"{sample_server}/data?ds=digits-paired&q=7")
        wait_idle(b)
        assert _query(b)["q"] == "7" and "q" not in _query(a)
        assert a.locator('[data-testid="stException"]').count() == 0 == b.locator('[data-testid="stException"]').count()
    finally:
        ctx_a.close()
        ctx_b.close()


@pytest.fixture(scope="module")
def job_server(tmp_path_factory):
    """A data folder with a dataset large enough that its t-SNE runs for a while, and a small one."""
    tmp = tmp_path_factory.mktemp("jobs")
    data = tmp / "data"
    rng = np.random.default_rng(0)
    for name, n in (("big", 6000), ("small", 300)):
        (data / name).mkdir(parents=True)
        centres = rng.standard_normal((8, 32)) * 3
        np.save(data / name / "x.npy", (centres[np.arange(n) % 8] + rng.standard_normal((n, 32))).astype(np.float32))
        pd.DataFrame({"label": np.arange(n) % 8}).to_csv(data / name / "metadata.csv", index=False)
    proc, url, _ = start_server({"EMBEDLENS_DATA": str(data), "EMBEDLENS_UPLOADS": str(tmp / "uploads"),
                                 "EMBEDLENS_CACHE": str(tmp / "cache"), "EMBEDLENS_WARMUP": "off"})
    yield url
    stop_server(proc)


def test_jobs_are_not_seen_across_datasets_and_one_stop_leaves_the_other_session_s_map(job_server, browser):
    ctx_a = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx_b = browser.new_context(viewport={"width": 1400, "height": 1000})
    a, b = ctx_a.new_page(), ctx_b.new_page()
    stop = 'button:has-text("Stop")'
    try:
        a.goto(f"{job_server}/map?ds=big&mm=tsne")
        a.wait_for_selector(stop, timeout=60_000)  # A's t-SNE runs (PCA shown meanwhile)
        b.goto(f"{job_server}/map?ds=small")
        wait_idle(b)
        b.wait_for_selector(f"{CHART} canvas.gl-canvas-context", timeout=60_000)
        assert b.locator(stop).count() == 0 and b.locator('[data-testid="stProgress"]').count() == 0
        assert a.locator(stop).count() == 1  # still running for A
        b.goto(f"{job_server}/map?ds=big&mm=tsne")  # the same map: B joins A's computation
        b.wait_for_selector(stop, timeout=60_000)
        a.locator(stop).click()
        a.wait_for_selector('[data-testid="stAlert"]:has-text("stopped")', timeout=30_000)
        assert a.get_by_role("button", name="Run again").count() == 1
        # B's wait goes on: its t-SNE arrives, with no error
        b.wait_for_function("""() => !document.querySelector('[data-testid="stProgress"]')""", timeout=300_000)
        wait_idle(b)
        assert b.locator('[data-testid="stAlert"]:has-text("cancelled")').count() == 0
        b.get_by_role("tab", name="Details").click()
        b.wait_for_timeout(500)
        assert "t-SNE" in b.locator('[role="tabpanel"]:visible').first.inner_text()
        assert b.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx_a.close()
        ctx_b.close()
