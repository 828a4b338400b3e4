"""The distribution of row norms of one view (Data page, health report)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .theme import ACCENT, TEMPLATE

__all__ = ["NormHistogramInfo", "norm_histogram_info", "norm_histogram_figure"]


@dataclass(frozen=True)
class NormHistogramInfo:
    """Histogram of the finite row norms: bin edges, counts and summary numbers."""

    edges: np.ndarray
    counts: np.ndarray
    n_finite: int
    n_zero: int
    median: float
    mean: float
    minimum: float
    maximum: float
    title: str


def norm_histogram_info(norms: np.ndarray, *, bins: int = 60, title: str = "") -> NormHistogramInfo:
    """Bin the finite norms (NaN marks non-finite rows and is left out)."""
    norms = np.asarray(norms, dtype=np.float64)
    finite = norms[np.isfinite(norms)]
    if len(finite) == 0:
        return NormHistogramInfo(np.array([0.0, 1.0]), np.array([0]), 0, 0, np.nan, np.nan, np.nan, np.nan, title)
    lo, hi = float(finite.min()), float(finite.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return NormHistogramInfo(
        edges=edges,
        counts=counts,
        n_finite=len(finite),
        n_zero=int((finite == 0).sum()),
        median=float(np.median(finite)),
        mean=float(finite.mean()),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        title=title,
    )


def norm_histogram_figure(info: NormHistogramInfo) -> go.Figure:
    """Bars of the norm histogram with the median marked."""
    centers = (info.edges[:-1] + info.edges[1:]) / 2
    fig = go.Figure(
        go.Bar(
            x=centers,
            y=info.counts,
            width=np.diff(info.edges),
            marker_color=ACCENT,
            hovertemplate="norm %{x:.3g}<br>%{y} rows<extra></extra>",
            name="rows",
        )
    )
    if np.isfinite(info.median):
        # the line's value in the axis title, not as text over the bars
        fig.add_vline(x=info.median, line_dash="dash", line_color="#555")
    fig.update_layout(
        template=TEMPLATE,
        title=info.title or None,
        xaxis_title="L2 norm of the row" + (f" (dashed line: median {info.median:.3g})"
                                            if np.isfinite(info.median) else ""),
        yaxis_title="rows",
        bargap=0.02,
        height=300,
        showlegend=False,
    )
    return fig
