"""What the pages add for an out-of-core dataset: the banner naming the sample, and "all items" blocks.

An out-of-core dataset reaches the pages as a seeded in-memory sample (:func:`core.sample_dataset`):
every chart and card is computed on the sample, and says so through the banner. Where a metric
is a sum over items, an "All items" block computes it exactly over every item of the full, lazy
views on Dask (:mod:`dashboard.data.outofcore`), on request -- reading a 15 GB view takes minutes --
as a background job with progress and Stop, shared by sessions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from core import Dataset
from core.metric_text import metric_help
from dashboard.data import outofcore as ooc
from dashboard.literal import md
from dashboard.views import job_progress

__all__ = ["banner", "views_table", "all_items", "spectra", "rate_reduction", "geometry", "map_all", "compare"]


def banner(ds: Dataset | None) -> None:
    """One line on every page of an out-of-core dataset: the sample it shows and what is exact."""
    if ds is None or ds.sample is None:
        return
    s = ds.sample
    shows = ("all of them, in memory (no more than the sample size)" if s.method == "all rows" else
             f"a seeded uniform sample of {len(s.rows):,} of them (seed {s.seed}, without replacement)")
    st.info(md(f"Out of core: {ds.name!r} holds {s.n_total:,} items; this page shows {shows}. "
               "Exact over every item (on Dask, under 'All items'): the covariance and cosine "
               "spectra with every metric read off them, coding rate, rate reduction, neural collapse, linear "
               "CKA, Procrustes and CCA; kNN purity from the exact neighbours of a sample among all items."),
            icon=":material/storage:")


def views_table(ds: Dataset):
    """The Data page's table of views: for an out-of-core dataset the full views (every item's ``n``, the
    shard folder, the files' fingerprint) with the sample's rows in ``in sample``."""
    if ds.sample is None:
        return ds.views_table()
    table = ds.sample.full.views_table()
    table.insert(2, "in sample", ds.n)
    return table


def _owner(kind: str) -> str:
    return st.session_state.setdefault("embedlens.ooc.session", uuid.uuid4().hex) + ":" + kind


def all_items(ds: Dataset, kind: str, views: tuple[str, ...], params: dict, render: Callable[[object], None],
              *, what: str = "") -> None:
    """A bordered block: a button computing ``kind`` over every item of ``views``; progress and Stop while
    it runs; ``render(result)`` and how it was computed once done; the message if it failed."""
    if ds.sample is None:
        return
    n = ds.sample.n_total
    key = f"{kind}_{abs(hash(ooc.job_key(kind, views, params))) % 10**8}"
    job = ooc.get(kind, ds, views, params)
    with st.container(border=True):
        st.markdown(f"**All {n:,} items** · {md(what or ooc.EXACT.get(kind, kind))}")
        if job is not None and job.active:
            job_progress(job, _owner(kind), f"ooc_stop_{key}")
            return
        if job is not None and job.finished_ok:
            render(job.result)
            st.caption(f"{ooc.HOW.get(kind, 'Over every item')}; read chunk by chunk on Dask, in {job.elapsed:.0f} s.")
            return
        if job is not None and job.state == "failed":
            st.error(md(job.error.split(": ", 1)[-1]), icon=":material/error:")
        elif job is not None and job.state == "cancelled":
            st.caption("Stopped.")
        if st.button(f"Compute over all {n:,} items", key=f"ooc_go_{key}", icon=":material/play_arrow:",
                     help="Reads every shard once (a 10,000,000 x 384 view takes minutes on 2 cores)."):
            ooc.submit(kind, ds, views, params, owner=_owner(kind))
            st.rerun()


def _cards(cards: list[tuple]) -> None:
    """``(label, value, help)`` or ``(label, value, help, "± se")`` cards, four a row (the ± as the grey,
    arrow-less delta: in the value, "0.020 ± 0.001" was cut off at 1280 px)."""
    cols = st.columns(4)
    for i, (label, value, help_, *delta) in enumerate(cards):
        if delta:
            cols[i % 4].metric(label, value, delta[0], help=help_, delta_color="off", delta_arrow="off")
        else:
            cols[i % 4].metric(label, value, help=help_)


def spectra(ds: Dataset, view, s) -> None:
    """The Spectra page's cards over every item (covariance + kernel spectra from one read)."""
    from dashboard.figures import spectra as figs

    def render(profile) -> None:
        _cards([(c.label, c.value, c.help) for c in figs.metric_cards(profile)])
        st.caption(md(figs.parameters_used(profile, None)))

    all_items(ds, "profile", (view.name,), {"kernel": s.spectra_kernel, "q": float(s.spectra_q),
                                           "eps2": float(s.spectra_eps2), "max_n": int(s.spectra_sample)}, render)


def rate_reduction(ds: Dataset, view, s, column: str) -> None:
    """The Spectra page's class panel over every item: ΔR, R and R_c with the full label column."""
    from dashboard.figures import spectra as figs

    def render(rr) -> None:
        _cards([(figs.metric_label("rate_reduction", eps2=rr.eps2), figs.fmt(rr.delta_r), metric_help("rate_reduction")),
                ("Coding rate (all)", figs.fmt(rr.r), metric_help("coding_rate_all")),
                ("Class-conditional rate", figs.fmt(rr.rc), metric_help("class_conditional_rate"))])

    all_items(ds, "rate_reduction", (view.name,), {"column": column, "eps2": float(s.spectra_eps2)}, render,
              what=f"rate reduction with {column!r}")


