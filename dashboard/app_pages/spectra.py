"""Spectra page: one spectrum per view and every metric read off it; per class, over training, paired."""

from __future__ import annotations

import uuid

import streamlit as st

from core.tables import categorical_columns
from dashboard import context, data
from dashboard import state as vs
from dashboard.errors import user_errors
from dashboard.figures import spectra as figs

PANELS = {"class": "Per class", "training": "Over training", "paired": "Paired views"}
TRAJECTORY = ["dse", "dsmi", "vendi", "coding_rate", "rate_reduction", "participation_ratio",
              "effective_rank", "rankme", "pca_95", "alpha"]
SCE_FEATURES = 256  # RFF frequencies on this page (the paper's 2,500 need a 10,000^2 moment matrix)


def check_link_numbers() -> vs.ViewState:
    state, warnings = vs.current().with_valid_bounds(prefix="spectra_")
    if warnings:
        vs.update(**{k: v for k, v in vars(state).items() if k.startswith("spectra_")})
        for message in warnings:
            vs.add_warning(message)
            st.warning(message, icon=":material/link_off:")
    return vs.current()


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
        profile = data.spectral_profile(view.fingerprint, view.X, kernel=s.spectra_kernel, q=s.spectra_q,
                                        eps2=s.spectra_eps2, max_n=s.spectra_sample)
    with st.spinner(f"Diffusion spectral entropy on {min(view.n, s.spectra_sample):,} rows ..."):
        dse = data.diffusion_entropy(view.fingerprint, view.X, sigma=sigma, t=s.spectra_t, max_n=s.spectra_sample)
    cards = figs.metric_cards(profile, dse, sigma_rule=s.spectra_sigma_rule)
    if profile.message:
        st.info(f"Participation ratio, effective rank, PCA-k and α are undefined: {profile.message}.",
                icon=":material/info:")
    cols = st.columns(4)
    for i, card in enumerate(cards):
        cols[i % 4].metric(card.label, card.value, help=card.help)
    st.caption(figs.parameters_used(profile, dse))
    with st.expander("Formulas and references", icon=":material/functions:"):
        for card in cards:
            st.markdown(f"**{card.label}** — {card.help.replace(chr(10) * 2, ' — ')}")
    # two charts a row: three were ~180 px wide each on a 1000 px window, titles and ticks cut off
    c = st.columns(2)
    c[0].plotly_chart(figs.spectrum_figure(figs.spectrum_info(profile.covariance, profile.powerlaw)), key="spectrum")
    c[1].plotly_chart(figs.cumulative_figure(figs.cumulative_info(profile.covariance, profile.pca_90,
                                                                  profile.pca_95)), key="cumulative")
    c = st.columns(2)
    c[0].plotly_chart(figs.hill_figure(figs.hill_info(profile.hill, profile.q, profile.vendi)), key="hill")


def class_column(ds) -> str | None:
    columns = categorical_columns(ds.metadata)
    if not columns:
        return None
    return st.selectbox("Class column", columns, help="Any categorical metadata column",
                        **vs.widget_key("spectra_class", options=columns))


def class_panel(ds, view, s, sigma) -> None:
    column = class_column(ds)
    labels, key = ds.metadata[column], f"{ds.fingerprint}:{column}"
    with st.spinner(f"Per-class spectra and DSMI with {column!r} ..."):
        table = data.class_diversity(view.fingerprint, key, view.X, labels, kernel=s.spectra_kernel, q=s.spectra_q,
                                     eps2=s.spectra_eps2, max_n=s.spectra_sample)
        rr = data.rate_reduction(view.fingerprint, key, view.X, labels, eps2=s.spectra_eps2)
        mi = data.diffusion_mutual_info(view.fingerprint, key, view.X, labels, sigma=sigma, t=s.spectra_t,
                                        max_n=s.spectra_sample)
    c = st.columns(4)
    c[0].metric(figs.metric_label("rate_reduction", eps2=rr.eps2), figs.fmt(rr.delta_r), help=figs.metric_help("rate_reduction"))
    c[1].metric("Coding rate R (all)", figs.fmt(rr.r), help="R(Z) of every labelled row (nats)")
    c[2].metric("Class-conditional Rc", figs.fmt(rr.rc), help="Σⱼ (nⱼ/n) R(Zⱼ) (nats)")
    c[3].metric(figs.metric_label("dsmi", sigma=mi.sigma, t=mi.t, sigma_rule=s.spectra_sigma_rule),
                figs.fmt(mi.value), help=figs.metric_help("dsmi") + f"\n\nAt most log₂ {len(mi.table)} bits here")
    st.plotly_chart(figs.class_bars_figure(figs.class_bars_info(
        table, column, vendi_label=figs.metric_label("vendi", kernel=s.spectra_kernel, q=s.spectra_q),
        coding_label=figs.metric_label("coding_rate", eps2=s.spectra_eps2))), key="class_bars")
    sampled = table[table["seed"].notna()]
    st.caption(f"DSMI on {mi.n_used:,} of {mi.n:,} rows, {mi.n_draws} random draws per class (seed {mi.seed})"
               + ("; rows with a missing label left out" if rr.n_unlabelled else "")
               + "".join(f"; Vendi of {r['class']}: {int(r['n']):,} of {int(r['n_class']):,} rows, "
                         f"{r['vendi_method']} (seed {int(r['seed'])})" for _, r in sampled.iterrows()))
    st.dataframe(table.merge(mi.table[["class", "dse_class", "dse_random", "term"]], on="class", how="left"),
                 hide_index=True, width="stretch", key="class_table")


