"""Uploads under pressure: over-size, wrong-type and same-name files; nothing is ever replaced or kept when refused.

Core (``core.save_upload``) and the Data page's uploader (AppTest). After every refusal the
uploads folder holds exactly what it held before, and no dataset that existed changed a byte.
"""

from __future__ import annotations

import hashlib
import io
import os
import time

import numpy as np
import pytest

import core
from core import EmbedLensInputError

from .apptest import run_app


def _npy(X) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(X, dtype=np.float32))
    return buf.getvalue()


def _tree(folder) -> dict:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def existing(isolated_env):
    """A data folder with a dataset ``keep`` and one earlier upload; their bytes are recorded."""
    keep = isolated_env / "keep"
    keep.mkdir()
    np.save(keep / "x.npy", np.ones((5, 3), np.float32))
    first = core.save_upload([("vectors.npy", _npy(np.eye(4)))])
    return isolated_env, first, _tree(isolated_env)


def test_kind_uploads_over_the_size_limit_are_refused_before_anything_is_written(existing, monkeypatch):
    data, first, before = existing
    monkeypatch.setenv("EMBEDLENS_MAX_FILE_MB", "0.01")  # 10 kB
    big = _npy(np.ones((100, 100)))  # 40 kB
    with pytest.raises(EmbedLensInputError, match=r"big.npy: the file is 0.0 MB, over the limit of 0 MB; raise it with"):
        core.save_upload([("big.npy", big)])
    assert _tree(data) == before and not list((data / "uploads").glob(".*"))


@pytest.mark.parametrize("name,content,match", [
    ("run.exe", b"MZ\x90\x00", r"run.exe: has an unknown extension '.exe'"),
    ("noext", b"1,2\n", r"noext: has an unknown extension '\(none\)'"),
    ("picture.npy", b"\x89PNG\r\n\x1a\n" + bytes(64), r"picture.npy: is not a NumPy .npy file"),
    ("table.parquet", b"1,2,3\n4,5,6\n", r"table.parquet: is not a readable Parquet file"),
    ("vectors.csv", bytes(range(256)) * 4, r"vectors.csv: holds NUL bytes"),
])
def test_kind_uploads_of_the_wrong_type_are_refused_and_not_kept(existing, name, content, match):
    data, _, before = existing
    with pytest.raises(EmbedLensInputError, match=match):
        core.save_upload([(name, content)])
    assert _tree(data) == before and not list((data / "uploads").glob(".*"))


def test_kind_uploads_with_the_same_name_never_replace_each_other(existing):
    data, first, before = existing
    second = core.save_upload([("vectors.npy", _npy(np.eye(4) * 2))])  # same name, other content
    assert second.name != first.name and second.name.startswith("uploads/vectors-")
    assert _tree(data / first.name) == {k.split("/", 2)[2]: v for k, v in before.items() if k.startswith(first.name)}
    np.testing.assert_array_equal(core.load(first.path).views[0].X, np.eye(4))
    np.testing.assert_array_equal(core.load(second.path).views[0].X, np.eye(4) * 2)
    assert core.save_upload([("vectors.npy", _npy(np.eye(4)))]) == first  # same content: stored once


@pytest.mark.parametrize("names", [("a b.tsv", "a_b.tsv"), ("X.npy", "x.npy"), ("dir/x.npy", "other/x.npy")])
def test_kind_two_files_of_one_upload_that_would_share_a_name_are_refused(existing, names):
    data, _, before = existing
    with pytest.raises(EmbedLensInputError, match="would be stored under one name"):
        core.save_upload([(names[0], _npy(np.eye(3))), (names[1], _npy(np.eye(3) * 2))])
    assert _tree(data) == before


