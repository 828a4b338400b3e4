"""Test hooks: what the browser tests read off the page that a user never sees. Off by default.

With ``EMBEDLENS_TEST_HOOKS=1`` in the server's environment (the browser tests' servers set it),
every ``plotly_chart`` call is followed by a hidden element holding the SHA-256 of the data the
chart plots (:func:`figure_digest`), keyed by the chart's Streamlit key::

    <span hidden data-embedlens-figure="map_0" data-sha256="9f2c..."></span>

so a test can assert that a share link reopened on another browser, or on another server with an
empty cache, plots the same numbers, without parsing plotly's DOM. The wrapper is installed once
per process (:func:`install`, called by :func:`dashboard.session.init` on every run); there is no
one place pages draw charts from (pages, views and the Map's panels call ``plotly_chart``), so
wrapping Streamlit's own method is the one place that sees them all. Without the variable
nothing is wrapped and nothing is written.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os

__all__ = ["ENV", "ATTRIBUTE", "DATA_KEYS", "enabled", "figure_digest", "install"]

ENV = "EMBEDLENS_TEST_HOOKS"
ATTRIBUTE = "data-embedlens-figure"
"""The hidden element's attribute naming the chart (its Streamlit key); ``data-sha256`` holds the digest."""
DATA_KEYS = ("type", "x", "y", "z", "customdata", "selectedpoints", "marker.color")
"""What of each trace is hashed: its coordinates, what a click reports, the selection and per-point colours
(not texts, styles or layout: those are presentation, and hover texts are large)."""

_INSTALLED = False


def enabled() -> bool:
    """Whether this process writes the hooks (``EMBEDLENS_TEST_HOOKS=1``)."""
    return os.environ.get(ENV, "") == "1"


def _traces(figure) -> list[dict]:
    data = figure.get("data", []) if isinstance(figure, dict) else getattr(figure, "data", [])
    return [t if isinstance(t, dict) else t.to_plotly_json() for t in data or []]


def _pick(trace: dict, dotted: str):
    value = trace
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return _plain(value)


def _plain(value):
    """Plotly >= 6 writes numpy arrays in a figure's dict as ``{"dtype", "bdata"[, "shape"]}`` (base64):
    back to the array, so a dict and the figure it came from hash the same."""
    if isinstance(value, dict) and {"dtype", "bdata"} <= set(value):
        import base64

        import numpy as np

        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if shape:
            array = array.reshape([int(n) for n in str(shape).split(",")])
        return array
    return value


def figure_digest(figure) -> str:
    """SHA-256 (hex) of the plotted data of ``figure`` (a ``go.Figure`` or its dict): per trace, in order,
    the :data:`DATA_KEYS` it has, as plotly's JSON encoder writes them (arrays as lists, so the digest does
    not depend on whether a column arrived as numpy or as a list)."""
    from plotly.utils import PlotlyJSONEncoder

    picked = [{k: v for k in DATA_KEYS if (v := _pick(t, k)) is not None} for t in _traces(figure)]
    text = json.dumps(picked, cls=PlotlyJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _hook(dg, figure, key) -> None:
    try:
        digest = figure_digest(figure)
    except Exception as exc:  # a test hook never breaks the page; the test sees the error instead
        digest = f"error: {type(exc).__name__}"
    dg.html(f'<span hidden {ATTRIBUTE}="{html.escape(str(key), quote=True)}" data-sha256="{digest}"></span>')


def install() -> None:
    """Wrap ``plotly_chart`` (of every container and of the ``st`` module) when :func:`enabled`; once per
    process. A chart without a key is named ``chart``."""
    global _INSTALLED
    if _INSTALLED or not enabled():
        return
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    original = DeltaGenerator.plotly_chart

    @functools.wraps(original)
    def plotly_chart(self, figure_or_data, *args, **kwargs):
        out = original(self, figure_or_data, *args, **kwargs)
        _hook(self, figure_or_data, kwargs.get("key") or "chart")
        return out

    DeltaGenerator.plotly_chart = plotly_chart
    main = getattr(st, "_main", None)
    if main is not None:  # ``st.plotly_chart`` is a method bound to the main container at import
        st.plotly_chart = plotly_chart.__get__(main)
    _INSTALLED = True
