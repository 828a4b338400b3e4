"""In a real browser: the address bar follows the view, and a pasted link reopens it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import wait_idle

pytestmark = pytest.mark.browser


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _view_box(page):
    return page.get_by_role("combobox", name="View (30)")


def test_link_opens_the_view_and_follows_changes(app_server, browser, page):
    page.goto(f"{app_server}/?ds=digits-mlp&view=seed1/hidden1/epoch010")
    wait_idle(page)
    assert _view_box(page).input_value() == "seed1 · hidden1 · step 10"
    assert _query(page.url)["view"] == "seed1/hidden1/epoch010"

    _view_box(page).click()
    _view_box(page).fill("seed2 · hidden2 · step 100")  # the option list is virtualised: filter it
    page.get_by_role("option", name="seed2 · hidden2 · step 100").click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('epoch100')")
    q = _query(page.url)
    assert q["view"] == "seed2/hidden2/epoch100" and q["ds"] == "digits-mlp" and len(q["fp"]) == 8

    # the link shown under "Show link" is the address bar's ("Copy link" copies it in one click:
    # test_copy_link.py)
    page.get_by_role("button", name="Show link").click()
    shown = page.locator('[data-testid="stPopoverBody"] code').inner_text()
    assert _query(shown) == q and shown.startswith(app_server)

    fresh = browser.new_context()
    other = fresh.new_page()
    other.goto(shown)
    wait_idle(other)
    assert other.get_by_role("combobox", name="View (30)").input_value() == "seed2 · hidden2 · step 100"
    assert _query(other.url) == q
    fresh.close()
