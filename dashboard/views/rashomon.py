"""The Rashomon page's logic: the model's sources, the set and its FIS (job, progress, Stop), the
swarms, the halo of the chosen pair, the table per pair, and the empirical Rashomon set of runs."""

from __future__ import annotations

import re
import uuid

import numpy as np
import pandas as pd
import streamlit as st

from core import EmbedLensInputError
from core import rashomon as R
from core.metric_text import metric_help, metric_title
from dashboard import data
from dashboard import session as vs
from dashboard.data import rashomon as rd
from dashboard.figures import rashomon as fr
from dashboard.figures.export import chart_config
from dashboard.literal import md

__all__ = ["MODELS", "NESTED", "RUN_METRICS", "link_warning", "link_notes", "targets", "feature_columns", "tuple_widget",
           "model_inputs", "owner", "compute", "retry",
           "pair_options", "current_pair", "pair_from_click", "on_swarm_select", "used_caption", "swarms",
           "halo", "halo_caption", "pair_table", "run_scores", "higher_is_better", "runs"]

MODELS = {"logistic": "logistic regression", "mlp": "MLP (32 ReLU units)"}
NESTED = (0.25, 0.5, 2.0, 4.0)
"""The multiples of epsilon offered for nested halos."""
RUN_METRICS = {"effective_rank": "effective_rank", "vendi": "vendi", "twonn": "intrinsic_dimension", "nc1": "nc1"}
"""Runs' metric -> its entry in core.metric_text.METRICS."""
_RUN_NOTES = {"effective_rank": "of the covariance spectrum, every row",
              "vendi": "cosine kernel, q = 1, on at most 3,000 seeded rows per view (the Spectra page's)",
              "twonn": "TwoNN, cosine, on the shared 20-neighbour graph (the Geometry page's)",
              "nc1": "with the target column as classes"}

_RETRY = "embedlens.rashomon.retry"
_SWARM = "rsh_swarm"


# --------------------------------------------------------------------------- sources


def targets(ds) -> tuple[list[str], str]:
    """(every column that may serve as labels, the label-like one used when the state names none)."""
    columns = data.label_choices(ds.fingerprint, ds.metadata, ds.id_column)
    suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
    return columns, (suggested[0] if suggested else (columns[0] if columns else ""))


def feature_columns(ds, target: str) -> list[str]:
    """Numeric metadata columns that can be features (not the target, not categorical, not images)."""
    _cats, nums = data.map_column_kinds(ds.fingerprint, ds.metadata)
    return [c for c in nums if c != target and c != ds.id_column]


def tuple_widget(name: str, options) -> dict:
    """Keyword arguments binding a multiselect to the tuple field ``name`` (the state keeps a tuple,
    sorted; values not among ``options`` are left out)."""
    key = vs.WIDGET_PREFIX + name
    if key not in st.session_state:
        st.session_state[key] = [v for v in getattr(vs.current(), name) if v in options]
    return {"key": key, "on_change": _tuple_changed, "args": (name,)}


def _tuple_changed(name: str) -> None:
    vs.update(**{name: tuple(sorted(st.session_state[vs.WIDGET_PREFIX + name]))})


def link_warning(text: str) -> None:
    """A link value the page could not use: shown now, and kept among the link's warnings (shown at the top
    of the page until the view changes), so the reruns while the set is computed do not lose it. ``text``
    quotes the link's values: shown as written (escaped here; the app escapes the kept copy)."""
    st.warning(md(text), icon=":material/link_off:")
    vs.add_warning(text)


def link_notes(s, columns: list[str]) -> list[str]:
    """Drop the link's unknown feature columns and nested multiples the page does not offer from the
    state; returns a warning for each kind dropped."""
    notes = []
    unknown = [c for c in s.rsh_features if c not in columns]
    if unknown:
        notes.append(f"Ignored feature column(s) {', '.join(map(repr, unknown))}: not numeric metadata columns of "
                     "this dataset.")
    repeated = sorted({c for c in s.rsh_features if s.rsh_features.count(c) > 1})
    if repeated:
        notes.append(f"Ignored the repeats of feature column(s) {', '.join(map(repr, repeated))}: each is used once.")
    odd = [f for f in s.rsh_nested if f not in NESTED]
    if odd:
        notes.append(f"Ignored nested ε multiple(s) {', '.join(f'{f:g}' for f in odd)}: the page offers "
                     f"{', '.join(f'{f:g}' for f in NESTED)}.")
    if notes:
        vs.update(rsh_features=tuple(dict.fromkeys(c for c in s.rsh_features if c in columns)),
                  rsh_nested=tuple(dict.fromkeys(f for f in s.rsh_nested if f in NESTED)))
    return notes


