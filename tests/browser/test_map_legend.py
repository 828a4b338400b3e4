"""In Chromium: the Map's modebar never covers its legend (issue 10, item 28)."""

from __future__ import annotations

import pytest

from .conftest import wait_idle

pytestmark = pytest.mark.browser


def _overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.parametrize("width", [1400, 1000])
def test_kind_modebar_does_not_cover_the_legend(app_server, browser, width):
    context = browser.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{app_server}/map?ds=digits-mlp")
        wait_idle(page, timeout=180_000)
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the modebar shows on hover
        modebar = chart.locator(".modebar").first
        modebar.wait_for(state="visible")
        entries = chart.locator(".legend .traces")
        assert entries.count() == 10  # label 0..9
        bar = modebar.bounding_box()
        for i in range(entries.count()):
            entry = entries.nth(i).bounding_box()
            assert not _overlap(bar, entry), (i, bar, entry)
            # and every entry lies inside the chart (none cut off at its right edge)
            assert entry["x"] + entry["width"] <= box["x"] + box["width"] + 1, (i, entry, box)
    finally:
        context.close()
