"""In Chromium: "Copy link" puts the share link on the clipboard with one click (issue 10, item 28)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import wait_idle

pytestmark = pytest.mark.browser


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def test_kind_one_click_copy_link_puts_the_link_on_the_clipboard(app_server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        page.goto(f"{app_server}/spectra?ds=digits-mlp&view=seed1/hidden1/epoch010&sq=2")
        wait_idle(page, timeout=180_000)
        page.evaluate("() => navigator.clipboard.writeText('nothing yet')")
        page.get_by_role("button", name="Copy link").click()  # one click, nothing else
        page.get_by_role("button", name="Link copied").wait_for(timeout=5_000)
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied.startswith(app_server + "/spectra?")
        q = _query(copied)
        assert q["ds"] == "digits-mlp" and q["view"] == "seed1/hidden1/epoch010" and float(q["sq"]) == 2
        page.get_by_role("button", name="Show link").click()  # the same link, shown
        assert page.locator('[data-testid="stPopoverBody"] code').inner_text() == copied
        page.keyboard.press("Escape")
        # the link reopens the view in a fresh browser
        other = browser.new_context().new_page()
        other.goto(copied)
        wait_idle(other, timeout=180_000)
        assert {k: v for k, v in _query(other.url).items() if k in ("ds", "view", "sq")} == \
            {k: q[k] for k in ("ds", "view", "sq")}
        other.context.close()
    finally:
        context.close()
