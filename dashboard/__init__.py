"""EmbedLens dashboard: Streamlit pages over :mod:`core` (wiring, caching and figures only)."""

from .notebook import show  # noqa: E402  (dashboard.show(X): the app from a notebook)

__all__ = ["show"]
