"""Data page: pick or upload a dataset, its views, its metadata and a health report."""

from __future__ import annotations

import streamlit as st

import core
from core._validation import plural
from core.tables import image_columns, search_rows, text_values
from dashboard import context
from dashboard import session as vs
from dashboard.data import health as health_data
from dashboard.errors import user_errors
from dashboard.literal import md
from dashboard.figures import norm_histogram_figure, norm_histogram_info
from dashboard.figures.export import chart_config
from dashboard.views import data as view_data
from dashboard.views import outofcore as view_ooc

UPLOAD_TYPES = ["npy", "npz", "parquet", "feather", "arrow", "csv", "tsv", "txt", "toml"]


def remove_section(entry: core.CatalogEntry) -> None:
    """For an upload: a button that asks for confirmation, then deletes it from the uploads folder."""
    if not entry.is_upload:
        return
    if st.session_state.get(view_data.CONFIRM) != entry.name:
        st.button("Remove this upload", icon=":material/delete:", key="remove_upload",
                  on_click=lambda: st.session_state.__setitem__(view_data.CONFIRM, entry.name),
                  help="Deletes its files from the uploads folder (after you confirm).")
        return
    st.warning(f"Remove {md(entry.name)}? Its files are deleted from {md(entry.path)}; links to it stop working.",
               icon=":material/delete:")
    c1, c2 = st.columns(2)
    c1.button("Yes, remove it", type="primary", key="remove_upload_confirm", on_click=view_data.remove_upload,
              args=(entry.name,))
    c2.button("Cancel", key="remove_upload_cancel", on_click=lambda: st.session_state.pop(view_data.CONFIRM, None))


def upload_section() -> None:
    with st.expander("Add a dataset", icon=":material/upload:", expanded=not context.get().entries):
        st.caption(
            "One embedding file (.npy, .npz, Parquet, Feather/Arrow, CSV/TSV), or several files "
            "of one dataset (e.g. TensorBoard's vectors.tsv + metadata.tsv). Files are stored "
            "under the data folder's uploads/ by content hash, so links to them keep working."
        )
        files = st.file_uploader(
            "Embedding files", type=UPLOAD_TYPES, accept_multiple_files=True, label_visibility="collapsed",
            key=view_data.uploader_key(),  # a new key after a refusal: the refused files are not sent again
        )
        st.button(
            "Open as a dataset", disabled=not files, on_click=view_data.open_upload, args=(files,), type="primary"
        )
        error = st.session_state.pop("embedlens.upload_error", None)
        if error:
            st.error(md(error), icon=":material/error:")


def load_error(ctx: context.Context) -> None:
    st.error(md(ctx.error), icon=":material/error:")
    if isinstance(ctx.error, core.NonFiniteRowsError):
        n = len(ctx.error.rows)
        st.button(
            f"Leave out {'this row' if n == 1 else f'these {n:,} rows'} for this session",
            on_click=vs.update,
            kwargs={"drop_nonfinite": True},
            help="The rows are left out of every view and the metadata; your files are not changed.",
        )


def reading_notes(ds: core.Dataset) -> None:
    """How the text files were read where a choice was made (encoding, header, NA words)."""
    if not ds.notes:
        return
    not_utf8 = any("decoded as" in note for note in ds.notes)
    with st.expander(f"How the files were read ({len(ds.notes)})", icon=":material/description:",
                     expanded=not_utf8):
        for note in ds.notes:
            st.text(note)


def views_section(ds: core.Dataset) -> None:
    st.subheader(f"Views ({len(ds.views)})")
    table = view_ooc.views_table(ds)  # out of core: every item's n and the shards, the sample's own n
    empty = [c for c in table.columns if (text_values(table[c], missing="") == "").all()]  # NaN or ""
    table = view_data.metadata_display(table.drop(columns=empty))  # a missing step reads (missing), not None
    st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * len(table), 320))


