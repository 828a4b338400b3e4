"""dashboard.testhooks: the chart data digest the browser tests compare, and that it is off by default."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import plotly.graph_objects as go

from dashboard import testhooks


def test_the_digest_is_sha256_of_the_plotted_data_only():
    x, y = np.array([0.5, 1.25, 2.0]), np.array([3.0, -1.0, 0.0])
    fig = go.Figure(go.Scatter(x=x, y=y, customdata=[[7], [8], [9]], text=["a", "b", "c"], mode="markers"))
    expected = hashlib.sha256(json.dumps(
        [{"customdata": [[7], [8], [9]], "type": "scatter", "x": [0.5, 1.25, 2.0], "y": [3.0, -1.0, 0.0]}],
        sort_keys=True, separators=(",", ":")).encode()).hexdigest()  # independent: the same JSON by hand
    assert testhooks.figure_digest(fig) == expected
    # the same numbers as lists, another title, hover text or colour scale: the same digest
    styled = go.Figure(go.Scatter(x=x.tolist(), y=y.tolist(), customdata=[[7], [8], [9]], text=["x", "y", "z"]))
    styled.update_layout(title="another title", height=300)
    assert testhooks.figure_digest(styled) == expected
    assert testhooks.figure_digest(fig.to_dict()) == expected
    # another number, another selection, other per-point colours: another digest
    assert testhooks.figure_digest(go.Figure(go.Scatter(x=x, y=y + 1e-9, customdata=[[7], [8], [9]]))) != expected
    selected = go.Figure(go.Scatter(x=x, y=y, customdata=[[7], [8], [9]], selectedpoints=[1]))
    assert testhooks.figure_digest(selected) != expected
    coloured = go.Figure(go.Scatter(x=x, y=y, customdata=[[7], [8], [9]], marker={"color": [1, 2, 3]}))
    assert testhooks.figure_digest(coloured) != expected
    heat = go.Figure(go.Heatmap(z=np.array([[1.0, 2.0], [3.0, 4.0]])))
    assert testhooks.figure_digest(heat.to_dict()) == testhooks.figure_digest(heat)  # plotly 6's base64 arrays
    assert testhooks.figure_digest(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]))) != \
        testhooks.figure_digest(go.Figure(go.Heatmap(z=[[1, 2], [3, 5]])))


def test_off_unless_the_environment_asks(monkeypatch):
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    monkeypatch.delenv(testhooks.ENV, raising=False)
    before = (DeltaGenerator.plotly_chart, st.plotly_chart)
    testhooks.install()
    assert not testhooks.enabled() and (DeltaGenerator.plotly_chart, st.plotly_chart) == before
    monkeypatch.setenv(testhooks.ENV, "0")
    testhooks.install()
    assert DeltaGenerator.plotly_chart is before[0]
