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


# --------------------------------------------------------------------------- kind: dataset-scoped fields


def test_kind_dataset_scoped_fields_every_field_declares_a_scope():
    from dashboard.state import SCOPES

    scopes = {f.name: f.metadata.get("scope") for f in dataclasses.fields(ViewState)}
    assert set(scopes.values()) <= set(SCOPES), scopes
    # what names rows, columns or views of one dataset is scoped to it
    for name in ("view", "fingerprint", "drop_nonfinite", "search", "map_selection", "map_item", "map_filter",
                 "map_color", "geo_label", "spectra_class"):
        assert scopes[name] == "dataset", name
    assert scopes["map_view2"] == scopes["spectra_pair"] == "view"
    assert scopes["dataset"] == scopes["map_method"] == scopes["geo_metric"] == "app"


def _non_default(f: dataclasses.Field):
    typ = typing.get_type_hints(ViewState)[f.name]
    if f.metadata.get("choices"):
        return next(c for c in f.metadata["choices"] if c != f.default)
    if typ is bool:
        return not f.default
    if typ is int:
        return f.default + 1
    if typ is float:
        return f.default * 2 + 1
    if typing.get_origin(typ) is tuple:
        return ("x=1",)
    return "something"


def test_kind_dataset_scoped_fields_reset_when_the_dataset_or_view_changes():
    from dashboard.state import rescope

    fs = [f for f in dataclasses.fields(ViewState) if f.name not in ("dataset", "view", "page")]
    old = ViewState(dataset="a", view="v1", **{f.name: _non_default(f) for f in fs})
    new, dropped = rescope(old, dataclasses.replace(old, dataset="b"))
    for f in fs:
        expected = f.default if f.metadata["scope"] in ("dataset", "view") else getattr(old, f.name)
        assert getattr(new, f.name) == expected, f.name
    assert new.dataset == "b" and new.view == ""
    assert "map_selection" in dropped and "fingerprint" not in dropped
    # a view change resets only the view-scoped fields
    new, dropped = rescope(old, dataclasses.replace(old, view="v2"))
    for f in fs:
        expected = f.default if f.metadata["scope"] == "view" else getattr(old, f.name)
        assert getattr(new, f.name) == expected, f.name
    assert sorted(dropped) == ["map_view2", "spectra_pair"]
    # a link without a dataset / view has nothing to reset yet
    assert rescope(ViewState(map_selection="r1"), ViewState(dataset="b", map_selection="r1"))[0].map_selection == "r1"


def _app_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))


def test_kind_dataset_scoped_fields_dropped_when_the_user_switches_dataset(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    at = run_app({"ds": "digits-mlp", "msel": "r3.17.40", "mi": "48", "mf": "label%3D3"}, page="app_pages/map.py")
    assert at.query_params["msel"] == "r3.17.40" and at.query_params["mi"] == "48"
    at.selectbox(key="w.dataset").set_value("digits-paired").run()
    assert not at.exception
    assert at.query_params["ds"] == "digits-paired"
    for key in ("msel", "mi", "mf"):
        assert key not in at.query_params, key
    notes = [w.value for w in at.warning]
    assert any(n.startswith("Switched from dataset 'digits-mlp' to 'digits-paired': dropped") and "msel=r3.17.40" in n
               for n in notes), notes
    assert not any(m.value.startswith("**Row 48**") for m in at.markdown)  # nothing inspected


def test_kind_dataset_scoped_fields_of_a_link_to_a_missing_dataset_are_dropped(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    at = run_app({"ds": "gone", "msel": "r3.17.40", "mi": "48"}, page="app_pages/map.py")
    assert at.query_params["ds"] == "digits-mlp"
    assert "msel" not in at.query_params and "mi" not in at.query_params and "sq" not in at.query_params
    notes = [w.value for w in at.warning]
    assert "The link's dataset 'gone' is not in this data folder; showing 'digits-mlp'." in notes
    assert any("dropped" in n and "msel=r3.17.40" in n for n in notes), notes
    assert "Selected items" not in [m.label for m in at.metric]


def test_kind_dataset_scoped_fields_are_checked_at_session_start(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    at = run_app({"ds": "digits-mlp", "msel": "r99999", "mi": "5000", "sq": "-1", "gl": "nope"})  # the Data page
    notes = [w.value for w in at.warning]
    assert "Ignored sq=-1.0: spectra q must be between 0.01 and 1000; using 1." in notes
    assert "This dataset has no label column 'nope'; using 'label'." in notes
    assert any(n.startswith("Ignored the link's selection") for n in notes), notes
    assert any(n.startswith("Ignored inspected item 5000") for n in notes), notes
    assert "msel" not in at.query_params and "mi" not in at.query_params and "sq" not in at.query_params
