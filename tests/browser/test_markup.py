"""In a real browser: a dataset whose names and labels are hostile markup shows them literally, and no script runs.

The dataset's folder name, manifest description, view run / layer names, metadata column name
and label values hold ``<script>``, ``<img onerror>``, markdown links to ``javascript:``,
``$...$`` LaTeX, emoji and icon codes, plotly's ``<b>`` / ``<br>`` and a ``%{x}`` template.
Two numeric columns and the views' recorded score have hostile names too. On the Data, Map,
Geometry, Spectra, Compare and Rashomon pages: no dialog opens, ``window.__x`` stays unset, no
element the data could have made exists (a ``javascript:`` link, an ``img[src=x]``, KaTeX,
bold text in the plotly legend), and the text is shown as written: in titles, captions,
alerts, widget labels, the item panel, the plotly legend, hover label and tick labels.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from .conftest import start_server, stop_server, wait_idle

pytestmark = pytest.mark.browser

CHART = '[data-testid="stPlotlyChart"]'
LABELS = [
    "<script>window.__x=1</script>",
    '<img src=x onerror="window.__x=1">',
    "[click](javascript:window.__x=1)",
    "$x^2$ :smile: :material/home:",
    "<b>bold</b><br>next %{x}",
    "**strong** _em_ `code`",
]
COLUMN = "<b>kind</b> $k$"
NAME = "evil [ds](javascript:window.__x=1) <b>b $n$"  # a folder name: no "/"
DESCRIPTION = "[desc](javascript:window.__x=1) **not bold** <script>window.__x=1</script>"
RUN, LAYER = "<i>run</i>", "$L_1$ <br>"
NUMERIC = ["<i>num</i> $v$", "**w** <b>x</b>"]  # numeric metadata: the Rashomon page's features
SCORE = "<b>acc</b> $a$"  # a score every view records (manifest extra): the runs' Rashomon set
VIEW1, VIEW2 = f"{RUN} · {LAYER} · step 1", f"{RUN} · {LAYER} · step 2"
INVISIBLE = "\u2060"  # dashboard.literal puts a word joiner inside :material/...: (Streamlit matches it after parsing)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("markup")
    data = tmp / "data"
    folder = data / NAME
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 120
    labels = np.array(LABELS)[np.arange(n) % len(LABELS)]
    centres = rng.standard_normal((len(LABELS), 16)) * 4
    X = (centres[np.arange(n) % len(LABELS)] + rng.standard_normal((n, 16))).astype(np.float32)
    np.save(folder / "a.npy", X)
    np.save(folder / "b.npy", (X * 1.5 + 0.1).astype(np.float32))
    numeric = {c: np.round(X[:, i] + rng.standard_normal(n), 3) for i, c in enumerate(NUMERIC)}
    pd.DataFrame({"id": [f"<u>{i}</u>" for i in range(n)], COLUMN: labels, **numeric}).to_csv(
        folder / "metadata.csv", index=False)
    (folder / "embedlens.toml").write_text(
        f"description = {json.dumps(DESCRIPTION)}\n"
        f'[[views]]\nfile = "a.npy"\nrun = {json.dumps(RUN)}\nlayer = {json.dumps(LAYER)}\nstep = 1\n'
        f"extra = {{ {json.dumps(SCORE)} = 0.9 }}\n"
        f'[[views]]\nfile = "b.npy"\nrun = {json.dumps(RUN)}\nlayer = {json.dumps(LAYER)}\nstep = 2\n'
        f"extra = {{ {json.dumps(SCORE)} = 0.8 }}\n")
    proc, url, _ = start_server({"EMBEDLENS_DATA": str(data), "EMBEDLENS_UPLOADS": str(tmp / "uploads"),
                                 "EMBEDLENS_CACHE": str(tmp / "cache"), "EMBEDLENS_WARMUP": "off"})
    yield url
    stop_server(proc)


@pytest.fixture
def watched(page):
    """The page, with every dialog (alert / confirm / prompt) recorded and dismissed."""
    dialogs: list[str] = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.dialogs = dialogs
    return page


def _open(page, url: str) -> str:
    page.goto(url)
    wait_idle(page)
    page.wait_for_timeout(500)
    return page.locator('[data-testid="stMain"]').inner_text().replace(INVISIBLE, "")


def _nothing_ran(page) -> None:
    assert page.evaluate("() => window.__x") is None, "a script from the data ran"
    assert page.dialogs == [], page.dialogs
    made = page.evaluate("""() => ({
        js_links: document.querySelectorAll('a[href^="javascript"]').length,
        img_x: document.querySelectorAll('img[src="x"]').length,
        katex: document.querySelectorAll('.katex').length,
        data_scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('__x')).length,
        legend_bold: document.querySelectorAll('.legendtext tspan[style*="bold"]').length,
    })""")
    assert made == {"js_links": 0, "img_x": 0, "katex": 0, "data_scripts": 0, "legend_bold": 0}, made


def test_data_page_shows_hostile_names_literally(hostile_server, watched):
    text = _open(watched, f"{hostile_server}/data?ds={quote(NAME)}")
    _nothing_ran(watched)
    assert watched.locator("h1").first.inner_text().startswith(NAME)
    assert DESCRIPTION in text  # the manifest's description, under the title
    assert "**not bold**" in text
    # the views table and the metadata table (canvas grids) hold the raw text; the sidebar's picker shows the name
    picked = watched.evaluate("""() => [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stSelectbox"] input')]
                                       .map(i => i.value)""")
    assert picked[0] == NAME and picked[1] == f"{RUN} · {LAYER} · step 1", picked


def test_map_legend_hover_and_item_panel_show_labels_literally(hostile_server, watched):
    text = _open(watched, f"{hostile_server}/map?ds={quote(NAME)}&mc={quote(COLUMN)}")
    watched.wait_for_selector(f"{CHART} .legendtext", timeout=60_000)
    _nothing_ran(watched)
    legend = watched.locator(f"{CHART} .legendtext").all_text_contents()
    for label in LABELS:
        assert any(t.startswith(label) for t in legend), (label, legend)  # "<label> (20)"
    assert watched.locator(f"{CHART} .legendtitletext").first.text_content() == COLUMN
    # hover points of each label until each label's hover text was seen (clusters may overlap in 2-D)
    seen: list[str] = []
    for point in range(3):
        for curve in range(len(LABELS)):  # the traces are in the legend's order, one per label
            xy = watched.evaluate(
                """([c, i]) => { const gd = document.querySelector('.js-plotly-plot'); const t = gd._fullData[c];
                                 const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                                 const r = gd.getBoundingClientRect();
                                 return [r.left + xa._offset + xa.d2p(t.x[i]), r.top + ya._offset + ya.d2p(t.y[i])]; }""",
                [curve, point])
            watched.mouse.move(5, 5)
            watched.mouse.move(*xy, steps=4)
            try:
                watched.wait_for_selector(f"{CHART} .hoverlayer .hovertext", timeout=5_000)
            except Exception:  # noqa: BLE001 - no hover label at this pixel: try the next point
                continue
            seen.append(watched.locator(f"{CHART} .hoverlayer .hovertext").first.text_content())
    _nothing_ran(watched)
    for label in LABELS:
        assert any(f"{COLUMN}: {label}" in h for h in seen), (label, [h[-60:] for h in seen])
    # the item panel (row 0): its id and label as written, in the panel's markdown
    _open(watched, f"{hostile_server}/map?ds={quote(NAME)}&mc={quote(COLUMN)}&mi=0")
    watched.get_by_role("tab", name="Item").click()
    watched.wait_for_timeout(500)
    item = watched.locator('[role="tabpanel"]:visible').first.inner_text()
    assert "id <u>0</u>" in item and f"{COLUMN}: {LABELS[0]}" in item, item
    _nothing_ran(watched)


def test_geometry_and_spectra_show_class_names_literally(hostile_server, watched):
    text = _open(watched, f"{hostile_server}/geometry?ds={quote(NAME)}&gl={quote(COLUMN)}")
    watched.wait_for_selector(f"{CHART} .xtick text", timeout=60_000)
    _nothing_ran(watched)
    assert f"Classes of {COLUMN!r}" in text
    ticks = watched.locator(f"{CHART} .xtick text").all_text_contents()
    assert set(LABELS) <= set(ticks), ticks  # the class heatmaps' axes
    layer_legend = watched.locator(f"{CHART} .legendtext").all_text_contents()
    assert LAYER in layer_legend, layer_legend  # NC1 over depth: one line per layer

    text = _open(watched, f"{hostile_server}/spectra?ds={quote(NAME)}&sc={quote(COLUMN)}")
    watched.wait_for_selector(f"{CHART} .xtick text", timeout=60_000)
    _nothing_ran(watched)
    assert COLUMN in " ".join(watched.locator(f"{CHART} .xtitle").all_text_contents())
    ticks = watched.locator(f"{CHART} .xtick text").all_text_contents()
    assert set(LABELS) <= set(ticks), ticks  # the per-class bars
    assert f"{LAYER}" in text or "Spectra" in text


def test_hostile_link_values_are_warned_about_literally(hostile_server, watched):
    bad = "[x](javascript:window.__x=1) $y$ <img src=x onerror=window.__x=1>"
    text = _open(watched, f"{hostile_server}/data?ds={quote(bad)}&view={quote(bad)}")
    _nothing_ran(watched)
    assert f"The link's dataset {bad!r} is not in this data folder" in text


def test_compare_shows_view_names_literally(hostile_server, watched):
    text = _open(watched, f"{hostile_server}/compare?ds={quote(NAME)}&cp=matrix")
    watched.wait_for_selector(f"{CHART} .xtick text", timeout=90_000)
    _nothing_ran(watched)
    assert f"A: {VIEW1} (16 dims) · B: {VIEW2} (16 dims)" in text, text[:600]
    ticks = watched.locator(f"{CHART} .xtick text").all_text_contents()
    assert {VIEW1, VIEW2} <= set(ticks), ticks  # the matrix over every view: its axes name the views
    # the units panel: the axis titles name the two views
    _open(watched, f"{hostile_server}/compare?ds={quote(NAME)}&cp=units")
    watched.wait_for_selector(f"{CHART} .xtitle", timeout=90_000)
    _nothing_ran(watched)
    titles = " ".join(watched.locator(f"{CHART} .xtitle, {CHART} .ytitle").all_text_contents())
    assert "units of B:" in titles and "$L_1$" in titles and "<i>run</i>" in titles, titles
    # the trajectories: one line per run / layer, named as written in the legend
    _open(watched, f"{hostile_server}/compare?ds={quote(NAME)}&cp=trajectories")
    watched.wait_for_selector(f"{CHART} .legendtext", timeout=90_000)
    _nothing_ran(watched)
    legend = watched.locator(f"{CHART} .legendtext").all_text_contents()
    assert f"{RUN} · {LAYER}" in legend, legend


def test_rashomon_shows_column_feature_and_score_names_literally(hostile_server, watched):
    text = _open(watched, f"{hostile_server}/rashomon?ds={quote(NAME)}&rt={quote(COLUMN)}&rsrc=metadata"
                          "&rnp=5&rnpp=10")
    try:  # the set and its FIS are a job
        watched.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]')"
                                  "?.innerText.includes('Angle labels:')", timeout=240_000)  # the halo's caption
    except Exception as e:  # noqa: BLE001 - say what the page shows instead
        raise AssertionError(watched.locator('[data-testid="stMain"]').inner_text()[:3000]) from e
    wait_idle(watched)
    text = watched.locator('[data-testid="stMain"]').inner_text().replace(INVISIBLE, "")
    _nothing_ran(watched)
    assert f"predicting {COLUMN!r} from metadata columns {', '.join(NUMERIC)}" in text, text[:2000]
    ticks = watched.locator(f"{CHART} .ytick text").all_text_contents()
    assert f"{NUMERIC[0]} × {NUMERIC[1]}" in ticks and set(NUMERIC) <= set(ticks), ticks  # FIS and main swarms
    halo = " ".join(watched.locator(f"{CHART} .gtitle").all_text_contents())
    squeeze = lambda t: "".join(t.split())  # noqa: E731 - the title is wrapped at spaces (one <tspan> per line)
    assert squeeze(f"Halo of {NUMERIC[0]} × {NUMERIC[1]}") in squeeze(halo), halo
    assert f"Angle labels: the signs of the {NUMERIC[0]} and {NUMERIC[1]} multipliers" in text
    assert f"{SCORE} read as higher is better" in text  # the runs' score: a manifest key
