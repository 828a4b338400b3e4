"""ViewState: round trip through the URL, and bad links fall back with warnings."""

from __future__ import annotations

import dataclasses
import typing
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

import core
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
        if typing.get_args(typ)[0] is float:  # the Rashomon page's nested epsilons
            return st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=5).map(tuple)
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
    for name in ("view", "fingerprint", "drop_nonfinite", "data_search", "map_selection", "map_item", "map_filter",
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


# --------------------------------------------------------------------------- kind: pure state, validated once


def test_kind_pure_state_imports_without_streamlit():
    import ast
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "import sys; sys.modules['streamlit'] = None; import dashboard.state as s; print(s.ViewState().to_query())"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "{'v': '1'}", out.stderr
    # no Streamlit anywhere in the file, not even imported lazily inside a function: the glue is session.py
    tree = ast.parse((root / "dashboard" / "state.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "streamlit" not in imported and "dashboard" not in imported


def test_kind_pure_state_session_reexports_what_pages_use():
    from dashboard import session, state

    for name in ("ViewState", "share_url", "encode_selection", "decode_selection", "validate", "rescope"):
        assert getattr(session, name) is getattr(state, name), name
    for name in ("init", "current", "update", "widget_key", "sync_url", "link_warnings", "add_warning"):
        assert callable(getattr(session, name)) and not hasattr(state, name), name


_PREFIX = {"": "", "data": "data_", "spectra": "spectra_", "geometry": "geo_", "map": "map_", "compare": "cmp_", "rashomon": "rsh_"}


def test_kind_state_validated_once_fields_grouped_per_page_with_unique_keys():
    from dashboard.state import PAGES, SCOPES, page_fields

    assert PAGES == _PREFIX
    fs = dataclasses.fields(ViewState)
    for f in fs:
        assert f.metadata.get("scope") in SCOPES, f.name
        assert f.metadata.get("page") in _PREFIX, f.name
        page = f.metadata["page"]
        if page:
            assert f.name.startswith(_PREFIX[page]), f.name
        else:  # shared by every page: not named like any page's field
            assert not any(f.name.startswith(p) for p in _PREFIX.values() if p), f.name
    assert sorted(f.name for f in fs if not f.metadata["page"]) == [
        "dataset", "drop_nonfinite", "fingerprint", "page", "view"]
    keys = [f.metadata["key"] for f in fs if not f.metadata.get("path")]
    assert len(keys) == len(set(keys)) and "v" not in keys  # "v" is the link version
    assert sum(len(page_fields(p)) for p in _PREFIX) == len(fs)
    # the rename kept the link: the Data page search is still "q"
    assert ViewState.from_query({"q": "3 test"})[0].data_search == "3 test"


def test_kind_state_validated_once_types_choices_bounds():
    from dashboard.state import validate

    hints = typing.get_type_hints(ViewState)
    bad, good = {}, {}
    for f in dataclasses.fields(ViewState):
        if f.metadata.get("bounds"):
            lo, hi = f.metadata["bounds"]
            bad[f.name] = hi + 1 if hints[f.name] is int else hi * 2 + 1
            good[f.name] = lo
        elif f.metadata.get("choices"):
            bad[f.name] = "no such choice" if hints[f.name] is str else 999
            good[f.name] = f.metadata["choices"][-1]
    bad["data_search"] = 3  # wrong type (made in code, not from a link)
    bad["drop_nonfinite"] = "yes"
    state, warnings = validate(ViewState(**bad))
    assert state == ViewState()  # every bad value back at its default
    assert len(warnings) == len(bad), warnings  # one warning per dropped value
    assert "Ignored sq=2001.0: spectra q must be between 0.01 and 1000; using 1." in warnings
    assert "Ignored UMAP n_neighbors=201: it must be between 2 and 200; using 15." in warnings
    assert "Ignored mm='no such choice': map method must be one of ['pca', 'umap', 'tsne']." in warnings
    assert "Ignored q='3': not a valid data search." in warnings
    ok = ViewState(**good)
    assert validate(ok) == (ok, [])


def test_a_list_field_left_with_no_valid_item_takes_its_default():
    """Found by a new user: ctm=zzz warned, then drew no trajectory at all (an empty metric list)."""
    from dashboard.state import validate

    state, warnings = validate(ViewState(cmp_traj_metrics=("zzz",)))
    assert state.cmp_traj_metrics == ViewState().cmp_traj_metrics == ("effective_rank",)
    assert len(warnings) == 1 and warnings[0].startswith("Ignored ctm='zzz': each")
    state, _ = validate(ViewState(cmp_traj_metrics=("zzz", "rankme")))
    assert state.cmp_traj_metrics == ("rankme",)  # the valid ones are kept


def test_kind_state_validated_once_dataset_values():
    import core
    from dashboard.state import encode_selection, validate

    ds = core.load(core.sample_data_dir() / "digits-mlp")
    state = ViewState(view="seed0/hidden1/epoch001", map_neighbors=1, map_seed=-3, map_color="nope",
                      map_filter=("shape=round",), map_selection="r5.99999", map_item=5000, map_view2="missing",
                      spectra_pair="gone", spectra_class="nope", geo_label="nope", spectra_q=-1.0)
    options = {"map_color": ["none", "label"], "geo_label": ["label", "split"], "spectra_class": ["label"]}
    checked, warnings = validate(state, ds, options=options, fallbacks={"geo_label": "label"})
    changed = {f.name for f in dataclasses.fields(ViewState) if getattr(checked, f.name) != getattr(state, f.name)}
    assert changed == {"map_neighbors", "map_seed", "map_color", "map_filter", "map_selection", "map_item",
                       "map_view2", "spectra_pair", "spectra_class", "geo_label", "spectra_q"}
    assert all(getattr(checked, n) == getattr(ViewState(), n) for n in changed)
    assert len(warnings) == len(changed), warnings
    assert "This dataset has no label column 'nope'; using 'label'." in warnings
    assert "Ignored inspected item 5000: this dataset has rows 0 to 1796." in warnings
    assert any(w.startswith("Ignored the link's filter:") and "shape" in w for w in warnings), warnings
    assert "Ignored the paired view 'gone': dataset 'digits-mlp' has no such view." in warnings
    ok = ViewState(view="seed0/hidden1/epoch001", map_selection=encode_selection([1, 2], ds.n), map_item=3,
                   map_filter=("label=3",), map_color="label", geo_label="split", spectra_class="label")
    assert validate(ok, ds, options=options) == (ok, [])


def test_kind_state_validated_once_on_any_page_with_one_warning_each(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    query = {"ds": "digits-mlp", "sq": "-1", "mk": "1", "sc": "nope", "spv": "gone", "gm": "manhattan"}
    for page in (None, "app_pages/map.py", "app_pages/spectra.py"):
        at = run_app(query, page=page)
        notes = [w.value for w in at.warning]
        for start in ("Ignored sq=-1.0", "Ignored UMAP n_neighbors=1", "Ignored the class column 'nope'",
                      "Ignored the paired view 'gone'", "Ignored gm='manhattan'"):
            assert sum(n.startswith(start) for n in notes) == 1, (page, start, notes)
        for key in ("sq", "mk", "sc", "spv", "gm"):  # gone (a page may write its own resolved default)
            assert at.query_params.get(key) != query[key], (page, key)


# --------------------------------------------------------------------------- kind: row numbers of changed data


def test_kind_row_numbers_of_changed_data_dropped_pure():
    from dashboard.state import drop_row_fields

    state = ViewState(dataset="digits-paired", map_selection="r3.17.40", map_item=48, map_method="umap",
                      spectra_q=2.0, map_filter=("label=3",))
    kept, note = drop_row_fields(state)
    # every field naming row numbers (URL keys msel, mi), by the literal field list
    assert {f.metadata["key"] for f in dataclasses.fields(ViewState) if f.metadata.get("rows")} == {"msel", "mi"}
    assert (kept.map_selection, kept.map_item) == ("", -1)
    assert (kept.map_method, kept.spectra_q, kept.map_filter) == ("umap", 2.0, ("label=3",))
    assert "msel=r3.17.40" in note and "mi=48" in note
    assert drop_row_fields(ViewState(map_method="umap")) == (ViewState(map_method="umap"), "")


def test_kind_row_numbers_of_changed_data_dropped_from_a_link(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    # a1cd4acc is not digits-paired's fingerprint (that is read from core.load below)
    at = run_app({"ds": "digits-paired", "fp": "a1cd4acc", "msel": "r3.17.40", "mi": "40", "sk": "rbf"})
    notes = [w.value for w in at.warning]
    changed = [n for n in notes if "changed since this link was made" in n]
    assert len(changed) == 1, notes
    assert "dataset fingerprint a1cd4acc then" in changed[0] and "msel=r3.17.40" in changed[0], changed
    assert "mi=40" in changed[0], changed
    assert "msel" not in at.query_params and "mi" not in at.query_params
    paired_fp = core.load(core.sample_data_dir() / "digits-paired").fingerprint[:8]
    assert at.query_params["sk"] == "rbf" and at.query_params["fp"] == paired_fp


# --------------------------------------------------------------------------- kind: panels a dataset lacks


def test_kind_unavailable_panel_warned_pure():
    import core
    from dashboard.state import validate

    mlp = core.load(core.sample_data_dir() / "digits-mlp")  # steps, no modalities
    paired = core.load(core.sample_data_dir() / "digits-paired")  # image + text, no steps
    checked, warnings = validate(ViewState(view=mlp.view_names[0], spectra_panel="paired"), mlp)
    assert checked.spectra_panel == "class" and len(warnings) == 1 and warnings[0].startswith("Ignored sp='paired'")
    checked, warnings = validate(ViewState(view="image", spectra_panel="training"), paired)
    assert checked.spectra_panel == "class" and len(warnings) == 1 and warnings[0].startswith("Ignored sp='training'")
    for ds, panel in ((mlp, "training"), (paired, "paired")):  # panels that exist are kept
        ok = ViewState(view=ds.view_names[0], spectra_panel=panel)
        assert validate(ok, ds) == (ok, [])


def test_kind_unavailable_panel_warned_from_a_link(monkeypatch, tmp_path):
    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    at = run_app({"ds": "digits-mlp", "sp": "paired"})
    notes = [w.value for w in at.warning]
    assert sum(n.startswith("Ignored sp='paired'") for n in notes) == 1, notes
    assert "sp" not in at.query_params


# --------------------------------------------------------------------------- kind: which fingerprint


def test_kind_fingerprint_labels_say_view_or_dataset(monkeypatch, tmp_path):
    import core

    from .apptest import run_app

    _app_env(monkeypatch, tmp_path)
    ds = core.load(core.sample_data_dir() / "digits-paired")
    at = run_app({"ds": "digits-paired"})
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"view fingerprint `{ds.view('image').fingerprint[:8]}`" in captions, captions
    assert f"dataset fingerprint {ds.fingerprint[:8]}" in captions, captions
    assert at.query_params["fp"] == ds.fingerprint[:8]
