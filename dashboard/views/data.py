"""The Data page's logic: opening and removing uploads (button callbacks), the health table of every view."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import core
from dashboard import data
from dashboard import session as vs
from dashboard.data import health as health_data

__all__ = ["open_upload", "remove_upload", "CONFIRM", "health_table"]


def open_upload(files) -> None:
    """Store an upload and open it (the upload button's callback); a refused one leaves a message."""
    try:
        entry = data.save_upload([(f.name, f.getvalue()) for f in files])
    except (core.EmbedLensInputError, OSError) as exc:
        st.session_state["embedlens.upload_error"] = f"Upload refused, nothing was kept: {exc}"
        return
    vs.update(dataset=entry.name)  # resets the old dataset's settings (vs.rescope)
    st.session_state["embedlens.uploaded"] = entry.name


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
        progress.progress((i + 1) / len(ds.views), text=f"Checked {v.name}")
    progress.empty()
    return pd.DataFrame(rows)
