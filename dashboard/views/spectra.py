"""The Spectra page's logic: trajectories over training (one value per view, drawn as it comes
in) and the cards of the paired-views panel.

Cheap metrics are computed in the script run, one view after another, with a progress bar;
DSE and DSMI (an n x n kernel per view) come from a background job and the disk cache
(:func:`dashboard.data.spectra.trajectory_values`), with a covariance metric drawn at once.
"""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from core.metric_text import metric_help, metric_title
from dashboard.data import spectra as spectra_data
from dashboard.figures import spectra as figs
from dashboard.figures.export import chart_config
from dashboard.literal import md

__all__ = ["trajectory", "schur_cards", "class_table", "class_table_config", "cards_csv"]


def trajectory(ds, metric: str, label: str, s, sigma, labels=None, key: str | None = None) -> None:
    """Draw ``metric`` for every view with a training step (``s``: the view state)."""
    views = [v for v in ds.views if v.step is not None]
    if metric in spectra_data.EXPENSIVE_METRICS:
        owner = st.session_state.setdefault("embedlens.spectra.session", uuid.uuid4().hex)
        kw = dict(labels=labels, labels_key=key or "", sigma=sigma, t=s.spectra_t, max_n=s.spectra_sample,
                  owner=owner, label=label)
        values, job = spectra_data.trajectory_values(metric, views, **kw)
        if job is None:
            _chart(views, values, label, metric)
        else:
            _cheap(views, metric)
            _expensive(metric, views, kw, label)
        sampled = [v for v in views if v.n > s.spectra_sample]
        if sampled:
            st.caption(f"{figs.METRICS[metric].title}: {s.spectra_sample:,} rows of each of the {len(sampled)} views "
                       f"with more (uniform sample without replacement, seed 0); every row of the others.")
        return
    bar, rows = st.progress(0.0, text=f"{md(label)} for {len(views)} views ..."), []
    for i, v in enumerate(views):
        value = spectra_data.view_metric(metric, v, labels=labels, labels_key=key or "", kernel=s.spectra_kernel,
                                         q=s.spectra_q, eps2=s.spectra_eps2, sigma=sigma, t=s.spectra_t,
                                         max_n=s.spectra_sample)
        rows.append({"run": v.run, "layer": v.layer, "step": v.step, "value": value})
        bar.progress((i + 1) / len(views), text=f"{md(label)}: {md(v.label)}")
    bar.empty()
    _chart(views, {v.name: r["value"] for v, r in zip(views, rows, strict=True)}, label, metric)


def _chart(views, values: dict, label: str, metric: str, key: str = "trajectory") -> None:
    """One line per layer and run; views without a value yet are gaps (NaN)."""
    rows = [{"run": v.run, "layer": v.layer, "step": v.step, "value": values.get(v.name, float("nan"))}
            for v in views]
    st.plotly_chart(figs.trajectory_figure(figs.trajectory_info(rows, label=label)), key=key, config=chart_config(key))
    st.caption("One line per layer (colour) and run (dash). " + figs.metric_help(metric).replace("\n\n", " — "))


def _cheap(views, metric: str) -> None:
    cheap = spectra_data.CHEAP_METRIC
    values = {v.name: spectra_data.cheap_metric(v.fingerprint, v.X, cheap) for v in views}
    st.caption(f"{figs.METRICS[metric].title} needs an n × n kernel per view: it is computed in the background "
               f"and kept on disk; meanwhile, {figs.METRICS[cheap].title} (from the covariance spectrum):")
    _chart(views, values, figs.metric_label(cheap), cheap, key="trajectory_cheap")


@st.fragment(run_every=1.0)
def _expensive(metric: str, views, kw: dict, label: str) -> None:
    values, job = spectra_data.trajectory_values(metric, views, **kw)
    if job is None or not job.active:
        if job is not None and job.state == "failed":
            st.error(md(f"{job.label} failed: {job.error}"), icon=":material/error:")
            return
        st.rerun()
    st.progress(job.fraction, text=f"{md(job.label)}: {md(job.message)} · {job.elapsed:.0f} s "
                                   f"({len(values)} of {len(views)} views done)")
    _chart(views, values, label, metric)


