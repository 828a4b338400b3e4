"""Rashomon page: feature interactions over a Rashomon set of models (FIS swarm, halo, table per
pair) and the empirical Rashomon set of runs (issue 13)."""

from __future__ import annotations

import streamlit as st

from core.metric_text import metric_help, metric_title
from dashboard import context
from dashboard import session as vs
from dashboard.errors import user_errors
from dashboard.literal import md
from dashboard.views import job_progress
from dashboard.views import rashomon as vr

RUN_DIRS = {"auto": "auto (by its name)", "lower": "lower is better", "higher": "higher is better"}
RUN_NAMES = {"effective_rank": "effective rank", "vendi": "Vendi (cosine, q = 1)", "twonn": "TwoNN ID (cosine)",
             "nc1": "NC1 (target classes)"}


def controls(ds, columns: list[str], default: str) -> tuple[str, list[str]]:
    """The model's sources and settings; returns the target used and the numeric feature columns."""
    state = vs.current()
    if state.rsh_target and state.rsh_target not in columns:
        vr.link_warning(f"This dataset has no label column {state.rsh_target!r}; using {default!r}.")
        vs.update(rsh_target="")
    options = [default, *[c for c in columns if c != default]]
    # two rows of two: in one row of four, "metadata" went behind the segmented control's edge at 1000 px
    c = [*st.columns(2), *st.columns(2)]
    target = c[0].selectbox("Target (labels)", options, help="The column the reference model predicts.",
                            **vs.widget_key("rsh_target", options=options))
    c[1].selectbox("Reference model", list(vr.MODELS), format_func=vr.MODELS.get, **vs.widget_key("rsh_model"),
                   help="Logistic regression (each candidate model is one matrix product) or a small MLP "
                        "(its forward pass from the weights: a few times slower).")
    numeric = vr.feature_columns(ds, target)
    for note in vr.link_notes(vs.current(), numeric):
        vr.link_warning(note)
    c[2].segmented_control("Features", ["pcs", "metadata"], required=True, **vs.widget_key("rsh_source"),
                           format_func={"pcs": "PCs of the view", "metadata": "metadata"}.get)
    if vs.current().rsh_source == "pcs":
        c[3].slider("Principal components p", 2, 12, help="The top p principal components of the view (PCA "
                    "fitted on every row).", **vs.widget_key("rsh_p"))
    else:
        c[3].multiselect("Feature columns", numeric, placeholder="all numeric columns",
                         **vr.tuple_widget("rsh_features", numeric))
    with st.expander("Epsilon, permutations, seed, rows", icon=":material/tune:"):
        e = st.columns(4)
        e[0].number_input("ε rate (× L*)", 0.001, 10.0, step=0.05, format="%.3f", **vs.widget_key("rsh_eps_rate"))
        e[1].number_input("Absolute ε", 0.0, 1e6, step=0.01, format="%.4f", **vs.widget_key("rsh_epsilon"),
                          help="0: use the rate. Overrides the rate otherwise; needed when L* = 0.")
        e[2].selectbox("Permutations / feature", [5, 10, 30, 100], **vs.widget_key("rsh_perms"))
        e[3].selectbox("Permutations / pair", [10, 30, 100, 300], **vs.widget_key("rsh_pair_perms"))
        f = st.columns(3)
        f[0].number_input("Seed", 0, 2**31 - 1, step=1, **vs.widget_key("rsh_seed"))
        f[1].number_input("Most rows", 50, 100_000, step=500, **vs.widget_key("rsh_rows"),
                          help="Above this many rows, a seeded sample (declared under the charts).")
        f[2].multiselect("Nested halos (× ε)", list(vr.NESTED), placeholder="none",
                         **vr.tuple_widget("rsh_nested", vr.NESTED),
                         help="Each is its own Rashomon set at that epsilon (computed and cached apart).")
    return target, numeric


