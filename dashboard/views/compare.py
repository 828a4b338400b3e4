"""The Compare page's logic: which two views, their score cards, the matrix over every view (with its
click-through), what moved between the two, and the trajectories against step."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

import core
from core import Dataset, View
from core.metric_text import METRICS, metric_help
from dashboard import session as vs
from dashboard.data import compare as data
from dashboard.data import view_graph
from dashboard.literal import md
from dashboard.state import TRAJECTORY_METRICS
from dashboard.views import map as view_map

__all__ = ["MATRIX_KEY", "METRIC_NAMES", "Card", "default_second", "second_view", "view_order", "options_for",
           "used_text", "pair_cards", "tie_warning", "show_cards", "unit_match", "matrix", "picked_pair",
           "on_matrix_select", "movers",
           "moved_maps", "open_on_map", "trajectory_metrics_input", "trajectory_frame"]

MATRIX_KEY = "cmp_matrix"
"""The matrix chart's Streamlit key (its selection event lives there)."""

METRIC_NAMES = {"cka": "CKA", "cka_debiased": "CKA (debiased)",
                "procrustes": "Procrustes distance (angular)", "mutual_knn": "Mutual kNN",
                "rsa": "RSA (Spearman)", "cca": "CCA (mean squared canonical correlation)",
                "effective_rank": "Effective rank", "participation_ratio": "Participation ratio",
                "stable_rank": "Stable rank", "rankme": "RankMe", "alpha": "Power-law α", "vendi": "Vendi score",
                "intrinsic_dimension": "Intrinsic dimension (TwoNN)", "nc1": "NC1 (needs a label column)"}
"""Menu names of the matrix / trajectory metrics (the figures and captions use each result's own label)."""


def _help(key: str) -> str | None:
    return metric_help(key) if key in METRICS else None


# --------------------------------------------------------------------------- the two views


def default_second(ds: Dataset, view: View) -> View:
    """The view compared with ``view`` when none is chosen: the same layer and step of the next run
    (another seed), else the same run and layer's final checkpoint (or the one before, from the final
    one), else another modality of the same items, else the next view in the dataset."""
    others = [v for v in ds.views if v.name != view.name]
    if view.run:
        peers = [v for v in others if v.layer == view.layer and v.step == view.step and v.modality == view.modality
                 and v.run and v.run != view.run]
        if peers:
            later = [v for v in peers if v.run > view.run]
            return min(later or peers, key=lambda v: v.run)
    if view.step is not None:
        line = [v for v in others if (v.run, v.layer, v.modality) == (view.run, view.layer, view.modality)
                and v.step is not None]
        if line:
            last = max(line, key=lambda v: v.step)
            before = [v for v in line if v.step < view.step]
            return last if last.step > view.step or not before else max(before, key=lambda v: v.step)
    if view.modality:
        paired = [v for v in others if v.modality and v.modality != view.modality]
        if paired:
            return paired[0]
    i = ds.view_names.index(view.name)
    return ds.views[(i + 1) % len(ds.views)]


def second_view(ds: Dataset, view: View, state) -> View:
    """The state's compared view (``cmp_view2``), or :func:`default_second` when it names none or the view itself."""
    if state.cmp_view2 and state.cmp_view2 != view.name and state.cmp_view2 in ds.view_names:
        return ds.view(state.cmp_view2)
    return default_second(ds, view)


def view_order(views, primary: str = "run") -> list[int]:
    """Indices of ``views`` sorted by ``primary`` ("run", "layer" or "step"), then the other two in the
    order run, layer, step (a view without a step before step 0), then the dataset's order."""
    keys = [primary, *[k for k in ("run", "layer", "step") if k != primary]]

    def key(i):
        v = views[i]
        return tuple((-1 if v.step is None else v.step) if k == "step" else getattr(v, k) for k in keys) + (i,)

    return sorted(range(len(views)), key=key)