def training_panel(ds, s, sigma) -> None:
    c = st.columns(2)
    options = [m for m in TRAJECTORY if categorical_columns(ds.metadata) or m not in ("dsmi", "rate_reduction")]
    metric = c[0].selectbox("Metric", options, format_func=lambda m: figs.METRICS[m].title,
                            **vs.widget_key("spectra_metric", options=options))
    labels = key = None
    if metric in ("dsmi", "rate_reduction"):
        with c[1]:
            column = class_column(ds)
        labels, key = ds.metadata[column], f"{ds.fingerprint}:{column}"
    label = figs.metric_label(metric, kernel=s.spectra_kernel, q=s.spectra_q, eps2=s.spectra_eps2, sigma=s.spectra_sigma,
                              t=s.spectra_t, sigma_rule=s.spectra_sigma_rule)
    views = [v for v in ds.views if v.step is not None]
    if metric in data.EXPENSIVE_METRICS:
        owner = st.session_state.setdefault("embedlens.spectra.session", uuid.uuid4().hex)
        kw = dict(labels=labels, labels_key=key or "", sigma=sigma, t=s.spectra_t, max_n=s.spectra_sample,
                  owner=owner, label=label)
        values, job = data.trajectory_values(metric, views, **kw)
        if job is None:
            _trajectory_chart(views, values, label, metric)
        else:
            _cheap_trajectory(views, metric)
            _expensive_trajectory(metric, views, kw, label)
        sampled = [v for v in views if v.n > s.spectra_sample]
        if sampled:
            st.caption(f"{figs.METRICS[metric].title}: {s.spectra_sample:,} rows of each of the {len(sampled)} views "
                       f"with more (uniform sample without replacement, seed 0); every row of the others.")
        return
    bar, rows = st.progress(0.0, text=f"{label} for {len(views)} views ..."), []
    for i, v in enumerate(views):
        value = data.view_metric(metric, v, labels=labels, labels_key=key or "", kernel=s.spectra_kernel,
                                 q=s.spectra_q, eps2=s.spectra_eps2, sigma=sigma, t=s.spectra_t, max_n=s.spectra_sample)
        rows.append({"run": v.run, "layer": v.layer, "step": v.step, "value": value})
        bar.progress((i + 1) / len(views), text=f"{label}: {v.label}")
    bar.empty()
    _trajectory_chart(views, {v.name: r["value"] for v, r in zip(views, rows, strict=True)}, label, metric)


def _trajectory_chart(views, values: dict, label: str, metric: str, key: str = "trajectory") -> None:
    """One line per layer and run; views without a value yet are gaps (NaN)."""
    rows = [{"run": v.run, "layer": v.layer, "step": v.step, "value": values.get(v.name, float("nan"))}
            for v in views]
    st.plotly_chart(figs.trajectory_figure(figs.trajectory_info(rows, label=label)), key=key)
    st.caption("One line per layer (colour) and run (dash). " + figs.metric_help(metric).replace("\n\n", " — "))


def _cheap_trajectory(views, metric: str) -> None:
    cheap = data.CHEAP_METRIC
    values = {v.name: data.cheap_metric(v.fingerprint, v.X, cheap) for v in views}
    st.caption(f"{figs.METRICS[metric].title} needs an n × n kernel per view: it is computed in the background "
               f"and kept on disk; meanwhile, {figs.METRICS[cheap].title} (from the covariance spectrum):")
    _trajectory_chart(views, values, figs.metric_label(cheap), cheap, key="trajectory_cheap")


