"""Share links of the Data page in Chromium (issue 14): widgets set through the page, the address bar's
link reopened in a fresh browser context shows the same widgets, cards and plotted data; a tampered
link opens with warnings."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, links_server, open_link, assert_reopens, screenshot,  # noqa: F401
                    select, snapshot, text, tick)

pytestmark = pytest.mark.browser

VIEW, LABEL = "seed1/hidden2/epoch030", "seed1 · hidden2 · step 30"


def test_data_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, f"{links_server}/?ds=digits-mlp")
    select(page, "view", LABEL)
    text(page, "data_search", "7 test")
    tick(page, "data_health_all")
    q = check_link(page, page.url, {"q", "dha"})
    assert (q["view"], q["q"], q["dha"]) == (VIEW, "7 test", "1")
    before = snapshot(page)
    assert before["widgets"] == {"dataset": "digits-mlp", "view": LABEL, "data_health_all": True,
                                 "data_search": "7 test"}
    assert [label for label, _ in before["metrics"]] == ["Rows with NaN / inf", "Zero vectors", "Exact duplicates",
                                                         "Dead dimensions", "Median norm"]
    assert set(before["digests"]) == {"norms"}
    screenshot(page, artefacts, "data")

    assert_reopens(browser, page.url, q, before)

    check_tampered(browser, page.url, {"dha": "maybe", "zz<b>x</b>": "<img src=x onerror=alert(1)>", "v": "0"},
                   ["Ignored dha='maybe'", "Ignored unknown link parameter 'zz<b>x</b>'",
                    "This link was made by a different EmbedLens link version (v=0)"], folder=artefacts, name="data")