def options_for(metric: str, state) -> dict:
    """The options of a comparison ``metric`` (a key of ``core.COMPARISON_METRICS``) the page's state sets."""
    if metric in ("cka", "cka_debiased"):
        rbf = state.cmp_cka_kernel == "rbf"
        sample = {"max_n": state.cmp_sample, "seed": state.cmp_seed} if rbf else {}
        return {"kernel": state.cmp_cka_kernel, **sample}
    if metric == "mutual_knn":
        return {"k": state.cmp_k, "metric": state.cmp_metric}
    if metric == "rsa":
        return {"metric": state.cmp_metric, "max_n": state.cmp_sample, "seed": state.cmp_seed}
    return {}


# --------------------------------------------------------------------------- cards


@dataclass(frozen=True)
class Card:
    """One score card: the label naming its variant, the value as shown, its help, what it used."""

    label: str
    value: str
    help: str | None
    note: str


def used_text(label: str, *, n: int, n_input: int, method: str, seed=None, params=None) -> str:
    """What a number used, for a caption: "CKA (linear, biased): feature space, 1,797 rows"; the options in
    ``params`` (other than the rows, seed and method) are listed as ``k=v``."""
    extra = {k: v for k, v in dict(params or {}).items() if k not in ("n", "n_input", "seed", "method")
             and v is not None and str(v) not in label}
    opts = f" ({', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else ""
    rows = "" if f"{n:,}" in method else f", {n:,} rows" if n == n_input else f", {n:,} of {n_input:,} rows"
    seeded = f", seed {seed}" if seed is not None and "seed" not in method else ""
    return f"{label}{opts}: {method}{rows}{seeded}"


def _used(sim) -> str:
    return used_text(sim.label, n=sim.n, n_input=sim.n_input, method=sim.method, seed=sim.seed)


def pair_cards(a: View, b: View, state) -> list[Card]:
    """CKA (the state's kernel and estimator), mutual kNN (k, metric), Procrustes (angular) and RSA
    (metric, sample, seed) of views ``a`` and ``b``, each naming what it used."""
    fa, fb = a.fingerprint, b.fingerprint
    cka = data.cka(fa, fb, a.X, b.X, state.cmp_cka_kernel, state.cmp_cka_debiased, state.cmp_sample, state.cmp_seed)
    knn = data.mutual_knn(fa, fb, a.X, b.X, state.cmp_k, state.cmp_metric)
    proc = data.procrustes(fa, fb, a.X, b.X, "angular")
    rsa = data.rsa(fa, fb, a.X, b.X, state.cmp_metric, state.cmp_sample, state.cmp_seed)
    return [
        _card(cka, "cka", _used(cka)),
        _card(knn.value, "mutual_knn", f"{knn.label}: {knn.value.method}, the mean share of each item's {knn.k} "
                                       f"nearest neighbours found in both views, {len(knn.per_item):,} items"),
        _card(proc.value, "procrustes", _used(proc.value) + ", in radians (0: the same up to rotation, scale and "
                                                            "shift; π/2: orthogonal)"),
        _card(rsa, "rsa", _used(rsa)),
    ]


def _card(sim, key: str, note: str) -> Card:
    """A card of the Similarity ``sim``: "undefined" and its reason when the value is NaN."""
    if np.isfinite(float(sim)):
        return Card(sim.label, f"{float(sim):.3f}", _help(key), note)
    why = getattr(sim, "message", None) or "undefined for these views"
    return Card(sim.label, "undefined", why, f"{note}; undefined: {why}")


