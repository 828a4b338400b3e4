"""Metrics of every view of a dataset as one table, without the UI: for CI pipelines and papers.

:func:`view_metrics` computes the chosen :data:`REPORT_METRICS` for every view of a
:class:`~core.types.Dataset` and returns a :class:`MetricsReport` (a table, one row per view,
plus the parameters, rows used and reasons for undefined values); ``embedlens metrics`` writes
it as JSON or CSV and ``embedlens report`` puts it at the top of the HTML report. Each metric is
the same core call the pages make, with the pages' defaults: the spectral profile
(:func:`core.spectral_profile`), the intrinsic dimension, hubness and kNN purity on one shared
kNN graph per view (:func:`core.knn_graph`, cosine), NC1 (:func:`core.neural_collapse`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._validation import EmbedLensInputError
from .labels import hubness, knn_purity, neural_collapse
from .intrinsic_dim import intrinsic_dimension
from .metric_text import METRICS as METRIC_TEXT
from .neighbors import knn_graph
from .profile import spectral_profile
from .tables import label_columns
from .types import Dataset

__all__ = ["REPORT_METRICS", "DEFAULT_METRICS", "MetricsReport", "view_metrics"]

_PROFILE = ("participation_ratio", "stable_rank", "effective_rank", "rankme", "pca_90", "pca_95",
            "alpha", "vendi", "coding_rate")
_GRAPH = ("intrinsic_dimension", "hubness", "knn_purity")
_LABELS = ("knn_purity", "nc1")

REPORT_METRICS: dict[str, str] = {
    **{m: METRIC_TEXT[m].title for m in _PROFILE},
    "intrinsic_dimension": "Intrinsic dimension (TwoNN, cosine kNN graph)",
    "hubness": "Hubness: skewness of the k-occurrence",
    "knn_purity": "kNN purity (mean over points)",
    "nc1": "NC1 (within- over between-class variability)",
}
"""Every metric ``view_metrics`` can compute, by name, with its title."""

DEFAULT_METRICS: tuple[str, ...] = tuple(REPORT_METRICS)
"""All of them; those needing labels are left out when the dataset has no label column."""

_LABEL_COLUMNS = ("dataset", "view", "run", "layer", "step", "modality", "n", "d", "fingerprint")


@dataclass(frozen=True, eq=False)
class MetricsReport:
    """The metrics of every view of one dataset.

    Attributes
    ----------
    table : DataFrame
        One row per view: dataset, view, run, layer, step, modality, n, d, fingerprint (12 hex
        digits), then one column per metric (NaN where undefined; see ``notes``).
    metrics : tuple of str
        The metric columns, in order.
    params : dict
        What the values depend on: the label column (or None), k, the kNN metric, seed, q.
    notes : tuple of str
        One sentence per undefined value or left-out metric, naming the view and the reason.
    dataset : str
    fingerprint : str
        The dataset's fingerprint.
    """

    table: pd.DataFrame
    metrics: tuple[str, ...]
    params: dict
    notes: tuple[str, ...] = ()
    dataset: str = ""
    fingerprint: str = ""

    def to_dict(self) -> dict:
        """A JSON-ready dict: NaN becomes None (JSON has no NaN), numpy scalars Python numbers."""
        rows = []
        for row in self.table.to_dict(orient="records"):
            rows.append({k: _json_value(v) for k, v in row.items()})
        return {"dataset": self.dataset, "fingerprint": self.fingerprint,
                "metrics": {m: REPORT_METRICS[m] for m in self.metrics},
                "params": self.params, "views": rows, "notes": list(self.notes)}


def _json_value(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def view_metrics(ds: Dataset, /, *, metrics: Sequence[str] | None = None, label: str | None = None,
                 k: int = 10, seed: int = 0, views: Sequence[str] | None = None,
                 progress: Callable[[str], None] | None = None, sample_size: int = 50_000,
                 knn_sample: int = 2000) -> MetricsReport:
    """Compute ``metrics`` for every view of ``ds`` (or the views named in ``views``).

    Parameters
    ----------
    ds : Dataset
    metrics : sequence of str, optional
        Names from :data:`REPORT_METRICS`; default :data:`DEFAULT_METRICS` (label metrics only
        when there is a label column).
    label : str, optional
        The metadata column of class labels for ``knn_purity`` and ``nc1``; default the first
        label-like column (:func:`core.tables.label_columns`), else none.
    k : int, default=10
        Neighbours for hubness and kNN purity (the graph is built once per view, cosine).
    seed : int, default=0
        Seed of every sampled step (bootstrap of the intrinsic dimension, approximate graphs).
    views : sequence of str, optional
        View names; default all.
    progress : callable, optional
        Called with a short text after each metric of each view (the CLI's progress bar).
    sample_size : int, default=50_000
        Out-of-core views (lazy dask arrays): the seeded uniform sample of rows the intrinsic
        dimension and hubness are computed on (the spectral metrics and NC1 are exact over every
        item; each view's note says so).
    knn_sample : int, default=2000
        Out-of-core views: kNN purity is the mean over a seeded sample of this many items,
        stratified by label, of their exact neighbours among all items
        (:func:`core.sampled_knn_metric`), its standard error in the notes.

    Returns
    -------
    MetricsReport

    Raises
    ------
    EmbedLensInputError
        An unknown metric or view name; a ``label`` that is not a metadata column; a label
        metric asked for by name on a dataset without a label column. A metric that is
        undefined for one view (e.g. every row identical) is NaN with a note instead.
    """
    wanted = list(DEFAULT_METRICS if metrics is None else metrics)
    unknown = [m for m in wanted if m not in REPORT_METRICS]
    if unknown:
        raise EmbedLensInputError(f"unknown metric(s) {unknown}; known: {', '.join(REPORT_METRICS)}",
                                  source="metrics")
    notes: list[str] = []
    if label is not None and label not in ds.metadata.columns:
        raise EmbedLensInputError(f"{label!r} is not a metadata column; columns: "
                                  f"{[str(c) for c in ds.metadata.columns][:10]}", source="label")
    if label is None and any(m in _LABELS for m in wanted):
        found = label_columns(ds.metadata, id_column=ds.id_column)
        label = found[0] if found else None
        if label is None:
            if metrics is not None:
                raise EmbedLensInputError(
                    f"{[m for m in wanted if m in _LABELS]} need class labels but {ds.name!r} has no "
                    "label-like metadata column; name one with label=", source="metrics")
            notes.append(f"{ds.name}: no label-like metadata column, so {', '.join(_LABELS)} are left out")
            wanted = [m for m in wanted if m not in _LABELS]
    chosen = ds.views if views is None else tuple(ds.view(v) for v in views)
    labels = None if label is None else ds.metadata[label].to_numpy()
    rows = []
    for view in chosen:
        row = {"dataset": ds.name, "view": view.name, "run": view.run, "layer": view.layer,
               "step": view.step, "modality": view.modality, "n": view.n, "d": view.d,
               "fingerprint": view.fingerprint[:12]}
        values: dict[str, float] = {}
        graph = None
        X = view.X
        if view.lazy and any(m in ("intrinsic_dimension", "hubness") for m in wanted):
            from .outofcore import _draw, read_rows

            drawn = _draw(view.n, sample_size, seed, None)
            X = read_rows(view.X, drawn.rows)
            notes.append(f"{view.name}: out of core ({view.n:,} items); intrinsic_dimension and hubness on "
                         f"{len(drawn.rows):,} of them ({drawn.method}, seed {seed}); the spectral metrics and nc1 "
                         "exact over every item")

        def note(metric: str, exc: Exception) -> None:
            notes.append(f"{view.name}: {metric} is undefined ({exc})")

        if any(m in _PROFILE for m in wanted):
            try:
                profile = spectral_profile(view.X, seed=seed)
                values.update(profile.values())
                if profile.message:
                    notes.append(f"{view.name}: the covariance metrics are undefined ({profile.message})")
            except EmbedLensInputError as exc:
                for m in _PROFILE:
                    if m in wanted:
                        note(m, exc)
            if progress:
                progress(f"{view.name}: spectra")
        for m in [m for m in wanted if m not in _PROFILE]:
            try:
                if view.lazy and m == "knn_purity":
                    from .outofcore import sampled_knn_metric

                    est = sampled_knn_metric(view.X, kind="knn_purity", labels=labels, k=k, metric="cosine",
                                             sample_size=knn_sample, seed=seed, stratify=labels)
                    values[m] = float(est.value)
                    notes.append(f"{view.name}: knn_purity = {est.value:.4f} +- {est.se:.4f} (standard error): "
                                 f"{est.method}, {len(est.rows):,} of {est.n_input:,} items (seed {seed}), their "
                                 "exact neighbours among all items")
                    continue
                if m in _GRAPH and graph is None:
                    graph = knn_graph(X, k=max(k, 2), seed=seed)
                if m == "intrinsic_dimension":
                    values[m] = intrinsic_dimension(X, graph=graph, seed=seed).value
                elif m == "hubness":
                    values[m] = hubness(X, k=k, graph=graph, seed=seed).skewness
                elif m == "knn_purity":
                    values[m] = float(np.nanmean(knn_purity(graph, labels, k=k)))
                elif m == "nc1":
                    values[m] = neural_collapse(view.X, labels).nc1
            except EmbedLensInputError as exc:
                note(m, exc)
            if progress:
                progress(f"{view.name}: {m}")
        rows.append({**row, **{m: float(values.get(m, np.nan)) for m in wanted}})
    table = pd.DataFrame(rows, columns=[*_LABEL_COLUMNS, *wanted])
    table["step"] = table["step"].astype("Int64")
    params = {"label": label, "k": k, "knn_metric": "cosine", "seed": seed, "vendi_q": 1.0,
              "vendi_kernel": "cosine"}
    if any(v.lazy for v in chosen):
        params.update(out_of_core_sample=sample_size, out_of_core_knn_sample=knn_sample)
    return MetricsReport(table, tuple(wanted), params, tuple(notes), ds.name, ds.fingerprint)


def progress_steps(ds: Dataset, metrics: Sequence[str] | None = None, views: Sequence[str] | None = None) -> int:
    """How many times :func:`view_metrics` calls ``progress`` (a progress bar's total).

    Parameters
    ----------
    ds : Dataset
    metrics, views : sequence of str, optional
        As given to :func:`view_metrics`.

    Returns
    -------
    int
        Views times (1 for the spectral metrics if any + 1 per other metric); label metrics
        that :func:`view_metrics` leaves out (no label column) are counted too, so the bar may
        finish early.

    Raises
    ------
    Nothing
        Of its own (unknown names are counted like others; :func:`view_metrics` refuses them).
    """
    wanted = list(DEFAULT_METRICS if metrics is None else metrics)
    per_view = int(any(m in _PROFILE for m in wanted)) + len([m for m in wanted if m not in _PROFILE])
    return per_view * (len(ds.views) if views is None else len(views))
