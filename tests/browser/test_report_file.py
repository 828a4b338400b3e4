"""The HTML report opens from disk in a real Chromium with the network cut off: every figure is
drawn and its PNG button downloads an image."""

from __future__ import annotations

import core
from core.report import view_metrics
from dashboard.report import write_report

import pytest

pytestmark = pytest.mark.browser


def test_report_opens_offline_and_draws_every_figure(tmp_path, browser):
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    views = ["seed0/hidden1/epoch001", "seed0/hidden1/epoch100"]
    out = tmp_path / "report.html"
    write_report(ds, out, metrics=view_metrics(ds, views=views, metrics=["vendi"]), views=views)
    context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=True, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5", timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == 1 + 2 * 2  # vendi over training; spectrum + map per view
    assert not errors and all(u.startswith(("file:", "data:", "blob:")) for u in requests), (errors, requests)
    with page.expect_download(timeout=60_000) as info:
        page.locator("button", has_text="PNG").first.click()
    assert info.value.suggested_filename == "trajectory-vendi.png"
    context.close()