def model_inputs(ds, view, s, target: str, columns: list[str]) -> rd.Inputs:
    """The features and labels the page's state asks for (cached)."""
    chosen = tuple(c for c in s.rsh_features if c in columns) or tuple(columns)
    return rd.model_inputs(ds.fingerprint, view.fingerprint, view.X, ds.metadata, target=target,
                           source=s.rsh_source, p=s.rsh_p, columns=chosen if s.rsh_source == "metadata" else (),
                           max_rows=s.rsh_rows, seed=s.rsh_seed)


def owner() -> str:
    """This session's owner key of the page's jobs (its Stop withdraws only this session: :meth:`dashboard.jobs.Job.stop`)."""
    return st.session_state.setdefault("embedlens.rashomon.session", uuid.uuid4().hex)


def compute(inputs: rd.Inputs, s):
    """(tables or None, nested halos, job or None) for the state's model, epsilon, permutations and seed."""
    return rd.interactions(inputs, model=s.rsh_model, epsilon_rate=s.rsh_eps_rate, epsilon=s.rsh_epsilon,
                           perms=(s.rsh_perms, s.rsh_pair_perms), seed=s.rsh_seed,
                           nested=tuple(sorted(set(s.rsh_nested) & set(NESTED))),
                           owner=owner(), retry=st.session_state.pop(_RETRY, False))


def retry() -> None:
    """The "Run again" button (a job this session stopped stays stopped here until then)."""
    st.session_state[_RETRY] = True


# --------------------------------------------------------------------------- pairs


def pair_options(tables: rd.RashomonTables) -> list[tuple[str, str]]:
    """The pairs of the set, in the core's order, as (name_i, name_j)."""
    fis = tables.result.fis
    return list(dict.fromkeys(zip(fis["i"].astype(str), fis["j"].astype(str), strict=True)))