def schur_cards(view, other, sce, before, after, *, kernel: str, q: float) -> None:
    """The four cards of ``view`` given ``other`` (SCE, unexplained trace, explained part, defocused Vendi)."""
    c = st.columns(4)
    given = other.modality  # the paired view's own modality names its part (not always "text")
    names = dict(view=md(view.label), other=md(other.label), given=md(given))  # data: shown as written
    c[0].metric(f"{figs.metric_label('sce', kernel=kernel)} of {md(view.label)} | {md(other.label)}",
                figs.fmt(sce.score),
                help=figs.metric_help("sce") + f"\n\nHere I = {md(view.label)} (this view), T = {md(other.label)} (given)")
    c[1].metric(metric_title("sce_unexplained"), figs.fmt(sce.trace_s), help=metric_help("sce_unexplained", **names))
    c[2].metric(metric_title("sce_explained", given=md(given.capitalize())), figs.fmt(sce.text_score),
                help=metric_help("sce_explained", **names))
    c[3].metric(f"{figs.metric_label('vendi', kernel='cosine', q=q)}, {md(given)} removed", figs.fmt(after),
                delta=f"{after - before:+.3g} vs {figs.fmt(before)}", delta_color="off",
                help=metric_help("defocused_vendi", **names))
    st.caption(f"{sce.params['n']:,} pairs · {md(given)} inverse: {sce.params.get('inverse', 'exact pseudo-inverse')}"
               + (f" · {sce.params['n_features']:,} random Fourier frequencies (seed {sce.params['seed']})"
                  if kernel == "rff" else ""))
    if sce.params.get("warning"):
        st.warning(sce.params["warning"], icon=":material/warning:")


def class_table(table: pd.DataFrame, mi_table: pd.DataFrame, *, column: str, vendi_label: str,
                coding_label: str) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
    """The per-class table as shown: :func:`core.class_diversity`'s ``table`` joined with the DSMI
    terms, less the columns that say nothing here, and a readable header + help for each column.

    ``seed`` is left out when no class was sampled (all None), ``n_class`` when it equals ``n``
    in every row (then ``n`` is the class size); the values themselves are not changed.

    Returns
    -------
    (DataFrame, {column: (header, help)})
    """
    out = table.merge(mi_table[["class", "dse_class", "dse_random", "term"]], on="class", how="left")
    sampled = out["seed"].notna().any()
    if not sampled:
        out = out.drop(columns="seed")
    if (out["n"] == out["n_class"]).all():
        out = out.drop(columns="n_class")
        n_text = ("Rows", "Rows of the class")
    else:
        n_text = ("Rows used (Vendi)", "Rows the Vendi score used: a seeded sample of a larger class "
                                       "(see the caption above), else every row")
    texts = {
        "class": (column, f"The class: a value of the column {md(repr(column))}"),
        "n": n_text,
        "n_class": ("Rows in class", "Rows of the class (the coding rate uses every non-zero one)"),
        "vendi": (vendi_label, "Vendi score of the class's rows: the effective number of distinct items "
                               "(1 = all alike, n = all orthogonal)"),
        "coding_rate": (coding_label, "Coding rate of the class's rows: the bits to encode them up to "
                                      "distortion ε² (larger = more spread)"),
        "vendi_method": ("Vendi spectrum", "How the class's kernel spectrum was computed"),
        "seed": ("Sample seed", "Seed of the rows drawn for the Vendi score (empty: every row used)"),
        "dse_class": ("DSE of the class (bits)", "Diffusion spectral entropy of the class's rows"),
        "dse_random": ("DSE of random rows (bits)", "Mean DSE of random subsets of the class's size, "
                                                    "drawn from all rows (the DSMI baseline)"),
        "term": ("DSMI term (bits)", "p(class) × [DSE of random rows − DSE of the class]; the terms add up "
                                     "to the DSMI card"),
    }
    return out, {c: texts[c] for c in out.columns if c in texts}


def class_table_config(texts: dict[str, tuple[str, str]]) -> dict:
    """``st.dataframe`` column_config from :func:`class_table`'s headers and help texts."""
    return {c: st.column_config.Column(label, help=help_) for c, (label, help_) in texts.items()}


def cards_csv(view, cards, parameters: str) -> bytes:
    """The metric cards of ``view`` as CSV (one row per card: view, metric, value, parameters), for
    the page's download button: cards are not a table, so they have no dataframe download."""
    rows = [{"view": view.name, "metric": c.label, "value": c.value, "parameters": parameters} for c in cards]
    return pd.DataFrame(rows).to_csv(index=False).encode()
