"""Running the real app under streamlit's AppTest, shared by the page tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def run_app(query: dict | None = None, *, page: str | None = None, timeout: float = 180) -> AppTest:
    """Run the app once (optionally on ``page``, e.g. ``"app_pages/data.py"``) with URL ``query``.

    Fails the test if the script raised.
    """
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    """The value of the metric card labelled ``label``."""
    return next(m.value for m in at.metric if m.label == label)
