"""The shared sidebar: dataset and view pickers and the share link."""

from __future__ import annotations

import html

import streamlit as st

from . import session as vs
from .context import Context
from .literal import md

__all__ = ["render", "dask_block"]


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


_COPY_JS = """<script>
if (!window.embedlensCopyLink) {
  window.embedlensCopyLink = true;
  document.addEventListener("click", (event) => {
    const b = event.target.closest && event.target.closest(".embedlens-copy-link");
    if (!b) return;
    const url = b.dataset.url, label = b.querySelector("span");
    const done = () => { label.textContent = "Link copied"; setTimeout(() => { label.textContent = "Copy link"; }, 2000); };
    const fallback = () => {
      const t = document.createElement("textarea");
      t.value = url; t.style.position = "fixed"; t.style.opacity = "0";
      document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove(); done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(url).then(done, fallback);
    else fallback();
  });
}
</script>"""


WRAP_METRIC_LABELS = (
    "<style>[data-testid='stMetricLabel'] div, [data-testid='stMetricLabel'] p "
    "{white-space: normal !important; overflow: visible !important; text-overflow: clip !important;}</style>"
)
"""Metric card labels name their variant ("Participation ratio (covariance)", "Rows with NaN / inf"):
wrap them instead of cutting them off with an ellipsis when four or five cards share a 1000 px row.
In the sidebar's one HTML block so it holds on every page."""


def copy_link_button(url: str) -> str:
    """HTML of a button that puts ``url`` on the clipboard in one click.

    The click itself writes the clipboard (a user gesture in the page, no rerun in between),
    through one document-level listener (installed once; Streamlit strips inline handlers):
    ``navigator.clipboard`` where the page is a secure context (https, localhost), else the
    older ``execCommand("copy")``, which plain-http servers on other hosts still allow.
    """
    return (
        '<button type="button" class="embedlens-copy-link" title="Copy a link to this exact view" '
        f'data-url="{html.escape(url, quote=True)}" '
        'style="width:100%;padding:0.3rem 0.75rem;border:1px solid rgba(49,51,63,0.2);border-radius:0.5rem;'
        'background:white;color:inherit;font:inherit;cursor:pointer;display:flex;gap:0.4rem;'
        'align-items:center;justify-content:center">'
        '<svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="currentColor"><path d="M3.9 12a3.1 '
        '3.1 0 0 1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7A3.1 3.1 0 0 1 3.9 12M8 13h8v-2H8zm9-6h-4v1.9h4a3.1 3.1 0 0 1 '
        '0 6.2h-4V17h4a5 5 0 0 0 0-10"/></svg><span>Copy link</span></button>' + _COPY_JS
    )


def dask_block() -> None:
    """The server's Dask cluster, once a page started one: "LocalCluster · 2 workers · 2 threads" and
    its dashboard's link (when served). Nothing otherwise: the block never starts a cluster."""
    from .cluster import cluster_info

    info = cluster_info()
    if info is None:
        return
    st.caption(f"Dask · {md(info.summary)}",
               help="Where computations on out-of-core views run (`embedlens --dask`). "
               + ("" if info.dashboard_link else "Its dashboard is not served: the cluster needs bokeh>=3.1."))
    if info.dashboard_link:
        st.link_button("Dask dashboard", info.dashboard_link, icon=":material/monitoring:", width="stretch",
                       help="The cluster's own dashboard: tasks, workers, memory")


def render(ctx: Context) -> None:
    with st.sidebar:
        if not ctx.entries:
            st.caption("No datasets in the data folder yet.")
            dask_block()
            return
        names = [e.name for e in ctx.entries]
        descriptions = {e.name: e.description for e in ctx.entries}
        st.selectbox(
            "Dataset",
            names,
            help=md(descriptions.get(vs.current().dataset) or "The datasets in the data folder."),
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
            st.caption(f"{v.n:,} items × {v.d:,} dims · view fingerprint `{v.fingerprint[:8]}`",
                       help="Of this view's matrix. The link's fp= is the dataset fingerprint (all its files).")
        url = vs.share_url(vs.current(), _page_base_url())
        st.html(copy_link_button(url) + WRAP_METRIC_LABELS, unsafe_allow_javascript=True)  # one click: on the clipboard
        with st.popover("Show link", icon=":material/visibility:", width="stretch"):
            st.caption("This link reopens exactly this view: dataset, view, page and settings."
                       + (f" Its fp= is the dataset fingerprint {ctx.dataset.fingerprint[:8]}."
                          if ctx.dataset is not None else ""))
            st.code(url, language=None, wrap_lines=True)
        dask_block()
