"""Geometry page: intrinsic dimension, hubness, kNN purity, neural collapse and the H0 barcode."""

from __future__ import annotations

import streamlit as st

from core import EmbedLensInputError
from core.tables import image_columns
from dashboard import context, data
from dashboard import state as vs
from dashboard.errors import user_errors
from dashboard.figures import geometry as fg

ID_NAMES = {"twonn": "TwoNN", "mle": "MLE (Levina-Bickel)", "pca": "PCA (95% variance)"}
HELP = {
    "id": "TwoNN (Facco et al. 2017): slope of -log(1-F(μ)) against log μ, μ = r₂/r₁. MLE (Levina & "
          "Bickel 2004): [mean log(r_k/r_j)]⁻¹, averaged over k = 5..20. PCA: components holding 95% of "
          "the variance. ± is the bootstrap standard error; duplicates are left out.",
    "hub": "Skewness of N_k, how often each point is among others' k nearest neighbours (Radovanović "
           "et al. 2010). Near 0: even; large: a few hubs are everyone's neighbours.",
    "purity": "Mean share of each point's k nearest neighbours that carry its label.",
    "nc1": "NC1 = tr(Σ_W Σ_B⁺)/K (Papyan et al. 2020): within-class spread relative to the spread of "
           "the class means; 0 at full collapse. Computed exactly via the K×K Gram of the class means.",
}


def controls(columns: list[str], default: str) -> None:
    """``columns``: every column that may serve as labels; ``default``: the label-like one used
    when the state names none of them ("" for none)."""
    state = vs.current()
    if state.geo_label not in columns and state.geo_label != "":
        if state.geo_label != vs.ViewState().geo_label:
            st.warning(f"This dataset has no label column {state.geo_label!r}; using {default or 'none'!r}.",
                       icon=":material/link_off:")
        vs.update(geo_label=default)
    cols = st.columns(5)
    cols[0].selectbox("Metric", ["cosine", "euclidean"], **vs.widget_key("geo_metric"),
                      help="For the kNN graph and every metric here; cosine = Euclidean on normalised rows.")
    cols[1].selectbox("Neighbours k (purity)", [5, 10, 15, 20, 30, 50], **vs.widget_key("geo_neighbors"))
    cols[2].selectbox("ID estimator", list(ID_NAMES), format_func=ID_NAMES.get, **vs.widget_key("geo_id_method"))
    cols[3].selectbox("Hubness k", [5, 10, 20, 50], **vs.widget_key("geo_hub_k"))
    if columns:
        options = [*columns, ""]
        cols[4].selectbox("Label column", options, format_func=lambda c: c or "— none —",
                          help="Any column can serve as class labels; label-like ones (at most 100 classes, or "
                               "named classes of 5+ items on average) are listed first.",
                          **vs.widget_key("geo_label", options=options))


def cards(view, s, graph_k, sep) -> None:
    X, fp = view.X, view.fingerprint
    est = data.intrinsic_dimension(fp, X, s.geo_id_method, s.geo_metric, graph_k)
    hub = data.hubness(fp, X, min(s.geo_hub_k, graph_k), s.geo_metric, graph_k)
    cols = st.columns(4)
    cols[0].metric(f"ID · {ID_NAMES[s.geo_id_method]}", f"{est.value:.2f} ± {est.error:.2f}", help=HELP["id"])
    cols[1].metric(f"Hubness skew (k={hub.k}, {s.geo_metric})", f"{hub.skewness:.2f}", help=HELP["hub"])
    if sep.thornton is None:
        cols[2].metric("kNN purity", "n/a", help=LABEL_REASON)
        cols[3].metric("NC1", "n/a", help=LABEL_REASON)
        st.caption(f"kNN purity and NC1 not computed: {LABEL_REASON}")
    else:
        cols[2].metric(f"kNN purity (k={sep.params['k']}, {s.geo_metric})", f"{sep.knn_purity:.3f}",
                       help=HELP["purity"])
        try:
            nc = data.neural_collapse(fp, X, *LABELS)
        except EmbedLensInputError as exc:
            cols[3].metric("NC1", "n/a", help=str(exc))
            st.caption(f"NC1 not computed: {exc}")
        else:
            cols[3].metric(f"NC1 ({len(nc.classes)} classes)", f"{nc.nc1:.3g}", help=HELP["nc1"])
    st.caption(f"{est.label}: {est.n_used:,} distinct points ({est.n_duplicates:,} duplicates, "
               f"{est.n_zero:,} zero rows left out); neighbours: {est.params.get('graph', 'not used')}; "
               f"{est.params['n_bootstrap']} bootstrap resamples.")


