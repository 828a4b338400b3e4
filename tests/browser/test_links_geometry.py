"""Share links of the Geometry page in Chromium (issue 14): metric, neighbours, estimator, hubness k and
label column set through the page; the link reopened in a fresh context shows the same widgets, cards
and plotted data."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, links_server, open_link, assert_reopens,  # noqa: F401
                    screenshot, select, snapshot)

pytestmark = pytest.mark.browser


def test_geometry_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, f"{links_server}/geometry?ds=digits-mlp")
    select(page, "view", "seed2 · hidden2 · step 100")
    select(page, "geo_metric", "euclidean")
    select(page, "geo_neighbors", "5")
    select(page, "geo_id_method", "MLE (Levina-Bickel)")
    select(page, "geo_hub_k", "20")
    q = check_link(page, page.url, {"gm", "gk", "gid", "gh"})
    assert (q["view"], q["gm"], q["gk"], q["gid"], q["gh"]) == ("seed2/hidden2/epoch100", "euclidean", "5", "mle", "20")
    before = snapshot(page)
    assert [label for label, _ in before["metrics"]] == [
        "ID · MLE (Levina-Bickel)", "Hubness skew (k=20, euclidean)", "kNN purity (k=5, euclidean)", "NC1 (10 classes)"]
    assert {"geo_scale", "geo_barcode", "geo_cdnv", "geo_cos", "geo_depth"} <= set(before["digests"])
    screenshot(page, artefacts, "geometry")

    assert_reopens(browser, page.url, q, before)

    check_tampered(browser, page.url, {"gm": "manhattan", "gk": "7", "gl": "<b>x</b>"},
                   ["Ignored gm='manhattan'", "Ignored gk='7'", "This dataset has no label column '<b>x</b>'"],
                   folder=artefacts, name="geometry")
