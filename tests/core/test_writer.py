"""core.writer: views written from a training loop, read back by core.load; concurrent writers,
killed writers and refused input never leave a folder the loader cannot read."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core import EmbedLensInputError
from core.readers.manifest import _read_manifest

ROOT = Path(__file__).resolve().parents[2]


def _X(seed: int, n: int = 30, d: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_views_round_trip_with_labels_metadata_and_extra(tmp_path):
    meta = pd.DataFrame({"id": [f"i{k}" for k in range(30)], "label": np.arange(30) % 3})
    w = core.writer(tmp_path / "ds", metadata=meta, description="toy run", id_column="id")
    for step in (1, 10):
        w.add(_X(step), run="seed0", layer="fc", step=step, extra={"acc": step / 100})
    w.add(_X(7).astype(np.float16), run="seed0", layer="fc", step=None, modality="image")
    ds = core.load(tmp_path / "ds")
    assert [(v.run, v.layer, v.step, v.modality) for v in ds.views] == [
        ("seed0", "fc", 1, ""), ("seed0", "fc", 10, ""), ("seed0", "fc", None, "image")]
    np.testing.assert_array_equal(ds.view("seed0/fc/step10").X, _X(10))
    assert ds.views[2].source_dtype == "float16"
    np.testing.assert_array_equal(ds.views[2].X, _X(7).astype(np.float16).astype(np.float32))
    assert dict(ds.views[1].extra) == {"acc": 0.1}
    assert ds.description == "toy run" and ds.id_column == "id"
    assert list(ds.ids[:2]) == ["i0", "i1"]
    pd.testing.assert_frame_equal(ds.metadata, meta)
    # the loader's strict reader accepts what the writer wrote
    spec = _read_manifest(tmp_path / "ds" / "embedlens.toml", "m")
    assert [s.file for s in spec["views"]][0] == "views/seed0/fc/step000001.npy"


def test_adding_the_same_labels_again_replaces_the_view_in_place(tmp_path):
    w = core.writer(tmp_path)
    w.add(_X(1), run="a", layer="l", step=1)
    w.add(_X(2), run="a", layer="l", step=2)
    w.add(_X(3), run="a", layer="l", step=1)
    ds = core.load(tmp_path)
    assert [v.step for v in ds.views] == [1, 2]
    np.testing.assert_array_equal(ds.views[0].X, _X(3))


def test_labels_that_make_the_same_file_name_get_distinct_files(tmp_path):
    w = core.writer(tmp_path)
    a = w.add(_X(1), run="a b", layer="l", step=1)
    b = w.add(_X(2), run="a_b", layer="l", step=1)
    assert a != b
    ds = core.load(tmp_path)
    assert [v.run for v in ds.views] == ["a b", "a_b"]
    np.testing.assert_array_equal(ds.views[1].X, _X(2))


def test_refused_input_leaves_the_folder_as_it_was(tmp_path):
    w = core.writer(tmp_path, metadata={"label": np.arange(30)})
    w.add(_X(1), run="a", layer="l", step=1)
    before = (tmp_path / "embedlens.toml").read_bytes()
    with pytest.raises(EmbedLensInputError, match="X has 20 rows but the views already .* have 30"):
        w.add(_X(2, n=20), run="a", layer="l", step=2)
    with pytest.raises(EmbedLensInputError, match="differs from the metadata already stored"):
        w.add(_X(2), run="a", layer="l", step=2, metadata={"label": np.arange(30) + 1})
    with pytest.raises(EmbedLensInputError, match="metadata: has 29 rows but X has 30"):
        w.add(_X(2), run="a", layer="l", step=2, metadata={"label": np.arange(29)})
    with pytest.raises(EmbedLensInputError, match="step = 1.5 must be an integer"):
        w.add(_X(2), run="a", layer="l", step=1.5)
    with pytest.raises(EmbedLensInputError, match="run = 3 must be a string"):
        w.add(_X(2), run=3, layer="l", step=2)
    with pytest.raises(EmbedLensInputError, match="has shape"):
        w.add(np.zeros(5), run="a", layer="l", step=2)
    assert (tmp_path / "embedlens.toml").read_bytes() == before
    assert len(core.load(tmp_path).views) == 1
    # the same metadata again is fine
    w.add(_X(2), run="a", layer="l", step=2, metadata={"label": np.arange(30)})
    assert len(core.load(tmp_path).views) == 2


def test_an_invalid_manifest_is_refused_with_the_loaders_message(tmp_path):
    (tmp_path / "embedlens.toml").write_text('descripton = "typo"\n')
    with pytest.raises(EmbedLensInputError, match=r"unknown key\(s\) \['descripton'\]"):
        core.writer(tmp_path)


def test_user_keys_and_views_in_an_existing_manifest_are_kept(tmp_path):
    np.save(tmp_path / "hand.npy", _X(0))
    (tmp_path / "embedlens.toml").write_text(
        'description = "mine"\n\n[[views]]\nfile = "hand.npy"\nrun = "manual"\nextra = { note = "x" }\n')
    core.writer(tmp_path).add(_X(1), run="auto", layer="l", step=1)
    raw = tomllib.loads((tmp_path / "embedlens.toml").read_text())
    assert raw["description"] == "mine"
    assert raw["views"][0] == {"file": "hand.npy", "run": "manual", "extra": {"note": "x"}}
    assert [v.run for v in core.load(tmp_path).views] == ["manual", "auto"]


def test_a_failed_manifest_replace_keeps_the_old_manifest(tmp_path, monkeypatch):
    w = core.writer(tmp_path)
    w.add(_X(1), run="a", layer="l", step=1)
    before = (tmp_path / "embedlens.toml").read_bytes()
    real_replace = os.replace

    def failing(src, dst):
        if str(dst).endswith("embedlens.toml"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        w.add(_X(2), run="a", layer="l", step=2)
    monkeypatch.undo()
    assert (tmp_path / "embedlens.toml").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the temporary file is gone
    assert len(core.load(tmp_path).views) == 1


def _write_run(folder: str, run: str, steps: int, start) -> None:
    start.wait()
    w = core.writer(folder)
    for step in range(steps):
        w.add(_X(step), run=run, layer="fc", step=step)


def test_two_writers_of_different_runs_into_one_folder_both_land(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_write_run, args=(str(tmp_path), run, 15, start)) for run in ("seed0", "seed1")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ds = core.load(tmp_path)
    assert sorted((v.run, v.step) for v in ds.views) == sorted(
        (run, s) for run in ("seed0", "seed1") for s in range(15))
    np.testing.assert_array_equal(ds.view("seed1/fc/step14").X, _X(14))


_KILLED_WRITER = textwrap.dedent("""
    import sys, time, numpy as np, core
    cw = sys.modules["core.writing"]  # the module of core.writer
    folder, target = sys.argv[1], sys.argv[2]
    w = core.writer(folder)
    X = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
    for step in range(3):
        w.add(X + step, run="r", layer="l", step=step)
    real = cw.atomic_write

    class Halting:  # writes half of the first chunk to `target`, says so, waits to be killed
        def __init__(self, fh, name):
            self.fh, self.name = fh, name
        def write(self, data):
            data = bytes(data)
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            if self.name.endswith(target):
                print("mid-write", self.name, flush=True)
                time.sleep(120)
            return self.fh.write(data[len(data) // 2:])

    cw.atomic_write = lambda path, write: real(path, lambda fh: write(Halting(fh, str(path))))
    w.add(X + 100, run="r", layer="l", step=1)   # replaces a view the manifest lists
    w.add(X + 3, run="r", layer="l", step=3)     # a new view
    print("done", flush=True)
""")


@pytest.mark.parametrize("target", [".npy", "embedlens.toml"])
def test_a_writer_killed_mid_write_never_leaves_a_broken_folder(tmp_path, target):
    """SIGKILL a writer halfway through writing a view file or the manifest: the folder still
    loads, each view holds a whole matrix (the old or the new one), and a new writer carries on."""
    script = tmp_path / "writer.py"
    script.write_text(_KILLED_WRITER)
    folder = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, str(script), str(folder), target],
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("mid-write") and line.strip().endswith(target), (
            line + proc.stderr.read().decode())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    X = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
    ds = core.load(folder)
    assert [v.step for v in ds.views] == [0, 1, 2]
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert any(np.array_equal(ds.views[1].X, X + k) for k in (1, 100))
    core.writer(folder).add(X + 3, run="r", layer="l", step=3)
    assert [v.step for v in core.load(folder).views] == [0, 1, 2, 3]
