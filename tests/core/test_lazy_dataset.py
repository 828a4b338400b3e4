"""Out-of-core datasets (issue 16): a manifest whose views are folders of shards loads lazily; the pages'
seeded in-memory sample (core.sample_dataset) holds exactly the sampled rows of every view and the
metadata; read_rows reads only those rows."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import core
from core import EmbedLensInputError, NonFiniteRowsError

pytest.importorskip("dask.array")

SPLITS = [(0, 37), (37, 538), (538, 539), (539, 1000)]  # uneven shards, one of a single row


def _write(root, n=1000, *, ids=False, nan_row=None, id_name="item"):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 8)).astype(np.float32) + 3
    Y = (X @ rng.normal(size=(8, 5))).astype(np.float32)
    if nan_row is not None:
        X[nan_row, 2] = np.nan
    for name, M in (("a", X), ("b", Y)):
        (root / "views" / name).mkdir(parents=True, exist_ok=True)
        for i, (s, e) in enumerate(SPLITS):
            np.save(root / "views" / name / f"part-{i}.npy", M[s:e])
    meta = pd.DataFrame({"label": np.array(list("abc"))[rng.integers(0, 3, n)]})
    if ids:
        meta.insert(0, id_name, [f"item{i:05d}" for i in range(n)])
    meta.to_parquet(root / "metadata.parquet")
    (root / "embedlens.toml").write_text(
        'description = "big"\nmetadata = "metadata.parquet"\n'
        + (f'id_column = "{id_name}"\n' if ids else "")
        + '[[views]]\nfile = "views/a"\nrun = "r"\nlayer = "a"\n'
        + '[[views]]\nfile = "views/b"\nname = "bee"\nrun = "r"\nlayer = "b"\nstep = 3\n')
    return X, Y, meta


def test_a_manifest_of_shard_folders_loads_lazily(tmp_path):
    X, Y, meta = _write(tmp_path)
    ds = core.load(tmp_path)
    assert ds.lazy and all(v.lazy for v in ds.views) and ds.sample is None
    assert ds.view_names == ["views/a", "bee"] and ds.view("bee").step == 3 and ds.n == 1000
    a = ds.view("views/a")
    assert a.X.chunks[0] == (37, 501, 1, 461) and (a.n, a.d) == (1000, 8)
    np.testing.assert_array_equal(a.X.compute(), X)  # the lazy view is the matrix
    assert ds.metadata["label"].tolist() == meta["label"].tolist()
    assert any("4 npy shards in 4 chunks" in note for note in ds.notes)
    # the fingerprint follows the files: same files, same print; a rewritten shard, another
    assert core.load(tmp_path).fingerprint == ds.fingerprint
    shard = tmp_path / "views" / "a" / "part-2.npy"
    np.save(shard, X[537:538] + 1)
    os.utime(shard, ns=(1, 1))
    assert core.load(tmp_path).view("views/a").fingerprint != a.fingerprint


def test_sample_dataset_holds_the_sampled_rows_of_every_view(tmp_path):
    X, Y, meta = _write(tmp_path)
    ds = core.load(tmp_path)
    s = core.sample_dataset(ds, size=100, seed=3)
    rows = s.sample.rows
    assert len(rows) == 100 == s.n and np.all(np.diff(rows) > 0) and rows.max() < 1000
    expected = core._sampling.subsample(np.arange(1000), 100, seed=3).rows  # the one seeded subsample
    np.testing.assert_array_equal(rows, np.sort(expected))
    np.testing.assert_array_equal(s.view("views/a").X, X[rows])
    np.testing.assert_array_equal(s.view("bee").X, Y[rows])
    assert not any(v.lazy for v in s.views) and not s.lazy
    assert s.id_column == "row" and s.metadata["row"].tolist() == rows.tolist()  # full-dataset row numbers
    assert s.metadata["label"].tolist() == meta["label"].iloc[rows].tolist()
    assert s.sample.full is ds and s.sample.n_total == 1000 and s.sample.seed == 3
    assert s.sample.label == "a seeded sample of 100 of 1,000 items (seed 3)"
    assert s.view("bee").step == 3 and s.view("bee").run == "r"
    # deterministic: the same seed gives the same sample (a link reopens the same items)
    assert core.sample_dataset(ds, size=100, seed=3).fingerprint == s.fingerprint
    assert core.sample_dataset(ds, size=100, seed=4).fingerprint != s.fingerprint
    everything = core.sample_dataset(ds, size=5000)
    assert everything.n == 1000 and everything.sample.method == "all rows"


def test_sample_keeps_the_id_column(tmp_path):
    _write(tmp_path, ids=True)
    s = core.sample_dataset(core.load(tmp_path), size=50, seed=0)
    assert s.id_column == "item" and "row" not in s.metadata
    assert s.ids.tolist() == [f"item{r:05d}" for r in s.sample.rows]


def test_read_rows_reads_any_order_and_refuses_out_of_range(tmp_path):
    X, _, _ = _write(tmp_path)
    view = core.open_sharded(tmp_path / "views" / "a")
    rows = np.array([999, 0, 36, 37, 538, 538, 537])
    np.testing.assert_array_equal(core.read_rows(view.X, rows), X[rows])
    np.testing.assert_array_equal(core.read_rows(view.X[:, :], rows), X[rows])  # a derived array: via dask
    with pytest.raises(IndexError, match=r"\[0, 1000\)"):
        core.read_rows(view.X, [1000])


def test_nan_in_the_sample_is_named_by_its_row_in_the_full_dataset(tmp_path):
    _write(tmp_path, nan_row=500)
    ds = core.load(tmp_path)  # nothing scanned at load: the shards are not read
    with pytest.raises(NonFiniteRowsError, match=r"\(row 500\) \(row numbers of the full dataset\)") as err:
        core.sample_dataset(ds, size=1000)
    assert err.value.rows.tolist() == [500]
    kept = core.sample_dataset(ds, size=1000, nonfinite="drop")
    assert kept.n == 999 and 500 not in kept.sample.rows and kept.metadata["row"].tolist() == kept.sample.rows.tolist()
    # the exact pass refuses it, naming the row and the way out that works out of core (not the Data page)
    with pytest.raises(EmbedLensInputError, match=r"\(row 500\); remove or fix them in the data first"):
        core.spectral_profile(ds.view("views/a").X)


def test_mixed_views_and_outside_links_are_refused(tmp_path):
    _write(tmp_path)
    np.save(tmp_path / "small.npy", np.zeros((1000, 3), np.float32))
    with open(tmp_path / "embedlens.toml", "a") as fh:
        fh.write('[[views]]\nfile = "small.npy"\n')
    with pytest.raises(EmbedLensInputError, match="mixes views that are folders of shards"):
        core.load(tmp_path)
    other = tmp_path.parent / (tmp_path.name + "-outside")
    other.mkdir()
    np.save(other / "secret.npy", np.ones((5, 8), np.float32))
    (tmp_path / "embedlens.toml").write_text('[[views]]\nfile = "views/a"\n')
    (tmp_path / "views" / "a" / "part-9.npy").symlink_to(other / "secret.npy")
    with pytest.raises(EmbedLensInputError, match="outside the dataset folder"):
        core.load(tmp_path)
    with pytest.raises(EmbedLensInputError, match="part-9.npy is a link leading outside a"):
        core.open_sharded(tmp_path / "views" / "a")  # the same fence when opened directly


def test_sample_dataset_refuses_bad_input(tmp_path):
    _write(tmp_path)
    ds = core.load(tmp_path)
    with pytest.raises(EmbedLensInputError, match="size"):
        core.sample_dataset(ds, size=0)
    with pytest.raises(EmbedLensInputError, match="nonfinite"):
        core.sample_dataset(ds, nonfinite="keep")
    with pytest.raises(EmbedLensInputError, match="is in memory"):
        core.sample_dataset(core.sample_dataset(ds, size=10))


def test_view_metrics_of_an_out_of_core_dataset_say_what_was_sampled(tmp_path):
    from core.outofcore import _draw
    from core.report import view_metrics

    X, _, meta = _write(tmp_path)
    lazy = core.load(tmp_path)
    report = view_metrics(lazy, views=["views/a"], label="label", sample_size=300, knn_sample=200, seed=1)
    row = report.table.iloc[0]
    labels = meta["label"].to_numpy()
    profile = core.spectral_profile(X, seed=1)  # numpy, in memory: exact over every item
    for name, value in profile.values().items():
        assert row[name] == pytest.approx(value, rel=1e-6, nan_ok=True), name
    assert row["nc1"] == pytest.approx(core.neural_collapse(X, labels).nc1, rel=1e-9)
    rows = _draw(1000, 300, 1, None).rows
    graph = core.knn_graph(X[rows], k=10, seed=1)
    assert row["intrinsic_dimension"] == pytest.approx(core.intrinsic_dimension(X[rows], graph=graph, seed=1).value)
    assert row["hubness"] == pytest.approx(core.hubness(X[rows], k=10, graph=graph, seed=1).skewness)
    est = core.sampled_knn_metric(X, kind="knn_purity", labels=labels, k=10, metric="cosine", sample_size=200,
                                  seed=1, stratify=labels)
    assert row["knn_purity"] == pytest.approx(est.value)
    assert row["n"] == 1000 and report.params["out_of_core_sample"] == 300
    assert any("intrinsic_dimension and hubness on 300 of them" in n for n in report.notes)
    assert any("knn_purity = " in n and "200 of 1,000 items (seed 1)" in n for n in report.notes)


def test_a_zarr_view_loads_lazily_and_its_files_key_it(tmp_path):
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 12)).astype(np.float32)
    z = zarr.open(str(tmp_path / "emb.zarr"), mode="w", shape=X.shape, chunks=(300, 12), dtype="f4")
    z[:] = X
    pd.DataFrame({"label": rng.integers(0, 3, 1000).astype(str)}).to_parquet(tmp_path / "m.parquet")
    (tmp_path / "embedlens.toml").write_text('metadata = "m.parquet"\n[[views]]\nfile = "emb.zarr"\n')
    ds = core.load(tmp_path)  # was FileNotFoundError: the store's fingerprint looked for emb.zarr/emb.zarr
    assert ds.lazy and ds.view_names == ["emb.zarr"] and ds.view("emb.zarr").X.chunks[0] == (300, 300, 300, 100)
    s = core.sample_dataset(ds, size=100)
    np.testing.assert_array_equal(s.views[0].X, X[s.sample.rows])
    assert core.spectral_profile(ds.views[0].X).participation_ratio == pytest.approx(
        core.spectral_profile(X).participation_ratio, rel=1e-9)
    before = ds.views[0].fingerprint
    assert core.load(tmp_path).views[0].fingerprint == before
    z[:10] = X[:10] + 1  # a chunk rewritten: the view's fingerprint follows its files
    assert core.load(tmp_path).views[0].fingerprint != before
