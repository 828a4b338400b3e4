"""Share links of the Spectra page in Chromium (issue 14): parameters, the lower panel and its metric set
through the page; the link reopened in a fresh context shows the same widgets, cards and plotted data."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, choose, expand, links_server, number,  # noqa: F401
                    open_link, assert_reopens, screenshot, select, snapshot)

pytestmark = pytest.mark.browser


def test_spectra_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, f"{links_server}/spectra?ds=digits-mlp")
    expand(page, "Parameters")
    number(page, "spectra_sample", 1000)  # first: the n x n computations after it are on 1,000 rows
    number(page, "spectra_q", 2)
    select(page, "spectra_sigma_rule", "median distance (deviates from the paper)")
    choose(page, "radio", "Over training")
    select(page, "spectra_metric", "Participation ratio (covariance)")
    q = check_link(page, page.url, {"sq", "sn", "ssr", "sp", "sm"})
    assert (q["sq"], q["sn"], q["ssr"], q["sp"], q["sm"]) == ("2.0", "1000", "median", "training",
                                                             "participation_ratio")
    before = snapshot(page)
    w = before["widgets"]
    assert (w["spectra_q"], w["spectra_sample"], w["spectra_panel"], w["spectra_metric"]) == (
        "2", "1000", ["Over training"], "Participation ratio (covariance)")
    assert set(before["digests"]) == {"spectrum", "cumulative", "hill", "trajectory"}
    assert any(label.startswith("Vendi") and "q=2" in label for label, _ in before["metrics"]), before["metrics"]
    screenshot(page, artefacts, "spectra")

    assert_reopens(browser, page.url, q, before)

    check_tampered(browser, page.url, {"sq": "1e400", "sp": "paired", "ssr": "<img src=x onerror=alert(1)>"},
                   ["Ignored sq='1e400'", "Ignored ssr='<img src=x onerror=alert(1)>'", "Ignored sp='paired'"],
                   folder=artefacts, name="spectra")
