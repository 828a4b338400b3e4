"""The Data page's logic: opening and removing uploads (button callbacks), the health table of every view."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from dashboard import data
from dashboard import session as vs
from dashboard.data import health as health_data
from dashboard.literal import md

__all__ = ["open_upload", "remove_upload", "CONFIRM", "health_table", "uploader_key", "metadata_display"]

UPLOADER = "embedlens.uploader_round"


def open_upload(files) -> None:
    """Store an upload and open it (the upload button's callback); a refused one leaves a message."""
    try:
        entry = data.save_upload([(f.name, f.getvalue()) for f in files])
    except (core.EmbedLensInputError, OSError) as exc:
        st.session_state["embedlens.upload_error"] = f"Upload refused, nothing was kept: {exc}"
        st.session_state[UPLOADER] = st.session_state.get(UPLOADER, 0) + 1  # an empty uploader: no resend
        return
    vs.update(dataset=entry.name)  # resets the old dataset's settings (vs.rescope)
    st.session_state["embedlens.uploaded"] = entry.name


def uploader_key() -> str:
    """The file uploader's widget key; a new one after a refused upload empties the uploader."""
    return f"upload_files_{st.session_state.get(UPLOADER, 0)}"


def metadata_display(meta: pd.DataFrame, *, skip=()) -> pd.DataFrame:
    """``meta`` for the metadata table: every missing cell (None, NaN, pd.NA, NaT, any dtype) reads
    :data:`core.tables.MISSING_TEXT`, as on the Map. Columns with a missing cell become text (their
    values as :func:`core.tables.text_values` writes them); the others and ``skip`` (images) are kept."""
    from core.tables import MISSING_TEXT, text_values

    out = meta.copy(deep=False)
    for c in meta.columns:
        if c not in skip and meta[c].isna().any():
            out[c] = pd.Series(text_values(meta[c], missing=MISSING_TEXT), index=meta.index, dtype=object)
    return out


CONFIRM = "embedlens.remove_upload"


def remove_upload(name: str) -> None:
    """Delete the upload ``name`` after confirmation (the button's callback) and open the first dataset."""
    st.session_state.pop(CONFIRM, None)
    try:
        data.remove_upload(name)
    except (core.EmbedLensInputError, OSError) as exc:
        st.session_state["embedlens.remove_error"] = str(exc)
        return
    vs.update(dataset="")  # the first dataset opens next (context.resolve)
    st.session_state["embedlens.removed"] = name


def health_table(ds) -> pd.DataFrame:
    """One row per view (zero vectors, duplicates, dead dims, median norm), with a progress bar."""
    rows = []
    progress = st.progress(0.0, text="Checking views ...")
    for i, v in enumerate(ds.views):
        h = health_data.view_health(v.fingerprint, v.X)
        rows.append({"view": v.name, "zero vectors": len(h.zero_rows),
                     "duplicates": len(h.duplicate_rows), "dead dims": len(h.dead_dims),
                     "median norm": float(pd.Series(h.norms).median())})
        progress.progress((i + 1) / len(ds.views), text=f"Checked {md(v.name)}")
    progress.empty()
    return pd.DataFrame(rows)
