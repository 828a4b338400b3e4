"""Per-page logic beside each page of :mod:`dashboard.app_pages`: what a page computes and draws
from the view state, through the cached calls of :mod:`dashboard.data` and the figures of
:mod:`dashboard.figures`, so the pages only wire widgets, state, cached calls and figures."""

from __future__ import annotations

import streamlit as st

from dashboard.jobs import Job
from dashboard.literal import md

__all__ = ["job_progress"]


@st.fragment(run_every=1.0)
def job_progress(job: Job, owner: str = "", stop_key: str = "") -> None:
    """A background job's progress, polled every second; the page reruns when the job ends or when
    ``owner`` (a session) pressed Stop on it. With ``stop_key``, a Stop button (that key) withdraws
    ``owner`` (:meth:`dashboard.jobs.Job.stop`): the computation ends unless another session waits for it."""
    if not job.active or (owner and job.stopped_by(owner)):
        st.rerun()
    st.progress(job.fraction, text=f"{md(job.label)}: {md(job.message)} · {job.elapsed:.0f} s")
    if stop_key:
        st.button("Stop", on_click=job.stop, args=(owner,), key=stop_key, icon=":material/stop:")
