"""Share links of the Rashomon page in Chromium (issue 14): the number of PCs, |FIS|, the box overlay, the
halo's pair and the runs' epsilon set through the page; the link reopened in a fresh context shows the
same widgets, captions and plotted data (swarms, halo, runs)."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, links_server, number, open_link,  # noqa: F401
                    assert_reopens, screenshot, select, settle, slide, snapshot, tick)

pytestmark = pytest.mark.browser

START = "/rashomon?ds=digits-mlp&rnp=5&rnpp=10"  # 5 / 10 permutations: the set in seconds
HALO = ".st-key-rsh_halo .js-plotly-plot"
COMPUTED = f"""() => !document.querySelector('[data-testid="stProgress"]') && document.querySelector('{HALO}')"""


def _computed(page) -> None:
    """The set's background job done and its charts drawn (the page polls the job every second)."""
    settle(page)
    page.wait_for_function(COMPUTED, timeout=300_000)
    settle(page)


def test_rashomon_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, links_server + START, ready=HALO)
    _computed(page)
    slide(page, "rsh_p", "ArrowLeft", 2)
    _computed(page)
    tick(page, "rsh_abs")
    tick(page, "rsh_box")
    select(page, "rsh_pair", "PC2 × PC3")
    number(page, "rsh_run_eps", 0.5)
    q = check_link(page, page.url, {"rp", "rab", "rbx", "rpr", "rre", "rnp", "rnpp"})
    assert (q["rp"], q["rab"], q["rbx"], q["rpr"], q["rre"]) == ("4", "1", "1", "PC2,PC3", "0.5")
    before = snapshot(page)
    assert before["widgets"]["rsh_p"] == ["4"] and before["widgets"]["rsh_pair"] == "PC2 × PC3"
    assert set(before["digests"]) == {"rsh_swarm", "rsh_main", "rsh_halo", "rsh_runs"}
    assert any("L* =" in c for c in before["captions"]), before["captions"]
    screenshot(page, artefacts, "rashomon")

    assert_reopens(browser, page.url, q, before, ready=HALO, wait=_computed)

    check_tampered(browser, page.url, {"rpr": "PC1", "rrm": "<b>x</b>", "rne": "0.3"},
                   ["Ignored rpr='PC1'", "Ignored rrm='<b>x</b>'", "Ignored nested ε multiple(s) 0.3"],
                   ready=HALO, folder=artefacts, name="rashomon")
