"""Shared by the share-link browser tests (tests/browser/test_links_*.py): drive widgets, read what a
page shows (bound widgets, metric cards, each chart's data digest from dashboard.testhooks), open a
link in a fresh browser context, save and check screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import start_server, stop_server, wait_idle

MAX_LINK = 2000
"""The longest link a test may produce (issue 14)."""

VIEWPORT = {"width": 1400, "height": 1000}


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


@pytest.fixture(scope="module")
def links_server(tmp_path_factory):
    """One server per test file, with its own cache folder and test hooks on (conftest.start_server)."""
    tmp = tmp_path_factory.mktemp("links")
    proc, url, _ = start_server({"EMBEDLENS_UPLOADS": str(tmp / "uploads"), "EMBEDLENS_CACHE": str(tmp / "cache")})
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> Path:
    """Where screenshots go: $TEST_ARTEFACTS (not an EMBEDLENS_ name: tests/hermetic.py removes those),
    else a pytest temporary folder; printed either way (pytest -s shows it)."""
    folder = os.environ.get("TEST_ARTEFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("link-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {path}")
    return path


# --------------------------------------------------------------------------- waiting


CHARTS_DRAWN = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    .every(c => c.querySelector('.main-svg'))"""


def settle(page, timeout: float = 300_000) -> None:
    """The script run finished, every plotly chart on the page drawn, and what the page shows (bound
    widgets, cards, chart digests, alerts) unchanged for a second: the browser renders a run's elements
    a while after the server reports the run finished (seconds on a loaded 2-core machine)."""
    import time

    wait_idle(page, timeout)
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout)
    end, last = time.monotonic() + timeout / 1000, None
    while time.monotonic() < end:
        now = (snapshot(page), warnings(page))
        if now == last:
            break
        last = now
        page.wait_for_timeout(1000)
    wait_idle(page, timeout)
    page.wait_for_function(CHARTS_DRAWN, timeout=timeout)


def open_link(page, url: str, ready: str | None = None, timeout: float = 300_000) -> None:
    page.goto(url)
    if ready:
        page.wait_for_selector(ready, timeout=timeout, state="attached")
    settle(page, timeout)


# --------------------------------------------------------------------------- widgets


def _widget(page, field: str):
    """The widget bound to state field ``field`` (Streamlit key ``w.<field>``: CSS class st-key-w-<field>)."""
    return page.locator(f".st-key-w-{field.replace('.', '-')}")


def select(page, field: str, option: str) -> None:
    """Pick ``option`` in the selectbox bound to ``field`` (typing filters a long, virtualised list)."""
    box = _widget(page, field).locator("input")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).first.click()
    settle(page)


def number(page, field: str, value) -> None:
    """Type ``value`` into the number or text input bound to ``field`` and press Enter."""
    box = _widget(page, field).locator("input")
    box.fill(str(value))
    box.press("Enter")
    settle(page)


text = number


def multi(page, field: str, options: list[str]) -> None:
    """Add ``options`` to the multiselect bound to ``field`` (each one a rerun)."""
    for option in options:
        box = _widget(page, field).locator("input")
        box.click()
        box.fill(option)
        page.get_by_role("option", name=option, exact=True).first.click()
        page.keyboard.press("Escape")
        settle(page)


def slide(page, field: str, key: str, presses: int = 1) -> None:
    """Move the (first) thumb of the slider bound to ``field`` by pressing ``key`` (e.g. "ArrowLeft")."""
    thumb = _widget(page, field).locator('input[type="range"], [role="slider"]').first
    thumb.focus()
    for _ in range(presses):
        thumb.press(key)
    settle(page)


def tick(page, field: str) -> None:
    """Click the checkbox or toggle bound to ``field``."""
    _widget(page, field).locator("label").first.click()
    settle(page)


def choose(page, role: str, name: str) -> None:
    """Click a radio option, a segmented control's button or a tab by its visible name."""
    target = page.get_by_role(role, name=name, exact=True).first
    if target.evaluate("e => e.tagName") == "INPUT":  # a radio's input sits under its styled label
        target = target.locator("xpath=ancestor::label[1]")
    target.click()
    settle(page)


