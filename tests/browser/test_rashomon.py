"""In a real browser: a click on a row of the Rashomon page's FIS swarm moves the halo to that pair,
the address bar carries it, and the link reopens the same pair in a fresh browser context."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import wait_idle

pytestmark = pytest.mark.browser

LINK = "/rashomon?ds=digits-mlp&rnp=5&rnpp=10"  # 5 / 10 permutations: the set in seconds
HALO = ".st-key-rsh_halo .js-plotly-plot"
SWARM = ".st-key-rsh_swarm .js-plotly-plot"


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _ready(page) -> None:
    """The set computed (a background job: the page polls it) and the halo drawn."""
    page.wait_for_selector(HALO, timeout=300_000)
    wait_idle(page, 120_000)


def _halo_title(page) -> str:
    return page.eval_on_selector(HALO, "gd => gd.layout.title.text")


def _dot_of_row(page, row: str) -> tuple[float, float]:
    """Page coordinates of one dot of swarm row ``row`` (from plotly's own axes)."""
    return page.eval_on_selector(SWARM, """(gd, row) => {
        const t = gd._fullData.find(d => d.name === 'models in the Rashomon set');
        const k = Array.from(t.customdata, c => c[0]).indexOf(row);
        const fl = gd._fullLayout, box = gd.getBoundingClientRect();
        return [box.left + fl.xaxis._offset + fl.xaxis.l2p(t.x[k]),
                box.top + fl.yaxis._offset + fl.yaxis.l2p(t.y[k])];
    }""", row)


def test_a_click_on_a_swarm_row_moves_the_halo_and_the_link_reopens_it(app_server, browser, page):
    page.goto(app_server + LINK)
    _ready(page)
    assert "PC1 × PC2" in _halo_title(page) and _query(page.url)["rpr"] == "PC1,PC2"

    page.locator(SWARM).scroll_into_view_if_needed()
    x, y = _dot_of_row(page, "PC2 × PC5")
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_function("() => window.location.search.includes('rpr=PC2%2CPC5')", timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"() => document.querySelector('{HALO}').layout.title.text.includes('PC2 × PC5')",
                           timeout=60_000)
    assert page.get_by_role("combobox", name="Pair").input_value() == "PC2 × PC5"
    q = _query(page.url)
    assert q["rpr"] == "PC2,PC5" and q["ds"] == "digits-mlp" and q["rnp"] == "5"

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.goto(page.url)
    _ready(other)
    assert "PC2 × PC5" in _halo_title(other)
    assert other.get_by_role("combobox", name="Pair").input_value() == "PC2 × PC5"
    assert _query(other.url) == q
    fresh.close()
