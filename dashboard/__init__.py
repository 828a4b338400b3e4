"""EmbedLens dashboard: Streamlit pages over :mod:`core` (wiring, caching and figures only)."""
