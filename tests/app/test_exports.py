"""Export from the app: every chart's modebar downloads a named PNG, and the metric cards of the
Spectra and Geometry pages (not tables, so without the dataframe's CSV download) have a CSV button
whose rows are the cards."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import core
from dashboard.figures import spectra as figs
from dashboard.figures.export import chart_config
from dashboard.views import spectra as view_spectra

from .apptest import run_app


@pytest.fixture
def sample_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))


@pytest.mark.parametrize("page", ["app_pages/spectra.py", "app_pages/geometry.py", "app_pages/data.py"])
def test_every_chart_downloads_a_named_png_and_cards_have_a_csv_button(sample_env, page):
    at = run_app(page=page)
    charts = at.get("plotly_chart")
    assert charts
    for chart in charts:
        config = json.loads(chart.proto.config)
        assert config["toImageButtonOptions"]["format"] == "png" and config["toImageButtonOptions"]["scale"] == 2
        assert config["toImageButtonOptions"]["filename"] and config["displaylogo"] is False
    if page != "app_pages/data.py":
        assert "Metrics (CSV)" in [b.label for b in at.get("download_button")]


def test_cards_csv_holds_every_card_of_the_view():
    view = core.load(core.sample_data_dir() / "digits-mlp").view("seed0/hidden1/epoch100")
    cards = figs.metric_cards(core.spectral_profile(view.X))
    table = pd.read_csv(io.BytesIO(view_spectra.cards_csv(view, cards, "cosine kernel")))
    assert list(table["metric"]) == [c.label for c in cards]
    assert list(table["value"].astype(str)) == [c.value for c in cards]
    assert set(table["view"]) == {view.name}


def test_chart_config_file_names_are_safe():
    assert chart_config("map seed0/hidden1")["toImageButtonOptions"]["filename"] == "map_seed0_hidden1"
