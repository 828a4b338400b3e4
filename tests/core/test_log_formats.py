"""Formats other tools write, each made here by the real library and read back by core.load:
TensorBoard projector logs (tensorboardX, TensorBoard), Hugging Face save_to_disk folders and
to_json lines, LanceDB tables.

The writing libraries are test-only (pyproject's ``formats-test`` extra, installed by
tests/run.sh into .venv). The lowest-versions run (tests/lowest.txt pins pyarrow 16.1.0, which
they cannot share) does not install them and skips these tests; the main run sets
TESTS_REQUIRE_OPTIONAL_LIBS=1 (not an EMBEDLENS_* name: tests/hermetic.py clears those), so a
missing library there is a failure, not a skip.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

import core
from core import EmbedLensInputError

REQUIRED = os.environ.get("TESTS_REQUIRE_OPTIONAL_LIBS") == "1"


def _lib(name: str):
    if REQUIRED:
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is in the formats-test extra, installed by "
                                            "tests/run.sh in .venv only (not in the lowest-versions run)")


def _X(seed: int, n: int = 12, d: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


LABELS = [f"c{i % 3}" for i in range(12)]


# --------------------------------------------------------------------------- TensorBoard


def _seed(run: str, step: int, tag: str) -> int:
    return 100 * int(run[-1]) + 10 * step + int(tag[-1])


def test_tensorboardx_log_with_runs_tags_and_steps(tmp_path):
    tbx = _lib("tensorboardX")
    for run in ("seed0", "seed1"):
        w = tbx.SummaryWriter(str(tmp_path / "runs" / run))
        for step in (0, 5):
            for tag in ("fc1", "fc2"):
                w.add_embedding(_X(_seed(run, step, tag)), metadata=LABELS, global_step=step, tag=tag)
        w.close()
    ds = core.load(tmp_path / "runs")
    assert len(ds.views) == 8
    assert sorted({(v.run, v.layer, v.step) for v in ds.views}) == sorted(
        (r, t, s) for r in ("seed0", "seed1") for s in (0, 5) for t in ("fc1", "fc2"))
    v = next(v for v in ds.views if (v.run, v.layer, v.step) == ("seed1", "fc2", 5))
    np.testing.assert_array_equal(v.X, _X(_seed("seed1", 5, "fc2")))
    assert v.name == "seed1/fc2:00005"
    assert list(ds.metadata["label"]) == LABELS
    # one log folder alone: no run label
    one = core.load(tmp_path / "runs" / "seed0")
    assert {v.run for v in one.views} == {""} and len(one.views) == 4
    # the catalog lists the log folder as one dataset
    assert [e.name for e in core.list_datasets(tmp_path)] == ["runs"]


def test_tensorboardx_multi_column_metadata_and_a_script_run_twice(tmp_path):
    tbx = _lib("tensorboardX")
    meta = [[i, f"c{i % 3}"] for i in range(12)]
    for _ in range(2):  # the second run appends the same entries to projector_config.pbtxt again
        w = tbx.SummaryWriter(str(tmp_path / "log"))
        w.add_embedding(_X(1), metadata=meta, metadata_header=["idx", "cls"], global_step=3, tag="emb")
        w.close()
    ds = core.load(tmp_path / "log")
    assert [v.name for v in ds.views] == ["emb:00003"]
    assert list(ds.metadata.columns) == ["idx", "cls"] and list(ds.metadata["cls"]) == LABELS


def test_tensorboard_projector_config_with_a_binary_tensor(tmp_path):
    """TensorBoard's own writer (projector.visualize_embeddings): a raw float32 tensor with
    tensor_shape, and a tab-separated one, in one log."""
    projector = _lib("tensorboard.plugins.projector")
    log = tmp_path / "log"
    log.mkdir()
    _X(2).tofile(log / "emb.bytes")
    np.savetxt(log / "other.tsv", _X(3), delimiter="\t", fmt="%.9g")
    (log / "meta.tsv").write_text("".join(f"{c}\n" for c in LABELS))
    config = projector.ProjectorConfig()
    e = config.embeddings.add()
    e.tensor_name, e.tensor_path, e.metadata_path = 'word "emb"', "emb.bytes", "meta.tsv"
    e.tensor_shape.extend([12, 5])
    e2 = config.embeddings.add()
    e2.tensor_name, e2.tensor_path = "other:7", "other.tsv"
    projector.visualize_embeddings(str(log), config)
    ds = core.load(log)
    assert [(v.name, v.layer, v.step) for v in ds.views] == [('word "emb"', 'word "emb"', None),
                                                             ("other:7", "other", 7)]
    np.testing.assert_array_equal(ds.views[0].X, _X(2))
    np.testing.assert_array_equal(ds.views[1].X, _X(3))
    assert list(ds.metadata["label"]) == LABELS


def test_projector_entries_that_cannot_be_read_are_refused_with_the_way_out(tmp_path):
    projector = _lib("tensorboard.plugins.projector")
    log = tmp_path / "log"
    log.mkdir()
    config = projector.ProjectorConfig()
    config.embeddings.add().tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"  # a TF checkpoint
    projector.visualize_embeddings(str(log), config)
    with pytest.raises(EmbedLensInputError, match="no tensor_path: it lives in a TensorFlow checkpoint"):
        core.load(log)
    # two entries whose metadata describe different items
    tbx = _lib("tensorboardX")
    w = tbx.SummaryWriter(str(tmp_path / "mixed"))
    w.add_embedding(_X(1), metadata=LABELS, global_step=0, tag="a")
    w.add_embedding(_X(2), metadata=LABELS[::-1], global_step=1, tag="a")
    w.close()
    with pytest.raises(EmbedLensInputError, match="column 'label' differs from the one in"):
        core.load(tmp_path / "mixed")


def test_pbtxt_text_format_details():
    from core.readers.projector import _parse_pbtxt

    text = ('# comment\nembeddings < tensor_name: "a\\tb\\x41\\101" "c" tensor_shape: 2; '
            "tensor_shape: 3 sprite { image_path: 's.png' } >\n")
    parsed = _parse_pbtxt(text, "cfg")
    e = parsed["embeddings"][0]
    assert e["tensor_name"] == ["a\tbAAc"] and e["tensor_shape"] == ["2", "3"]
    assert e["sprite"] == [{"image_path": ["s.png"]}]
    with pytest.raises(EmbedLensInputError, match="never closed"):
        _parse_pbtxt("embeddings { tensor_name: 'x'", "cfg")


# --------------------------------------------------------------------------- Hugging Face


def _hf_dataset(datasets, n: int = 12):
    X = _X(4, n)
    features = datasets.Features({
        "embedding": datasets.Sequence(datasets.Value("float32")),
        "label": datasets.ClassLabel(names=["cat", "dog", "eel"]),
        "text": datasets.Value("string"),
    })
    data = {"embedding": X.tolist(), "label": [i % 3 for i in range(n)], "text": [f"t{i}" for i in range(n)]}
    return datasets.Dataset.from_dict(data, features=features), X


def test_hf_save_to_disk_in_shards_reads_without_the_library(tmp_path, monkeypatch):
    datasets = _lib("datasets")
    d, X = _hf_dataset(datasets)
    d.save_to_disk(str(tmp_path / "hf"), num_shards=3)
    assert len(list((tmp_path / "hf").glob("*.arrow"))) == 3
    monkeypatch.setitem(sys.modules, "datasets", None)  # reading never imports it
    ds = core.load(tmp_path / "hf")
    assert [v.name for v in ds.views] == ["embedding"]
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata["label"]) == [["cat", "dog", "eel"][i % 3] for i in range(12)]
    assert list(ds.metadata["text"]) == [f"t{i}" for i in range(12)]


def test_hf_dataset_dict_splits_are_a_metadata_column(tmp_path):
    datasets = _lib("datasets")
    d, X = _hf_dataset(datasets)
    dd = datasets.DatasetDict({"train": d.select(range(8)), "test": d.select([11, 9, 10])})
    dd.save_to_disk(str(tmp_path / "hf"))
    ds = core.load(tmp_path / "hf")
    np.testing.assert_array_equal(ds.views[0].X, X[[0, 1, 2, 3, 4, 5, 6, 7, 11, 9, 10]])
    assert list(ds.metadata["split"]) == ["train"] * 8 + ["test"] * 3
    assert any("splits (train 8, test 3 rows) are stacked" in n for n in ds.notes)


def test_json_lines_from_hf_and_pandas(tmp_path):
    datasets = _lib("datasets")
    d, X = _hf_dataset(datasets)
    d.to_json(str(tmp_path / "hf.jsonl"))
    ds = core.load(tmp_path / "hf.jsonl")
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata.columns) == ["label", "text"]
    df = pd.DataFrame({"id": [f"i{k}" for k in range(12)], "query": list(X.astype(np.float64)),
                       "doc": list(X[::-1].astype(np.float64))})
    df.to_json(tmp_path / "pd.jsonl", orient="records", lines=True, double_precision=15)
    ds = core.load(tmp_path / "pd.jsonl")
    assert [v.name for v in ds.views] == ["query", "doc"] and ds.id_column == "id"
    np.testing.assert_array_equal(ds.view("doc").X, X[::-1])


def test_json_lines_errors_name_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"e": [1, 2]}\n{"e": [1, 2}\n')
    with pytest.raises(EmbedLensInputError, match="on line 2"):
        core.load(bad)
    ragged = tmp_path / "ragged.jsonl"
    ragged.write_text('{"e": [1, 2]}\n{"e": [1, 2]}\n{"e": [1, 2, 3]}\n')
    with pytest.raises(EmbedLensInputError, match="row 0 has 2 values but row 2 has 3"):
        core.load(ragged)
    none = tmp_path / "none.jsonl"
    none.write_text(json.dumps({"a": 1}) + "\n")
    with pytest.raises(EmbedLensInputError, match="has no vector column"):
        core.load(none)


# --------------------------------------------------------------------------- LanceDB


def _lance_table(lancedb, folder, name: str, X: np.ndarray):
    db = lancedb.connect(str(folder))
    rows = [{"vector": x.tolist(), "id": f"i{k}", "label": LABELS[k]} for k, x in enumerate(X)]
    db.create_table(name, data=rows)


def test_lancedb_table_and_database_folder(tmp_path):
    lancedb = _lib("lancedb")
    _lib("lance")
    X = _X(5)
    _lance_table(lancedb, tmp_path / "db", "items", X)
    for path in (tmp_path / "db", tmp_path / "db" / "items.lance"):
        ds = core.load(path)
        assert [v.name for v in ds.views] == ["vector"]
        np.testing.assert_array_equal(ds.views[0].X, X)
        assert ds.id_column == "id" and list(ds.metadata["label"]) == LABELS
    assert [e.name for e in core.list_datasets(tmp_path)] == ["db"]
    _lance_table(lancedb, tmp_path / "db", "more", X)
    with pytest.raises(EmbedLensInputError, match="LanceDB database with 2 tables"):
        core.load(tmp_path / "db")


def test_lance_without_pylance_says_how_to_install_it(tmp_path, monkeypatch):
    lancedb = _lib("lancedb")
    _lance_table(lancedb, tmp_path / "db", "items", _X(5))
    monkeypatch.setitem(sys.modules, "lance", None)
    with pytest.raises(EmbedLensInputError, match=r"needs the pylance package: pip install 'embedlens\[lance\]'"):
        core.load(tmp_path / "db")