def geometry(ds: Dataset, view, s, column: str) -> None:
    """The Geometry page over every item: NC1 (exact) and kNN purity (exact neighbours of a sample)."""
    if not column:
        return

    def render_nc(nc) -> None:
        _cards([(f"NC1 ({len(nc.classes)} classes)", f"{nc.nc1:.3g}", metric_help("nc1")),
                ("Trace ratio tr Σ_W / tr Σ_B", f"{nc.trace_ratio:.3g}", ""),
                ("NC2 equinorm", f"{nc.equinorm:.3f}", ""), ("Equiangularity", f"{nc.equiangularity:.3f}", "")])

    def render_knn(m) -> None:
        lo, hi = m.ci
        _cards([(f"kNN purity (k={m.k}, {m.metric})", f"{m.value:.3f}", metric_help("knn_purity"), f"± {m.se:.3f}")])
        st.caption(md(f"{m.method}: {len(m.rows):,} of {m.n_input:,} items (seed {m.seed}); each item's {m.k} "
                      f"neighbours searched among all items; {m.confidence:.0%} interval [{lo:.3f}, {hi:.3f}] "
                      "(standard error of the stratified mean)."))

    all_items(ds, "neural_collapse", (view.name,), {"column": column}, render_nc, what=f"neural collapse of {column!r}")
    all_items(ds, "knn_purity", (view.name,), {"column": column, "k": int(s.geo_neighbors), "metric": s.geo_metric,
                                              "sample_size": 2000, "seed": 0}, render_knn,
              what=f"kNN purity of {column!r}, neighbours among all items")


def map_all(ds: Dataset, view, s) -> None:
    """The Map page over every item: UMAP fitted on the page's sample (the same rows, seed and UMAP settings),
    every other item placed by ``UMAP.transform`` in Dask tasks; drawn as the density of all items with a
    seeded sample of them on top, coloured by the page's colour when it is a metadata column."""
    if ds.sample is None:
        return
    import numpy as np

    from dashboard import data, map_view
    from dashboard.figures.export import chart_config
    from dashboard.figures.projection import MapColor, projection_figure, projection_info

    def render(m) -> None:
        full = ds.sample.full
        kinds = data.map_column_kinds(ds.fingerprint, ds.metadata)
        choice, cats = s.map_color or map_view.auto_color(ds, kinds=kinds), kinds[0]
        color = (MapColor("categorical", choice, full.metadata[choice].to_numpy(dtype=object))
                 if choice in cats and choice in full.metadata.columns else None)
        info = projection_info(m.coordinates, np.arange(m.n_input), color=color, render="density",
                               sample_size=min(20_000, m.n_input), seed=0, axis_title="UMAP",
                               title=f"{view.label}: all {m.n_input:,} items")
        st.plotly_chart(projection_figure(info, height=560), key="ooc_map", config=chart_config("map-all-items"))
        st.caption(md(f"{m.label}; n_neighbors {m.params['n_neighbors']}, min_dist {m.params['min_dist']}, "
                      f"{m.params['metric']}; {m.params['chunks']} transform tasks of {m.params['chunk_rows']:,} "
                      f"rows; {info.sample_note}."))

    all_items(ds, "umap_extend", (view.name,),
              {"sample_size": len(ds.sample.rows), "seed": int(ds.sample.seed), "n_neighbors": int(s.map_neighbors),
               "min_dist": float(s.map_min_dist), "metric": s.map_metric}, render,
              what="UMAP of every item: fitted on this sample, every other item placed by transform")


def compare(ds: Dataset, a, b, s) -> None:
    """The Compare page's pair over every item: CKA (the page's kernel and estimator; RBF on its declared
    sample), Procrustes (angular) and CCA exactly, mutual kNN from the exact neighbours of a seeded sample."""
    if ds.sample is None:
        return
    from dashboard.views import compare as view_compare

    def render(r) -> None:
        m = r["mutual_knn"]
        cards = [view_compare._card(r["cka"], "cka", view_compare._used(r["cka"])),
                 view_compare._card(r["procrustes"].value, "procrustes", view_compare._used(r["procrustes"].value)),
                 view_compare._card(r["cca"], "cca", view_compare._used(r["cca"]))]
        _cards([(md(c.label), c.value, c.help) for c in cards]
               + [(f"Mutual kNN (k={m.k}, {m.metric})", f"{m.value:.3f}", metric_help("mutual_knn"), f"± {m.se:.3f}")])
        lo, hi = m.ci
        st.caption(md(" · ".join(c.note for c in cards) + f" · mutual kNN: {m.method}, {len(m.rows):,} of "
                      f"{m.n_input:,} items (seed {m.seed}), each item's neighbours searched among all items in both "
                      f"views; {m.confidence:.0%} interval [{lo:.3f}, {hi:.3f}]"))

    all_items(ds, "comparisons", (a.name, b.name),
              {"kernel": s.cmp_cka_kernel, "debiased": bool(s.cmp_cka_debiased), "max_n": int(s.cmp_sample),
               "seed": int(s.cmp_seed), "k": int(s.cmp_k), "metric": s.cmp_metric, "knn_sample": 2000}, render,
              what="A and B compared over every item")
