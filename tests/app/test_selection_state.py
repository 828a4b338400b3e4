"""The Map's selection-keeping state machine (dashboard.selection_state): its transitions, without a browser.

Expected rows come from the literal coordinates below (which points lie inside each box / lasso),
expected link text from dashboard.state.encode_selection's documented "r<rows>" form.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from dashboard.selection_state import ChartMemory, on_draw, on_event, selection_from_event
from dashboard.state import ViewState, rescope

COORDS = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.5], [10.0, 10.0]])
ROWS = np.array([100, 101, 102, 103, 104])
N = 200
SIG = ("map-digest", "label", "auto", 0, None, (), 1)


def _event(points=(), box=(), lasso=()):
    return {"selection": {"points": list(points), "point_indices": [], "box": list(box), "lasso": list(lasso)}}


BOX = _event(points=[{"customdata": 101}], box=[{"x": [0.5, 3.5], "y": [2.5, 0.2]}])  # rows 101, 102, 103
LASSO = [{"x": [-1, 4, 4, -1], "y": [-1, -1, 3, 3]}]  # rows 100..103


def test_kind_selection_state_machine_is_pure():
    code = "import sys; sys.modules['streamlit'] = None; import dashboard.selection_state"
    subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], check=True)


def test_kind_selection_state_machine_box_selects_every_point_under_it():
    memory, changes = on_event(ChartMemory(signature=SIG), BOX, COORDS, ROWS, N)
    assert changes == {"map_selection": "r101.102.103"}  # not only the one drawn point (101)
    assert memory.own == "r101.102.103" and memory.shapes and memory.signature == SIG


def test_kind_selection_state_machine_lasso_and_shift_union():
    _, changes = on_event(ChartMemory(), _event(lasso=LASSO), COORDS, ROWS, N)
    assert changes == {"map_selection": "r100.101.102.103"}
    both = _event(box=[{"x": [-1, 0.5], "y": [-1, 0.5]}], lasso=[{"x": [9, 11, 11, 9], "y": [9, 9, 11, 11]}])
    assert on_event(ChartMemory(), both, COORDS, ROWS, N)[1] == {"map_selection": "r100.104"}


def test_kind_selection_state_machine_click_inspects_and_keeps_the_selection():
    selected, _ = on_event(ChartMemory(signature=SIG), _event(points=[{"customdata": 100}, {"customdata": 101}],
                                                              lasso=LASSO), COORDS, ROWS, N)
    # plotly repeats the kept outline with the clicked point: still a click, the selection stays
    clicked, changes = on_event(selected, _event(points=[{"customdata": 104}], lasso=LASSO), COORDS, ROWS, N)
    assert changes == {"map_item": 104}
    assert clicked.own == selected.own == "r100.101.102.103"
    # a click with no outline at all
    assert on_event(ChartMemory(), _event(points=[{"customdata": [102]}]), COORDS, ROWS, N)[1] == {"map_item": 102}


def test_kind_selection_state_machine_clear():
    selected, _ = on_event(ChartMemory(signature=SIG), BOX, COORDS, ROWS, N)
    cleared, changes = on_event(selected, _event(), COORDS, ROWS, N)
    assert changes == {"map_selection": ""} and cleared.own == "" and cleared.shapes == ""
    # the chart made the empty selection itself: kept, not redrawn
    assert on_draw(cleared, SIG, "")[1] is False


def test_kind_selection_state_machine_the_chart_that_made_it_is_not_redrawn():
    memory, redraw = on_draw(ChartMemory(), SIG, "")
    assert redraw is True and memory == ChartMemory(signature=SIG)  # first draw
    memory, changes = on_event(memory, BOX, COORDS, ROWS, N)
    state = ViewState(dataset="d", **changes)
    # the next run, and every rerun after it (a slider elsewhere, a tab), keeps the chart as the browser shows it
    for _ in range(3):
        memory, redraw = on_draw(memory, SIG, state.map_selection)
        assert redraw is False and memory.own == "r101.102.103"


def test_kind_selection_state_machine_a_selection_from_elsewhere_redraws():
    memory, _ = on_event(ChartMemory(signature=SIG), BOX, COORDS, ROWS, N)
    # the panel's Clear button, a link, or the other chart of a side-by-side pair set another selection
    for other in ("", "r1.2", "r100"):
        again, redraw = on_draw(memory, SIG, other)
        assert redraw is True and again == ChartMemory(signature=SIG)  # outline and own selection forgotten
    # the other chart of a pair never made this selection: it is redrawn with it (linked selections)
    second, redraw = on_draw(ChartMemory(signature=SIG), SIG, memory.own)
    assert redraw is True and second.own is None
    # a new colour (another signature) redraws even the chart that made the selection
    assert on_draw(memory, replace_sig(SIG, 1, "split"), memory.own)[1] is True


def replace_sig(sig, i, value):
    return sig[:i] + (value,) + sig[i + 1:]


def test_kind_selection_state_machine_dropped_on_dataset_or_view_change():
    memory, changes = on_event(ChartMemory(signature=SIG), BOX, COORDS, ROWS, N)
    old = ViewState(dataset="a", view="v1", map_view2="v2", **changes)
    new, dropped = rescope(old, replace(old, dataset="b"))
    assert new.map_selection == "" and "map_selection" in dropped
    memory, redraw = on_draw(memory, replace_sig(SIG, 0, "other-map"), new.map_selection)
    assert redraw is True and memory.own is None
    # a view change keeps the dataset's selection (same rows) but the map changes: redrawn with it
    memory, _ = on_event(ChartMemory(signature=SIG), BOX, COORDS, ROWS, N)
    other_view, dropped = rescope(old, replace(old, view="v3"))
    assert other_view.map_selection == "r101.102.103" and dropped == ["map_view2"]
    assert on_draw(memory, replace_sig(SIG, 0, "v3-map"), other_view.map_selection)[1] is True


def test_kind_selection_state_machine_malformed_events_clear_instead_of_raising():
    for event in (None, {"selection": None}, {"selection": {"points": [{"x": 1}], "box": [{"x": [1]}]}}):
        ev = selection_from_event(event, COORDS, ROWS)
        assert ev.kind in ("clear", "region") and ev.rows.dtype == np.int64
