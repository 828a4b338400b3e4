"""Compare page: two views (CKA, mutual kNN, Procrustes, RSA, unit matching), the matrix of a comparison
metric over every view (click a cell to compare that pair), what moved between the two, trajectories."""

from __future__ import annotations

import streamlit as st

from core.tables import image_columns
from dashboard import context, data
from dashboard import session as vs
from dashboard.errors import user_errors
from dashboard.figures import compare as fc
from dashboard.figures.export import chart_config
from dashboard.literal import md
from dashboard.state import COMPARISON_METRICS
from dashboard.views import compare as view_compare
from dashboard.views import job_progress
from dashboard.views import outofcore as view_ooc

MAPS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
PANELS = {"units": "Units", "matrix": "Every pair", "moved": "What moved", "trajectories": "Trajectories"}
ORDERS = {"run": "run, layer, step", "layer": "layer, run, step", "step": "step, run, layer"}


def controls(ds, view) -> None:
    labels = {v.name: v.label for v in ds.views}
    auto = view_compare.default_second(ds, view)
    others = ["", *[n for n in ds.view_names if n != view.name]]
    c = st.columns([2, 1, 1])  # two rows: in one row of five, at 1000 px the toggle and k were cut off
    c[0].selectbox("Compare with (B)", others, format_func=lambda n: f"auto: {auto.label}" if n == "" else labels[n],
                   help="The sidebar's view is A. auto: the same layer and step of the next run, else this "
                        "line's final checkpoint.", **vs.widget_key("cmp_view2", options=others))
    c[1].selectbox("CKA kernel", ["linear", "rbf"], help="RBF: bandwidth 0.5 x the median distance; sampled "
                   "above the sample size.", **vs.widget_key("cmp_cka_kernel"))
    c[2].toggle("Debiased", help="CKA with the unbiased HSIC estimator (Song et al. 2012): matters when n is not "
                "much larger than the dimension.", **vs.widget_key("cmp_cka_debiased"))
    c = st.columns([1, 1, 2])
    c[0].selectbox("k", [5, 10, 15, 20, 30, 50], help="Neighbours of the mutual kNN alignment and of what moved.",
                   **vs.widget_key("cmp_k"))
    c[1].selectbox("Distance", ["cosine", "euclidean"], help="Of the kNN graphs and of RSA's distance matrices.",
                   **vs.widget_key("cmp_metric"))
    p = c[2].expander("Sampling (RSA, RBF CKA)", icon=":material/tune:").columns(2)
    p[0].number_input("Sample size", 50, 20000, step=50, help="Above this many rows the n x n computations run on "
                      "a seeded uniform subsample (declared beside each number).", **vs.widget_key("cmp_sample"))
    p[1].number_input("Seed", 0, 2**31 - 1, step=1, **vs.widget_key("cmp_seed"))


def units(a, b) -> None:
    match = view_compare.unit_match(a, b)
    names = (a.label, b.label)
    st.plotly_chart(fc.unit_heatmap_figure(fc.unit_heatmap_info(match, names)), key="cmp_units",
                    config=chart_config("unit-correlations"))
    curve = fc.match_curve_info(match, names)
    left, right = st.columns(2)
    left.plotly_chart(fc.match_curve_figure(curve), key="cmp_curve", config=chart_config("matched-correlations"))
    right.caption(f"Correlation of every unit (dimension) of A with every unit of B over {a.n:,} items (column "
                  f"z-scores); right: in the matching's order, matched pairs on the diagonal. One-to-one matching "
                  f"by scipy's linear_sum_assignment; semi-matching: each unit's best. "
                  f"{md(curve.note) + '. ' if curve.note else ''}Low matched correlations with a high CKA mean the same "
                  "subspace in another basis (Li et al. 2016).")


def pair_matrix(ds, a, b) -> None:
    c = st.columns(2)
    c[0].selectbox("Metric", list(COMPARISON_METRICS), format_func=view_compare.METRIC_NAMES.get,
                   **vs.widget_key("cmp_matrix_metric"))
    c[1].selectbox("Order", list(ORDERS), format_func=ORDERS.get, **vs.widget_key("cmp_order"))
    s = vs.current()
    result = view_compare.matrix(ds, s)
    order = view_compare.view_order(ds.views, s.cmp_order)
    info = fc.pair_matrix_info(result.values, ds.view_names, [v.label for v in ds.views], order=order,
                               title=f"{result.label} over {len(ds.views)} views", chosen=(a.name, b.name),
                               higher_is_similar=result.higher_is_similar)
    st.plotly_chart(fc.pair_matrix_figure(info), key=view_compare.MATRIX_KEY, on_select=view_compare.on_matrix_select,
                    selection_mode=("points",), config=chart_config(f"{result.metric}-matrix"), theme=None)
    p = dict(result.params)
    used = view_compare.used_text(result.label, n=p["n"], n_input=p["n_input"], method=p["method"], seed=p["seed"],
                                  params={k: v for k, v in p.items() if k not in ("kernel", "debiased")})
    st.caption(f"{md(used)}. Click a cell to compare that pair above "
               "(row: A, column: B); the outlined cell is the pair compared now. Kept on disk: a reopened link "
               "draws at once.")


