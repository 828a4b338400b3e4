"""Hostile share links: whatever a link's query string holds, the app opens with defaults and warnings.

Hypothesis builds query strings from every link key with hostile values (traversal and absolute
dataset names, NUL, huge numbers, malformed and oversized selections, a zlib bomb in ``msel``,
markup) and sends them through :meth:`ViewState.from_query` and :func:`validate` against a real
dataset: nothing raises, every value that does not hold is back at its default with a warning.
A few of the worst go through the real app (AppTest): no exception, a warning, the first dataset.
The number of query strings tried is printed.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections import Counter
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core
from dashboard.state import ViewState, decode_selection, validate

from .apptest import run_app

TRIED: Counter = Counter()
KEYS = [f.metadata["key"] for f in fields(ViewState) if not f.metadata.get("path")]
_BOMB = "b1797." + base64.urlsafe_b64encode(zlib.compress(b"\xff" * (8 << 20), 9)).decode().rstrip("=")


@pytest.fixture(scope="module", autouse=True)
def _report(pytestconfig):
    yield
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    text = "query strings tried: " + ", ".join(f"{k} {n}" for k, n in sorted(TRIED.items()))
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print("\n" + text)


_VALUES = st.one_of(
    st.sampled_from(["", "..", "../../etc/passwd", "/etc/passwd", "uploads/../x", "digits-mlp", "digits-mlp/..",
                     "\x00", "1" * 5000, "-1", "1e999", "nan", "inf", "-0", "0x10", "1_0", "true", "None",
                     "r", "r1.2.3", "r-1", "r99999999999999999999999", "r1..2", "b", "b1797.", "b1797.!!!",
                     "b99.AAAA", _BOMB, "<script>alert(1)</script>", "$x$", "[x](javascript:alert(1))",
                     "label=<b>x</b>", "a,b,%", "%", "%zz", "metric:../x", "umap", "pca"]),
    st.text(max_size=30),
    st.integers(-10**30, 10**30).map(str),
    st.floats().map(repr),
)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "0")) or 400, deadline=None, database=None,
          derandomize="FUZZ_EXAMPLES" not in os.environ, suppress_health_check=list(HealthCheck))
@given(query=st.dictionaries(st.one_of(st.sampled_from(KEYS + ["v"]), st.text(max_size=6)),
                             st.one_of(_VALUES, st.lists(_VALUES, max_size=3)), max_size=8))
def test_kind_hostile_query_strings_give_defaults_and_warnings(query):
    TRIED["ViewState.from_query + validate"] += 1
    ds = _digits()
    state, warnings = ViewState.from_query(query, page="map")
    checked, more = validate(state, ds)
    assert all(isinstance(w, str) and w for w in warnings + more)
    assert len(" ".join(warnings + more)) < 200 * (len(query) + 2) + 20_000  # a warning quotes a value, briefly
    if checked.map_selection:
        assert decode_selection(checked.map_selection, ds.n).max() < ds.n
    assert -1 <= checked.map_item < ds.n


_DS = {}


def _digits() -> core.Dataset:
    if "ds" not in _DS:
        _DS["ds"] = core.load(core.sample_data_dir() / "digits-mlp")
    return _DS["ds"]


@pytest.mark.parametrize("text,why", [
    (_BOMB, "decompressed beyond the 225 bytes"),  # 8 MB of 0xff from an 11 kB link: stops at 226 bytes
    ("r99999999999999999999999", "outside"),  # OverflowError before
    ("r1..2", "not numbers"),
])
def test_kind_hostile_selection_is_refused_with_a_message(text, why):
    """Found: ``msel`` decompressed its bitmap without a bound (a link of a few kB made the server
    inflate 8 MB on every run of the page), and a row number beyond int64 raised OverflowError."""
    with pytest.raises(ValueError, match=why):
        decode_selection(text, 1797)


@pytest.mark.parametrize("query", [
    {"ds": "../../etc"}, {"ds": "/etc/passwd"}, {"ds": "uploads/../digits-mlp"},
    {"ds": "digits-mlp", "msel": _BOMB}, {"ds": "digits-mlp", "view": "<script>alert(1)</script>"},
])
def test_kind_hostile_links_open_the_app_with_a_warning(query):
    TRIED["AppTest links"] += 1
    at = run_app(query, page="app_pages/data.py")
    texts = " ".join(w.value for w in at.warning)
    assert "digits-mlp" in at.title[0].value
    assert "not in this data folder" in texts or "Ignored" in texts or "has no view" in texts, texts
