"""dashboard.figures.projection: what the map draws (info), then a thin check of the figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import core
from dashboard.figures.projection import (
    HOVER_MAX,
    OTHER,
    TOL_MUTED,
    MapColor,
    category_colors,
    hover_texts,
    image_to_text,
    projection_figure,
    projection_info,
)
from dashboard.figures.theme import OKABE_ITO


@pytest.fixture
def points(rng):
    coords = rng.standard_normal((500, 2)).astype(np.float32)
    return coords, np.arange(1000, 1500)  # map points are dataset rows 1000..1499


def _labels(n_rows: int, levels: int) -> np.ndarray:
    return np.array([f"c{i % levels}" for i in range(n_rows)], dtype=object)


def test_every_point_is_drawn_below_the_limit_with_rows_as_ids(points):
    coords, rows = points
    info = projection_info(coords, rows)
    assert info.n_drawn == 500 and info.density is None and info.sample_note == "all 500 points drawn"
    fig = projection_figure(info)
    (trace,) = fig.data
    assert isinstance(trace, go.Scattergl) and trace.customdata.tolist() == rows.tolist()


def test_above_the_limit_a_declared_stratified_sample_sits_on_a_density_image(points):
    coords, rows = points
    color = MapColor("categorical", "label", _labels(1500, 4))
    info = projection_info(coords, rows, color=color, max_points=100, sample_size=80, seed=3)
    assert info.n_drawn == 80 and info.n_shown == 500
    assert info.sample_note.startswith("80 of 500 points drawn: a seeded (seed 3) sample stratified by label")
    assert "the grey density image shows all 500" in info.sample_note
    counts, _xe, _ye = info.density
    assert counts.sum() == 500  # the image counts every point
    drawn = pd.Series(color.values[info.rows]).value_counts()
    assert drawn.to_dict() == {"c0": 20, "c1": 20, "c2": 20, "c3": 20}  # proportional: 125 of each in 500
    again = projection_info(coords, rows, color=color, max_points=100, sample_size=80, seed=3)
    np.testing.assert_array_equal(info.rows, again.rows)
    assert isinstance(projection_figure(info).data[0], go.Heatmap)


def test_density_without_categories_stratifies_by_map_region(points):
    coords, rows = points
    info = projection_info(coords, rows, render="density", sample_size=50)
    assert "map region (32 x 32 grid)" in info.sample_note and info.n_drawn == 50


def test_categorical_palettes_stay_colour_blind_safe():
    c8, others = category_colors([f"l{i}" for i in range(8)], [1] * 8)
    assert sorted(c8.values()) == sorted(OKABE_ITO) and others == []
    c10, _ = category_colors(list(range(10)), [5] * 10)
    assert [c10[i] for i in range(10)] == TOL_MUTED + ["#000000"]  # digits 0..9 in order
    c20, others = category_colors([f"x{i}" for i in range(20)], list(range(20, 0, -1)))
    assert len(c20) == 9 and set(c20) == {f"x{i}" for i in range(9)} and len(others) == 11


def test_many_levels_group_the_rest_as_other(points):
    coords, rows = points
    info = projection_info(coords, rows, color=MapColor("categorical", "kind", _labels(1500, 25)))
    names = [t.name for t in info.traces]
    assert names[-1] == "other (16 levels)" and info.traces[-1].color == OTHER and len(names) == 10
    assert sum(len(t.idx) for t in info.traces) == 500
    assert "kind has 25 levels" in info.notes[0]


def test_continuous_colours_carry_a_colour_bar_and_missing_values_are_grey(points):
    coords, rows = points
    values = np.linspace(0, 1, 1500)
    values[1000:1010] = np.nan
    info = projection_info(coords, rows, color=MapColor("continuous", "norm", values))
    assert info.color_range == (pytest.approx(values[1010]), pytest.approx(values[1499]))
    assert [t.name for t in info.traces] == ["points", "no value"] and len(info.traces[1].idx) == 10
    fig = projection_figure(info)
    assert fig.data[0].marker.colorbar.title.text == "norm" and fig.data[0].marker.colorscale


def test_values_far_from_the_median_are_drawn_on_top(points):
    coords, rows = points
    values = np.ones(1500)
    values[[1003, 1200]] = [0.1, 0.5]  # two impure points among pure ones
    info = projection_info(coords, rows, color=MapColor("continuous", "purity", values))
    idx = info.traces[0].idx
    assert sorted(idx.tolist()) == list(range(500))  # every point, once
    assert rows[idx[-2:]].tolist() == [1200, 1003]  # drawn last, the farthest last
    fig = projection_figure(info)
    np.testing.assert_array_equal(np.asarray(fig.data[0].customdata)[-2:], [1200, 1003])
    np.testing.assert_allclose(np.asarray(fig.data[0].marker.color)[-2:], [0.5, 0.1])


def test_selection_and_the_inspected_item_are_drawn_by_row(points):
    coords, rows = points
    info = projection_info(coords, rows, color=MapColor("categorical", "l", _labels(1500, 2)),
                           selected_rows=np.array([1000, 1003, 7]), item=1002, neighbor_rows=np.array([1001, 5]))
    assert info.selected.tolist() == [0, 3]  # row 7 is not on this map
    fig = projection_figure(info)
    by_name = {t.name.split(" (")[0]: t for t in fig.data}
    assert list(by_name["c0"].selectedpoints) == [0] and list(by_name["c1"].selectedpoints) == [1]
    assert by_name["item"].customdata.tolist() == [1002]
    assert by_name["neighbours"].customdata.tolist() == [1001]


def test_the_figure_ships_typed_arrays(points):
    coords, rows = points
    payload = json.loads(projection_figure(projection_info(coords, rows)).to_json())
    assert "bdata" in json.dumps(payload["data"][0]["x"]) and "bdata" in json.dumps(payload["data"][0]["customdata"])


def test_three_dimensional_maps_use_webgl_3d(rng):
    info = projection_info(rng.standard_normal((50, 3)), np.arange(50), render="density", sample_size=20)
    assert info.density is None and "3-D maps have no density image" in info.notes[0]
    assert isinstance(projection_figure(info).data[0], go.Scatter3d)


def test_hover_shows_metadata_and_a_digit_sketch():
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    texts = hover_texts(ds.metadata.head(3), image_column="image")
    assert texts[0].startswith("<b>id</b>: digit-0000<br><b>label</b>: 0")
    sketch = image_to_text(ds.metadata["image"].iloc[0])
    lines = sketch.split("<br>")
    assert len(lines) == 8 and all(len(line) == 16 for line in lines)
    assert lines[0][:4] == "    " and "█" in sketch  # a zero: blank corners, ink in the middle
    assert image_to_text("not an image") == "" and image_to_text("data:image/png;base64,!!!") == ""


def test_hover_text_is_left_out_for_large_maps(rng):
    n = HOVER_MAX + 1
    info = projection_info(rng.standard_normal((n, 2)), np.arange(n), hover=np.array(["x"] * n, dtype=object))
    assert info.hover is None


# --------------------------------------------------------------------------- kind: missing metadata values


def test_kind_missing_metadata_values_hover():
    from tests.metadata_cases import COLUMNS, ROW0, missing_meta

    meta = missing_meta()
    texts = hover_texts(meta, max_columns=len(COLUMNS))
    assert texts[0] == "<br>".join(f"<b>{c}</b>: {ROW0[c]}" for c in COLUMNS)
    assert texts[1] == "<br>".join(f"<b>{c}</b>: (missing)" for c in COLUMNS)
    # the issue's own example
    two = hover_texts(pd.DataFrame({"label": ["a", "b"], "score": [0.5, np.nan]}))
    assert two.tolist() == ["<b>label</b>: a<br><b>score</b>: 0.5", "<b>label</b>: b<br><b>score</b>: (missing)"]


@pytest.mark.parametrize("column", ["obj", "text", "flag", "nflag", "kind", "count", "when"])
def test_kind_missing_metadata_values_legend(column):
    from dashboard.figures.projection import MapColor
    from tests.metadata_cases import missing_meta

    meta = missing_meta()
    values = meta[column].to_numpy(dtype=object)
    color = MapColor("categorical", column, values)
    coords = np.arange(8, dtype=np.float32).reshape(4, 2)
    info = projection_info(coords, np.arange(4), color=color)
    by_name = {t.name: t.idx.tolist() for t in info.traces}
    assert by_name["(missing)"] == [1]
    # density mode stratifies by the same levels, missing ones included
    dense = projection_info(coords, np.arange(4), color=color, render="density", sample_size=3)
    assert "(missing)" in {t.name for t in dense.traces}
    fig = projection_figure(info)
    assert "(missing) (1)" in [t.name for t in fig.data]


def _opacity_of_rows(fig) -> dict[int, float]:
    """Drawn opacity per dataset row, from the figure alone (2-D: selected / unselected styles)."""
    out: dict[int, float] = {}
    for t in fig.data:
        if t.name in ("item", "neighbours"):
            continue
        rows = np.asarray(t.customdata).tolist()
        base = float(t.marker.opacity)
        sel = set(t.selectedpoints) if getattr(t, "selectedpoints", None) is not None else None
        for i, r in enumerate(rows):
            if sel is None:
                out[r] = base
            else:
                out[r] = float(t.selected.marker.opacity if i in sel else t.unselected.marker.opacity)
    return out


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("kind", ["categorical", "continuous", "none"])
def test_kind_selection_visible_in_every_map(rng, dims, kind):
    """A selection dims every unselected point, on 2-D and 3-D maps alike (3-D used to draw all at full colour)."""
    coords = rng.standard_normal((60, dims)).astype(np.float32)
    rows = np.arange(100, 160)
    values = {"categorical": _labels(160, 3), "continuous": rng.standard_normal(160), "none": None}[kind]
    color = MapColor(kind, "c", values) if values is not None else None
    chosen = {100, 117, 140, 159}
    fig = projection_figure(projection_info(coords, rows, color=color, selected_rows=np.array(sorted(chosen))))
    opacity = _opacity_of_rows(fig)
    assert sorted(opacity) == rows.tolist()  # every point drawn exactly once
    assert all(opacity[r] >= 0.85 for r in chosen)
    assert all(opacity[r] <= 0.2 for r in opacity if r not in chosen)


def test_kind_axis_titles_inside_the_chart_3d(rng):
    """3-D scene axes carry no title text (the 2-D map has none either): plotly's default x / y / z
    titles sat at the scene's edge and the z one was cut off at 1000-1400 px."""
    fig = projection_figure(projection_info(rng.standard_normal((30, 3)), np.arange(30)))
    for ax in (fig.layout.scene.xaxis, fig.layout.scene.yaxis, fig.layout.scene.zaxis):
        assert ax.title.text == ""