def what_moved(ds, a, b) -> None:
    c = st.columns([2, 2, 3])
    c[0].selectbox("Maps", list(MAPS), format_func=MAPS.get, help="The Map page's aligned projection (its "
                   "parameters and cache); PCA is instant.", **vs.widget_key("cmp_moved_method"))
    c[1].selectbox("Listed movers", [10, 25, 50, 100, 250, 500], **vs.widget_key("cmp_moved_top"))
    s = vs.current()
    knn, change, top = view_compare.movers(a, b, s)
    if c[2].button("Open movers on the Map", icon=":material/scatter_plot:", key="cmp_open_map",
                   help="Selects these items on the Map page, A and B side by side."):
        view_compare.open_on_map(ds, b, top, s)
    maps, job = view_compare.moved_maps(ds, a, b, s)
    if job is not None and job.active:
        job_progress(job)
        st.caption(f"Showing PCA while {md(job.label)} is computed.")
    elif job is not None:
        st.caption(md(f"{job.label} {job.state}: {job.error or job.message}") + "; showing PCA.")
    info = fc.movers_map_info(maps[0].coords, maps[1].coords, change, top, titles=(f"A: {a.label}", f"B: {b.label}"),
                              k=knn.k, metric=knn.metric)
    st.plotly_chart(fc.movers_map_figure(info), key="cmp_moved_maps", config=chart_config("what-moved"))
    tied = int((change == change[top[-1]]).sum()) if len(top) else 0
    st.caption(f"moved = 1 − the share of an item's {knn.k} nearest neighbours ({knn.metric}) that are its "
               f"neighbours in both views (per-item mutual kNN); mean {change.mean():.3f}; "
               f"{int((change == 1).sum()):,} items share none. Maps: {md(maps[0].label)}, B's rotated onto A's "
               "(Procrustes)."
               + (f" {tied:,} items tie at the last listed value; the lower rows are listed." if tied > 1 else ""))
    table = fc.movers_table(change, knn.per_item, top, ds.ids, ds.metadata, k=knn.k)
    images = {col: st.column_config.ImageColumn(col, width="small") for col in image_columns(table)}
    st.dataframe(table, hide_index=True, width="stretch", key="cmp_movers", column_config=images)


def trajectories(ds) -> None:
    steps = [v for v in ds.views if v.step is not None]
    if len(steps) < 2:
        st.caption("This dataset's views carry no training steps (fewer than two views have one): no "
                   "trajectory to draw.")
        return
    c = st.columns(3)
    view_compare.trajectory_metrics_input(c[0])
    c[1].selectbox("Compared with the reference by", ["", *COMPARISON_METRICS],
                   format_func=lambda m: "— none —" if m == "" else view_compare.METRIC_NAMES[m],
                   **vs.widget_key("cmp_traj_compare"))
    refs = ["", *ds.view_names]
    labels = {v.name: v.label for v in ds.views}
    c[2].selectbox("Reference view", refs,
                   format_func=lambda n: "each line's final checkpoint" if n == "" else labels[n],
                   **vs.widget_key("cmp_reference", options=refs))
    suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
    frame = view_compare.trajectory_frame(ds, vs.current(), suggested[0] if suggested else "")
    if frame is None or not len(frame):
        st.caption("Pick a metric to draw.")
        return
    st.plotly_chart(fc.trajectory_figure(fc.trajectory_info(frame)), key="cmp_traj", config=chart_config("trajectories"))
    st.caption("One line per run / layer; each panel names its metric and variant.")


ds, view = context.require_dataset()
st.title("Compare")
if len(ds.views) < 2:
    st.info(f"Dataset {md(repr(ds.name))} has one view ({md(view.label)}), so there is nothing to compare it with. "
            "Compare needs two or more views of the same items: runs, layers, checkpoints or modalities "
            "(one file per view in the dataset's folder, or listed in its embedlens.toml).",
            icon=":material/info:")
    st.stop()
controls(ds, view)
b = view_compare.second_view(ds, view, vs.current())
st.caption(f"A: {md(view.label)} ({view.d:,} dims) · B: {md(b.label)} ({b.d:,} dims) · {view.n:,} items")
with user_errors():  # the cards' bad input leaves the section below on the page
    view_compare.show_cards(view, b, vs.current())
    view_ooc.compare(ds, view, b, vs.current())  # out of core: the pair over every item, on request
# one section at a time: each computes its own (the matrix over every view, maps, trajectories)
st.segmented_control("Show", list(PANELS), format_func=PANELS.get, required=True, **vs.widget_key("cmp_panel"))
with user_errors():
    {"units": lambda: units(view, b), "matrix": lambda: pair_matrix(ds, view, b),
     "moved": lambda: what_moved(ds, view, b), "trajectories": lambda: trajectories(ds)}[vs.current().cmp_panel]()