@st.fragment(run_every=1.0)
def _expensive_trajectory(metric: str, views, kw: dict, label: str) -> None:
    values, job = data.trajectory_values(metric, views, **kw)
    if job is None or not job.active:
        if job is not None and job.state == "failed":
            st.error(f"{job.label} failed: {job.error}", icon=":material/error:")
            return
        st.rerun()
    st.progress(job.fraction, text=f"{job.label}: {job.message} · {job.elapsed:.0f} s "
                                   f"({len(values)} of {len(views)} views done)")
    _trajectory_chart(views, values, label, metric)


def paired_panel(ds, view, s) -> None:
    others = [v.name for v in ds.views if v.modality and v.modality != view.modality]
    names = {v.name: v.label for v in ds.views}
    c = st.columns(2)
    pair = c[0].selectbox("Given the paired view", others, format_func=names.get,
                          **vs.widget_key("spectra_pair", options=others))
    kernel = c[1].radio("Feature map", ["linear", "rff"], horizontal=True, **vs.widget_key("spectra_sce_kernel"),
                        help=f"rff: Gaussian random Fourier features, σ = 3.5, {SCE_FEATURES} frequencies (paper: 2,500)")
    other = ds.view(pair)
    with st.spinner(f"Schur complement of {view.label} given {other.label} ..."):
        sce, cleaned, before, after = data.schur_entropy(view.fingerprint, other.fingerprint, view.X, other.X,
                                                         kernel=kernel, n_features=SCE_FEATURES, q=s.spectra_q)
    c = st.columns(4)
    given = other.modality  # the paired view's own modality names its part (not always "text")
    c[0].metric(f"{figs.metric_label('sce', kernel=kernel)} of {view.label} | {other.label}", figs.fmt(sce.score),
                help=figs.metric_help("sce") + f"\n\nHere I = {view.label} (this view), T = {other.label} (given)")
    c[1].metric("tr S (not explained)", figs.fmt(sce.trace_s),
                help=f"Share of {view.label}'s variance that {other.label} does not explain")
    c[2].metric(f"{given.capitalize()}-part score", figs.fmt(sce.text_score),
                help=f"The SCE formula on D = C_TIᵀ C_TT⁺ C_TI: the part of {view.label} explained by {other.label}")
    c[3].metric(f"{figs.metric_label('vendi', kernel='cosine', q=s.spectra_q)}, {given} removed", figs.fmt(after),
                delta=f"{after - before:+.3g} vs {figs.fmt(before)}", delta_color="off",
                help=f"Of the defocused embeddings φ_I(x) − φ_T(t) A*, A* = C_TT⁺ C_TI: {view.label} with its "
                     f"{given}-explained part removed")
    st.caption(f"{sce.params['n']:,} pairs · {given} inverse: {sce.params.get('inverse', 'exact pseudo-inverse')}"
               + (f" · {sce.params['n_features']:,} random Fourier frequencies (seed {sce.params['seed']})"
                  if kernel == "rff" else ""))
    if sce.params.get("warning"):
        st.warning(sce.params["warning"], icon=":material/warning:")
    st.plotly_chart(figs.schur_figure(figs.schur_info(sce, title=f"Spectra of S and D ({kernel})", given=given)),
                    key="schur")
    st.download_button(f"{given.capitalize()}-removed embeddings (.npy)",
                       data.npy_bytes(f"{view.fingerprint}-{pair}-{kernel}", cleaned),
                       file_name=f"{view.name}-given-{pair}-defocused.npy".replace("/", "_"), icon=":material/download:")

ds, view = context.require_dataset()
st.title("Spectra")
st.caption(f"{view.label}: {view.n:,} items × {view.d:,} dims")
state = check_link_numbers()
state = parameters(view)
sigma = "median" if state.spectra_sigma_rule == "median" else state.spectra_sigma
with user_errors():
    overview(view, state, sigma)
    panels = [p for p, ok in (("class", bool(categorical_columns(ds.metadata))),
                              ("training", sum(v.step is not None for v in ds.views) > 1),
                              ("paired", any(v.modality and v.modality != view.modality for v in ds.views)
                               and bool(view.modality))) if ok]
    if panels:
        panel = st.radio("Panel", panels, format_func=PANELS.get, horizontal=True, label_visibility="collapsed",
                         **vs.widget_key("spectra_panel", options=panels))
        {"class": lambda: class_panel(ds, view, state, sigma), "training": lambda: training_panel(ds, state, sigma),
         "paired": lambda: paired_panel(ds, view, state)}[panel]()