def health_section(ds: core.Dataset, view: core.View) -> None:
    st.subheader(f"Health of {md(view.label)}" + (f" (the {ds.n:,} sampled items)" if ds.sample else ""))
    health = health_data.view_health(view.fingerprint, view.X)
    cols = st.columns(5)
    cols[0].metric("Rows with NaN / inf", f"{len(ds.dropped_rows):,}" if len(ds.dropped_rows) else "0",
                   help="Rows left out for this session" if len(ds.dropped_rows) else None)
    cols[1].metric("Zero vectors", f"{len(health.zero_rows):,}")
    cols[2].metric("Exact duplicates", f"{len(health.duplicate_rows):,}",
                   help="Rows that repeat an earlier row bit for bit")
    cols[3].metric("Dead dimensions", f"{len(health.dead_dims):,} / {health.d:,}",
                   help="Dimensions with zero variance")
    cols[4].metric("Median norm", f"{norm_histogram_info(health.norms).median:.3g}")
    for message in health.warnings():
        st.warning(md(message), icon=":material/warning:")
    if not health.warnings() and not len(ds.dropped_rows):
        st.success("No NaN / inf, zero vectors, duplicates or dead dimensions.", icon=":material/check_circle:")
    st.plotly_chart(norm_histogram_figure(norm_histogram_info(health.norms)), key="norms", config=chart_config("row-norms"))
    if len(ds.views) > 1 and st.toggle("Check every view", **vs.widget_key("data_health_all")):
        st.dataframe(view_data.health_table(ds), hide_index=True, width="stretch")


def metadata_section(ds: core.Dataset) -> None:
    meta = ds.metadata
    st.subheader(f"Metadata ({plural(len(meta.columns), 'column', thousands=True)})")
    if meta.empty and not len(meta.columns):
        st.caption("This dataset has no metadata: items are identified by row number.")
        return
    images = image_columns(meta)
    query = st.text_input(
        "Search", placeholder="words that must all occur, e.g. 7 test", **vs.widget_key("data_search")
    )
    mask = search_rows(meta, query, skip=tuple(images))
    shown = meta.loc[mask]
    st.caption(f"{int(mask.sum()):,} of {plural(len(meta), 'row', thousands=True)}"
               + (f" {'matches' if int(mask.sum()) == 1 else 'match'} {md(repr(query))}" if query else ""))
    config = {c: st.column_config.ImageColumn(c, width="small") for c in images}
    st.dataframe(view_data.metadata_display(shown, skip=images), width="stretch", hide_index=False, column_config=config, key="meta_table")


ctx = context.get()
st.title(md(ctx.entry.name) if ctx.entry else "Data")
if ctx.entry is not None and ctx.entry.description:
    st.caption(md(ctx.entry.description))
if ctx.error is not None and not ctx.entries:
    st.error(md(ctx.error), icon=":material/error:")
upload_section()
removed = st.session_state.pop("embedlens.removed", None)
if removed:
    st.success(f"Removed {md(removed)}.", icon=":material/check_circle:")
remove_error = st.session_state.pop("embedlens.remove_error", None)
if remove_error:
    st.error(md(remove_error), icon=":material/error:")
if ctx.entry is not None:
    remove_section(ctx.entry)
uploaded = st.session_state.pop("embedlens.uploaded", None)
if uploaded and ctx.dataset is not None:
    st.success(f"Stored and opened {md(uploaded)}.", icon=":material/check_circle:")
if ctx.entry is not None and ctx.dataset is None and ctx.error is not None:
    load_error(ctx)
elif ctx.dataset is not None:
    ds, view = ctx.dataset, ctx.view
    if len(ds.dropped_rows):
        st.info(
            f"{plural(len(ds.dropped_rows), 'row', thousands=True)} holding NaN or inf "
            f"{'is' if len(ds.dropped_rows) == 1 else 'are'} left out of every view for this "
            f"session ({'file row' if len(ds.dropped_rows) == 1 else 'file rows'} {', '.join(map(str, ds.dropped_rows[:8]))}"
            f"{', ...' if len(ds.dropped_rows) > 8 else ''}). Your files are unchanged.",
            icon=":material/info:",
        )
    reading_notes(ds)
    views_section(ds)
    with user_errors():
        health_section(ds, view)
    metadata_section(ds)
