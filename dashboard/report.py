"""A one-page HTML report of a dataset's views that opens without a server: ``embedlens report``.

One self-contained file: plotly.js inline (about 4.6 MB) and every figure as a plotly div, so it
opens from disk, offline, in any browser, and stays interactive (zoom, hover). Under each figure
a PNG and an SVG button (``Plotly.downloadImage``); ``--images png|svg`` also writes every figure
as a file beside the report, rendered by kaleido (:mod:`dashboard.figures.export`).

The page is built from **sections**, in order: the metrics table of every view
(:func:`core.report.view_metrics`), each metric over training steps when views carry steps, and
each view's covariance spectrum and map. A page module can add its own section with
:func:`register_section` (none does yet): it calls ``register_section("name", build)`` at
import, and is named in :data:`SECTION_MODULES`, which the report imports when they exist.
``build(ctx)`` gets a :class:`ReportContext` and returns :class:`Block` s (a title, figures,
optional HTML); a section that has nothing to say returns ``[]``.
"""

from __future__ import annotations

import datetime as _dt
import html
import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

import core
from core._sampling import subsample
from core.report import REPORT_METRICS, MetricsReport, view_metrics
from core.types import Dataset, View

from .figures import spectra as figs
from .figures.export import ExportUnavailable, chart_config, write_images
from .figures.projection import MapColor, projection_figure, projection_info

__all__ = ["ReportContext", "Block", "register_section", "SECTIONS", "SECTION_MODULES", "report_html",
           "write_report", "ReportError"]

SECTION_MODULES: tuple[str, ...] = ()
"""Modules imported (when they exist) before a report is built, so their register_section calls run
(none registers a section yet)."""


class ReportError(RuntimeError):
    """The report could not be written as asked (e.g. images without kaleido)."""


@dataclass
class ReportContext:
    """What every section builds from.

    Attributes
    ----------
    ds : Dataset
    views : list of View
        The views the report covers.
    metrics : MetricsReport
    map_method : str
        "pca", "umap", "tsne" or "none".
    seed : int
    label : str or None
        The metadata column of class labels (colours the maps), from ``metrics.params``.
    progress : callable or None
        ``progress(text)`` for long steps.
    """

    ds: Dataset
    views: list[View]
    metrics: MetricsReport
    map_method: str = "pca"
    seed: int = 0
    label: str | None = None
    progress: Callable[[str], None] | None = None

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)


@dataclass
class Block:
    """One part of the page: a heading, figures (file stem -> Figure) drawn two a row, and HTML.

    ``title`` and ``html`` are HTML: text from the data in them must be ``html.escape``d."""

    title: str
    figures: dict[str, go.Figure] = field(default_factory=dict)
    html: str = ""
    level: int = 2


SECTIONS: list[tuple[str, Callable[[ReportContext], list[Block]]]] = []


def register_section(name: str, build: Callable[[ReportContext], list[Block]], *,
                     before: str | None = None) -> None:
    """Add (or replace) the report section ``name``; ``before`` puts it ahead of another one.

    Parameters
    ----------
    name : str
    build : callable
        ``build(ctx: ReportContext) -> list[Block]``.
    before : str, optional
        A registered section's name; default: at the end.

    Returns
    -------
    None

    Raises
    ------
    KeyError
        ``before`` is not a registered section.
    """
    for i, (existing, _) in enumerate(SECTIONS):
        if existing == name:
            SECTIONS[i] = (name, build)
            return
    if before is None:
        SECTIONS.append((name, build))
        return
    index = next((i for i, (n, _) in enumerate(SECTIONS) if n == before), None)
    if index is None:
        raise KeyError(f"no report section {before!r}; sections: {[n for n, _ in SECTIONS]}")
    SECTIONS.insert(index, (name, build))


# --------------------------------------------------------------------------- built-in sections