def interactions(ds, view, target: str, numeric: list[str]) -> None:
    s = vs.current()
    inputs = vr.model_inputs(ds, view, s, target, numeric)
    tables, nested, job = vr.compute(inputs, s)
    if job is not None:
        if job.active:
            job_progress(job, vr.owner(), f"rsh_stop_{job.key[:8]}")
        else:
            st.error(md(f"{job.label} {job.state}: {job.error or job.message}"), icon=":material/error:")
            st.button("Run again", on_click=vr.retry, icon=":material/refresh:")
    if tables is None:
        return
    st.caption(vr.used_caption(inputs, tables, s, ds.n, target))
    pairs = vr.pair_options(tables)
    pair = vr.current_pair(s, pairs)
    if s.rsh_pair and pair is not None and set(s.rsh_pair) != set(pair):
        vr.link_warning(f"The link's pair {' × '.join(s.rsh_pair)} is not in this set; showing {' × '.join(pair)}.")
    if pair is not None and tuple(s.rsh_pair) != pair:
        vs.update(rsh_pair=pair)
    t = st.columns(3)
    t[0].checkbox("|FIS|", **vs.widget_key("rsh_abs"), help="Absolute values in both swarms.")
    t[1].checkbox("Box overlay", **vs.widget_key("rsh_box"))
    t[2].checkbox("Models above L* + ε", **vs.widget_key("rsh_outside"),
                  help="The joint models of a pair whose loss exceeds L* + ε: outside the set, kept for the halo.")
    vr.swarms(tables, vs.current(), pairs, pair)
    if pair is None:
        st.info("The set keeps fewer than 2 features (the loss does not move with the others): no pairs.")
        return
    st.subheader(metric_title("halo"), help=metric_help("halo"))
    left, right = st.columns([3, 2], gap="medium")
    with right:
        st.selectbox("Pair", pairs, format_func=lambda q: f"{q[0]} × {q[1]}",
                     **vs.widget_key("rsh_pair", options=pairs))
    with left:
        shown = vr.halo(tables, nested, pair)
    with right:
        vr.halo_caption(tables, nested, pair, shown)
    st.subheader("Per pair", help=metric_help("fisc"))
    vr.pair_table(tables)


def runs(ds, view, target: str) -> None:
    st.header(metric_title("empirical_rashomon_set"), help=metric_help("empirical_rashomon_set"))
    scores = vr.run_scores(ds)
    if not scores:
        st.info("No view of this dataset records a loss or accuracy (manifest `extra`), so there is no set of "
                "equally good runs to compare.")
        return
    state = vs.current()
    if state.rsh_run_score and state.rsh_run_score not in scores:
        vr.link_warning(f"No view records {state.rsh_run_score!r}; using {scores[0]!r}.")
        vs.update(rsh_run_score="")
    c = st.columns(4)
    score = c[0].selectbox("Recorded score", scores, **vs.widget_key("rsh_run_score", options=scores))
    c[1].selectbox("Better", list(RUN_DIRS), format_func=RUN_DIRS.get, **vs.widget_key("rsh_run_dir"))
    c[2].number_input("ε rate (runs)", 0.0, 10.0, step=0.05, format="%.3f", **vs.widget_key("rsh_run_eps"),
                      help="Loss: within rate × best loss; accuracy: within rate × (1 − best accuracy). "
                           "0: ties only.")
    c[3].selectbox("Metric", list(RUN_NAMES), format_func=RUN_NAMES.get, **vs.widget_key("rsh_run_metric"))
    labels = ds.metadata[target].to_numpy() if target else None
    vr.runs(ds, view, vs.current(), score, f"{ds.fingerprint}:{target}", labels)


ds, view = context.require_dataset()
st.title("Rashomon")
st.caption(f"{md(view.label)} · {view.n:,} items · {metric_help('rashomon_set')}")
columns, default = vr.targets(ds)
target = ""
if not columns:
    st.info("This dataset has no metadata column to use as the target (a label column), so there is no model "
            "to build a Rashomon set around. Add a metadata file with a label column.")
else:
    with user_errors():
        target, numeric = controls(ds, columns, default)
        interactions(ds, view, target, numeric)
with user_errors():
    runs(ds, view, target)
