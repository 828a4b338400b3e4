"""The Geometry page's logic: which labels the page uses (and why none), and NC1 view by view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import EmbedLensInputError
from dashboard.data import geometry as geometry_data
from dashboard.data import view_graph
from dashboard.literal import md

__all__ = ["Labels", "labels_and_separability", "depthwise_rows", "hub_ties"]


@dataclass(frozen=True)
class Labels:
    """The label column the page uses ("" for none), its cache key and values, and why there is none."""

    column: str
    key: str
    values: np.ndarray | None
    reason: str = ""

    @property
    def args(self) -> tuple:
        """(labels_key, labels): what the cached label metrics take."""
        return self.key, self.values


def labels_and_separability(ds, view, column: str, choices: list[str], *, k: int, metric: str, graph_k: int):
    """The labels in ``column`` ("" for none) and the separability with them.

    A column that cannot serve as labels (one class, ...) is dropped with its reason, and the
    separability is computed without labels then.

    Returns
    -------
    (Labels, core.Separability)
    """
    reason = ("this dataset has no metadata column to use as class labels" if not choices else
              "no label column is chosen (none looks like class labels: 2 to 100 classes, or named classes "
              "of 5+ items); pick one under Label column")
    labels = Labels(column, f"{ds.fingerprint}:{column}", ds.metadata[column].to_numpy() if column else None, reason)
    try:
        sep = geometry_data.separability(view.fingerprint, view.X, *labels.args, k, metric, graph_k)
    except EmbedLensInputError as exc:
        if not column:
            raise
        labels = Labels("", f"{ds.fingerprint}:", None, f"the label column {column!r} cannot serve as labels: {exc}")
        sep = geometry_data.separability(view.fingerprint, view.X, *labels.args, k, metric, graph_k)
    return labels, sep


def depthwise_rows(views, labels: Labels) -> list[dict]:
    """NC1 of every view with a layer or step (one progress bar): rows for the collapse trajectory."""
    progress = st.progress(0.0, text="NC1 of every view ...")
    rows = []
    for i, v in enumerate(views):
        nc = geometry_data.neural_collapse(v.fingerprint, v.X, *labels.args)
        rows.append({"run": v.run, "layer": v.layer, "step": v.step, "nc1": nc.nc1})
        progress.progress((i + 1) / len(views), text=f"NC1 of {md(v.label)}")
    progress.empty()
    return rows


def hub_ties(fingerprint: str, X, k: int, metric: str, graph_k: int) -> tuple[int, str | None]:
    """Rows whose ``k`` nearest neighbours are all at distance 0 (duplicates) in the shared graph,
    and the warning to show (None when there are none).

    Such a row's neighbour list is picked by tie-breaking among equal rows, so the N_k counts,
    the hubs and the anti-hub share built on it say nothing about the data's geometry.

    Returns
    -------
    (int, str or None)
        The number of tied rows and the message naming it and the fix.
    """
    graph = view_graph(fingerprint, X, graph_k, metric)  # cached: the graph hubness used
    tied = graph.tied_rows(k)
    if not tied:
        return 0, None
    n = len(graph.distances)
    who = f"all {n:,} rows" if tied == n else f"{tied:,} of {n:,} rows"
    return tied, (f"{who} have all {k} nearest neighbours at distance 0 (duplicate rows): their neighbours are "
                  f"picked by tie-breaking among equal rows, so the N_k counts, hubs and anti-hubs "
                  f"{'below mean nothing' if tied == n else 'of those rows are arbitrary'}; drop the duplicates "
                  f"(the Data page's health report lists them)")
