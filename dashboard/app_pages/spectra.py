"""Spectra page: one spectrum per view and every metric read off it; per class, over training, paired."""

from __future__ import annotations

import streamlit as st

from core.metric_text import metric_help, metric_title
from dashboard import context, data
from dashboard import session as vs
from dashboard.data import spectra as spectra_data
from dashboard.errors import user_errors
from dashboard.literal import md
from dashboard.state import spectra_panels
from dashboard.figures import spectra as figs
from dashboard.figures.export import chart_config
from dashboard.views import outofcore as view_ooc, spectra as view_spectra

PANELS = {"class": "Per class", "training": "Over training", "paired": "Paired views"}
TRAJECTORY = ["dse", "dsmi", "vendi", "coding_rate", "rate_reduction", "participation_ratio",
              "effective_rank", "rankme", "pca_95", "alpha"]
SCE_FEATURES = 256  # RFF frequencies on this page (the paper's 2,500 need a 10,000^2 moment matrix)


def parameters(view) -> vs.ViewState:
    with st.expander("Parameters", icon=":material/tune:"):
        c = st.columns(4)
        c[0].selectbox("Vendi kernel", ["cosine", "rbf"], help="RBF bandwidth: the median pairwise distance",
                       **vs.widget_key("spectra_kernel"))
        c[1].number_input("Vendi order q", min_value=0.01, max_value=1000.0, step=0.5, format="%g",
                          **vs.widget_key("spectra_q"))
        c[2].number_input("Coding rate ε²", min_value=1e-6, max_value=1e6, step=0.1, format="%g",
                          **vs.widget_key("spectra_eps2"))
        c[3].number_input("Sample size (n × n steps)", min_value=50, max_value=10000, step=500,
                          help=f"DSE, DSMI and RBF Vendi use at most this many rows (seeded); this view has {view.n:,}",
                          **vs.widget_key("spectra_sample"))
        c = st.columns(4)
        c[0].selectbox("DSE bandwidth rule", ["fixed", "median"], **vs.widget_key("spectra_sigma_rule"),
                       format_func={"fixed": "fixed σ (paper default 10)",
                                    "median": "median distance (deviates from the paper)"}.get)
        c[1].number_input("DSE σ", min_value=1e-6, max_value=1e6, step=1.0, format="%g",
                          disabled=vs.current().spectra_sigma_rule == "median", **vs.widget_key("spectra_sigma"))
        c[2].number_input("DSE diffusion steps t", min_value=1, max_value=64, step=1, **vs.widget_key("spectra_t"))
    return vs.current()


def overview(view, s, sigma) -> None:
    with st.spinner("Computing the covariance and kernel spectra ..."):
        profile = spectra_data.spectral_profile(view.fingerprint, view.X, kernel=s.spectra_kernel, q=s.spectra_q,
                                                eps2=s.spectra_eps2, max_n=s.spectra_sample)
    with st.spinner(f"Diffusion spectral entropy on {min(view.n, s.spectra_sample):,} rows ..."):
        dse = spectra_data.diffusion_entropy(view.fingerprint, view.X, sigma=sigma, t=s.spectra_t, max_n=s.spectra_sample)
    cards = figs.metric_cards(profile, dse, sigma_rule=s.spectra_sigma_rule)
    if profile.message:
        st.info(f"Participation ratio, stable rank, effective rank, PCA-k and α are undefined: {profile.message}.",
                icon=":material/info:")
    cols = st.columns(4)
    for i, card in enumerate(cards):
        cols[i % 4].metric(card.label, card.value, help=card.help)
    st.caption(used := figs.parameters_used(profile, dse))
    st.download_button("Metrics (CSV)", view_spectra.cards_csv(view, cards, used), f"{view.name}-spectra.csv".replace("/", "_"),
                       "text/csv", icon=":material/download:", key="spectra_csv")
    view_ooc.spectra(context.get().dataset, view, s)  # out of core: the cards over every item, on request
    if dse.warning:
        st.warning(f"DSE: {dse.warning}", icon=":material/warning:")
    with st.expander("Formulas and references", icon=":material/functions:"):
        for card in cards:
            st.markdown(f"**{card.label}** — {card.help.replace(chr(10) * 2, ' — ')}")
    c = st.columns(2)  # two charts a row: three were ~180 px wide each at 1000 px, titles and ticks cut off
    c[0].plotly_chart(figs.spectrum_figure(figs.spectrum_info(profile.covariance, profile.powerlaw)), key="spectrum",
                      config=chart_config("spectrum"))
    c[1].plotly_chart(figs.cumulative_figure(figs.cumulative_info(profile.covariance, profile.pca_90,
                                                                  profile.pca_95)), key="cumulative",
                      config=chart_config("cumulative-variance"))
    c = st.columns(2)
    c[0].plotly_chart(figs.hill_figure(figs.hill_info(profile.hill, profile.q, profile.vendi)), key="hill",
                      config=chart_config("hill-curve"))


