"""Share links of the Map page in Chromium (issue 14): colour, a side-by-side view, a filter, an inspected
item and the side panel's tab set through the page; the link reopened in a fresh context shows the same
widgets, cards and plotted data (both maps' coordinates, colours and selection)."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, choose, expand, links_server, multi,  # noqa: F401
                    open_link, assert_reopens, screenshot, select, settle, snapshot)

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'


def _item_42_shown(page) -> None:
    assert page.get_by_text("Row 42", exact=False).first.is_visible()


def test_map_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, f"{links_server}/map?ds=digits-mlp", ready=CHART)
    select(page, "map_color", "ink")
    select(page, "map_view2", "seed1 · hidden2 · step 100")
    expand(page, "Parameters, filter and drawing")
    multi(page, "mf.label", ["3", "8"])
    choose(page, "tab", "Item")
    lookup = page.locator(".st-key-map_item_lookup input")  # in the Item tab
    lookup.fill("42")
    lookup.press("Enter")
    settle(page)
    q = check_link(page, page.url, {"mc", "mv2", "mf", "mi", "mt"})
    assert (q["mc"], q["mv2"], q["mf"], q["mi"], q["mt"]) == ("ink", "seed1/hidden2/epoch100", "label=3,label=8",
                                                             "42", "Item")
    before = snapshot(page)
    w = before["widgets"]
    assert (w["map_color"], w["mf-label"], w["map_tab"]) == ("ink", ["3", "8"], ["Item"])
    assert set(before["digests"]) == {"map_0", "map_1"}
    assert page.get_by_text("Row 42", exact=False).first.is_visible()  # the Item tab is the one shown
    screenshot(page, artefacts, "map")

    assert_reopens(browser, page.url, q, before, ready=CHART, check=_item_42_shown)

    check_tampered(browser, page.url, {"mt": "<img src=x onerror=alert(1)>", "mi": "99999", "mc": "metric:../../etc"},
                   ["Ignored mt='<img src=x onerror=alert(1)>'", "Ignored inspected item 99999",
                    "Ignored colour 'metric:../../etc'"], ready=CHART, folder=artefacts, name="map")
