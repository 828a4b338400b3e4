"""One look for every figure: a plotly template and colour-vision-deficiency-safe palettes."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["OKABE_ITO", "TEMPLATE", "ACCENT"]

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
        xaxis=dict(showgrid=True, gridcolor="#EEF0F3", zeroline=False, linecolor="#C9CED6"),
        yaxis=dict(showgrid=True, gridcolor="#EEF0F3", zeroline=False, linecolor="#C9CED6"),
        hoverlabel=dict(font_size=12),
    )
)
