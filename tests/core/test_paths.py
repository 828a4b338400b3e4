"""Paths: nothing outside the data folder is ever opened, whatever a manifest, a link or a file name says.

Manifests naming ``..``, absolute paths or symbolic links; symbolic links placed in a dataset
folder, in the data folder and in the uploads folder; dataset names from share links (fuzzed:
``..``, absolute, NUL, encoded separators, unicode); upload file names with path parts. Each is
refused with a message, or (a link's dataset name) resolves to a listed dataset inside the folder.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core
from core import EmbedLensInputError

SECRET = np.full((5, 3), 777.0, dtype=np.float32)
TRIED: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report(pytestconfig):
    yield
    if TRIED:
        capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
        text = "path strings tried: " + ", ".join(f"{k} {n}" for k, n in sorted(TRIED.items()))
        if capture is not None:
            with capture.global_and_fixture_disabled():
                print("\n" + text)


@pytest.fixture
def tree(tmp_path) -> Path:
    """data/ok (a dataset) and, outside data/, secret/ (a dataset) and secret.npy."""
    data = tmp_path / "data"
    (data / "ok").mkdir(parents=True)
    np.save(data / "ok" / "x.npy", np.ones((5, 3), np.float32))
    pd.DataFrame({"label": list("abcde")}).to_csv(data / "ok" / "metadata.csv", index=False)
    (tmp_path / "secret").mkdir()
    np.save(tmp_path / "secret" / "x.npy", SECRET)
    np.save(tmp_path / "secret.npy", SECRET)
    return data


@pytest.mark.parametrize("manifest,match", [
    ('metadata = "../../secret.npy"\n', r"metadata = '../../secret.npy' points outside the dataset folder"),
    ('[[views]]\nfile = "../../secret.npy"\n', r"'../../secret.npy' points outside the dataset folder"),
    ('[[views]]\nfile = "/{secret}"\n', r"points outside the dataset folder"),
    ('[[views]]\nfile = "x.npy/../../../secret.npy"\n', r"points outside the dataset folder"),
    ('[[views]]\nfile = "link.npy"\n', r"'link.npy' is a symbolic link to a place outside the dataset folder"),
])
def test_kind_paths_manifest_pointing_outside_is_refused(tree, manifest, match):
    ok = tree / "ok"
    os.symlink(tree.parent / "secret.npy", ok / "link.npy") if "link" in manifest else None
    (ok / "embedlens.toml").write_text(manifest.replace("{secret}", str(tree.parent / "secret.npy").lstrip("/")))
    with pytest.raises(EmbedLensInputError, match=match):
        core.load(ok, root=tree)


def test_kind_paths_symlinked_dataset_leaving_the_data_folder_is_not_listed_and_named(tree, caplog):
    os.symlink(tree.parent / "secret", tree / "linked")  # a folder link
    os.symlink(tree.parent / "secret.npy", tree / "linked.npy")  # a file link
    os.symlink(tree / "ok", tree / "alias")  # a link that stays inside is a dataset like any other
    assert [e.name for e in core.list_datasets(tree)] == ["alias", "ok"]
    assert "'linked' is a symbolic link to a place outside the data folder" in caplog.text
    for name in ("linked", "linked.npy"):
        with pytest.raises(EmbedLensInputError, match=rf"'{name}' is a symbolic link to a place outside the data folder"):
            core.resolve(name, tree)
    assert core.resolve("alias", tree).path == tree / "alias"


def test_kind_paths_symlink_in_the_uploads_folder_is_not_listed(tree, monkeypatch):
    (tree / "uploads").mkdir()
    os.symlink(tree.parent / "secret", tree / "uploads" / "evil-0123456789")
    monkeypatch.delenv("EMBEDLENS_UPLOADS", raising=False)
    assert [e.name for e in core.list_datasets(tree)] == ["ok"]
    with pytest.raises(EmbedLensInputError, match="outside the uploads folder"):
        core.resolve("uploads/evil-0123456789", tree)
    with pytest.raises(EmbedLensInputError, match="outside the uploads folder"):
        core.remove_upload("uploads/evil-0123456789", tree)
    assert (tree.parent / "secret" / "x.npy").exists()


def test_kind_paths_load_with_a_root_refuses_escapes(tree):
    os.symlink(tree.parent / "secret.npy", tree / "link.npy")
    for path in ("../secret.npy", tree.parent / "secret.npy", tree / "link.npy", "ok/../../secret.npy"):
        with pytest.raises(EmbedLensInputError, match="is outside the data folder"):
            core.load(path, root=tree)
    assert core.load("ok", root=tree).n == 5


# Names a share link can carry in ``ds=``: traversal, absolute, encoded, NUL, unicode, near misses.
_NAMES = st.one_of(
    st.sampled_from(["..", "../secret", "../../etc/passwd", "/etc/passwd", "ok/..", "ok/../../secret", "./ok",
                     "ok/", "ok/x.npy", "uploads/../ok", "uploads/..", "uploads/../../secret", "%2e%2e/secret",
                     "..%2fsecret", "ok\x00", "\x00", "~", "~/secret", "ok\\..\\..\\secret", "C:\\secret", "OK",
                     "ok ", " ok", "secret", "linked", "linked.npy", "uploads", "uploads/", "\u202eko", "ｏｋ"]),
    st.text(max_size=20),
    st.lists(st.sampled_from(["..", ".", "ok", "uploads", "secret", "", "x.npy", "~"]), min_size=1,
             max_size=5).map("/".join),
)


def test_kind_paths_link_dataset_names_resolve_inside_or_are_refused(tree):
    """Fuzzed ``ds=`` names: ``resolve`` returns a listed entry inside the data folder, or refuses
    with an EmbedLensInputError; it never raises anything else and never reaches secret/."""
    os.symlink(tree.parent / "secret", tree / "linked")
    os.symlink(tree.parent / "secret.npy", tree / "linked.npy")
    inside = {tree.resolve()}

    @settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "0")) or 300, deadline=None, database=None,
              derandomize="FUZZ_EXAMPLES" not in os.environ, suppress_health_check=list(HealthCheck))
    @given(name=st.one_of(_NAMES, st.none(), st.integers()))
    def run(name):
        TRIED["ds names"] += 1
        try:
            entry = core.resolve(name, tree)
        except EmbedLensInputError as exc:
            assert str(exc)
            return
        assert entry.name == name and entry.name in {"ok"}
        assert entry.path.resolve().parent in inside

    run()


@pytest.mark.parametrize("fname", ["../../evil.npy", "/tmp/evil.npy", "..\\..\\evil.npy", "a/../../evil.npy",
                                   ".hidden.npy", "~evil.npy", "con.npy", "x\x00.npy", "ü ber.npy"])
def test_kind_paths_upload_file_names_stay_in_their_folder(isolated_env, fname):
    import io

    buf = io.BytesIO()
    np.save(buf, np.eye(3, dtype=np.float32))
    entry = core.save_upload([(fname, buf.getvalue())])
    files = [p for p in entry.path.rglob("*")]
    assert len(files) == 1 and files[0].parent == entry.path and files[0].suffix == ".npy"
    assert entry.path.parent == core.uploads_dir() and not entry.path.name.startswith(".")
    assert {p.name for p in isolated_env.parent.iterdir()} <= {"data", "cache"}  # nothing written beside it
