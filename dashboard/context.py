"""What every page works on: the current dataset and view, resolved from the view state.

``resolve()`` runs once per script run in ``app.py``, before any widget: it reconciles the
state with the data folder (a dataset or view that is not there falls back to the first,
with a warning, and the link's settings that belonged to it are dropped with a note; a
changed fingerprint is reported and the link's row numbers are dropped), loads the dataset through the cache and keeps a load
error instead of raising it, so each page decides how to show it. The first time a dataset
loads in a session, every link value scoped to it is checked against it
(:func:`check_link`), whichever page the link opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core import CatalogEntry, Dataset, EmbedLensInputError, View

from . import data
from . import session as vs
from .literal import md
from .state import drop_row_fields

__all__ = ["Context", "resolve", "get", "require_dataset"]

_KEY = "embedlens.context"
_CHECKED = "embedlens.link_checked"
_SEEN = "embedlens.seen_dataset"  # (name, fingerprint, {view: fingerprint}, metadata fingerprint)


@dataclass(frozen=True)
class Context:
    entries: list[CatalogEntry]
    entry: CatalogEntry | None = None
    dataset: Dataset | None = None
    error: EmbedLensInputError | None = None

    @property
    def view(self) -> View | None:
        if self.dataset is None:
            return None
        return self.dataset.view(vs.current().view)


def resolve() -> Context:
    try:
        entries = data.catalog(str(data.data_dir()))
    except EmbedLensInputError as exc:
        ctx = Context(entries=[], error=exc)
        st.session_state[_KEY] = ctx
        return ctx
    names = [e.name for e in entries]
    state = vs.current()
    if state.dataset and state.dataset not in names:  # added since the catalog was listed (<= 10 s)
        data.catalog.clear()
        entries = data.catalog(str(data.data_dir()))
        names = [e.name for e in entries]
    if not names:
        ctx = Context(entries=[])
        st.session_state[_KEY] = ctx
        return ctx
    if state.dataset not in names:
        if state.dataset:
            vs.add_warning(
                f"The link's dataset {state.dataset!r} is not in this data folder; showing {names[0]!r}."
            )
        state = vs.update(dataset=names[0])  # drops the link's dataset-scoped settings, with a note
    entry = entries[names.index(state.dataset)]
    try:
        ds = data.load_dataset(entry, drop_nonfinite=state.drop_nonfinite)
    except EmbedLensInputError as exc:
        ctx = Context(entries=entries, entry=entry, error=exc)
        st.session_state[_KEY] = ctx
        return ctx
    if state.view not in ds.view_names:
        if state.view:
            vs.add_warning(
                f"Dataset {ds.name!r} has no view {state.view!r}; showing {ds.view_names[0]!r}."
            )
        state = vs.update(view=ds.view_names[0])
    fp = ds.fingerprint[:8]
    grew = _grew(state.fingerprint, ds)
    if state.fingerprint and state.fingerprint != fp and not grew:
        kept, dropped = drop_row_fields(state)
        vs.add_warning(
            f"The data of {ds.name!r} changed since this link was made (dataset fingerprint "
            f"{state.fingerprint} then, {fp} now): what you see may differ from what was shared."
            + (" It is out of core, so the pages show a seeded sample of it: a server with another sample size "
               f"(embedlens serve --sample-rows; this one draws {ds.n:,}) draws other items."
               if ds.sample is not None else "")
            + (f" {dropped}" if dropped else "")
        )
        if kept != state:
            vs.update(**{k: getattr(kept, k) for k in vars(kept) if getattr(kept, k) != getattr(state, k)})
    if vs.current().fingerprint != fp:
        vs.update(fingerprint=fp)
    if not st.session_state.get(_CHECKED):
        st.session_state[_CHECKED] = True
        check_link(ds)
    ctx = Context(entries=entries, entry=entry, dataset=ds)
    st.session_state[_KEY] = ctx
    return ctx


def _grew(old_fp: str, ds: Dataset) -> bool:
    """Whether ``ds`` is the dataset this session showed as ``old_fp`` plus new views (a training
    run writing checkpoints, :func:`core.writer`): same metadata, every earlier view unchanged.
    Then the views list simply grows; no "data changed" warning, no row fields dropped."""
    from core import fingerprint_metadata

    seen = st.session_state.get(_SEEN)
    if seen is not None and seen[:2] == (ds.name, ds.fingerprint[:8]):
        return False  # the same data as on the last run (the common case: no hashing)
    views = {v.name: v.fingerprint for v in ds.views}
    meta_fp = fingerprint_metadata(ds.metadata)
    st.session_state[_SEEN] = (ds.name, ds.fingerprint[:8], views, meta_fp)
    if seen is None or seen[0] != ds.name or seen[1] != old_fp or seen[3] != meta_fp:
        return False
    return all(views.get(name) == f for name, f in seen[2].items())


def check_link(ds: Dataset) -> list[str]:
    """Check the whole state against ``ds``, whichever page is open (:func:`dashboard.state.validate`:
    types, choices, bounds, and the values naming rows, columns and views of ``ds``): each value that
    does not hold goes back to its default with a warning (shown by ``app.py`` on every page). The
    lists only the app's caches know (colours, label and class columns) are passed in. Returns the
    warnings."""
    from core.tables import categorical_columns

    from . import map_view

    state = vs.current()
    kinds = data.map_column_kinds(ds.fingerprint, ds.metadata)
    options = {"map_color": map_view.color_options(ds, kinds=kinds),
               "geo_label": data.label_choices(ds.fingerprint, ds.metadata, ds.id_column),
               "spectra_class": categorical_columns(ds.metadata)}
    suggested = data.label_columns(ds.fingerprint, ds.metadata, ds.id_column)
    checked, warnings = vs.validate(state, ds, options=options,
                                    fallbacks={"geo_label": suggested[0] if suggested else "none"})
    changes = {k: getattr(checked, k) for k in vars(state) if getattr(checked, k) != getattr(state, k)}
    if changes:
        vs.update(**changes)
    for w in warnings:
        vs.add_warning(w)
    return warnings


def get() -> Context:
    return st.session_state[_KEY]


def require_dataset() -> tuple[Dataset, View]:
    """The current dataset and view, or show why there is none and stop the page."""
    ctx = get()
    if ctx.dataset is None:
        if ctx.error is not None:
            st.error(md(ctx.error), icon=":material/error:")
            st.caption("Open the Data page to fix or replace this dataset.")
        else:
            st.info("No dataset yet: add one on the Data page.")
        st.stop()
    return ctx.dataset, ctx.view
