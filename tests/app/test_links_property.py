"""Share links, property-tested (issue 14): every page's valid state survives the address bar unchanged,
and no query string, however malformed, truncated or hostile, makes reading or checking a link raise.

tests/app/test_state.py round-trips arbitrary values of the right types; here the states are the ones
the app can hold (inside each field's choices and bounds), drawn page by page, and the checks run
with the sample dataset too.
"""

from __future__ import annotations

import dataclasses
import typing
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import core
from dashboard.state import PAGES, VERSION, ViewState, encode_selection, page_fields, share_url, validate

FIELDS = {f.name: f for f in dataclasses.fields(ViewState)}
HINTS = typing.get_type_hints(ViewState)
KEYS = sorted(f.metadata["key"] for f in FIELDS.values() if not f.metadata.get("path"))
PAGE_PATHS = ["", "data", "spectra", "geometry", "map", "compare", "rashomon"]

_text = st.text(max_size=40)
# what a tampered link carries: traversal, NUL, markup, encodings, huge and odd numbers
HOSTILE = st.sampled_from([
    "../..", "../../etc/passwd", "/etc/passwd", "%2e%2e%2f%2e%2e", "..%2F..%2F", "..\\..\\windows", "\x00",
    "a\x00b", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "**bold**", "$$x$$", "1e400", "-1e400", "nan", "inf", "9" * 5000, "-0", "0x10", "1_000", "١٢", "", " ",
    "%", ",", ",,", "%00", "r", "r1..2", "r-1", "r99999999999999999999999", "b1797.", "b1797.!!!!",
    "b99999999999999999999.eJzLSM3JyQcABiwCFQ", "b1797.eJzLSM3JyQcABiwCFQ", "PC1", "PC1,PC2,PC3", "label=",
    "=3", "ink>=", "ink>=x", "label=3,label=4", "\u202e", "\ud7ff", "true", "True", "yes",
])
VALUES = st.one_of(_text, HOSTILE, st.lists(st.one_of(_text, HOSTILE), max_size=3))


def _valid(name: str) -> st.SearchStrategy:
    """Values field ``name`` can hold in the app: inside its choices, item choices and bounds."""
    f, typ = FIELDS[name], HINTS[name]
    meta = f.metadata
    if meta.get("path"):
        return st.sampled_from(PAGE_PATHS)
    if meta.get("choices") is not None:
        return st.sampled_from(list(meta["choices"]))
    if meta.get("item_choices") is not None:
        return st.lists(st.sampled_from(list(meta["item_choices"])), unique=True, max_size=len(meta["item_choices"])
                        ).map(tuple)
    bounds = meta.get("bounds")
    if typ is bool:
        return st.booleans()
    if typ is int:
        lo, hi = bounds or (-1, 10**6)  # map_item: a row number or -1
        return st.integers(lo, hi)
    if typ is float:
        lo, hi = bounds
        return st.floats(lo, hi, allow_nan=False)
    if meta.get("size") is not None:
        return st.one_of(st.just(()), st.lists(_text, min_size=meta["size"], max_size=meta["size"]).map(tuple))
    if typing.get_origin(typ) is tuple:
        inner = typing.get_args(typ)[0]
        items = st.floats(0.01, 100.0, allow_nan=False) if inner is float else _text
        return st.lists(items, max_size=4).map(tuple)
    if name == "fingerprint":
        return st.text("0123456789abcdef", min_size=8, max_size=8)
    if name == "map_selection":  # the encoder's own output for a 1,797-item dataset
        return st.lists(st.integers(0, 1796), max_size=300).map(lambda rows: encode_selection(rows, 1797))
    return _text


def _states_of(names: list[str]) -> st.SearchStrategy:
    """States with ``names`` drawn from their valid values, every other field at its default."""
    return st.builds(ViewState, **{n: _valid(n) for n in names})


ALL_VALID = _states_of(list(FIELDS))


@pytest.mark.parametrize("page", list(PAGES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_pages_valid_state_round_trips(page, data):
    """Page by page (the shared fields, Data, Spectra, Geometry, Map, Compare, Rashomon): the query holds
    ``v`` and exactly the non-default fields, and reads back to the same state without a warning."""
    names = page_fields(page) + ["dataset", "view", "page"]
    state = data.draw(_states_of(sorted(set(names))))
    query = state.to_query()
    non_default = {FIELDS[n].metadata["key"] for n in FIELDS
                   if not FIELDS[n].metadata.get("path") and getattr(state, n) != FIELDS[n].default}
    assert query["v"] == str(VERSION) and set(query) - {"v"} == non_default
    back, warnings = ViewState.from_query(query, page=state.page)
    assert (back, warnings) == (state, [])
    assert validate(state) == (state, [])  # valid by construction: the checks keep every value


@settings(max_examples=300, deadline=None)
@given(ALL_VALID)
def test_a_valid_state_of_every_field_round_trips_through_the_address_bar(state):
    """Through the full link as a browser sends it: path, percent-encoded query, parsed back."""
    url = share_url(state, "http://127.0.0.1:8501")
    parts = urlsplit(url)
    back, warnings = ViewState.from_query(dict(parse_qsl(parts.query, keep_blank_values=True)),
                                          page=parts.path.strip("/"))
    assert (back, warnings) == (state, [])
    multi = parse_qs(parts.query, keep_blank_values=True)  # Streamlit's st.query_params.get_all shape
    assert ViewState.from_query(multi, page=state.page) == (state, [])


@pytest.fixture(scope="module")
def sample():
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    options = {"map_color": ["none", "label", "split", "ink", "metric:norm"], "geo_label": ["label", "split"],
               "spectra_class": ["label", "split"]}
    return ds, options


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.one_of(st.sampled_from(["v", *KEYS]), _text, HOSTILE), VALUES, max_size=12))
@example({"msel": "r99999999999999999999999"})  # beyond int64
@example({"msel": "b1797." + "eJzt" + "A" * 1500})  # a damaged bitmap
@example({"mi": "9" * 30, "rs": "9" * 5000, "sq": "1e400", "rne": "0.25,nan"})
@example({"ds": "../..", "view": "/etc/passwd", "mf": "label=3\x00", "cv2": "%2e%2e%2f", "rf": "<script>,x"})
def test_no_query_dict_makes_reading_or_checking_a_link_raise(sample, query):
    """Any keys (known, unknown, hostile) with any values: a state and warnings, never an exception; what
    comes out holds (checking it again changes nothing), with and without the dataset."""
    ds, options = sample
    state, warnings = ViewState.from_query(query, page="map")
    assert all(isinstance(w, str) and w for w in warnings)
    checked, more = validate(state)
    assert validate(checked) == (checked, [])
    with_data, _ = validate(checked, ds, options=options, fallbacks={"geo_label": "label"})
    assert validate(with_data, ds, options=options) == (with_data, [])
    assert with_data.map_item == -1 or 0 <= with_data.map_item < ds.n
    # an unknown key is never kept, a bad value never survives into the link written back
    assert set(with_data.to_query()) <= {"v", *KEYS}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_text, st.lists(st.one_of(st.sampled_from(KEYS).map(lambda k: k + "="), HOSTILE.map(quote), _text,
                                           st.just("&"), st.just("=")), max_size=20).map("".join)))
