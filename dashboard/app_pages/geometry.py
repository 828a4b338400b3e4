"""Geometry page: intrinsic dimension, hubness, kNN purity, neural collapse and the H0 barcode."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import EmbedLensInputError
from core.metric_text import metric_help
from core.tables import image_columns
from dashboard import context, data
from dashboard import session as vs
from dashboard.data import geometry as geometry_data
from dashboard.errors import user_errors
from dashboard.literal import md
from dashboard.figures import geometry as fg
from dashboard.figures.export import chart_config
from dashboard.views import geometry as view_geometry, outofcore as view_ooc

ID_NAMES = {"twonn": "TwoNN", "mle": "MLE (Levina-Bickel)", "pca": "PCA (95% variance)"}
# card -> its entry in core.metric_text.METRICS (a comment: Streamlit's magic drew a string here on the page)
HELP = {"id": "intrinsic_dimension", "hub": "hubness", "purity": "knn_purity", "nc1": "nc1"}


def controls(columns: list[str], default: str) -> None:
    """``columns``: every column that may serve as labels; ``default``: the label-like one used
    when the state names none of them ("" for none)."""
    state = vs.current()
    if state.geo_label not in columns and state.geo_label != "":
        vs.update(geo_label=default)  # a link's unknown column was reported at session start
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


def cards(view, s, graph_k, sep, labels) -> None:
    X, fp = view.X, view.fingerprint
    est = geometry_data.intrinsic_dimension(fp, X, s.geo_id_method, s.geo_metric, graph_k)
    hub = geometry_data.hubness(fp, X, min(s.geo_hub_k, graph_k), s.geo_metric, graph_k)
    cols, rows = st.columns(4), []

    def card(i, label, value, *args, **kw) -> None:  # a card, and its row of the CSV download
        rows.append({"view": view.name, "metric": label, "value": value, **({"error": args[0]} if args else {})})
        cols[i].metric(label, value, *args, **kw)

    # the ± as the (arrow-less, grey) delta: in the value, "7.56 ± 0.19" was cut off at 1000 px
    card(0, f"ID · {ID_NAMES[s.geo_id_method]}", f"{est.value:.2f}", f"± {est.error:.2f}", delta_color="off",
         delta_arrow="off", help=metric_help(HELP["id"]))
    card(1, f"Hubness skew (k={hub.k}, {s.geo_metric})", f"{hub.skewness:.2f}", help=metric_help(HELP["hub"]))
    if sep.thornton is None:
        card(2, "kNN purity", "n/a", help=md(labels.reason))
        card(3, "NC1", "n/a", help=md(labels.reason))
        st.caption(f"kNN purity and NC1 not computed: {md(labels.reason)}")
    else:
        card(2, f"kNN purity (k={sep.params['k']}, {s.geo_metric})", f"{sep.knn_purity:.3f}",
             help=metric_help(HELP["purity"]))
        try:
            nc = geometry_data.neural_collapse(fp, X, *labels.args)
        except EmbedLensInputError as exc:
            card(3, "NC1", "n/a", help=md(exc))
            st.caption(f"NC1 not computed: {md(exc)}")
        else:
            card(3, f"NC1 ({len(nc.classes)} classes)", f"{nc.nc1:.3g}", help=metric_help(HELP["nc1"]))
    st.caption(f"{est.label}: {est.n_used:,} distinct points ({est.n_duplicates:,} duplicates, "
               f"{est.n_zero:,} zero rows left out); neighbours: {est.params.get('graph', 'not used')}; "
               f"{est.params['n_bootstrap']} bootstrap resamples.")
    st.download_button("Metrics (CSV)", pd.DataFrame(rows).to_csv(index=False).encode(),
                       f"{view.name}-geometry.csv".replace("/", "_"), "text/csv", icon=":material/download:")


def scale_and_barcode(view, s, graph_k, sep) -> None:
    X, fp = view.X, view.fingerprint
    left, right = st.columns(2)
    with left:
        st.subheader("Intrinsic dimension against scale")
        try:
            curves = geometry_data.id_scale_curves(fp, X, s.geo_metric, graph_k)
            est = geometry_data.intrinsic_dimension(fp, X, s.geo_id_method, s.geo_metric, graph_k)
        except EmbedLensInputError:  # the cards above show the message once
            st.caption("Not drawn: see the intrinsic-dimension message above.")
        else:
            st.plotly_chart(fg.id_scale_figure(fg.id_scale_info(curves, est)), key="geo_scale", config=chart_config("intrinsic-dimension-vs-scale"))
        st.caption("A plateau is the dimension worth reporting; a rise at small scales is noise, a fall "
                   "at large scales curvature or the data's extent.")
    with right:
        st.subheader("Separability (H0 persistence)")
        st.plotly_chart(fg.barcode_figure(fg.barcode_info(sep)), key="geo_barcode", config=chart_config("h0-barcode"))
        text = fg.persistence_caption(sep)
        if sep.thornton is not None:
            text += (f" · Thornton {sep.thornton:.3f} · Fisher ratio {sep.fisher_ratio:.3g}"
                     f" · silhouette {sep.silhouette:.3f} ({s.geo_metric})")
        st.caption(text)


def classes(view, labels) -> None:
    nc = geometry_data.neural_collapse(view.fingerprint, view.X, *labels.args)
    st.subheader(f"Classes of {md(repr(labels.column))}")
    st.caption(f"Trace ratio tr Σ_W / tr Σ_B {nc.trace_ratio:.3g} · NC2 equinorm (CV of mean norms) "
               f"{nc.equinorm:.3f} · equiangularity {nc.equiangularity:.3f} · mean CDNV {nc.cdnv_mean:.3g}"
               + (f" · {nc.n_unlabelled:,} unlabelled rows left out" if nc.n_unlabelled else ""))
    left, right = st.columns(2)
    left.plotly_chart(fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cdnv")), key="geo_cdnv", config=chart_config("cdnv"))
    right.plotly_chart(fg.class_heatmap_figure(fg.class_heatmap_info(nc, "cosine")), key="geo_cos", config=chart_config("class-mean-cosines"))


def depthwise(ds, labels) -> None:
    st.subheader("Depthwise collapse")
    views = [v for v in ds.views if v.layer or v.step is not None]
    if len(views) < 2:
        st.caption("This dataset's views carry no layer or step labels, so there is no trajectory to show.")
        return
    rows = view_geometry.depthwise_rows(views, labels)
    st.plotly_chart(fg.collapse_trajectory_figure(fg.collapse_trajectory_info(rows)), key="geo_depth", config=chart_config("collapse-over-depth"))


def hubs(ds, view, s, graph_k) -> None:
    hub = geometry_data.hubness(view.fingerprint, view.X, min(s.geo_hub_k, graph_k), s.geo_metric, graph_k)
    st.subheader(f"Top hubs (k={hub.k})")
    tied, warning = view_geometry.hub_ties(view.fingerprint, view.X, hub.k, s.geo_metric, graph_k)
    if warning:
        st.warning(warning, icon=":material/warning:")
    if tied == view.n:
        return
    st.caption(f"Anti-hubs (nobody's neighbour): {hub.antihub_share:.1%} of points.")
    table = fg.hubs_table(hub.k_occurrence, hub.top, ds.ids, ds.metadata)
    st.dataframe(table, hide_index=True, width="stretch", key="geo_hubs",
                 column_config={c: st.column_config.ImageColumn(c, width="small") for c in image_columns(table)})


ds, view = context.require_dataset()
st.title("Geometry")
st.caption(f"{md(view.label)} · {view.n:,} items × {view.d:,} dims")
columns = data.label_choices(ds.fingerprint, ds.metadata, ds.id_column)
suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
controls(columns, suggested[0] if suggested else "")
s = vs.current()
graph_k = min(max(s.geo_neighbors, s.geo_hub_k, 20), view.n - 1)
label = s.geo_label if s.geo_label in columns else ""
with user_errors():
    graph = geometry_data.knn(view.fingerprint, view.X, k=graph_k, metric=s.geo_metric)
    labels, sep = view_geometry.labels_and_separability(ds, view, label, columns, k=min(s.geo_neighbors, graph_k),
                                                        metric=s.geo_metric, graph_k=graph_k)
    st.caption(f"kNN graph: {graph.method} ({graph.params['library']}), k={graph.k}, {graph.metric}"
               + (f", sampled recall {graph.params['recall_estimate']:.3f}" if "recall_estimate" in graph.params else ""))
    sections = [lambda: cards(view, s, graph_k, sep, labels), lambda: view_ooc.geometry(ds, view, s, labels.column),
                lambda: scale_and_barcode(view, s, graph_k, sep)]
    sections += [lambda: classes(view, labels), lambda: depthwise(ds, labels)] if labels.column else []
    for show in [*sections, lambda: hubs(ds, view, s, graph_k)]:
        with user_errors():  # one section's bad input leaves the others on the page
            show()