def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _metrics_section(ctx: ReportContext) -> list[Block]:
    table = ctx.metrics.table
    cols = ["view", "run", "layer", "step", "modality", "n", "d", *ctx.metrics.metrics]
    cols = [c for c in cols if c in table.columns and not (c in ("run", "layer", "step", "modality")
                                                           and table[c].isna().all() | (table[c] == "").all())]
    head = "".join(f"<th title='{html.escape(REPORT_METRICS.get(c, c))}'>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r[c])}</td>" for c in cols) + "</tr>"
                   for r in table.to_dict(orient="records"))
    params = ", ".join(f"{k} = {v}" for k, v in ctx.metrics.params.items())
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in ctx.metrics.notes)
    text = (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
            f"<p class='note'>Parameters: {html.escape(params)}. Hover a column name for the metric's title; "
            "the same table as CSV: <code>embedlens metrics PATH --format csv</code>.</p>"
            + (f"<ul class='note'>{notes}</ul>" if notes else ""))
    return [Block("Metrics of every view", html=text)]


def _trajectory_section(ctx: ReportContext) -> list[Block]:
    table = ctx.metrics.table
    if table["step"].isna().all():
        return []
    figures = {}
    for m in ctx.metrics.metrics:
        rows = [{"run": r["run"], "layer": r["layer"], "step": int(r["step"]), "value": r[m]}
                for r in table.to_dict(orient="records") if not pd.isna(r["step"]) and np.isfinite(r[m])]
        if rows:
            figures[f"trajectory-{m}"] = figs.trajectory_figure(figs.trajectory_info(rows, label=REPORT_METRICS[m]))
    return [Block("Over training", figures)] if figures else []


MAP_SAMPLE = 50_000
"""Out-of-core views: items in the seeded sample their report map is drawn from (the spectrum is exact)."""


def _views_section(ctx: ReportContext) -> list[Block]:
    blocks = []
    label = ctx.label
    color = None
    if label is not None:
        color = MapColor("categorical", str(label), ctx.ds.metadata[label].astype(str).to_numpy())
    for view in ctx.views:
        ctx.say(f"{view.name}: spectrum" + (f" and {ctx.map_method} map" if ctx.map_method != "none" else ""))
        spec = core.spectrum(view.X)
        fit = core.powerlaw_alpha(spec)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", view.name)
        figures = {f"{stem}-spectrum": figs.spectrum_figure(figs.spectrum_info(spec, fit))}
        if ctx.map_method != "none":
            rows, title = np.arange(view.n), f"{ctx.map_method.upper()} map, seed {ctx.seed}"
            X = view.X
            if view.lazy:  # out of core: the map of a declared seeded sample, read row by row from the shards
                drawn = subsample(rows, MAP_SAMPLE, seed=ctx.seed)
                rows, X = drawn.rows, core.read_rows(view.X, drawn.rows)
                if len(rows) < view.n:
                    title += f", a seeded uniform sample of {len(rows):,} of {view.n:,} items"
            m = core.project(X, method=ctx.map_method, seed=ctx.seed, quality=False)
            info = projection_info(m.coords, rows, color=color, title=title)
            fig = projection_figure(info, height=420)
            fig.update_layout(title=dict(text=html.escape(title), font=dict(size=13)))  # the figure draws no title
            figures[f"{stem}-map-{ctx.map_method}"] = fig
        blocks.append(Block(f"{html.escape(view.label)} <span class='note'>({html.escape(view.name)}, "
                            f"{view.n:,} × {view.d})</span>", figures, level=3))
    return [Block("Each view")] + blocks


register_section("metrics", _metrics_section)
register_section("trajectories", _trajectory_section)
register_section("views", _views_section)


