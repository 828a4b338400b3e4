"""One look for every figure: a plotly template and colour-vision-deficiency-safe palettes."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import plotly.graph_objects as go

__all__ = ["OKABE_ITO", "TEMPLATE", "ACCENT", "log_axis", "NUMBER_FORMAT", "wrap"]

NUMBER_FORMAT = "power"
"""Axis exponents as 10⁻⁵, never SI prefixes ("10μ" beside "0.001" reads as a unit)."""

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common forms of
# colour-vision deficiency. Black is moved last so it is used only after seven categories.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
ACCENT = OKABE_ITO[0]

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font=dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13),
        colorway=OKABE_ITO,
        margin=dict(l=56, r=16, t=40, b=48),
        plot_bgcolor="white",
        paper_bgcolor="white",
        xaxis=dict(showgrid=True, gridcolor="#EEF0F3", zeroline=False, linecolor="#C9CED6",
                   exponentformat=NUMBER_FORMAT),
        yaxis=dict(showgrid=True, gridcolor="#EEF0F3", zeroline=False, linecolor="#C9CED6",
                   exponentformat=NUMBER_FORMAT),
        hoverlabel=dict(font_size=12),
    )
)


def log_axis(*values, **axis) -> dict:
    """Properties of a log axis over the positive finite ``values``: labels only where they read.

    Plotly labels the minor ticks of a log axis with bare digits ("2 5", "8 9" left of 1) and
    writes small powers with SI prefixes ("10μ"); here, spanning a decade or more, only the
    powers of ten are labelled (``dtick=1``, or every 2nd, 3rd ... power past 6 decades) with
    unlabelled minor ticks at 2..9, and every
    exponent is written as a power. Under a decade, plotly's own ticks carry whole numbers.
    ``axis``: further properties (``title``, ...), which win.
    """
    v = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in values]) if values else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)]
    out: dict = dict(type="log", exponentformat=NUMBER_FORMAT, showexponent="all")
    decades = math.log10(v.max() / v.min()) if len(v) else 0.0
    if decades >= 1:
        step = max(1, math.ceil(decades / 6))  # at most ~7 labels: every decade, or every 2nd, 3rd ...
        out.update(dtick=step)
        if step == 1:
            out.update(minor=dict(ticks="outside", ticklen=3, dtick="D1", showgrid=False))
    return {**out, **axis}


def wrap(text: str, width: int = 36) -> str:
    """``text`` broken into lines of at most ``width`` characters (plotly ``<br>``), so a title,
    axis title or legend entry of a half-width chart is not cut off on a 1000 px window."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False)) or text
