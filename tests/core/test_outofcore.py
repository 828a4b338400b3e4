"""core.outofcore: sharded folders as lazy views, sample-then-extend maps, sampled kNN metrics.

References: the shards' own arrays (np.load), core.fingerprint_array of the same matrix, the exact
kNN graph of all items (core.knn_graph), umap-learn called directly, and the sampling distribution
of the estimate over many seeds.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("dask.array")

import dask.array as da  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from core import EmbedLensInputError, fingerprint_array, knn_graph, knn_purity, spectrum  # noqa: E402
from core.outofcore import (ShardedView, fingerprint_chunked, open_sharded, sample_then_extend_umap,  # noqa: E402
                            sampled_knn_metric)

SHARDS = [37, 101, 500, 1, 361]  # uneven, 1,000 rows


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((1000, 12)).astype(np.float32)


def _write_npy(folder, X, sizes=SHARDS, dtype=None):
    start = 0
    for i, size in enumerate(sizes):
        part = X[start:start + size]
        np.save(folder / f"part-{i}.npy", part if dtype is None else part.astype(dtype))
        start += size
    return folder


def test_npy_shards_are_one_lazy_view(tmp_path, matrix):
    view = open_sharded(_write_npy(tmp_path, matrix), chunk_mb=200 * 12 * 4 / 2**20)  # 200 rows a chunk
    assert isinstance(view, ShardedView) and view.format == "npy"
    assert (view.n, view.d, view.source_dtype) == (1000, 12, "float32")
    assert view.shards == tuple(f"part-{i}.npy" for i in range(5))
    # chunks follow the shards, the 500-row shard split into pieces of at most 200 rows
    assert view.X.chunks[0] == (37, 101, 200, 200, 100, 1, 200, 161)
    np.testing.assert_array_equal(np.asarray(view.X), matrix)
    assert view.fingerprint == fingerprint_array(matrix)
    np.testing.assert_allclose(spectrum(view.X).eigenvalues, spectrum(matrix).eigenvalues, rtol=1e-6)


def test_natural_order_and_float16_shards(tmp_path, matrix):
    _write_npy(tmp_path, matrix, [100] * 10, dtype=np.float16)  # part-0 .. part-9
    # renamed part-10: in plain string order it would come before part-3
    (tmp_path / "part-2.npy").rename(tmp_path / "part-10.npy")
    view = open_sharded(tmp_path)
    assert view.shards[-1] == "part-10.npy" and view.shards[1] == "part-1.npy"
    order = [0, 1, 3, 4, 5, 6, 7, 8, 9, 2]
    expected = np.concatenate([matrix[i * 100:(i + 1) * 100] for i in order]).astype(np.float16).astype(np.float32)
    assert view.source_dtype == "float16" and view.X.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(view.X), expected)
    assert view.fingerprint == fingerprint_array(expected)


def test_the_reader_pickles_and_reads_across_shards(tmp_path, matrix):
    """A multi-process cluster ships the reader by pickle (paths only) and reads the shards itself."""
    from core.outofcore import _npy_shards

    files = sorted(_write_npy(tmp_path, matrix).iterdir())
    reader = pickle.loads(pickle.dumps(_npy_shards(files, tmp_path, 1.0)[0]))
    np.testing.assert_array_equal(reader[30:140], matrix[30:140])
    np.testing.assert_array_equal(reader[np.array([999, 0, 137])], matrix[[999, 0, 137]])
    np.testing.assert_array_equal(reader[(slice(600, 700), slice(2, 5))], matrix[600:700, 2:5])


def test_fingerprint_chunked_equals_the_in_memory_one(matrix):
    import core.readers.fingerprint as fp

    big = np.random.default_rng(0).standard_normal((70_000, 130)).astype(np.float32)  # 36 MB: 2 hash blocks
    assert fingerprint_chunked(da.from_array(big, chunks=((37, 20_000, 49_963), 130))) == fingerprint_array(big)
    assert fingerprint_chunked(da.from_array(big.astype(np.float64), chunks=(9_999, 65))) == fingerprint_array(big)
    assert fp._HASH_CHUNK_BYTES < big.nbytes
    assert fingerprint_chunked(matrix) == fingerprint_array(matrix)


@pytest.mark.parametrize("layout", ["fixed_size_list", "list", "dim_columns"])
def test_parquet_row_groups_are_chunks(tmp_path, matrix, layout):
    for i, (a, b) in enumerate([(0, 638), (638, 1000)]):
        part = matrix[a:b]
        if layout == "dim_columns":
            table = pa.table({"id": np.arange(a, b), **{f"dim_{j}": part[:, j] for j in range(12)}})
        elif layout == "list":
            table = pa.table({"id": np.arange(a, b), "vec": pa.array(list(part))})
        else:
            vec = pa.FixedSizeListArray.from_arrays(pa.array(part.ravel()), 12)
            table = pa.table({"id": np.arange(a, b), "vec": vec})
        pq.write_table(table, tmp_path / f"shard-{i}.parquet", row_group_size=200)
    view = open_sharded(tmp_path)
    assert view.format == "parquet" and view.column == (None if layout == "dim_columns" else "vec")
    assert view.X.chunks[0] == (200, 200, 200, 38, 200, 162)
    np.testing.assert_array_equal(np.asarray(view.X), matrix)
    assert view.fingerprint == fingerprint_array(matrix)
    np.testing.assert_array_equal(np.asarray(view.X[190:420]), matrix[190:420])


def test_bad_folders_are_named(tmp_path, matrix):
    with pytest.raises(EmbedLensInputError, match="does not exist"):
        open_sharded(tmp_path / "nope")
    with pytest.raises(EmbedLensInputError, match="holds no .npy or Parquet shards"):
        open_sharded(tmp_path)
    np.save(tmp_path / "a.npy", matrix[:10])
    np.save(tmp_path / "b.npy", matrix[:10, :5])
    with pytest.raises(EmbedLensInputError, match="has 5 columns but a.npy has 12"):
        open_sharded(tmp_path)
    (tmp_path / "b.npy").unlink()
    with open(tmp_path / "c.npy", "wb") as fh:
        pickle.dump([1, 2], fh)
    with pytest.raises(EmbedLensInputError, match="pickle"):
        open_sharded(tmp_path)
    (tmp_path / "c.npy").unlink()
    pq.write_table(pa.table({"x": [1.0]}), tmp_path / "d.parquet")
    with pytest.raises(EmbedLensInputError, match=r"both .npy \(1\) and Parquet \(1\)"):
        open_sharded(tmp_path)
    (tmp_path / "a.npy").unlink()
    with pytest.raises(EmbedLensInputError, match="has no vector column"):
        open_sharded(tmp_path)
    pq.write_table(pa.table({"u": pa.array([[1.0, 2.0]]), "v": pa.array([[1.0]])}), tmp_path / "d.parquet")
    with pytest.raises(EmbedLensInputError, match="2 vector columns .* pass column="):
        open_sharded(tmp_path)
    assert open_sharded(tmp_path, column="v").d == 1


def test_zarr_store(tmp_path, matrix):
    zarr = pytest.importorskip("zarr")
    store = tmp_path / "emb.zarr"
    z = zarr.open(str(store), mode="w", shape=matrix.shape, chunks=(300, 12), dtype="f4")
    z[:] = matrix
    view = open_sharded(store)
    assert view.format == "zarr" and view.X.chunks[0] == (300, 300, 300, 100)
    np.testing.assert_array_equal(np.asarray(view.X), matrix)


# --------------------------------------------------------------------------- sampled kNN metrics


@pytest.fixture(scope="module")
def labelled():
    """1,200 x 8: three overlapping classes, so kNN purity varies between items."""
    rng = np.random.default_rng(9)
    y = rng.integers(0, 3, 1200)
    X = rng.standard_normal((1200, 8)) + 1.2 * np.eye(8)[y]
    return X, y


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("lazy", [False, True])
def test_sampled_items_get_their_exact_knn_purity(labelled, metric, lazy):
    X, y = labelled
    full = knn_purity(knn_graph(X, k=10, metric=metric, method="exact"), y)
    A = da.from_array(X, chunks=((37, 101, 500, 562), 8)) if lazy else X
    r = sampled_knn_metric(A, labels=y, k=10, sample_size=200, seed=3, metric=metric)
    assert len(r.rows) == 200 and r.method.startswith("seeded sample stratified")
    np.testing.assert_array_equal(r.per_item, full[r.rows])
    assert abs(r.value - full.mean()) < 4 * r.se and 0 < r.se < 0.05
    every = sampled_knn_metric(A, labels=y, k=10, sample_size=5000, seed=3, metric=metric)
    assert every.value == pytest.approx(full.mean(), rel=1e-12) and every.se == 0.0
    assert every.method == "all rows"


def test_the_interval_covers_the_truth_at_its_level(labelled):
    """Over 200 seeds, the 90 % interval from 60 sampled items holds the all-items mean about 90 % of the time."""
    X, y = labelled
    truth = knn_purity(knn_graph(X, k=5, metric="cosine", method="exact"), y).mean()
    hits, ses = [], []
    for seed in range(200):
        r = sampled_knn_metric(X, labels=y, k=5, sample_size=60, seed=seed, confidence=0.9)
        hits.append(r.ci[0] <= truth <= r.ci[1])
        ses.append(r.se)
    assert 0.84 <= np.mean(hits) <= 0.96
    values = [sampled_knn_metric(X, labels=y, k=5, sample_size=60, seed=s).value for s in range(200)]
    assert np.std(values) == pytest.approx(np.mean(ses), rel=0.2)  # the SE is the estimate's spread


def test_mutual_knn_against_two_exact_graphs(labelled):
    X, y = labelled
    Y = np.tanh(X @ np.random.default_rng(1).standard_normal((8, 5)))
    gx = knn_graph(X, k=7, metric="euclidean", method="exact").indices
    gy = knn_graph(Y, k=7, metric="euclidean", method="exact").indices
    direct = np.array([len(np.intersect1d(a, b)) / 7 for a, b in zip(gx, gy)])
    r = sampled_knn_metric(da.from_array(X, chunks=(333, 8)), kind="mutual_knn", Y=Y, k=7, sample_size=150,
                           seed=0, metric="euclidean")
    assert r.method == "seeded uniform sample without replacement"
    np.testing.assert_allclose(r.per_item, direct[r.rows])
    assert abs(r.value - direct.mean()) < 4 * r.se


def test_sampled_knn_refusals(labelled):
    X, y = labelled
    with pytest.raises(EmbedLensInputError, match="needs labels="):
        sampled_knn_metric(X)
    with pytest.raises(EmbedLensInputError, match="needs Y="):
        sampled_knn_metric(X, kind="mutual_knn")
    with pytest.raises(EmbedLensInputError, match="kind="):
        sampled_knn_metric(X, kind="purity", labels=y)
    Z = X.copy()
    Z[1100] = np.nan
    with pytest.raises(EmbedLensInputError, match=r"1 of 1,200 rows holds NaN or inf \(row 1100\)"):
        sampled_knn_metric(da.from_array(Z, chunks=(500, 8)), labels=y, sample_size=10)


# --------------------------------------------------------------------------- sample, then extend


def test_sample_then_extend_umap(labelled):
    umap = pytest.importorskip("umap")
    X, y = labelled
    X = X[:400].astype(np.float32)
    m = sample_then_extend_umap(da.from_array(X, chunks=((37, 101, 262), 8)), sample_size=120, seed=4,
                                labels=y[:400], n_neighbors=10, chunk_rows=150)
    assert m.coordinates.shape == (400, 2) and len(m.sample_rows) == 120 and m.in_sample.sum() == 120
    assert m.method.startswith("seeded sample stratified") and m.params["chunks"] == 3
    assert np.bincount(y[:400][m.sample_rows]).tolist() == [38, 38, 44]  # 120 x (127, 127, 146) / 400
    # the same as umap-learn called directly: fit on the sample, transform batches of 150 rows
    reducer = umap.UMAP(n_neighbors=10, min_dist=0.1, metric="cosine", random_state=4, transform_seed=4, n_jobs=1)
    fitted = reducer.fit_transform(X[m.sample_rows])
    np.testing.assert_allclose(m.coordinates[m.sample_rows], fitted, rtol=1e-5, atol=1e-5)
    direct = np.vstack([reducer.transform(X[s:s + 150]) for s in range(0, 400, 150)])
    rest = ~m.in_sample
    np.testing.assert_allclose(m.coordinates[rest], direct[rest], rtol=1e-5, atol=1e-5)
    # in memory, the same batches give the same map
    again = sample_then_extend_umap(X, sample_size=120, seed=4, labels=y[:400], n_neighbors=10, chunk_rows=150)
    np.testing.assert_allclose(again.coordinates, m.coordinates, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_sample_then_extend_names_nonfinite_rows(labelled, lazy, seed):
    """Found in the sample or only when placing the other rows: the rows of X are named."""
    pytest.importorskip("umap")
    X = labelled[0][:300].astype(np.float32)
    X[[7, 250]] = np.nan
    with pytest.raises(EmbedLensInputError, match=r"2 of 300 rows hold NaN or inf \(rows 7, 250\)"):
        sample_then_extend_umap(da.from_array(X, chunks=(100, 8)) if lazy else X, sample_size=150, seed=seed,
                                n_neighbors=5)
