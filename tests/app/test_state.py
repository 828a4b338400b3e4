"""ViewState: round trip through the URL, and bad links fall back with warnings."""

from __future__ import annotations

import dataclasses
import typing
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.state import VERSION, ViewState, share_url

_text = st.text(min_size=0, max_size=30)


def _strategy_for(f: dataclasses.Field):
    typ = typing.get_type_hints(ViewState)[f.name]
    choices = f.metadata.get("choices")
    if choices is not None:
        return st.sampled_from(list(choices))
    if typ is bool:
        return st.booleans()
    if typ is int:
        return st.integers(-(2**40), 2**40)
    if typ is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=64)
    if typing.get_origin(typ) is tuple:
        return st.lists(_text, max_size=5).map(tuple)
    if f.name == "page":
        return st.sampled_from(["", "data", "spectra", "map"])
    return _text


states = st.builds(ViewState, **{f.name: _strategy_for(f) for f in dataclasses.fields(ViewState)})


@settings(max_examples=300, deadline=None)
@given(states)
def test_round_trip_through_the_query(state):
    back, warnings = ViewState.from_query(state.to_query(), page=state.page)
    assert back == state and warnings == []


@settings(max_examples=200, deadline=None)
@given(states)
def test_round_trip_through_a_full_url(state):
    url = share_url(state, "http://host:8501")
    parts = urlsplit(url)
    back, warnings = ViewState.from_query(dict(parse_qsl(parts.query, keep_blank_values=True)),
                                          page=parts.path.strip("/"))
    assert back == state and warnings == []


def test_defaults_are_left_out_so_links_stay_short():
    assert ViewState().to_query() == {"v": str(VERSION)}
    assert ViewState(dataset="digits-mlp").to_query() == {"v": "1", "ds": "digits-mlp"}
    assert share_url(ViewState(dataset="d", page="data")) == "/data?v=1&ds=d"


def test_bad_links_fall_back_with_a_warning_each():
    state, warnings = ViewState.from_query({"v": "1", "ds": "x", "nf": "maybe", "bogus": "1"})
    assert state == ViewState(dataset="x")
    assert warnings == ["Ignored nf='maybe': not a valid drop nonfinite.", "Ignored unknown link parameter 'bogus'."]


def test_links_from_another_version_are_read_with_a_warning():
    state, warnings = ViewState.from_query({"v": "7", "ds": "x"})
    assert state.dataset == "x" and "v=7" in warnings[0]


def test_repeated_keys_take_the_last_value():
    state, _ = ViewState.from_query({"ds": ["a", "b"]})
    assert state.dataset == "b"