def expand(page, label: str) -> None:
    """Open an expander (its content is in the page either way; opening makes it clickable)."""
    summary = page.locator('[data-testid="stExpander"] summary', has_text=label).first
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()
        page.wait_for_timeout(300)


# --------------------------------------------------------------------------- what a page shows

_WIDGETS = r"""() => {  // textContent: a collapsed expander's widgets have no innerText
  const out = {};
  for (const el of document.querySelectorAll('[class*="st-key-w-"]')) {
    const key = Array.from(el.classList).find(c => c.startsWith('st-key-w-')).slice(9);
    const kind = el.querySelector('[data-testid^="st"]');
    const tabs = el.querySelectorAll('[role="tab"]');
    let v;
    if (tabs.length) v = Array.from(tabs).filter(t => t.getAttribute('aria-selected') === 'true').map(t => t.textContent.trim());
    else if (el.querySelector('[data-testid="stSelectbox"]')) v = el.querySelector('input').value;
    else if (el.querySelector('[data-testid="stMultiSelect"]'))
      v = Array.from(el.querySelectorAll('[data-tag], [data-baseweb="tag"]')).map(t => t.getAttribute('aria-label')
            || t.textContent.trim());  // Streamlit >= 1.6x: <span data-tag aria-label=...>; before: BaseWeb's tags
    else if (el.querySelector('[data-testid="stButtonGroup"]'))
      v = Array.from(el.querySelectorAll('button')).filter(b => b.getAttribute('aria-checked') === 'true'
            || (b.getAttribute('data-testid') || '').endsWith('Active')).map(b => b.textContent.trim());
    else if (el.querySelector('[data-testid="stRadio"]'))
      v = Array.from(el.querySelectorAll('input[type="radio"]')).filter(i => i.checked)
            .map(i => i.closest('label').textContent.trim());
    else if (el.querySelector('[data-testid="stCheckbox"]')) v = el.querySelector('input').checked;
    else if (el.querySelector('[data-testid="stSlider"]'))
      v = Array.from(el.querySelectorAll('input[type="range"], [role="slider"]'))
            .map(s => s.getAttribute('aria-valuenow') || s.value);
    else if (el.querySelector('input')) v = el.querySelector('input').value;
    else continue;
    out[key] = v;
  }
  return out;
}"""

_METRICS = """() => Array.from(document.querySelectorAll('[data-testid="stMetric"]')).map(m =>
    [m.querySelector('[data-testid="stMetricLabel"]').textContent.trim(),
     m.querySelector('[data-testid="stMetricValue"]').textContent.trim()])"""

_CAPTIONS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]'))
    .map(c => c.textContent.trim())"""

_DIGESTS = """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-embedlens-figure]'))
    .map(e => [e.getAttribute('data-embedlens-figure'), e.getAttribute('data-sha256')]))"""


def widgets(page) -> dict:
    """Every widget bound to the view state (Streamlit key ``w.<field>``), by field: what it shows."""
    return page.evaluate(_WIDGETS)


def metrics(page) -> list[list[str]]:
    """Every metric card's [label, value], in page order."""
    return page.evaluate(_METRICS)


def digests(page) -> dict[str, str]:
    """Chart key -> SHA-256 of its plotted data (dashboard.testhooks)."""
    return page.evaluate(_DIGESTS)


def captions(page) -> list[str]:
    """Every caption of the page's main area (what each number used: rows, seeds, parameters), in order."""
    return page.evaluate(_CAPTIONS)


def snapshot(page) -> dict:
    return {"widgets": widgets(page), "metrics": metrics(page), "captions": captions(page), "digests": digests(page)}


