"""In a real browser at 1000 px: every control option and tab of the Map is visible and reachable."""

from __future__ import annotations

import pytest

from .conftest import start_server, stop_server, wait_idle

pytestmark = pytest.mark.browser

WIDTH = 1000


@pytest.fixture(scope="module")
def layout_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("layout")
    proc, url, _ = start_server({"EMBEDLENS_UPLOADS": str(tmp / "uploads"), "EMBEDLENS_CACHE": str(tmp / "cache"),
                                 "XDG_CACHE_HOME": str(tmp / "xdg"), "EMBEDLENS_WARMUP": "off"})
    yield url
    stop_server(proc)


def _inside(page, locator, what: str) -> None:
    """``locator`` is drawn whole, inside the viewport and not clipped by an ancestor that scrolls or hides."""
    locator.wait_for(state="attached")  # no scrolling: a scroll arrow would hide the fault
    box = locator.bounding_box()
    assert box is not None, f"{what} is not drawn"
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{what} outside the viewport: {box}"
    clipped = locator.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   for (let p = el.parentElement; p; p = p.parentElement) {
                     const s = getComputedStyle(p);
                     if (s.overflowX === 'visible' && s.overflow === 'visible') continue;
                     const q = p.getBoundingClientRect();
                     if (r.left < q.left - 1 || r.right > q.right + 1) return true;
                   }
                   return false; }""")
    assert not clipped, f"{what} is clipped by an ancestor"


def test_kind_controls_fit_at_1000px_map(browser, layout_server):
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{layout_server}/map?ds=digits-mlp")
        wait_idle(page)
        page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=60_000)
        for option in ("PCA", "UMAP", "t-SNE", "2-D", "3-D"):
            _inside(page, page.get_by_role("radio", name=option, exact=True), f"option {option!r}")
        for tab in page.get_by_role("tab").all():
            _inside(page, tab, f"tab {tab.inner_text()!r}")
        for label in ("Method", "Dimensions"):
            el = page.locator('[data-testid="stWidgetLabel"]', has_text=label).first
            h = el.bounding_box()["height"]
            assert h < 30, f"label {label!r} wraps onto more than one line ({h:.0f} px tall)"
    finally:
        context.close()
