"""Cached core calls of the Data page: the health report of a view (also the Map's row-norm colour)."""

from __future__ import annotations

import streamlit as st

import core
from core import ViewHealth

__all__ = ["view_health"]


@st.cache_data(max_entries=64, show_spinner="Checking the view's health ...")
def view_health(fingerprint: str, _X) -> ViewHealth:
    """:func:`core.health_report`, cached per view fingerprint.

    Parameters
    ----------
    fingerprint, _X
        The cache key and the view's matrix it stands for (see :mod:`dashboard.data`).

    Returns
    -------
    ViewHealth

    Raises
    ------
    EmbedLensInputError
        From :func:`core.health_report`: ``_X`` not 2-D. An exception is not cached: the next script run computes again.
    """
    return core.health_report(_X)

