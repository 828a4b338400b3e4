"""The map's share-link state: the selection codec and a selection's round trip through the URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.state import ViewState, decode_selection, encode_selection, share_url


@st.composite
def selections(draw):
    n = draw(st.integers(1, 5000))
    kind = draw(st.sampled_from(["few", "dense", "runs"]))
    if kind == "few":
        rows = draw(st.lists(st.integers(0, n - 1), max_size=30))
    elif kind == "dense":
        p = draw(st.floats(0.0, 1.0))
        rows = np.flatnonzero(np.random.default_rng(draw(st.integers(0, 2**31))).random(n) < p)
    else:
        start = draw(st.integers(0, n - 1))
        rows = range(start, draw(st.integers(start, n)))
    return np.unique(np.asarray(list(rows), dtype=np.int64)), n


@settings(max_examples=300, deadline=None)
@given(selections())
def test_selection_codec_round_trips(sel):
    rows, n = sel
    text = encode_selection(rows, n)
    np.testing.assert_array_equal(decode_selection(text, n), rows)
    assert text == "" if not len(rows) else text[0] in "rb"
    assert len(text) <= max(2 + len(str(n)) + 4 * ((n // 8 + 20) // 3 + 1), 8)  # never worse than a bitmap


@settings(max_examples=100, deadline=None)
@given(selections())
def test_a_selection_survives_a_share_link(sel):
    rows, n = sel
    state = ViewState(dataset="d", page="map", map_method="umap", map_selection=encode_selection(rows, n), map_item=7)
    parts = urlsplit(share_url(state, "http://host:8501"))
    back, warnings = ViewState.from_query(dict(parse_qsl(parts.query, keep_blank_values=True)), page="map")
    assert back == state and warnings == []
    np.testing.assert_array_equal(decode_selection(back.map_selection, n), rows)


def test_few_rows_are_listed_and_many_are_a_bitmap():
    assert encode_selection([5, 1, 5, 3], 100) == "r1.3.5"
    big = encode_selection(np.arange(0, 1_000_000, 2), 1_000_000)
    assert big.startswith("b1000000.") and len(big) < 1_000  # regular patterns compress
    rand = np.flatnonzero(np.random.default_rng(0).random(1_000_000) < 0.6)
    assert len(encode_selection(rand, 1_000_000)) < 170_000  # worst case: 1 bit per item, base64


@pytest.mark.parametrize(
    ("text", "n", "message"),
    [
        ("r1.x", 10, "not numbers separated by dots"),
        ("r3.12", 10, "outside 0..9"),
        ("b11.eNoDAAAAAAE", 10, "made for 11 items; this data has 10"),
        ("b10.@@@", 10, "damaged"),
        ("q1", 10, "starts with 'r'"),
    ],
)
def test_bad_selections_are_refused_with_a_reason(text, n, message):
    with pytest.raises(ValueError, match=message):
        decode_selection(text, n)


def test_map_fields_have_short_keys_in_the_map_namespace():
    import dataclasses

    keys = {f.name: f.metadata["key"] for f in dataclasses.fields(ViewState) if f.name.startswith("map_")}
    assert all(k.startswith("m") for k in keys.values())
    assert keys["map_selection"] == "msel" and keys["map_view2"] == "mv2" and keys["map_item"] == "mi"
    assert ViewState(map_filter=("label=3", "split=test")).to_query()["mf"] == "label=3,split=test"
    assert ViewState.from_query({"mf": "label%3D3,split%3Dtest"})[0].map_filter == ("label=3", "split=test")  # older links
