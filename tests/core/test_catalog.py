"""core.catalog: listing datasets, safe name resolution, uploads keyed by content."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core
from core import EmbedLensInputError
from core.catalog import remove_upload


def _dataset_folder(root, name, n=10):
    folder = root / name
    folder.mkdir()
    np.save(folder / "x.npy", np.ones((n, 3), np.float32))
    pd.DataFrame({"label": range(n)}).to_csv(folder / "metadata.csv", index=False)
    return folder


def test_sample_catalog_lists_both_datasets():
    names = [e.name for e in core.list_datasets(core.sample_data_dir())]
    assert names == ["digits-mlp", "digits-paired"]
    mlp = core.list_datasets(core.sample_data_dir())[0]
    assert "1,797 handwritten digits" in mlp.description


def test_default_data_dir_follows_the_environment(isolated_env):
    _dataset_folder(isolated_env, "mine")
    assert core.default_data_dir() == isolated_env
    assert [e.name for e in core.list_datasets()] == ["mine"]


def test_folders_and_files_are_datasets_and_hidden_things_are_not(tmp_path):
    _dataset_folder(tmp_path, "b-folder")
    np.save(tmp_path / "a-single.npy", np.ones((4, 2), np.float32))
    (tmp_path / ".hidden").mkdir()
    np.save(tmp_path / ".hidden" / "x.npy", np.ones((4, 2)))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("not data")
    (tmp_path / "readme.md").write_text("not data")
    assert [e.name for e in core.list_datasets(tmp_path)] == ["a-single.npy", "b-folder"]


def test_a_data_folder_that_is_itself_a_dataset(tmp_path):
    folder = _dataset_folder(tmp_path, "only")
    entries = core.list_datasets(folder)
    assert [e.name for e in entries] == ["only"] and entries[0].path == folder


def test_resolve_refuses_escapes_and_unknown_names(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _dataset_folder(data, "ok")
    _dataset_folder(tmp_path, "secret")
    assert core.resolve("ok", data).path == data / "ok"
    for bad in ["../secret", "/etc", "ok/../../secret"]:
        with pytest.raises(EmbedLensInputError, match="outside the data folder"):
            core.resolve(bad, data)
    with pytest.raises(EmbedLensInputError, match="there is no dataset 'nope' in the data folder"):
        core.resolve("nope", data)


def test_missing_data_folder(tmp_path):
    with pytest.raises(EmbedLensInputError, match="does not exist or is not a folder"):
        core.list_datasets(tmp_path / "absent")


def test_uploads_are_stored_by_content_and_listed(isolated_env):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    import io

    buf = io.BytesIO()
    np.save(buf, X)
    files = [("vectors.npy", buf.getvalue()), ("metadata.csv", b"label\na\nb\nc\nd\n")]
    entry = core.save_upload(files)
    again = core.save_upload(list(reversed(files)))
    assert entry == again  # same content, same place, stored once
    assert entry.name.startswith("uploads/vectors-") and entry.path.parent == isolated_env / "uploads"
    assert sorted(p.name for p in entry.path.iterdir()) == ["metadata.csv", "vectors.npy"]
    assert [e.name for e in core.list_datasets()] == [entry.name]
    ds = core.load(core.resolve(entry.name).path)
    np.testing.assert_array_equal(ds.views[0].X, X)
    other = core.save_upload([("vectors.npy", buf.getvalue())])
    assert other.name != entry.name


def test_upload_names_are_sanitised(isolated_env):
    entry = core.save_upload([("../../evil name!.csv", b"1,2\n3,4\n")])
    assert entry.path.parent == isolated_env / "uploads"
    assert [p.name for p in entry.path.iterdir()] == ["evil_name_.csv"]


def test_upload_refuses_unknown_types_and_empty_files(isolated_env):
    with pytest.raises(EmbedLensInputError, match=r"x.exe: has an unknown extension '.exe'"):
        core.save_upload([("x.exe", b"MZ")])
    with pytest.raises(EmbedLensInputError, match=r"e.npy: the file is empty"):
        core.save_upload([("e.npy", b"")])
    with pytest.raises(EmbedLensInputError, match="no files were uploaded"):
        core.save_upload([])


def test_uploads_never_go_into_the_bundled_sample_data(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBEDLENS_DATA", raising=False)
    monkeypatch.delenv("EMBEDLENS_UPLOADS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert core.uploads_dir() == tmp_path / "embedlens" / "uploads"


# --------------------------------------------------------------------------- kind: refused uploads


@pytest.mark.parametrize("files, message", [
    ([("vectors.npy", b"just some text, renamed\n")], "vectors.npy"),
    ([("ragged.csv", b"1,2,3\n4,5\n")], "row 1 (line 2) has 2 fields but the rows before it have 3"),
])
def test_kind_refused_uploads_are_not_kept(isolated_env, files, message):
    with pytest.raises(EmbedLensInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        core.save_upload(files)
    up = isolated_env / "uploads"
    assert not up.exists() or list(up.iterdir()) == []
    assert core.list_datasets() == []


def test_kind_refused_uploads_never_replace_a_dataset(isolated_env):
    import io

    buf = io.BytesIO()
    np.save(buf, np.eye(4, dtype=np.float32))
    entry = core.save_upload([("v.npy", buf.getvalue())])
    stamp = (entry.path / "v.npy").stat().st_mtime_ns
    assert core.save_upload([("v.npy", buf.getvalue())]) == entry  # the same content: not written again
    assert (entry.path / "v.npy").stat().st_mtime_ns == stamp
    entry.path.rename(entry.path.with_name("moved"))
    entry.path.write_bytes(b"a file where the upload folder would go")
    with pytest.raises(EmbedLensInputError, match="never replaces it"):
        core.save_upload([("v.npy", buf.getvalue())])
    assert entry.path.read_bytes() == b"a file where the upload folder would go"


def test_kind_refused_uploads_can_be_removed_only_inside_the_uploads_folder(isolated_env):
    import io

    mine = _dataset_folder(isolated_env, "mine")
    buf = io.BytesIO()
    np.save(buf, np.eye(4, dtype=np.float32))
    entry = core.save_upload([("v.npy", buf.getvalue())])
    assert [e.name for e in core.list_datasets()] == ["mine", entry.name]
    with pytest.raises(EmbedLensInputError, match="not an upload"):
        remove_upload("mine")
    with pytest.raises(EmbedLensInputError, match="outside the data folder"):
        remove_upload("uploads/../mine")
    outside = isolated_env.parent / "elsewhere"
    _dataset_folder(isolated_env.parent, "elsewhere")
    (isolated_env / "uploads" / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(EmbedLensInputError, match="symbolic link to a place outside the uploads folder"):
        remove_upload("uploads/linked")
    assert (outside / "x.npy").exists() and (mine / "x.npy").exists()
    assert remove_upload(entry.name) == entry.path
    assert not entry.path.exists()
    assert [e.name for e in core.list_datasets()] == ["mine"]  # the link leaving the folder is no dataset


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "utf-16"])
def test_kind_encoding_catalog_description_reads_like_the_loader(tmp_path, encoding):
    """The catalog's description came from tomllib on raw bytes: a cp1252 manifest raised
    UnicodeDecodeError and a BOM gave no description. Expected: the literal text written."""
    folder = _dataset_folder(tmp_path, "ds")
    (folder / "embedlens.toml").write_bytes('description = "Café naïve embeddings"\n'.encode(encoding))
    entry = core.list_datasets(tmp_path)[0]
    assert entry.description == "Café naïve embeddings"


def test_kind_refused_uploads_name_the_uploaded_file_not_a_folder(tmp_path):
    import core as _core

    with pytest.raises(_core.EmbedLensInputError) as info:
        _core.save_upload([("fake.npy", b"not numpy at all")], tmp_path)
    assert str(info.value) == "fake.npy: is not a NumPy .npy file (it lacks the NumPy header)"
    assert info.value.source == "fake.npy"
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").rglob("*"))


def test_kind_unloadable_dataset_is_listed_so_its_error_can_be_shown(tmp_path):
    """A folder whose only file is an embedlens.toml naming a file outside it was left out of the
    catalog, so the app never said why the dataset was missing; it is listed, and loading it names
    the problem."""
    import numpy as np

    from core import EmbedLensInputError, list_datasets, load

    np.save(tmp_path / "outside.npy", np.ones((4, 3), dtype=np.float32))
    (tmp_path / "data" / "tomlds").mkdir(parents=True)
    (tmp_path / "data" / "tomlds" / "embedlens.toml").write_text('[[views]]\nfile = "../../outside.npy"\n')
    entries = {e.name: e for e in list_datasets(tmp_path / "data")}
    assert "tomlds" in entries
    with pytest.raises(EmbedLensInputError, match="outside"):
        load(entries["tomlds"].path)