def tie_warning(a: View, b: View, state) -> str | None:
    """A warning when rows of either view have all k nearest neighbours at distance 0 (duplicates): their
    neighbour lists are picked by tie-breaking, so their mutual kNN overlap (and "moved") means nothing."""
    parts = []
    for name, v in (("A", a), ("B", b)):
        graph = view_graph(v.fingerprint, v.X, state.cmp_k, state.cmp_metric)  # cached: the graph mutual kNN used
        tied = graph.tied_rows(state.cmp_k)
        if tied:
            parts.append(f"{'all' if tied == v.n else f'{tied:,} of'} {v.n:,} rows of {name}")
    if not parts:
        return None
    return (f"{' and '.join(parts)} have all {state.cmp_k} nearest neighbours at distance 0 (duplicate rows): "
            "their neighbours are picked by tie-breaking among equal rows, so their mutual kNN overlap and "
            "\"moved\" values are arbitrary; drop the duplicates (the Data page's health report lists them)")


def show_cards(a: View, b: View, state) -> None:
    """The cards of the pair in one row, one caption saying what each used, and a warning about tied neighbours."""
    cards = pair_cards(a, b, state)
    for col, c in zip(st.columns(len(cards)), cards, strict=True):  # labels, notes and reasons quote data: md
        col.metric(md(c.label), c.value, help=None if c.help is None else (md(c.help) if c.value == "undefined"
                                                                           else c.help))
    st.caption(" · ".join(md(c.note) for c in cards))
    if warning := tie_warning(a, b, state):
        st.warning(warning, icon=":material/warning:")


def unit_match(a: View, b: View):
    """:func:`core.match_units` of the two views (cached)."""
    return data.match_units(a.fingerprint, b.fingerprint, a.X, b.X)


# --------------------------------------------------------------------------- the matrix


def matrix(ds: Dataset, state) -> core.PairwiseMatrix:
    """The state's matrix metric over every view of ``ds`` (in the dataset's order): stored on disk, or
    computed now with a progress bar."""
    metric, names = state.cmp_matrix_metric, tuple(ds.view_names)
    options = options_for(metric, state)
    key = data.matrix_key([v.fingerprint for v in ds.views], metric, options)
    found = data.stored_matrix(key, names)
    if found is not None:
        return found
    m = len(names)
    text = f"{METRIC_NAMES[metric]} of {m * (m - 1) // 2:,} pairs of views"
    bar = st.progress(0.0, text=text + " ...")

    def progress(fraction, *_):
        bar.progress(float(min(max(fraction, 0.0), 1.0)), text=f"{text}: {fraction:.0%}")

    try:
        return data.pairwise_matrix(key, [v.X for v in ds.views], names, metric, options, _progress=progress)
    finally:
        bar.empty()


def picked_pair(event) -> tuple[str, str] | None:
    """The (row view, column view) of the first clicked cell in a matrix chart's selection event, or None
    (no cell, or a point without the cell's customdata, e.g. the outline of the compared pair)."""
    if not event:
        return None
    selection = event["selection"] if "selection" in event else {}
    for point in selection.get("points") or []:
        cd = point.get("customdata")
        if isinstance(cd, (list, tuple)) and len(cd) == 2:
            return str(cd[0]), str(cd[1])
    return None


def on_matrix_select() -> None:
    """A clicked cell (i, j) compares view i (the sidebar's view) with view j; the diagonal is ignored."""
    pair = picked_pair(st.session_state.get(MATRIX_KEY))
    if pair is not None and pair[0] != pair[1]:
        vs.update(view=pair[0], cmp_view2=pair[1])


# --------------------------------------------------------------------------- what moved


def movers(a: View, b: View, state):
    """(mutual kNN result, change per item = 1 - per-item overlap, the rows that changed most, most first;
    ties in row order)."""
    knn = data.mutual_knn(a.fingerprint, b.fingerprint, a.X, b.X, state.cmp_k, state.cmp_metric)
    change = 1.0 - np.asarray(knn.per_item, dtype=float)
    top = np.argsort(-change, kind="stable")[: state.cmp_moved_top]
    return knn, change, top