def test_no_query_string_makes_reading_a_link_raise(sample, raw):
    """A raw (possibly truncated, doubly encoded, binary) query string, parsed the way a server does."""
    ds, options = sample
    query = parse_qs(raw, keep_blank_values=True)
    state, _ = ViewState.from_query(query)
    checked, _ = validate(*validate(state)[:1], ds, options=options)
    assert validate(checked, ds, options=options)[1] == []


@settings(max_examples=200, deadline=None)
@given(ALL_VALID, st.integers(0, 2000))
@example(ViewState(map_perplexity=2.5, map_parallel=True), len("v=1&mp=2.5&mp"))  # a cut key naming another
def test_a_truncated_link_keeps_what_arrived_whole_and_never_guesses(state, cut):
    """A link cut off anywhere (a chat client wrapping it): every parameter that arrived whole reads back
    as it was; only the one cut through may differ (read as what is left of it, or dropped with a
    warning); the rest are defaults. Never an exception."""
    query = share_url(state).split("?", 1)[1]
    assume(cut < len(query))
    head = query[:cut]
    back, warnings = ViewState.from_query(parse_qs(head, keep_blank_values=True), page=state.page)
    assert validate(back)[0] is not None
    pairs = parse_qsl(head, keep_blank_values=True)
    by_key = {f.metadata["key"]: n for n, f in FIELDS.items() if not f.metadata.get("path")}
    cut_through = by_key.get(pairs[-1][0]) if pairs else None  # "mpl=1" cut to "mp" names another field
    whole = {by_key[k] for k, _ in pairs[:-1] if k in by_key} - {cut_through}
    for n in FIELDS:
        if n in whole:
            assert getattr(back, n) == getattr(state, n), n
        elif n != cut_through and n != "page":
            assert getattr(back, n) == FIELDS[n].default, n
    assert all("Ignored" in w or "version" in w for w in warnings)


def every_field_set() -> ViewState:
    """Every field of every page away from its default on the 30-view sample (the longest choice, the
    longest view name), a 1,000-item selection (a bitmap), a filter of three clauses, the Rashomon
    page's pair, features and every nested epsilon: the longest link a user of the sample can make
    short of typing a long search (benchmarks/bench_links.py prints its length too)."""
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    long_view = max(ds.view_names, key=len)
    values = {}
    for name, f in FIELDS.items():
        meta, typ = f.metadata, HINTS[name]
        if meta.get("choices") is not None:
            values[name] = max((c for c in meta["choices"] if c != f.default), key=lambda c: len(str(c)))
        elif meta.get("item_choices") is not None:
            values[name] = tuple(meta["item_choices"])
        elif typ is bool:
            values[name] = True
        elif meta.get("bounds") is not None:
            values[name] = meta["bounds"][1] if typ is int else 0.123456789
    values.update(dataset="digits-mlp", view=long_view, fingerprint=ds.fingerprint[:8], page="rashomon",
                  data_search="7 test", spectra_class="label", spectra_pair=long_view, geo_label="split",
                  map_color="metric:knn_preservation", map_filter=("label=3", "label=8", "ink>=100"),
                  map_selection=encode_selection(range(0, 1797, 2)[:1000], ds.n), map_item=1796,
                  map_view2=long_view, cmp_view2=long_view, cmp_reference=long_view, rsh_target="label",
                  rsh_features=("ink",), rsh_pair=("PC11", "PC12"), rsh_nested=(0.25, 0.5, 2.0, 4.0),
                  rsh_run_score="val_loss")
    return ViewState(**values)


def test_the_longest_link_of_a_realistic_view_stays_under_2000_characters():
    """Under 2,000 characters, the length every browser, chat client and proxy keeps."""
    state = every_field_set()
    url = share_url(state, "http://embedlens.example.org:8501")
    assert 1000 < len(url) < 2000, len(url)
    assert ViewState.from_query(dict(parse_qsl(urlsplit(url).query)), page="rashomon") == (state, [])