def class_columns(ds) -> list[str]:
    """Every column that can be picked as classes, the suggested ones first (the rule the
    Geometry page and the Map use: core.tables.label_columns / label_choices)."""
    suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
    rest = [c for c in data.label_choices(ds.fingerprint, ds.metadata, ds.id_column) if c not in suggested]
    return suggested + rest


def class_column(ds) -> str | None:
    columns = class_columns(ds)
    if not columns:
        return None
    return st.selectbox("Class column", columns, help="Any metadata column but the ids and images; the "
                        "suggested label columns (2-100 classes, or a few rows per class) come first",
                        **vs.widget_key("spectra_class", options=columns))


def class_panel(ds, view, s, sigma) -> None:
    column = class_column(ds)
    labels, key = ds.metadata[column], f"{ds.fingerprint}:{column}"
    with st.spinner(f"Per-class spectra and DSMI with {md(repr(column))} ..."):
        table = spectra_data.class_diversity(view.fingerprint, key, view.X, labels, kernel=s.spectra_kernel,
                                             q=s.spectra_q, eps2=s.spectra_eps2, max_n=s.spectra_sample)
        rr = spectra_data.rate_reduction(view.fingerprint, key, view.X, labels, eps2=s.spectra_eps2)
        mi = spectra_data.diffusion_mutual_info(view.fingerprint, key, view.X, labels, sigma=sigma, t=s.spectra_t,
                                                max_n=s.spectra_sample)
    c = st.columns(4)
    c[0].metric(figs.metric_label("rate_reduction", eps2=rr.eps2), figs.fmt(rr.delta_r), help=figs.metric_help("rate_reduction"))
    c[1].metric(metric_title("coding_rate_all"), figs.fmt(rr.r), help=metric_help("coding_rate_all"))
    c[2].metric(metric_title("class_conditional_rate"), figs.fmt(rr.rc), help=metric_help("class_conditional_rate"))
    c[3].metric(figs.metric_label("dsmi", sigma=mi.sigma, t=mi.t, sigma_rule=s.spectra_sigma_rule),
                figs.fmt(mi.value), help=figs.metric_help("dsmi") + f"\n\nAt most log₂ {len(mi.table)} bits here")
    st.plotly_chart(figs.class_bars_figure(figs.class_bars_info(
        table, column, vendi_label=figs.metric_label("vendi", kernel=s.spectra_kernel, q=s.spectra_q),
        coding_label=figs.metric_label("coding_rate", eps2=s.spectra_eps2))), key="class_bars",
        config=chart_config("class-diversity"))
    sampled = table[table["seed"].notna()]
    st.caption(f"DSMI on {mi.n_used:,} of {mi.n:,} rows, {mi.n_draws} random draws per class (seed {mi.seed})"
               + ("; rows with a missing label left out" if rr.n_unlabelled else "")
               + "".join(f"; Vendi of {r['class']}: {int(r['n']):,} of {int(r['n_class']):,} rows, "
                         f"{r['vendi_method']} (seed {int(r['seed'])})" for _, r in sampled.iterrows()))
    if mi.warning:
        st.warning(f"DSMI: {mi.warning}", icon=":material/warning:")
    view_ooc.rate_reduction(ds, view, s, column)
    shown, texts = view_spectra.class_table(
        table, mi.table, column=column, vendi_label=figs.metric_label("vendi", kernel=s.spectra_kernel, q=s.spectra_q),
        coding_label=figs.metric_label("coding_rate", eps2=s.spectra_eps2))
    st.dataframe(shown, hide_index=True, width="stretch", key="class_table",
                 column_config=view_spectra.class_table_config(texts))