def moved_maps(ds: Dataset, a: View, b: View, state):
    """The two views' maps aligned as on the Map page (its cache and jobs, its parameters), with the
    state's projection; while a UMAP / t-SNE job runs: the PCA maps and the job."""
    mapped = replace(state, map_method=state.cmp_moved_method, map_dims=2)
    maps, job = view_map.compute_maps(ds, [a, b], mapped, np.arange(ds.n))
    if job is not None:
        maps, _ = view_map.compute_maps(ds, [a, b], replace(mapped, map_method="pca"), np.arange(ds.n))
    return maps, job


def open_on_map(ds: Dataset, b: View, top, state) -> None:
    """Select ``top`` on the Map page, side by side with ``b`` in the same projection, and go there."""
    vs.update(map_selection=vs.encode_selection(top, ds.n), map_view2=b.name, map_method=state.cmp_moved_method,
              map_item=-1)
    st.switch_page("app_pages/map.py")


# --------------------------------------------------------------------------- trajectories


TRAJ_KEY = vs.WIDGET_PREFIX + "cmp_traj_metrics"


def _set_traj_metrics() -> None:
    vs.update(cmp_traj_metrics=tuple(st.session_state[TRAJ_KEY]))


def trajectory_metrics_input(col) -> None:
    """The multiselect of single-view trajectory metrics, bound to ``cmp_traj_metrics`` (a tuple in the state)."""
    choices = [m for m in TRAJECTORY_METRICS if m in core.SINGLE_VIEW_METRICS]
    if TRAJ_KEY not in st.session_state:
        st.session_state[TRAJ_KEY] = [m for m in vs.current().cmp_traj_metrics if m in choices]
    col.multiselect("Metrics of each view", choices, format_func=METRIC_NAMES.get, key=TRAJ_KEY,
                    on_change=_set_traj_metrics, help="One panel each, one line per run / layer. NC1 uses the "
                    "first label-like metadata column.")


def _lines(views) -> dict[tuple, list]:
    out: dict[tuple, list] = {}
    for v in views:
        out.setdefault((v.run, v.layer, v.modality), []).append(v)
    return out


def trajectory_frame(ds: Dataset, state, label_column: str = "") -> pd.DataFrame | None:
    """The state's single-view metrics and its comparison against the reference, for every view with a
    step (None when fewer than two have one). With no reference view chosen, each run / layer line is
    compared with its own final checkpoint. NC1 uses ``label_column`` (left out without one)."""
    views = [v for v in ds.views if v.step is not None]
    if len(views) < 2:
        return None
    fps = tuple(v.fingerprint for v in views)
    jobs = [(m, None) for m in state.cmp_traj_metrics
            if m in core.SINGLE_VIEW_METRICS and (m != "nc1" or label_column)]
    if state.cmp_traj_compare:
        jobs.append((state.cmp_traj_compare, state.cmp_reference or None))
    bar = st.progress(0.0, text="Trajectories ...")
    frames = []
    for i, (metric, ref) in enumerate(jobs):
        bar.progress(i / max(len(jobs), 1), text=f"{METRIC_NAMES.get(metric, metric)} of {len(views)} views ...")
        if metric in core.SINGLE_VIEW_METRICS:
            labels = (f"{ds.fingerprint}:{label_column}", ds.metadata[label_column].to_numpy()) if metric == "nc1" \
                else ("", None)
            frames.append(data.trajectory(fps, views, metric, None, {}, *labels))
        elif ref is not None:
            ref_view = ds.view(ref)
            group = views if ref_view in views else [*views, ref_view]
            f = data.trajectory(tuple(v.fingerprint for v in group), group, metric, group.index(ref_view),
                                options_for(metric, state))
            frames.append(f.assign(label=f["label"] + f" against {ref_view.label}"))
        else:
            for line in _lines(views).values():
                last = max(line, key=lambda v: v.step)
                f = data.trajectory(tuple(v.fingerprint for v in line), line, metric, line.index(last),
                                    options_for(metric, state))
                frames.append(f.assign(label=f["label"] + " against each line's final checkpoint"))
    bar.empty()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
