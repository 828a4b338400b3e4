"""In a real browser: a click on a cell of the Compare page's matrix compares that pair (the cards
change to its numbers), the address bar holds it, and the link reopens it in a fresh context."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

import core
from dashboard.views.compare import view_order

from .conftest import wait_idle

pytestmark = pytest.mark.browser

ROW, COL = "seed2/hidden2/epoch030", "seed0/hidden2/epoch030"  # the cell clicked: A = row, B = column


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _card(page, label: str) -> str:
    card = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True))
    return card.locator('[data-testid="stMetricValue"]').inner_text()


def _cell_centre(page, row: int, col: int) -> tuple[float, float]:
    """Where cell (row, col) of the matrix chart is on the screen, from plotly's own axes."""
    page.locator(".st-key-cmp_matrix").scroll_into_view_if_needed()
    page.wait_for_selector(".st-key-cmp_matrix .js-plotly-plot .scatterlayer .point")
    return page.evaluate(
        """([row, col]) => {
            const gd = document.querySelector('.st-key-cmp_matrix .js-plotly-plot');
            const box = gd.getBoundingClientRect(), fl = gd._fullLayout;
            return [box.left + fl.xaxis._offset + fl.xaxis.l2p(col), box.top + fl.yaxis._offset + fl.yaxis.l2p(row)];
        }""", [row, col])


def test_a_clicked_cell_compares_that_pair_and_the_link_reopens_it(app_server, browser, page):
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    names = [ds.views[i].name for i in view_order(ds.views, "run")]
    A, B = ds.view(ROW), ds.view(COL)
    page.goto(f"{app_server}/compare?ds=digits-mlp")
    wait_idle(page, timeout=240_000)
    first = _card(page, "CKA (linear, biased)")
    assert first == f"{float(core.cka(ds.views[0].X, ds.view('seed1/hidden1/epoch001').X)):.3f}"

    x, y = _cell_centre(page, names.index(ROW), names.index(COL))
    page.mouse.move(x, y)
    page.wait_for_timeout(300)  # plotly picks the point under the pointer on hover
    page.mouse.click(x, y)
    page.wait_for_function("() => window.location.search.includes('cv2=')", timeout=60_000)
    wait_idle(page, timeout=120_000)
    q = _query(page.url)
    assert (q["view"], q["cv2"]) == (ROW, COL)
    expected = {"CKA (linear, biased)": f"{float(core.cka(A.X, B.X)):.3f}",
                "Mutual kNN (k=10, cosine)": f"{float(core.mutual_knn(A.X, B.X).value):.3f}",
                "RSA (Spearman, cosine)": f"{float(core.rsa(A.X, B.X)):.3f}"}
    assert {label: _card(page, label) for label in expected} == expected
    assert expected["CKA (linear, biased)"] != first
    assert page.get_by_role("combobox", name="View (30)").input_value() == A.label
    assert page.get_by_role("combobox", name="Compare with (B)").input_value() == B.label

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.goto(page.url)
    wait_idle(other, timeout=240_000)
    assert _query(other.url) == q
    assert other.get_by_role("combobox", name="View (30)").input_value() == A.label
    assert other.get_by_role("combobox", name="Compare with (B)").input_value() == B.label
    assert {label: _card(other, label) for label in expected} == expected
    fresh.close()


def test_controls_fit_at_1000px(app_server, browser):
    from .test_layout_1000 import WIDTH, _inside

    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{app_server}/compare?ds=digits-mlp")
        wait_idle(page, timeout=240_000)
        for option in ("Units", "Every pair", "What moved", "Trajectories"):
            _inside(page, page.get_by_role("radio", name=option, exact=True), f"option {option!r}")
        # labels that do not fit end in "…" (Streamlit's .stMarkdownEllipsis): "Debiased CKA" did
        cut = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stMain"] .stMarkdownEllipsis'))
                                   .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)""")
        assert cut == []
        for label in ("Compare with (B)", "CKA kernel", "Debiased", "k", "Distance"):
            el = page.locator('[data-testid="stMain"] label', has_text=label).first
            _inside(page, el, f"label {label!r}")
        for card in page.locator('[data-testid="stMetricValue"]').all():
            assert card.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"card value {card.inner_text()!r} cut off"
    finally:
        context.close()