def training_panel(ds, s, sigma) -> None:
    c = st.columns(2)
    options = [m for m in TRAJECTORY if class_columns(ds) or m not in ("dsmi", "rate_reduction")]
    metric = c[0].selectbox("Metric", options, format_func=lambda m: figs.METRICS[m].title,
                            **vs.widget_key("spectra_metric", options=options))
    labels = key = None
    if metric in ("dsmi", "rate_reduction"):
        with c[1]:
            column = class_column(ds)
        labels, key = ds.metadata[column], f"{ds.fingerprint}:{column}"
    label = figs.metric_label(metric, kernel=s.spectra_kernel, q=s.spectra_q, eps2=s.spectra_eps2, sigma=s.spectra_sigma,
                              t=s.spectra_t, sigma_rule=s.spectra_sigma_rule)
    view_spectra.trajectory(ds, metric, label, s, sigma, labels=labels, key=key)


def paired_panel(ds, view, s) -> None:
    others = [v.name for v in ds.views if v.modality and v.modality != view.modality]
    names = {v.name: v.label for v in ds.views}
    c = st.columns(2)
    pair = c[0].selectbox("Given the paired view", others, format_func=names.get,
                          **vs.widget_key("spectra_pair", options=others))
    kernel = c[1].radio("Feature map", ["linear", "rff"], horizontal=True, **vs.widget_key("spectra_sce_kernel"),
                        help=f"rff: Gaussian random Fourier features, σ = 3.5, {SCE_FEATURES} frequencies (paper: 2,500)")
    other = ds.view(pair)
    with st.spinner(f"Schur complement of {md(view.label)} given {md(other.label)} ..."):
        sce, cleaned, before, after = spectra_data.schur_entropy(
            view.fingerprint, other.fingerprint, view.X, other.X, kernel=kernel, n_features=SCE_FEATURES, q=s.spectra_q)
    given = other.modality  # the paired view's own modality names its part (not always "text")
    view_spectra.schur_cards(view, other, sce, before, after, kernel=kernel, q=s.spectra_q)
    st.plotly_chart(figs.schur_figure(figs.schur_info(sce, title=f"Spectra of S and D ({kernel})", given=given)),
                    key="schur", config=chart_config("schur-complement-spectra"))
    st.download_button(f"{md(given.capitalize())}-removed embeddings (.npy)",
                       spectra_data.npy_bytes(f"{view.fingerprint}-{pair}-{kernel}", cleaned),
                       file_name=f"{view.name}-given-{pair}-defocused.npy".replace("/", "_"), icon=":material/download:")


ds, view = context.require_dataset()
st.title("Spectra")
st.caption(f"{md(view.label)}: {view.n:,} items × {view.d:,} dims")
state = parameters(view)  # the link was validated once, at session start (context.check_link)
sigma = "median" if state.spectra_sigma_rule == "median" else state.spectra_sigma
with user_errors():
    overview(view, state, sigma)
    available = {**spectra_panels(ds, view), "class": bool(class_columns(ds))}  # the rule links are checked by
    panels = [p for p in PANELS if available[p]]
    if panels:
        panel = st.radio("Panel", panels, format_func=PANELS.get, horizontal=True, label_visibility="collapsed",
                         **vs.widget_key("spectra_panel", options=panels))
        {"class": lambda: class_panel(ds, view, state, sigma), "training": lambda: training_panel(ds, state, sigma),
         "paired": lambda: paired_panel(ds, view, state)}[panel]()