# --------------------------------------------------------------------------- the page

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .note{color:#666;font-size:.9em}
table{border-collapse:collapse;font-size:.85em} th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{position:sticky;top:0;background:#f6f6f6} td:first-child,th:first-child{text-align:left}
.scroll{overflow:auto;max-height:32rem} .grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.fig{min-width:0} .fig button{font-size:.8em;margin-right:.3rem}
"""


def _figure_html(stem: str, fig: go.Figure) -> str:
    div = f"fig-{stem}"
    plot = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div,
                       config=chart_config(stem, fmt="svg"))
    buttons = "".join(
        f"<button onclick=\"Plotly.downloadImage('{div}',{{format:'{f}',filename:'{stem}',scale:2}})\">{f.upper()}</button>"
        for f in ("png", "svg"))
    return f"<div class='fig'>{plot}<div>{buttons}</div></div>"


def _blocks(ctx: ReportContext) -> list[Block]:
    for module in SECTION_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    blocks = []
    for _, build in list(SECTIONS):
        blocks += build(ctx)
    return blocks


def report_html(ctx: ReportContext, blocks: Sequence[Block] | None = None) -> str:
    """The report page of ``ctx`` as one HTML string (plotly.js inline).

    Parameters
    ----------
    ctx : ReportContext
    blocks : sequence of Block, optional
        Default: every registered section's blocks.

    Returns
    -------
    str

    Raises
    ------
    EmbedLensInputError
        From a section's core calls (e.g. a map of a view with fewer rows than it needs).
    """
    blocks = _blocks(ctx) if blocks is None else blocks
    ds = ctx.ds
    parts = [f"<h1>{html.escape(ds.name)}</h1>",
             f"<p class='note'>{html.escape(ds.description) + ' — ' if ds.description else ''}"
             f"{ds.n:,} items, {len(ctx.views)} of {len(ds.views)} views; dataset fingerprint "
             f"{ds.fingerprint[:8]}; written {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by "
             f"<code>embedlens report</code>. Every figure is interactive; PNG / SVG under each.</p>"]
    for block in blocks:
        parts.append(f"<h{block.level}>{block.title}</h{block.level}>")
        if block.html:
            parts.append(block.html)
        if block.figures:
            parts.append("<div class='grid'>" + "".join(_figure_html(s, f) for s, f in block.figures.items())
                         + "</div>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>EmbedLens report: {html.escape(ds.name)}</title><style>{_CSS}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "\n".join(parts) + "</body></html>")


def write_report(ds: Dataset, out, *, metrics: MetricsReport | None = None, map_method: str = "pca",
                 images: str | None = None, views: Sequence[str] | None = None, seed: int = 0,
                 progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write the HTML report of ``ds`` to ``out`` (and, with ``images``, every figure beside it).

    Parameters
    ----------
    ds : Dataset
    out : path-like
        The HTML file.
    metrics : MetricsReport, optional
        Default: :func:`core.report.view_metrics` of the chosen views.
    map_method : {"pca", "umap", "tsne", "none"}, default="pca"
    images : {"png", "svg", "pdf"}, optional
        Also write each figure to ``<out stem>_files/<figure>.<images>`` (kaleido).
    views : sequence of str, optional
        View names; default all.
    seed : int, default=0
    progress : callable, optional

    Returns
    -------
    list of pathlib.Path
        The report, then the images.

    Raises
    ------
    ReportError
        ``images`` asked for but kaleido or a browser is missing (nothing is written then).
    EmbedLensInputError
        From the core calls (unknown view names, ...).
    """
    chosen = list(ds.views) if views is None else [ds.view(v) for v in views]
    if metrics is None:
        metrics = view_metrics(ds, views=[v.name for v in chosen], seed=seed)
    ctx = ReportContext(ds, chosen, metrics, map_method, seed, metrics.params.get("label"), progress)
    blocks = _blocks(ctx)
    out = Path(out)
    written = []
    if images:
        ctx.say(f"rendering {sum(len(b.figures) for b in blocks)} figures as {images} with kaleido ...")
        try:
            written = write_images({s: f for b in blocks for s, f in b.figures.items()},
                                   out.with_name(out.stem + "_files"), images)
        except ExportUnavailable as exc:
            raise ReportError(str(exc)) from None
    out.write_text(report_html(ctx, blocks), encoding="utf-8")
    return [out, *written]
