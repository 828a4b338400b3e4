"""Running the real app under streamlit's AppTest, shared by the page tests."""

from __future__ import annotations

import types
from pathlib import Path
from urllib import parse as _parse

from streamlit.testing.v1 import AppTest, app_test

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")



def _query_params(query_string: str) -> dict:
    """A query string as AppTest >= 1.58 reads it back: one value -> str, repeated -> list."""
    out = {}
    for key, values in _parse.parse_qs(query_string, keep_blank_values=True).items():
        out[key] = values[0] if len(values) == 1 else values
    return out


if not hasattr(app_test, "_query_params_from_query_string"):
    # AppTest before 1.58 (the declared lower bound is 1.56) reads the app's query parameters
    # back with urllib's parse_qs, a list for every key; give the tests one shape on every version.
    app_test.parse = types.SimpleNamespace(**{**vars(_parse), "parse_qs": _query_params})


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
