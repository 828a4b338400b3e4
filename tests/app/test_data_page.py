"""The real app (streamlit AppTest) on the Data page: sample data, links, bad input, uploads."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import core
from core.tables import search_rows

from .apptest import metric, run_app

@pytest.fixture
def sample_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))


def test_data_page_shows_digits_mlp_with_all_views(sample_env):
    at = run_app()
    assert at.title[0].value == "digits-mlp"
    assert at.selectbox(key="w.dataset").value == "digits-mlp"
    assert at.selectbox(key="w.view").options.__len__() == 30
    views = at.dataframe[0].value
    assert len(views) == 30 and set(views["step"]) == {1, 3, 10, 30, 100}
    assert at.dataframe[-1].value.shape[0] == 1797  # the metadata table
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    assert at.query_params["ds"] == "digits-mlp"
    assert at.query_params["fp"] == ds.fingerprint[:8]
    assert metric(at, "Dead dimensions") == "2 / 64"  # seed0 hidden1 epoch 1 has two dead units


def test_a_share_link_opens_that_dataset_and_view(sample_env):
    at = run_app({"ds": "digits-mlp", "view": "seed1/hidden2/epoch100", "q": "3 test"})
    assert at.selectbox(key="w.view").value == "seed1/hidden2/epoch100"
    assert at.text_input(key="w.data_search").value == "3 test"
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    health = core.health_report(ds.view("seed1/hidden2/epoch100").X)
    assert metric(at, "Dead dimensions") == f"{len(health.dead_dims)} / 32"
    expected = int(search_rows(ds.metadata, "3 test", skip=("image",)).sum())
    assert 0 < expected < 1797
    assert at.dataframe[-1].value.shape[0] == expected
    assert f"{expected:,} of 1,797 rows match '3 test'" in [c.value for c in at.caption]
    assert not at.warning or all("link" not in w.value for w in at.warning)


def test_changing_the_view_updates_the_link(sample_env):
    at = run_app()
    at.selectbox(key="w.view").set_value("seed2/hidden1/epoch030").run()
    assert at.query_params["view"] == "seed2/hidden1/epoch030"
    at.selectbox(key="w.dataset").set_value("digits-paired").run()
    assert at.query_params["ds"] == "digits-paired" and at.query_params["view"] == "image"
    assert at.title[0].value == "digits-paired"


def test_stale_link_warns_and_falls_back(sample_env):
    at = run_app({"ds": "gone", "view": "x", "fp": "deadbeef", "zz": "1"})
    texts = [w.value for w in at.warning]
    assert "Ignored unknown link parameter 'zz'." in texts
    assert "The link's dataset 'gone' is not in this data folder; showing 'digits-mlp'." in texts
    assert at.title[0].value == "digits-mlp"


def test_changed_data_is_reported(sample_env):
    at = run_app({"ds": "digits-mlp", "fp": "00000000"})
    assert any("changed since this link was made" in w.value for w in at.warning)


def test_unknown_view_warns(sample_env):
    at = run_app({"ds": "digits-mlp", "view": "seed9/hidden1/epoch001"})
    assert "Dataset 'digits-mlp' has no view 'seed9/hidden1/epoch001'; showing 'seed0/hidden1/epoch001'." in [
        w.value for w in at.warning
    ]


def test_broken_file_shows_a_message_not_a_traceback(isolated_env):
    folder = isolated_env / "broken"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((5, 3), np.float32))
    np.save(folder / "b.npy", np.ones((4, 3), np.float32))
    at = run_app()
    assert [e.value for e in at.error] == [
        "broken: broken/b.npy has 4 rows but broken/a.npy has 5; all views of a dataset must hold "
        "the same items in the same order"
    ]


def test_nan_rows_can_be_left_out_for_the_session(isolated_env):
    folder = isolated_env / "nans"
    folder.mkdir()
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    X[[2, 9]] = np.nan
    np.save(folder / "x.npy", X)
    pd.DataFrame({"label": range(30)}).to_csv(folder / "metadata.csv", index=False)
    at = run_app()
    assert "2 of 30 rows hold NaN or inf (rows 2, 9)" in at.error[0].value
    at.button[-1].click().run()
    assert not at.error
    assert at.query_params["nf"] == "1"
    assert "2 rows holding NaN or inf are left out" in at.info[0].value
    assert at.dataframe[-1].value.shape[0] == 28
    np.testing.assert_array_equal(np.load(folder / "x.npy")[[2, 9]], X[[2, 9]])  # file untouched
    # the link reopens the same thing
    again = run_app({"ds": "nans", "nf": "1"})
    assert not again.error and again.dataframe[-1].value.shape[0] == 28


def test_upload_then_open(isolated_env):
    at = run_app()
    assert "No datasets" in " ".join(c.value for c in at.sidebar.caption)
    buf = io.BytesIO()
    np.save(buf, np.eye(6, dtype=np.float32))
    at.file_uploader[0].set_value([("vectors.npy", buf.getvalue(), "application/octet-stream")]).run()
    at.button[0].click().run()
    assert not at.exception
    name = at.selectbox(key="w.dataset").value
    assert name.startswith("uploads/vectors-") and at.query_params["ds"] == name
    assert (isolated_env / name / "vectors.npy").exists()
    assert at.dataframe[0].value["n"].tolist() == [6]


def test_upload_of_a_bad_file_shows_why(isolated_env):
    at = run_app()
    at.file_uploader[0].set_value([("bad.csv", b"1,2,3\n4,5\n", "text/csv")]).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("row 1 (line 2) has 2 fields but the rows before it have 3" in e.value for e in at.error)


# --------------------------------------------------------------------------- kind: refused uploads


@pytest.mark.parametrize("name, content", [("vectors.npy", b"plain text renamed to .npy\n"),
                                           ("ragged.csv", b"1,2,3\n4,5\n")])
def test_kind_refused_uploads_leave_nothing_behind(isolated_env, name, content):
    at = run_app()
    at.file_uploader[0].set_value([(name, content, "application/octet-stream")]).run()
    at.button[0].click().run()
    assert not at.exception
    assert any(e.value.startswith("Upload refused, nothing was kept: ") for e in at.error)
    up = isolated_env / "uploads"
    assert not up.exists() or not any(up.rglob("*"))
    assert "No datasets" in " ".join(c.value for c in at.sidebar.caption)  # not in the picker
    assert "ds" not in at.query_params


def test_kind_refused_uploads_an_upload_can_be_removed_after_confirming(isolated_env):
    keep = isolated_env / "keep"
    keep.mkdir()
    np.save(keep / "x.npy", np.ones((5, 3), np.float32))
    at = run_app()
    buf = io.BytesIO()
    np.save(buf, np.eye(6, dtype=np.float32))
    at.file_uploader[0].set_value([("vectors.npy", buf.getvalue(), "application/octet-stream")]).run()
    at.button[0].click().run()
    name = at.selectbox(key="w.dataset").value
    assert name.startswith("uploads/vectors-") and (isolated_env / name).is_dir()
    at.button(key="remove_upload").click().run()
    assert (isolated_env / name).is_dir()  # asks first
    at.button(key="remove_upload_cancel").click().run()
    assert (isolated_env / name).is_dir()
    at.button(key="remove_upload").click().run()
    at.button(key="remove_upload_confirm").click().run()
    assert not at.exception and not (isolated_env / name).exists()
    assert (keep / "x.npy").exists()
    assert at.selectbox(key="w.dataset").options == ["keep"] and at.query_params["ds"] == "keep"
    assert f"Removed {name}." in [s.value for s in at.success]
    assert not any(b.key == "remove_upload" for b in at.button)  # "keep" is not an upload


def test_kind_missing_metadata_values_search(isolated_env):
    from tests.metadata_cases import missing_meta

    folder = isolated_env / "gaps"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((4, 3), np.float32) * np.arange(1, 5)[:, None])
    missing_meta().to_parquet(folder / "metadata.parquet", index=False)
    at = run_app({"q": "missing"})
    assert at.dataframe[-1].value.shape[0] == 1  # row 1, missing in every column
    at = run_app({"q": "a x"})
    assert at.dataframe[-1].value.shape[0] == 2


# --------------------------------------------------------------------------- kind: missing values read one way


def test_kind_missing_metadata_values_table_read_the_same(isolated_env):
    from core.tables import MISSING_TEXT

    folder = isolated_env / "gaps"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((3, 2), np.float32) * np.arange(1, 4)[:, None])
    meta = pd.DataFrame({"score": [0.5, np.nan, 2.0], "flag": pd.array([True, None, False], dtype="boolean"),
                         "word": ["a", None, "c"], "n": pd.array([1, None, 3], dtype="Int64")})
    meta.to_parquet(folder / "metadata.parquet", index=False)
    at = run_app()
    table = at.dataframe[-1].value
    # row 1 is missing in every column (the literal file): each cell reads the Map's text
    assert table.iloc[1].tolist() == [MISSING_TEXT] * 4, table.iloc[1].tolist()
    assert table.iloc[0].tolist() == ["0.5", "True", "a", "1"]


# --------------------------------------------------------------------------- kind: refused uploads (resend, path)


def test_kind_refused_uploads_clear_the_uploader_and_name_the_file(isolated_env):
    at = run_app()
    at.file_uploader[0].set_value([("fake.npy", b"plain text renamed to .npy\n", "application/octet-stream")]).run()
    at.button[0].click().run()
    errors = [e.value for e in at.error if e.value.startswith("Upload refused")]
    assert errors == ["Upload refused, nothing was kept: fake.npy: is not a NumPy .npy file "
                      "(it lacks the NumPy header)"], errors
    assert "uploads/" not in errors[0]
    assert not at.file_uploader[0].value  # emptied: the refused file is not sent again
    assert at.button[0].disabled
    buf = io.BytesIO()
    np.save(buf, np.eye(6, dtype=np.float32))
    at.file_uploader[0].set_value([("vectors.npy", buf.getvalue(), "application/octet-stream")]).run()
    at.button[0].click().run()
    assert not [e.value for e in at.error], [e.value for e in at.error]
    assert at.selectbox(key="w.dataset").value.startswith("uploads/vectors-")


# --------------------------------------------------------------------------- kind: counts and nouns agree


def test_kind_plural_counts_agree_on_the_data_page(isolated_env):
    folder = isolated_env / "one"
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((1, 2), np.float32))
    pd.DataFrame({"label": ["a"]}).to_csv(folder / "metadata.csv", index=False)
    at = run_app()
    heads = [s.value for s in at.subheader]
    assert "Metadata (1 column)" in heads, heads
    assert "1 of 1 row" in [c.value for c in at.caption], [c.value for c in at.caption]