def current_pair(s, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The state's pair when the set has it (either order), else the first pair (None without pairs)."""
    if not pairs:
        return None
    if len(s.rsh_pair) == 2:
        for a, b in (tuple(s.rsh_pair), tuple(s.rsh_pair)[::-1]):
            if (a, b) in pairs:
                return a, b
    return pairs[0]


def pair_from_click(event, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The pair of the swarm row a click (or box) selected, from Streamlit's plotly selection event.

    ``event``: the chart's state (an object with ``.selection``, or a plain dict under AppTest);
    every dot's ``customdata[0]`` is its row's label "i × j". The first point naming a pair wins.
    """
    if event is None:
        return None
    selection = event.get("selection") if isinstance(event, dict) else getattr(event, "selection", None)
    points = (selection.get("points") if isinstance(selection, dict) else getattr(selection, "points", None)) or []
    rows = {f"{i} × {j}": (i, j) for i, j in pairs}
    for point in points:
        custom = point.get("customdata") if isinstance(point, dict) else None
        if custom is None:
            continue
        label = custom[0] if isinstance(custom, (list, tuple)) else custom
        if label in rows:
            return rows[label]
    return None


def on_swarm_select(pairs: list[tuple[str, str]]) -> None:
    """The FIS swarm's ``on_select``: a clicked row becomes the halo's pair (and the link's)."""
    pair = pair_from_click(st.session_state.get(_SWARM), pairs)
    if pair is not None:
        vs.update(rsh_pair=pair)


# --------------------------------------------------------------------------- captions


def used_caption(inputs: rd.Inputs, tables: rd.RashomonTables, s, n: int, target: str) -> str:
    """What every number on the page used: model, loss, epsilon, permutations, seed, rows, features.

    Markdown for a caption: the target and feature column names (data) are escaped (:func:`dashboard.literal.md`).
    """
    if inputs.source == "pcs":
        share = sum(inputs.explained)
        source = f"the top {len(inputs.names)} principal components of the view ({share:.0%} of its variance)"
    else:
        source = f"metadata columns {md(', '.join(inputs.names))}"
    rows = f"{len(inputs.rows):,} of {n:,} rows"
    if inputs.method != "all rows":
        rows += f" ({inputs.method}, seed {s.rsh_seed})"
    if inputs.n_missing:
        rows += f"; {inputs.n_missing:,} rows without a target or with missing features left out"
    eps = (f"absolute ε = {tables.epsilon:.4g}" if s.rsh_epsilon > 0
           else f"ε = {s.rsh_eps_rate:g} × L* = {tables.epsilon:.4g}")
    n1, n2 = tables.result.params["n_permutations"]
    return (f"Reference model: {MODELS[s.rsh_model]} (scikit-learn, standardised inputs, seed {s.rsh_seed}) "
            f"predicting {md(repr(target))} from {source}; {rd.LOSS.replace('_', ' ')} "
            f"L* = {tables.reference_loss:.5g}, {eps}; {n1} / {n2} permutations (features / pairs), seed "
            f"{s.rsh_seed}; {rows}. {tables.set_label}.")


# --------------------------------------------------------------------------- sections


def swarms(tables: rd.RashomonTables, s, pairs: list[tuple[str, str]], pair) -> None:
    """The FIS swarm (a click on a row picks the halo's pair among ``pairs``, :func:`pair_options`) and
    the main-effect swarm."""
    loss_max = tables.reference_loss + tables.epsilon
    fis = R.swarm_data(tables.result, kind="fis", absolute=s.rsh_abs)
    info = fr.swarm_info(fis, loss_min=tables.min_loss, loss_max=loss_max, kind="fis", absolute=s.rsh_abs,
                         show_outside=s.rsh_outside, box=s.rsh_box,
                         selected=f"{pair[0]} × {pair[1]}" if pair else None)
    st.subheader(metric_title("fisc"), help=metric_help("fis"))
    st.plotly_chart(fr.swarm_figure(info), key=_SWARM, on_select=lambda: on_swarm_select(pairs),
                    selection_mode=("points",), config=chart_config("rashomon-fis-swarm"))
    hidden = (f" {info.n_hidden:,} joint models above L* + ε hidden (tick “Models above L* + ε”)."
              if info.n_hidden else "")
    st.caption(f"{metric_help('fisc')} Colour: loss from {info.cmin:.5g} (lowest in the set) to L* + ε = "
               f"{info.cmax:.5g}. Click a row to see its halo.{hidden}")
    main = R.swarm_data(tables.result, kind="main", absolute=s.rsh_abs)
    minfo = fr.swarm_info(main, loss_min=tables.min_loss, loss_max=loss_max, kind="main", absolute=s.rsh_abs,
                          box=s.rsh_box)
    st.subheader(metric_title("model_reliance"), help=metric_help("model_reliance"))
    st.plotly_chart(fr.swarm_figure(minfo), key="rsh_main", config=chart_config("rashomon-main-effect-swarm"))
    st.caption(f"One dot per single-feature model of the set ({tables.n_in_set:,} of {tables.n_models:,} models "
               "within L* + ε in all), the reference as a star.")


def halo(tables: rd.RashomonTables, nested: dict[float, pd.DataFrame], pair) -> pd.DataFrame:
    """The chosen pair's halo at the page's epsilon and at the nested ones found so far; returns the
    pair's rows of the page's set (for :func:`halo_caption`)."""
    i, j = pair
    pick = lambda t: t[(t["i"] == i) & (t["j"] == j)]  # noqa: E731
    parts = [(tables.epsilon, pick(tables.halos))]
    for _f, t in sorted(nested.items()):
        rows = pick(t)
        if len(rows):
            parts.append((float(t["expected"].iloc[0]), rows))
    st.plotly_chart(fr.halo_figure(fr.halo_info(parts, pair=pair)), key="rsh_halo",
                    config=chart_config("rashomon-halo"))
    return parts[0][1]


def halo_caption(tables: rd.RashomonTables, nested: dict[float, pd.DataFrame], pair, t: pd.DataFrame) -> None:
    """What the halo shows: the quadrant labels, the epsilons drawn, a loss rise below 0 (``t``: the
    pair's rows of the page's set, as :func:`halo` returns them)."""
    i, j = pair
    below = int((t["measured"] < 0).sum())
    eps = ", ".join(f"{float(h['expected'].iloc[0]):.4g} (ε × {f:g})" for f, h in sorted(nested.items()) if len(h))
    st.caption(f"Angle labels: the signs of the {md(i)} and {md(j)} multipliers' moves from 1. Solid: ε = "
               f"{tables.epsilon:.4g}" + (f"; dashed: {eps}" if eps else "") + "."
               + (f" {below} of the 36 joint models have a loss below L* (radius below 0, nearer the centre)."
                  if below else "") + f" {metric_help('halo')}")


def pair_table(tables: rd.RashomonTables) -> None:
    """Reference FIS, min, max over the set and the share of models flipping its sign, per pair."""
    table = R.fis_summary(tables.result)[["pair", "reference", "min", "max", "sign_flip_share", "n_models"]]
    st.dataframe(table, hide_index=True, width="stretch", key="rsh_table", column_config={
        "pair": "pair", "reference": st.column_config.NumberColumn("reference FIS", format="%.4g"),
        "min": st.column_config.NumberColumn("min", format="%.4g"),
        "max": st.column_config.NumberColumn("max", format="%.4g"),
        "sign_flip_share": st.column_config.NumberColumn("flips sign", format="percent",
                                                         help="Share of the pair's models in the set (reference "
                                                              "left out) whose FIS has the opposite sign."),
        "n_models": st.column_config.NumberColumn("models in the set")})


# --------------------------------------------------------------------------- runs


_HIGHER = re.compile(r"acc|auc|f1|precision|recall|score|r2", re.IGNORECASE)


def run_scores(ds) -> list[str]:
    """Numeric per-view scores recorded in the manifest (``View.extra``), losses first."""
    keys = {k for v in ds.views for k, x in v.extra.items()
            if isinstance(x, (int, float)) and not isinstance(x, bool)}
    return sorted(keys, key=lambda k: ("loss" not in k.lower(), k))


def higher_is_better(score: str, direction: str) -> bool:
    """``direction`` "higher" / "lower", or "auto": higher for accuracy-like names (acc, auc, f1, ...)."""
    return direction == "higher" or (direction == "auto" and bool(_HIGHER.search(score)))


def runs(ds, view, s, score: str, labels_key: str, labels) -> None:
    """The empirical Rashomon set of runs by ``score``, and the state's metric across the runs."""
    views = [v for v in ds.views if v.layer == view.layer and v.modality == view.modality and score in v.extra]
    where = f"layer {md(repr(view.layer))}" if view.layer else "this kind of view"  # names from the data: md
    if len(views) < 2:
        st.info(f"Fewer than 2 views of {where} record {md(repr(score))}: no set of runs to compare.")
        return
    higher = higher_is_better(score, s.rsh_run_dir)
    scores = {v.name: float(v.extra[score]) for v in views}
    eps = dict(epsilon=0.0) if s.rsh_run_eps == 0 else dict(epsilon_rate=s.rsh_run_eps)
    eset = R.empirical_rashomon_set(scores, higher_is_better=higher, **eps)
    key = RUN_METRICS[s.rsh_run_metric]
    if s.rsh_run_metric == "nc1" and labels is None:
        st.info("NC1 needs a label column; pick another metric.")
        return
    progress = st.progress(0.0, text=f"{metric_title(key)} of {len(views)} views ...")
    values = []
    for n, v in enumerate(views):
        try:
            values.append(rd.run_metric(s.rsh_run_metric, v, labels_key=labels_key, labels=labels))
        except EmbedLensInputError:
            values.append(np.nan)
        progress.progress((n + 1) / len(views), text=f"{metric_title(key)} of {md(v.label)}")
    progress.empty()
    table = pd.DataFrame({"name": [v.name for v in views], "label": [v.label for v in views],
                          "score": list(scores.values()), "value": values,
                          "member": [v.name in eset.members for v in views]})
    title = metric_title(key)
    st.plotly_chart(fr.runs_figure(fr.runs_info(table, metric_title=title, score_name=score)), key="rsh_runs",
                    config=chart_config("rashomon-runs"))
    member = table[table["member"]]["value"]
    spread = (f" Across the set, {title} ranges from {member.min():.4g} to {member.max():.4g}."
              if member.notna().any() else "")
    st.caption(f"{md(eset.label)}; {md(score)} read as {'higher' if higher else 'lower'} is better"
               f"{' (by its name)' if s.rsh_run_dir == 'auto' else ''}; runs: the {len(views)} views of {where}; "
               f"{title}: {_RUN_NOTES[s.rsh_run_metric]}."
               f"{spread} {metric_help('empirical_rashomon_set')}")
