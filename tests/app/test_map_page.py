"""The real app (streamlit AppTest) on the Map page: every method, links, side by side, bad links."""

from __future__ import annotations

import time

import numpy as np
import pytest

import core
from dashboard.state import encode_selection

from .apptest import metric, run_app

MAP = "app_pages/map.py"
SUBSET = {"mf": "label%3D3,label%3D5", "mfm": "project"}  # 365 digits: quick UMAP / t-SNE


@pytest.fixture
def map_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EMBEDLENS_WARMUP", "off")  # the tests compile what they use, once


def _settle(at, timeout: float = 240.0):
    """Rerun while a UMAP / t-SNE job computes (the page shows PCA meanwhile)."""
    end = time.monotonic() + timeout
    while any("Showing PCA while" in c.value for c in at.caption):
        if time.monotonic() > end:
            raise AssertionError("the map job did not finish")
        time.sleep(0.5)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_default_map_is_pca_of_the_current_view(map_env):
    at = run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100"}, page=MAP)
    assert at.title[0].value == "Map" and not at.error
    assert "all 1,797 points drawn" in _captions(at)
    assert "Parameters used: solver=covariance_eigh" in _captions(at)
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    expected = core.projection.project(ds.view("seed0/hidden2/epoch100").X).trust.value
    assert metric(at, "Trustworthiness") == f"{expected:.3f}"
    assert "mm" not in at.query_params  # defaults stay out of the link


@pytest.mark.parametrize(("method", "library"), [("pca", "scikit-learn"), ("umap", "umap-learn"), ("tsne", "openTSNE")])
def test_every_method_draws_a_map(map_env, method, library):
    at = _settle(run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100", "mm": method, **SUBSET}, page=MAP))
    text = _captions(at)
    assert f"library={library}" in text and "all 365 points drawn" in text
    assert float(metric(at, "Trustworthiness")) > 0.8
    if method != "pca":
        assert float(metric(at, "kNN preservation (k=15)")) > 0.2
    assert dict(at.query_params).get("mm") == (None if method == "pca" else method)  # defaults stay out
    # the second visit reads the disk cache
    again = run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100", "mm": method, **SUBSET}, page=MAP)
    assert not any("Showing PCA while" in c.value for c in again.caption)


def test_parallel_umap_is_offered_and_declared(map_env):
    at = _settle(run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100", "mm": "umap", "mpl": "1", **SUBSET},
                         page=MAP))
    text = _captions(at)
    assert "parallel=True" in text and "reproducible=False" in text
    assert "computing it again (elsewhere, or after the cache is pruned) gives another one" in text
    assert at.checkbox(key="w.map_parallel").value is True and at.query_params["mpl"] == "1"
    pair = run_app({"ds": "digits-mlp", "mm": "umap", "mpl": "1", "mv2": "seed0/hidden2/epoch010", **SUBSET}, page=MAP)
    assert at.checkbox(key="w.map_parallel").value and pair.checkbox(key="w.map_parallel").disabled  # not for aligned maps


def test_a_link_reopens_the_selection_and_the_inspected_item(map_env):
    sel = encode_selection([3, 17, 40, 41, 1796], 1797)
    at = run_app({"ds": "digits-mlp", "msel": sel, "mi": "48", "mc": "metric:norm"}, page=MAP)
    assert metric(at, "Selected items") == "5"
    assert at.query_params["msel"] == sel and at.query_params["mi"] == "48"
    assert any("**Row 48**" in m.value for m in at.markdown)
    assert "Colour: Row norm (L2)" in _captions(at)
    groups = next(df.value for df in at.dataframe if "selection" in df.value.columns)
    X = core.load(core.sample_data_dir() / "digits-mlp").views[0].X
    assert groups.loc["Vendi (cosine, q=1)", "selection"] == f"{core.vendi_score(X[[3, 17, 40, 41, 1796]]):.4g}"
    assert groups.loc["TwoNN ID (cosine)", "selection"] == "—"  # 5 rows: too few
    neighbours = next(df.value for df in at.dataframe if "cosine distance" in df.value.columns)
    assert len(neighbours) == 10 and (np.diff(neighbours["cosine distance"]) >= 0).all()
    at.button(key="map_clear_selection").click().run()
    assert "msel" not in at.query_params and "Selected items" not in [m.label for m in at.metric]


def test_a_filter_that_no_item_passes_is_said_above_the_empty_map(map_env):
    """Found by a new user: mf=label=42 left an empty chart, explained only by a caption under it."""
    at = run_app({"ds": "digits-mlp", "mf": "label%3D42"}, page=MAP)
    assert "No item passes the filter 'label=42': the map below is empty. Change or clear the filter." in [
        w.value for w in at.warning]
    assert "0 of 1,797 items pass the filter" in _captions(at)
    at = run_app({"ds": "digits-mlp", "mf": "label%3D42", "mfm": "project"}, page=MAP)
    assert "Only 0 items pass the filter; a map needs at least 5." in [w.value for w in at.warning]


