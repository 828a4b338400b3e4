"""The Map's selection keeping: what a chart event means, and when a chart is redrawn.

Pure (no Streamlit): the Map page keeps one :class:`ChartMemory` per chart in the session and
feeds it the chart's events (:func:`on_event`) and each run's draw (:func:`on_draw`).

The states and transitions of one chart:

* A box or lasso (several with shift) selects every item of the map under the shapes, not only
  the drawn ones (:func:`selection_from_event`); the selection goes to the view state
  (``map_selection``) and the chart remembers it made it (``own``).
* One clicked point inspects that item (``map_item``); the selection is untouched, also when
  the chart still shows the previous outline (plotly repeats it with the click: ``shapes``).
* An empty event (double-click) clears the selection, made by this chart as well.
* On the next run, a chart whose figure would be the same (``signature``) and whose own event
  made the current selection is *not* redrawn: the browser already shows it, with plotly's own
  outline, and a redraw would flash and drop that outline. Anything else (a selection from a
  link, the other chart, the panel's Clear, a new colour, filter or map) redraws it with the
  selection of the view state, and the chart forgets its outline.
* A dataset or view change drops the selection (``map_selection`` is dataset-scoped:
  :func:`dashboard.state.rescope`) and changes the map, so the chart is redrawn without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np

from core.selection import points_in_box, points_in_polygon

from .state import encode_selection

__all__ = ["SelectionEvent", "selection_from_event", "ChartMemory", "on_event", "on_draw"]


@dataclass(frozen=True)
class SelectionEvent:
    """What a chart event means: ``kind`` "region" (box / lasso), "click" (one point), "clear".

    ``shapes`` are the event's boxes and lassos, to recognise them in the chart's next event.
    """

    kind: str
    rows: np.ndarray
    shapes: str = ""


def _selection_dict(event) -> dict:
    if event is None:
        return {}
    sel = event["selection"] if isinstance(event, dict) else getattr(event, "selection", None)
    if sel is None:
        return {}
    return {k: sel.get(k) if isinstance(sel, dict) else getattr(sel, k, None) for k in ("points", "box", "lasso")}


def selection_from_event(event, coords: np.ndarray, rows: np.ndarray, *,
                         previous_shapes: str = "") -> SelectionEvent:
    """Turn a ``st.plotly_chart`` selection event into dataset rows.

    Box and lasso shapes (several with shift) are re-applied to *every* point of the map
    (``coords``, shape (m, 2), whose dataset rows are ``rows``, shape (m,)), not only to the
    points the browser drew, so a region on a density image selects all the items under it.
    One clicked point is a "click", also when the chart still shows the shapes of the previous
    event (``previous_shapes``: plotly keeps the outline and repeats it); an event with nothing
    is "clear" (double-click). Never raises on a malformed payload: what cannot be read is left out.
    """
    sel = _selection_dict(event)
    boxes, lassos, points = sel.get("box") or [], sel.get("lasso") or [], sel.get("points") or []
    shapes = json.dumps([boxes, lassos], sort_keys=True, default=str) if boxes or lassos else ""
    if shapes and shapes == previous_shapes and len(points) == 1:
        boxes, lassos = [], []  # the old outline, and one clicked point
    if boxes or lassos:
        mask = np.zeros(len(rows), dtype=bool)
        for b in boxes:
            if len(b.get("x", [])) >= 2 and len(b.get("y", [])) >= 2:
                mask |= points_in_box(coords, b["x"][:2], b["y"][:2])
        for lasso in lassos:
            poly = np.column_stack([lasso.get("x", []), lasso.get("y", [])]).astype(float)
            if len(poly) >= 3:
                mask |= points_in_polygon(coords, poly)
        return SelectionEvent("region", np.asarray(rows, dtype=np.int64)[mask], shapes)
    ids = []
    for p in points:
        cd = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if cd is not None:
            ids.append(int(cd))
    if len(set(ids)) == 1:
        return SelectionEvent("click", np.array(ids[:1], dtype=np.int64), shapes)
    if ids:
        return SelectionEvent("region", np.unique(np.array(ids, dtype=np.int64)), shapes)
    return SelectionEvent("clear", np.empty(0, dtype=np.int64))


@dataclass(frozen=True)
class ChartMemory:
    """What one map chart remembers between runs.

    ``signature``: what the figure last sent was drawn from (None: never drawn); ``own``: the
    encoded selection this chart's own last box / lasso / clear produced (None: the figure shows
    a selection it was drawn with, not one made in it); ``shapes``: the boxes and lassos of its
    last event, as :attr:`SelectionEvent.shapes`.
    """

    signature: object = None
    own: str | None = None
    shapes: str = ""


def on_event(memory: ChartMemory, event, coords: np.ndarray, rows: np.ndarray, n: int
             ) -> tuple[ChartMemory, dict]:
    """A chart event: the chart's new memory and the view-state changes it asks for.

    ``coords`` (m, 2) and ``rows`` (m,): the chart's points and their dataset rows; ``n``: the
    dataset's rows (for :func:`dashboard.state.encode_selection`). A click returns
    ``{"map_item": row}``; a region or a clear ``{"map_selection": text}`` ("" for a clear).
    """
    ev = selection_from_event(event, coords, rows, previous_shapes=memory.shapes)
    if ev.kind == "click":
        return replace(memory, shapes=ev.shapes), {"map_item": int(ev.rows[0])}
    text = encode_selection(ev.rows, n) if ev.kind == "region" else ""
    return replace(memory, shapes=ev.shapes, own=text), {"map_selection": text}


def on_draw(memory: ChartMemory, signature, selection: str) -> tuple[ChartMemory, bool]:
    """A run draws the chart: its new memory, and whether the figure must be built and sent again.

    ``signature``: what the figure would be drawn from now (map, colour, drawing, inspected item);
    ``selection``: the view state's ``map_selection``. The previous figure is kept (False) only when
    it has the same signature and the current selection is the one this chart's own event made.
    """
    if memory.signature is not None and memory.signature == signature and memory.own is not None \
            and memory.own == selection:
        return memory, False
    return ChartMemory(signature=signature), True  # a redrawn chart shows no outline, and no own selection