def scale_and_barcode(view, s, graph_k, sep) -> None:
    X, fp = view.X, view.fingerprint
    left, right = st.columns(2)
    with left:
        st.subheader("Intrinsic dimension against scale")
        curves = data.id_scale_curves(fp, X, s.geo_metric, graph_k)
        est = data.intrinsic_dimension(fp, X, s.geo_id_method, s.geo_metric, graph_k)
        st.plotly_chart(fg.id_scale_figure(fg.id_scale_info(curves, est)), key="geo_scale")
        st.caption("A plateau is the dimension worth reporting; a rise at small scales is noise, a fall "
                   "at large scales curvature or the data's extent.")
    with right:
        st.subheader("Separability (H0 persistence)")
        st.plotly_chart(fg.barcode_figure(fg.barcode_info(sep)), key="geo_barcode")
        text = (f"Persistent entropy {sep.persistent_entropy_normalized:.3f} (normalised) · share of "
                f"persistence in the top {sep.n_clusters - 1} bars {sep.top_share:.3f}")
        if sep.thornton is not None:
            text += (f" · Thornton {sep.thornton:.3f} · Fisher ratio {sep.fisher_ratio:.3g}"
                     f" · silhouette {sep.silhouette:.3f} ({s.geo_metric})")
        st.caption(text)


def classes(view, label: str) -> None:
    nc = data.neural_collapse(view.fingerprint, view.X, *LABELS)
    st.subheader(f"Classes of {label!r}")
    st.caption(f"Trace ratio tr Σ_W / tr Σ_B {nc.trace_ratio:.3g} · NC2 equinorm (CV of mean norms) "
               f"{nc.equinorm:.3f} · equiangularity {nc.equiangularity:.3f} · mean CDNV {nc.cdnv_mean:.3g}"
               + (f" · {nc.n_unlabelled:,} unlabelled rows left out" if nc.n_unlabelled else ""))
    left, right = st.columns(2)
    left.plotly_chart(fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cdnv")), key="geo_cdnv")
    right.plotly_chart(fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cosine")), key="geo_cos")


def depthwise(ds) -> None:
    st.subheader("Depthwise collapse")
    views = [v for v in ds.views if v.layer or v.step is not None]
    if len(views) < 2:
        st.caption("This dataset's views carry no layer or step labels, so there is no trajectory to show.")
        return
    progress = st.progress(0.0, text="NC1 of every view ...")
    rows = []
    for i, v in enumerate(views):
        nc = data.neural_collapse(v.fingerprint, v.X, *LABELS)
        rows.append({"run": v.run, "layer": v.layer, "step": v.step, "nc1": nc.nc1})
        progress.progress((i + 1) / len(views), text=f"NC1 of {v.label}")
    progress.empty()
    st.plotly_chart(fg.collapse_trajectory_figure(fg.collapse_trajectory_info(rows)), key="geo_depth")


def hubs(ds, view, s, graph_k) -> None:
    hub = data.hubness(view.fingerprint, view.X, min(s.geo_hub_k, graph_k), s.geo_metric, graph_k)
    st.subheader(f"Top hubs (k={hub.k})")
    st.caption(f"Anti-hubs (nobody's neighbour): {hub.antihub_share:.1%} of points.")
    table = fg.hubs_table(hub.k_occurrence, hub.top, ds.ids, ds.metadata)
    st.dataframe(table, hide_index=True, width="stretch", key="geo_hubs",
                 column_config={c: st.column_config.ImageColumn(c, width="small") for c in image_columns(table)})


ds, view = context.require_dataset()
st.title("Geometry")
st.caption(f"{view.label} · {view.n:,} items × {view.d:,} dims")
columns = data.label_choices(ds.fingerprint, ds.metadata, ds.id_column)
suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
controls(columns, suggested[0] if suggested else "")
s = vs.current()
graph_k = min(max(s.geo_neighbors, s.geo_hub_k, 20), view.n - 1)
label = s.geo_label if s.geo_label in columns else ""
LABELS = (f"{ds.fingerprint}:{label}", ds.metadata[label].to_numpy() if label else None)
LABEL_REASON = ("this dataset has no metadata column to use as class labels" if not columns else
                "no label column is chosen (none looks like class labels: 2 to 100 classes, or named classes "
                "of 5+ items); pick one under Label column")
with user_errors():
    graph = data.knn(view.fingerprint, view.X, k=graph_k, metric=s.geo_metric)
    try:
        sep = data.separability(view.fingerprint, view.X, *LABELS, min(s.geo_neighbors, graph_k), s.geo_metric,
                                graph_k)
    except EmbedLensInputError as exc:
        if not label:
            raise
        LABEL_REASON = f"the label column {label!r} cannot serve as labels: {exc}"
        label, LABELS = "", (f"{ds.fingerprint}:", None)
        sep = data.separability(view.fingerprint, view.X, *LABELS, min(s.geo_neighbors, graph_k), s.geo_metric,
                                graph_k)
    st.caption(f"kNN graph: {graph.method} ({graph.params['library']}), k={graph.k}, {graph.metric}"
               + (f", sampled recall {graph.params['recall_estimate']:.3f}" if "recall_estimate" in graph.params else ""))
    sections = [lambda: cards(view, s, graph_k, sep), lambda: scale_and_barcode(view, s, graph_k, sep)]
    sections += [lambda: classes(view, label), lambda: depthwise(ds)] if label else []
    for show in [*sections, lambda: hubs(ds, view, s, graph_k)]:
        with user_errors():  # one section's bad input leaves the others on the page
            show()