def test_filters_hide_points_or_restrict_the_projection(map_env):
    shown = run_app({"ds": "digits-mlp", "mf": "split%3Dtest"}, page=MAP)
    n_test = int((core.load(core.sample_data_dir() / "digits-mlp").metadata["split"] == "test").sum())
    assert f"all {n_test:,} points drawn · {n_test:,} of 1,797 items pass the filter" in _captions(shown)
    assert shown.multiselect(key="w.mf.split").value == ["test"]


def test_side_by_side_views_are_aligned(map_env):
    at = run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100", "mv2": "seed0/hidden2/epoch010"}, page=MAP)
    assert len(at.get("plotly_chart")) == 2
    assert "alignment={method: procrustes" in _captions(at)
    pair = _settle(run_app({"ds": "digits-mlp", "view": "seed0/hidden2/epoch100", "mv2": "seed0/hidden2/epoch010",
                            "mm": "umap", **SUBSET}, page=MAP))
    assert _captions(pair).count("alignment={method: AlignedUMAP") == 2


def test_density_mode_declares_its_sample(map_env):
    at = run_app({"ds": "digits-mlp", "mr": "density"}, page=MAP)
    assert "1,797 of 1,797 points drawn: a seeded (seed 0) sample stratified by label" in _captions(at)


def test_bad_link_values_fall_back_with_warnings(map_env):
    at = run_app({"ds": "digits-mlp", "mk": "1", "msel": "r99999", "mc": "nope", "mm": "mds"}, page=MAP)
    texts = [w.value for w in at.warning]
    assert "Ignored UMAP n_neighbors=1: it must be between 2 and 200; using 15." in texts
    assert any("Ignored the link's selection" in t for t in texts)
    assert any("Ignored colour 'nope'" in t for t in texts)
    assert "Ignored mm='mds': map method must be one of ['pca', 'umap', 'tsne']." in texts
    assert "all 1,797 points drawn" in _captions(at)


# --------------------------------------------------------------------------- kind: missing metadata values


@pytest.fixture
def missing_env(isolated_env, monkeypatch, tmp_path):
    """A dataset whose metadata has a missing value in every dtype (row 1 and every 4th after it)."""
    import pandas as pd

    from tests.metadata_cases import missing_meta

    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))
    folder = isolated_env / "gaps"
    folder.mkdir()
    np.save(folder / "x.npy", np.random.default_rng(0).standard_normal((60, 5)).astype(np.float32))
    meta = pd.concat([missing_meta()] * 15, ignore_index=True)
    meta.to_parquet(folder / "metadata.parquet", index=False)
    return folder


@pytest.mark.parametrize("colour", ["obj", "text", "score", "flag", "nflag", "kind", "count", "when"])
def test_kind_missing_metadata_values_map_page(missing_env, colour):
    at = run_app({"ds": "gaps", "mc": colour, "mi": "1", "msel": "r0.1.2.3"}, page=MAP)
    assert not at.error, [e.value for e in at.error]
    item = next(m.value for m in at.markdown if m.value.startswith("**Row 1**"))
    for c in ("obj", "text", "score", "flag", "nflag", "kind", "count", "when"):
        assert f"{c}: **(missing)**" in item
    assert at.metric[0].value == "4"  # the selection panel drew its table
    # the filter offers the missing value and selects it
    at2 = run_app({"ds": "gaps", "mf": "obj%3D(missing)", "mc": colour}, page=MAP)
    assert "15 of 60 items pass the filter" in _captions(at2)
    assert "(missing)" in at2.multiselect(key="w.mf.obj").options
    assert at2.multiselect(key="w.mf.obj").value == ["(missing)"]


def test_kind_missing_metadata_values_csv_export():
    import io
    import types

    import pandas as pd

    from dashboard.map_panels import _csv, _table
    from tests.metadata_cases import COLUMNS, missing_meta

    ds = types.SimpleNamespace(metadata=missing_meta())
    text = _csv(lambda: _table(ds, np.array([0, 1])))().decode()
    lines = text.splitlines()
    assert lines[0] == "row," + ",".join(COLUMNS)
    assert lines[1] == "0,a,x,0.5,True,True,u,1,2020-01-02"
    assert lines[2] == "1" + "," * len(COLUMNS)  # every missing value is an empty cell
    back = pd.read_csv(io.StringIO(text))
    assert back.iloc[1, 1:].isna().all()


def test_kind_missing_metadata_values_item_cells():
    from dashboard.map_panels import item_cells
    from tests.metadata_cases import COLUMNS, ROW0, missing_meta

    meta = missing_meta()
    assert item_cells(meta, 0) == ROW0
    assert item_cells(meta, 1) == {c: "(missing)" for c in COLUMNS}


# --------------------------------------------------------------------------- kind: many classes


def test_kind_many_classes_colour_by_offers_the_column_and_declares_other(isolated_env, monkeypatch, tmp_path):
    from tests.metadata_cases import write_many_classes

    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "cache"))
    write_many_classes(isolated_env / "many")
    at = run_app({"mc": "label"}, page=MAP)
    assert "label" in at.selectbox(key="w.map_color").options
    assert at.selectbox(key="w.map_color").value == "label"
    assert "label has 200 levels: the 9 most frequent have colours, the other 191 are grey." in _captions(at)
    assert not any("Ignored colour" in w.value for w in at.warning)