def test_kind_an_upload_never_overwrites_what_holds_its_name(existing):
    """A folder (or file) already where the upload would go, holding something else, is refused."""
    data, first, before = existing
    content = [("vectors.npy", _npy(np.eye(5)))]
    target = core.save_upload(content).path
    (target / "vectors.npy").write_bytes(_npy(np.zeros((5, 5))))  # changed in place since
    changed = _tree(data)
    with pytest.raises(EmbedLensInputError, match="exists and does not hold these files; EmbedLens never replaces it"):
        core.save_upload(content)
    assert _tree(data) == changed
    (target / "vectors.npy").unlink()
    target.rmdir()
    target.write_bytes(b"a file in the way")
    with pytest.raises(EmbedLensInputError, match="never replaces it"):
        core.save_upload(content)
    assert target.read_bytes() == b"a file in the way"
    assert {k: v for k, v in _tree(data).items() if k.startswith(("keep", first.name))} == \
        {k: v for k, v in before.items() if k.startswith(("keep", first.name))}


def test_kind_interrupted_uploads_are_cleaned_up_later(existing):
    data, _, _ = existing
    stale, fresh = data / "uploads" / ".v-1.aaaa.partial", data / "uploads" / ".v-2.bbbb.partial"
    for p in (stale, fresh):
        p.mkdir()
        (p / "vectors.npy").write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    core.save_upload([("other.npy", _npy(np.eye(2)))])
    assert not stale.exists() and fresh.exists()  # a live upload of another session is left alone
    assert all(not e.name.startswith("uploads/.") for e in core.list_datasets())


def test_kind_uploads_need_free_disk(existing, monkeypatch):
    import shutil
    from collections import namedtuple

    data, _, before = existing
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 << 30, 10 << 30, 50 << 20))
    with pytest.raises(EmbedLensInputError, match="the uploads folder's disk has 50 MB free"):
        core.save_upload([("v2.npy", _npy(np.eye(3)))])
    assert _tree(data) == before


# --------------------------------------------------------------------------- the Data page's uploader

def test_kind_uploader_same_name_twice_opens_two_datasets(isolated_env):
    at = run_app()
    names = []
    for scale in (1, 2):
        at.file_uploader[0].set_value([("vectors.npy", _npy(np.eye(6) * scale), "application/octet-stream")]).run()
        at.button[0].click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        names.append(at.selectbox(key="w.dataset").value)
    assert names[0] != names[1] and all(n.startswith("uploads/vectors-") for n in names)
    assert sorted(at.selectbox(key="w.dataset").options) == sorted(names)
    np.testing.assert_array_equal(core.load(isolated_env / names[0]).views[0].X, np.eye(6))


@pytest.mark.parametrize("files,message", [
    # (a .exe never reaches the page: the browser's picker filters by type, and Streamlit refuses a
    # crafted one while reading the widget state, before the script runs; core's check is tested above)
    ([("vectors.npy", b"\x89PNG\r\n\x1a\n" + bytes(64))], "vectors.npy: is not a NumPy .npy file"),
    ([("big.npy", _npy(np.ones((100, 100))))], "big.npy: the file is 0.0 MB, over the limit of 0 MB"),
    ([("a b.npy", _npy(np.eye(3))), ("a_b.npy", _npy(np.eye(3)))], "would be stored under one name"),
])
def test_kind_uploader_refusals_are_shown_and_nothing_is_kept(isolated_env, monkeypatch, files, message):
    monkeypatch.setenv("EMBEDLENS_MAX_FILE_MB", "0.01")
    keep = isolated_env / "keep"
    keep.mkdir()
    np.save(keep / "x.npy", np.ones((5, 3), np.float32))
    before = _tree(isolated_env)
    at = run_app()
    at.file_uploader[0].set_value([(n, c, "application/octet-stream") for n, c in files]).run()
    at.button[0].click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("Upload refused, nothing was kept: ") and message in e for e in errors), errors
    assert _tree(isolated_env) == before
    assert at.selectbox(key="w.dataset").value == "keep"
    assert not at.file_uploader[0].value  # emptied: the refused files are not sent again
