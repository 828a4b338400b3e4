"""Turn bad-input errors into messages on the page, never tracebacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core import EmbedLensInputError

from .literal import md

__all__ = ["user_errors"]


@contextmanager
def user_errors() -> Iterator[None]:
    """``with user_errors(): ...`` shows an :class:`EmbedLensInputError` as ``st.error``.

    The rest of the block is skipped; the page (and the sidebar) stay alive so the user can
    pick other data or settings.
    """
    try:
        yield
    except EmbedLensInputError as exc:
        st.error(md(exc), icon=":material/error:")  # quotes file names, cells, columns: shown as written
