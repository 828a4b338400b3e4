"""The shared sidebar: dataset and view pickers and the share link."""

from __future__ import annotations

import streamlit as st

from . import state as vs
from .context import Context

__all__ = ["render"]


def _page_base_url() -> str | None:
    """scheme://host[:port][/base path] of this app, from the browser's URL (None in tests)."""
    url = st.context.url
    if not url:
        return None
    page = vs.current().page
    url = url.rstrip("/")
    if page and url.endswith("/" + page):
        url = url[: -len(page) - 1]
    return url


def render(ctx: Context) -> None:
    with st.sidebar:
        if not ctx.entries:
            st.caption("No datasets in the data folder yet.")
            return
        names = [e.name for e in ctx.entries]
        descriptions = {e.name: e.description for e in ctx.entries}
        st.selectbox(
            "Dataset",
            names,
            help=descriptions.get(vs.current().dataset) or "The datasets in the data folder.",
            **vs.widget_key("dataset", options=names),  # the dataset's own settings reset: vs.rescope
        )
        if ctx.dataset is not None:
            ds = ctx.dataset
            labels = {v.name: v.label for v in ds.views}
            st.selectbox(
                f"View ({len(ds.views)})",
                ds.view_names,
                format_func=lambda name: labels[name] if labels[name] != name else name,
                help="One embedding matrix of the dataset: a run, layer, checkpoint or modality.",
                **vs.widget_key("view", options=ds.view_names),
            )
            v = ctx.view
            st.caption(f"{v.n:,} items × {v.d:,} dims · fingerprint `{v.fingerprint[:8]}`")
        with st.popover("Copy link", icon=":material/link:", width="stretch"):
            st.caption("This link reopens exactly this view: dataset, view, page and settings.")
            st.code(vs.share_url(vs.current(), _page_base_url()), language=None, wrap_lines=True)