def assert_same(after: dict, before: dict) -> None:
    """Two snapshots agree, part by part (a failure names the widgets, cards or charts that differ)."""
    for part in ("widgets", "digests"):
        a, b = after[part], before[part]
        assert a == b, {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    assert after["metrics"] == before["metrics"]
    assert after["captions"] == before["captions"]


def warnings(page) -> list[str]:
    """The text of every alert (warning, info, error) on the page, without its icon."""
    return [a.inner_text().strip() for a in page.locator('[data-testid="stAlert"] [data-testid="stMarkdownContainer"]').all()]


# --------------------------------------------------------------------------- the checks


def check_link(page, link: str, expected_keys: set[str]) -> dict[str, str]:
    """The address bar's link is short, holds ``expected_keys`` (besides v, ds, view, fp) and is the
    one "Show link" offers; returns its query."""
    q = query(link)
    print(f"link ({len(link)} characters): {link}")
    assert len(link) < MAX_LINK, (len(link), link)
    assert q["v"] == "1" and expected_keys <= set(q), (expected_keys - set(q), q)
    return q


def assert_reopens(browser, link: str, q: dict[str, str], before: dict, ready: str | None = None,
                   wait=None, check=None) -> None:
    """Open ``link`` in a fresh browser context (no cookies, no session) and assert it shows the same
    view: query ``q`` and the snapshot ``before``. ``wait(page)`` runs before the snapshot (work the
    page finishes in the background), ``check(page)`` after it; the context is closed either way."""
    fresh = browser.new_context(viewport=VIEWPORT)
    try:
        other = fresh.new_page()
        open_link(other, link, ready)
        if wait is not None:
            wait(other)
        assert query(other.url) == q
        assert_same(snapshot(other), before)
        if check is not None:
            check(other)
    finally:
        fresh.close()


def screenshot(page, folder: Path, name: str) -> Path:
    """A full-page screenshot, checked not blank: more than one colour, and at least 3 % of its pixels
    away from the background (the most common colour)."""
    from PIL import Image

    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    image = Image.open(path).convert("RGB")
    small = image.resize((max(1, image.width // 4), max(1, image.height // 4)))
    colours = small.getcolors(maxcolors=small.width * small.height)
    background = max(colours)[0]
    share = 1 - background / (small.width * small.height)
    assert len(colours) > 16 and share > 0.03, (path, len(colours), share)
    return path


def check_tampered(browser, link: str, extra: dict[str, str], expected: list[str], ready: str | None = None,
                   folder: Path | None = None, name: str = "") -> None:
    """Open ``link`` with ``extra`` parameters (each value percent-encoded as a browser would) in a fresh
    context: the page opens (no exception box), a warning starting with each of ``expected`` is shown,
    nothing of the link became an element (no script, no image, no dialog), and the address bar keeps
    none of the tampered keys."""
    from urllib.parse import urlencode

    fresh = browser.new_context(viewport=VIEWPORT)
    page = fresh.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        open_link(page, link + "&" + urlencode(extra), ready)
        shown = warnings(page)
        for start in expected:
            assert any(w.startswith(start) for w in shown), (start, shown)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stMain"] script, [data-testid="stMain"] img[src="x"]').count() == 0
        assert page.locator('img[onerror]').count() == 0 and dialogs == []
        q = query(page.url)
        assert not ({k for k in extra if k not in ("ds", "view")} & {k for k, v in q.items() if extra.get(k) == v})
        if folder is not None:
            screenshot(page, folder, f"{name}-tampered")
    finally:
        fresh.close()


def fresh_server(tmp_path_factory, name: str):
    """A second server on a new, empty cache folder (nothing computed yet): (process, url)."""
    tmp = tmp_path_factory.mktemp(name)
    proc, url, _ = start_server({"EMBEDLENS_UPLOADS": str(tmp / "uploads"), "EMBEDLENS_CACHE": str(tmp / "cache")})
    return proc, url


def rebase(link: str, url: str) -> str:
    """``link`` on the server at ``url`` (same path and query)."""
    parts = urlsplit(link)
    return f"{url}{parts.path}?{parts.query}"


__all__ = ["MAX_LINK", "VIEWPORT", "query", "links_server", "artefacts", "settle", "open_link",
           "select", "number", "text", "multi", "slide", "tick", "choose", "expand", "widgets", "metrics", "captions", "digests", "snapshot",
           "assert_same", "warnings", "check_link", "assert_reopens", "screenshot", "check_tampered", "fresh_server", "rebase",
           "stop_server"]
