"""Share links of the Compare page in Chromium (issue 14): the compared view, CKA estimator, k and the
matrix's metric and order set through the page; the link reopened in a fresh context shows the same
widgets, cards and plotted data (the matrix's cells)."""

from __future__ import annotations

import pytest

from .links import (artefacts, check_link, check_tampered, links_server, open_link,  # noqa: F401
                    assert_reopens, screenshot, select, snapshot, tick)

pytestmark = pytest.mark.browser

MATRIX = ".st-key-cmp_matrix .js-plotly-plot"


def test_compare_page_link_reopens_the_same_view(links_server, browser, page, artefacts):
    open_link(page, f"{links_server}/compare?ds=digits-mlp", ready=MATRIX)
    select(page, "cmp_view2", "seed2 · hidden1 · step 1")
    tick(page, "cmp_cka_debiased")
    select(page, "cmp_k", "15")
    select(page, "cmp_matrix_metric", "Procrustes distance (angular)")
    select(page, "cmp_order", "step, run, layer")
    q = check_link(page, page.url, {"cv2", "ccd", "ck", "cmx", "co"})
    assert (q["cv2"], q["ccd"], q["ck"], q["cmx"], q["co"]) == ("seed2/hidden1/epoch001", "1", "15", "procrustes",
                                                               "step")
    before = snapshot(page)
    labels = [label for label, _ in before["metrics"]]
    assert "CKA (linear, debiased)" in labels and "Mutual kNN (k=15, cosine)" in labels, labels
    assert set(before["digests"]) == {"cmp_matrix"}
    screenshot(page, artefacts, "compare")

    assert_reopens(browser, page.url, q, before, ready=MATRIX)

    check_tampered(browser, page.url, {"cmx": "bogus", "cp": "<script>alert(1)</script>", "cv2": "../gone"},
                   ["Ignored cmx='bogus'", "Ignored cp='<script>alert(1)</script>'",
                    "Ignored the compared view '../gone'"], ready=MATRIX, folder=artefacts, name="compare")
