"""core.load: every format, fingerprints across formats, and every kind of bad input."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

import core
from core import EmbedLensInputError, NonFiniteRowsError
from core.readers import fingerprint_array, fingerprint_metadata


@pytest.fixture
def X(rng) -> np.ndarray:
    X = rng.standard_normal((25, 4)).astype(np.float32)
    X[3] = 0.0  # a zero row and a duplicate ride along in every format
    X[9] = X[8]
    return X


def _meta(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"item{i}" for i in range(n)], "label": [i % 3 for i in range(n)]})


def _write_csv(path, X, header=True, sep=","):
    df = pd.DataFrame(X, columns=[f"dim_{j}" for j in range(X.shape[1])])
    # repr-precision text so the float32 values survive the round trip exactly
    df.to_csv(path, index=False, header=header, sep=sep, float_format="%.9g")


# --------------------------------------------------------------------------- formats


def test_npy_is_memory_mapped_read_only_and_exact(tmp_path, X):
    np.save(tmp_path / "emb.npy", X)
    ds = core.load(tmp_path / "emb.npy")
    v = ds.views[0]
    assert (ds.n, v.d, v.name) == (25, 4, "emb")
    np.testing.assert_array_equal(v.X, X)
    assert isinstance(v.X, np.memmap)  # float32 .npy is not copied
    assert not v.X.flags.writeable
    assert list(ds.ids) == list(range(25)) and ds.id_column is None


def test_npy_of_other_dtypes_becomes_float32(tmp_path, X):
    np.save(tmp_path / "half.npy", X.astype(np.float16))
    np.save(tmp_path / "ints.npy", (X * 10).astype(np.int16))
    half = core.load(tmp_path / "half.npy").views[0]
    ints = core.load(tmp_path / "ints.npy").views[0]
    assert half.X.dtype == np.float32 and half.source_dtype == "float16"
    np.testing.assert_array_equal(half.X, X.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(ints.X, (X * 10).astype(np.int16).astype(np.float32))


def test_fortran_order_npy(tmp_path, X):
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    v = core.load(tmp_path / "f.npy").views[0]
    np.testing.assert_array_equal(v.X, X)
    assert v.X.flags.c_contiguous


def test_npz_matrices_are_views_and_vectors_are_metadata(tmp_path, X):
    labels = np.arange(25) % 2
    names = np.array([f"n{i}" for i in range(25)])
    np.savez(tmp_path / "bundle.npz", layer1=X, layer2=X[:, :2] * 2, label=labels, id=names)
    ds = core.load(tmp_path / "bundle.npz")
    assert ds.view_names == ["layer1", "layer2"]
    assert ds.view("layer2").d == 2
    assert list(ds.metadata.columns) == ["label", "id"]
    assert ds.id_column == "id" and ds.ids[4] == "n4"


@pytest.mark.parametrize("layout", ["fixed_size_list", "list", "large_list"])
def test_parquet_vector_column(tmp_path, X, layout):
    values = pa.array(X.ravel())
    if layout == "fixed_size_list":
        col = pa.FixedSizeListArray.from_arrays(values, X.shape[1])
    elif layout == "list":
        col = pa.ListArray.from_arrays(pa.array(np.arange(0, X.size + 1, X.shape[1], dtype=np.int32)), values)
    else:
        col = pa.LargeListArray.from_arrays(pa.array(np.arange(0, X.size + 1, X.shape[1])), values)
    meta = _meta(len(X))
    table = pa.table({"id": meta["id"], "label": meta["label"], "embedding": col})
    pq.write_table(table, tmp_path / "t.parquet")
    ds = core.load(tmp_path / "t.parquet")
    assert ds.view_names == ["embedding"]
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata.columns) == ["id", "label"] and ds.id_column == "id"


def test_parquet_dim_columns_in_numeric_order(tmp_path, X):
    df = pd.DataFrame({f"dim_{j}": X[:, j] for j in (2, 0, 3, 1)})  # out of order on purpose
    df["label"] = np.arange(len(X)) % 3
    df.to_parquet(tmp_path / "dims.parquet")
    ds = core.load(tmp_path / "dims.parquet")
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata.columns) == ["label"]


@pytest.mark.parametrize("suffix", [".feather", ".arrow"])
def test_feather_and_arrow_ipc(tmp_path, X, suffix):
    col = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
    table = pa.table({"vector": col, "label": pa.array(np.arange(len(X)) % 3)})
    feather.write_feather(table, tmp_path / f"v{suffix}")
    ds = core.load(tmp_path / f"v{suffix}")
    np.testing.assert_array_equal(ds.views[0].X, X)


def test_arrow_ipc_stream_format(tmp_path, X):
    col = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
    table = pa.table({"vector": col})
    with pa.OSFile(str(tmp_path / "s.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    np.testing.assert_array_equal(core.load(tmp_path / "s.arrow").views[0].X, X)


def test_csv_with_dim_columns_and_metadata(tmp_path, X):
    df = pd.DataFrame({f"dim_{j}": X[:, j] for j in range(4)})
    df.insert(0, "id", [f"a{i}" for i in range(len(X))])
    df["split"] = ["train", "test"] * 12 + ["train"]
    df.to_csv(tmp_path / "e.csv", index=False, float_format="%.9g")
    ds = core.load(tmp_path / "e.csv")
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata.columns) == ["id", "split"] and ds.ids[0] == "a0"


def test_csv_with_stringified_list_column(tmp_path, X):
    df = pd.DataFrame({"text": [f"t{i}" for i in range(len(X))],
                       "embedding": [str([float(v) for v in row]) for row in X]})
    df.to_csv(tmp_path / "hf.csv", index=False)
    ds = core.load(tmp_path / "hf.csv")
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata.columns) == ["text"]


def test_tensorboard_projector_folder(tmp_path, X):
    folder = tmp_path / "projector"
    folder.mkdir()
    _write_csv(folder / "vectors.tsv", X, header=False, sep="\t")
    (folder / "metadata.tsv").write_text("\n".join(f"class{i % 3}" for i in range(len(X))) + "\n")
    ds = core.load(folder)
    assert ds.view_names == ["vectors"]
    np.testing.assert_array_equal(ds.views[0].X, X)
    assert list(ds.metadata["label"][:3]) == ["class0", "class1", "class2"]


def test_tensorboard_multi_column_metadata_has_header(tmp_path, X):
    folder = tmp_path / "projector"
    folder.mkdir()
    _write_csv(folder / "vectors.tsv", X, header=False, sep="\t")
    (folder / "metadata.tsv").write_text(
        "word\tfreq\n" + "\n".join(f"w{i}\t{i}" for i in range(len(X))) + "\n"
    )
    ds = core.load(folder)
    assert list(ds.metadata.columns) == ["word", "freq"] and len(ds.metadata) == len(X)


def test_single_column_metadata_with_header_is_detected_by_count(tmp_path, X):
    folder = tmp_path / "p"
    folder.mkdir()
    np.save(folder / "x.npy", X)
    (folder / "metadata.csv").write_text("label\n" + "\n".join(str(i % 2) for i in range(len(X))) + "\n")
    ds = core.load(folder)
    assert list(ds.metadata.columns) == ["label"] and len(ds.metadata) == len(X)


def test_folder_without_manifest_names_views_by_path(tmp_path, X):
    folder = tmp_path / "ds"
    (folder / "layers").mkdir(parents=True)
    np.save(folder / "layers" / "a.npy", X)
    np.save(folder / "layers" / "b.npy", -X)
    _meta(len(X)).to_csv(folder / "metadata.csv", index=False)
    ds = core.load(folder)
    assert ds.view_names == ["layers/a", "layers/b"]
    assert ds.id_column == "id"
    np.testing.assert_array_equal(ds.view("layers/b").X, -X)


def test_manifest_labels_views(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "c1.npy", X)
    np.save(folder / "c2.npy", X * 2)
    _meta(len(X)).to_parquet(folder / "items.parquet")
    (folder / "embedlens.toml").write_text(
        'description = "two checkpoints"\nmetadata = "items.parquet"\nid_column = "id"\n'
        '[[views]]\nfile = "c1.npy"\nrun = "r0"\nlayer = "L3"\nstep = 100\nextra = { acc = 0.5 }\n'
        '[[views]]\nfile = "c2.npy"\nname = "late"\nrun = "r0"\nlayer = "L3"\nstep = 200\nmodality = "text"\n'
    )
    ds = core.load(folder)
    assert ds.description == "two checkpoints"
    assert ds.view_names == ["c1", "late"]
    v1, v2 = ds.views
    assert (v1.run, v1.layer, v1.step, dict(v1.extra)) == ("r0", "L3", 100, {"acc": 0.5})
    assert (v2.step, v2.modality, v2.label) == (200, "text", "r0 · L3 · step 200 · text")
    table = ds.views_table()
    assert table["step"].tolist() == [100, 200] and table.loc[0, "acc"] == 0.5


def test_view_files_carrying_ids_are_aligned_to_the_metadata(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    meta = _meta(len(X))
    meta.to_csv(folder / "metadata.csv", index=False)
    perm = np.random.default_rng(1).permutation(len(X))
    col = pa.FixedSizeListArray.from_arrays(pa.array(X[perm].ravel()), X.shape[1])
    pq.write_table(pa.table({"id": meta["id"].to_numpy()[perm], "embedding": col}), folder / "v.parquet")
    ds = core.load(folder)
    np.testing.assert_array_equal(ds.views[0].X, X)  # back in metadata order


def test_sample_data_loads_with_all_views():
    ds = core.load(core.sample_data_dir() / "digits-mlp")
    assert ds.n == 1797 and len(ds.views) == 30
    assert {v.run for v in ds.views} == {"seed0", "seed1", "seed2"}
    assert {v.layer for v in ds.views} == {"hidden1", "hidden2"}
    assert sorted({v.step for v in ds.views}) == [1, 3, 10, 30, 100]
    assert {"id", "label", "split", "image"} <= set(ds.metadata.columns)
    paired = core.load(core.sample_data_dir() / "digits-paired")
    assert paired.modalities == ["image", "text"]
    assert (paired.view("image").d, paired.view("text").d) == (64, 384)
    # the text view is real sentence embeddings: unit norm rows
    np.testing.assert_allclose(np.linalg.norm(paired.view("text").X, axis=1), 1.0, atol=1e-5)


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_the_same_in_every_format(tmp_path, X):
    np.save(tmp_path / "a.npy", X)
    np.savez(tmp_path / "b.npz", X=X)
    pq.write_table(pa.table({"e": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), 4)}), tmp_path / "c.parquet")
    _write_csv(tmp_path / "d.csv", X)
    _write_csv(tmp_path / "e.tsv", X, header=False, sep="\t")
    np.save(tmp_path / "f.npy", np.asfortranarray(X))
    prints = {core.load(tmp_path / f).views[0].fingerprint for f in
              ["a.npy", "b.npz", "c.parquet", "d.csv", "e.tsv", "f.npy"]}
    assert len(prints) == 1


def test_fingerprint_changes_with_one_value_or_the_shape(X):
    Y = X.copy()
    Y[5, 2] = np.nextafter(Y[5, 2], np.float32(np.inf))
    assert fingerprint_array(X) != fingerprint_array(Y)
    assert fingerprint_array(X) != fingerprint_array(X.reshape(50, 2))
    assert fingerprint_array(X) == fingerprint_array(X.copy())


def test_fingerprint_of_a_multi_block_matrix_is_stable(rng):
    big = rng.standard_normal((70_000, 130)).astype(np.float32)  # > 32 MiB: hashed in blocks
    assert fingerprint_array(big) == fingerprint_array(big.copy())
    big2 = big.copy()
    big2[-1, -1] += 1
    assert fingerprint_array(big) != fingerprint_array(big2)


def test_metadata_fingerprint_handles_list_cells():
    a = pd.DataFrame({"x": [[1, 2], [3]], "y": ["a", "b"]})
    b = pd.DataFrame({"x": [[1, 2], [4]], "y": ["a", "b"]})
    assert fingerprint_metadata(a) != fingerprint_metadata(b)
    assert fingerprint_metadata(a) == fingerprint_metadata(a.copy())


def test_dataset_fingerprint_depends_on_metadata(tmp_path, X):
    for name, labels in [("one", [0] * 25), ("two", [1] * 25)]:
        folder = tmp_path / name
        folder.mkdir()
        np.save(folder / "x.npy", X)
        pd.DataFrame({"label": labels}).to_csv(folder / "metadata.csv", index=False)
    a, b = core.load(tmp_path / "one"), core.load(tmp_path / "two")
    assert a.views[0].fingerprint == b.views[0].fingerprint
    assert a.fingerprint != b.fingerprint


# --------------------------------------------------------------------------- bad input


def _raises(path, match, **kwargs):
    with pytest.raises(EmbedLensInputError, match=match) as info:
        core.load(path, **kwargs)
    return info.value


def test_missing_file(tmp_path):
    err = _raises(tmp_path / "nope.npy", "no such file")
    assert "nope.npy" in str(err)


def test_empty_file(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    _raises(tmp_path / "empty.npy", r"empty.npy: the file is empty \(0 bytes\)")
    (tmp_path / "empty.csv").write_text("")
    _raises(tmp_path / "empty.csv", "empty.csv: the file is empty")


def test_unknown_extension(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"\x89HDF")
    _raises(tmp_path / "x.h5", r"x.h5: has an unknown extension '.h5'; supported: .arrow")


def test_npy_holding_python_objects_is_never_unpickled(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[{"a": 1}, 2]], dtype=object), allow_pickle=True)
    _raises(tmp_path / "obj.npy", r"obj.npy: holds Python objects \(dtype=object\); EmbedLens never unpickles")


def test_pickle_disguised_as_npy(tmp_path):
    (tmp_path / "evil.npy").write_bytes(pickle.dumps({"boom": 1}))
    _raises(tmp_path / "evil.npy", "holds a Python pickle, not a NumPy array")
    (tmp_path / "junk.npy").write_bytes(b"hello, not numpy at all")
    _raises(tmp_path / "junk.npy", "is not a NumPy .npy file")


def test_npz_with_object_array(tmp_path):
    np.savez(tmp_path / "o.npz", X=np.ones((3, 2)), names=np.array([{"a": 1}] * 3, dtype=object))
    _raises(tmp_path / "o.npz", r"o.npz: array 'names' holds Python objects")


def test_truncated_npy(tmp_path, X):
    np.save(tmp_path / "t.npy", X)
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[: len(data) // 2])
    _raises(tmp_path / "t.npy", "is truncated or damaged")


@pytest.mark.parametrize("shape", [(10,), (2, 3, 4)])
def test_wrong_number_of_dimensions(tmp_path, shape):
    np.save(tmp_path / "w.npy", np.zeros(shape, np.float32))
    _raises(tmp_path / "w.npy", rf"has shape \({shape[0]},.*expected a 2-D matrix")


def test_non_numeric_npy(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
    _raises(tmp_path / "s.npy", r"has dtype <U1; expected numbers")


def test_ragged_csv_too_many_fields(tmp_path):
    (tmp_path / "r.csv").write_text("1,2,3\n4,5,6\n7,8,9,10\n")
    err = _raises(tmp_path / "r.csv", r"r.csv: row 2 \(line 3\) has 4 fields but the rows before it have 3")
    assert err.row == 2


def test_ragged_csv_too_few_fields(tmp_path):
    (tmp_path / "r.csv").write_text("1,2,3\n4,5\n7,8,9\n")
    err = _raises(tmp_path / "r.csv", r"row 1 \(line 2\) has 2 fields but the rows before it have 3")
    assert err.row == 1


def test_non_numeric_value_is_located(tmp_path):
    (tmp_path / "n.csv").write_text("dim_0,dim_1\n1,2\n3,abc\n")
    err = _raises(tmp_path / "n.csv", r"n.csv: row 1 \(line 3\), column 1: 'abc' is not a number")
    assert (err.row, err.column) == (1, 1)


def test_empty_cell_is_located(tmp_path):
    (tmp_path / "e.tsv").write_text("1\t2\n3\t\n")
    _raises(tmp_path / "e.tsv", r"row 1 \(line 2\), column 1 is empty; expected a number")


def test_ragged_parquet_list_column(tmp_path):
    table = pa.table({"embedding": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0]], type=pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "r.parquet")
    _raises(tmp_path / "r.parquet", r"column 'embedding' is ragged: row 0 has 2 values but row 2 has 1")


def test_parquet_missing_vector(tmp_path):
    table = pa.table({"embedding": pa.array([[1.0, 2.0], None], type=pa.list_(pa.float32()))})
    pq.write_table(table, tmp_path / "m.parquet")
    _raises(tmp_path / "m.parquet", r"column 'embedding' has missing vectors \(rows 1\); every row needs a vector")


def test_parquet_without_vectors(tmp_path):
    pd.DataFrame({"name": ["a", "b"], "tag": ["x", "y"]}).to_parquet(tmp_path / "t.parquet")
    _raises(tmp_path / "t.parquet", r"has no vector column; expected a list<float>")


def test_nan_and_inf_rows_are_reported_with_rows(tmp_path, X):
    Y = X.copy()
    Y[4, 1] = np.nan
    Y[17, 0] = np.inf
    np.save(tmp_path / "bad.npy", Y)
    with pytest.raises(NonFiniteRowsError, match=r"bad.npy: 2 of 25 rows hold NaN or inf \(rows 4, 17\)") as info:
        core.load(tmp_path / "bad.npy")
    assert info.value.rows.tolist() == [4, 17]


def test_nan_rows_can_be_dropped_without_touching_the_file(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    Y = X.copy()
    Y[4, 1] = np.nan
    np.save(folder / "a.npy", Y)
    Z = X * 3
    Z[10] = -np.inf
    np.save(folder / "b.npy", Z)
    _meta(len(X)).to_csv(folder / "metadata.csv", index=False)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    with pytest.raises(NonFiniteRowsError) as info:
        core.load(folder)
    assert info.value.rows.tolist() == [4, 10]  # across all views
    ds = core.load(folder, nonfinite="drop")
    assert ds.n == 23 and ds.dropped_rows.tolist() == [4, 10]
    assert "item4" not in set(ds.ids) and "item10" not in set(ds.ids)
    np.testing.assert_array_equal(ds.view("a").X, np.delete(X, [4, 10], axis=0))
    np.testing.assert_array_equal(ds.metadata["id"], np.delete(_meta(25)["id"].to_numpy(), [4, 10]))
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert before == after


def test_leaving_out_rows_when_every_row_holds_nan_says_what_to_do(tmp_path):
    """Found by a new user: the Data page's "Leave out these 20 rows" ended in a message with no way out."""
    np.save(tmp_path / "allnan.npy", np.full((20, 3), np.nan, dtype=np.float32))
    with pytest.raises(NonFiniteRowsError, match=r"20 of 20 rows hold NaN or inf .*; 20 rows across all views"):
        core.load(tmp_path / "allnan.npy")
    with pytest.raises(EmbedLensInputError, match=r"every one of the 20 rows holds NaN or inf, so leaving them out "
                                                  r"leaves nothing; .* save them again"):
        core.load(tmp_path / "allnan.npy", nonfinite="drop")


def test_nan_in_csv_is_reported_as_nan_not_as_ragged(tmp_path):
    (tmp_path / "n.csv").write_text("1,2\nnan,3\n4,inf\n")
    with pytest.raises(NonFiniteRowsError, match=r"2 of 3 rows hold NaN or inf \(rows 1, 2\)"):
        core.load(tmp_path / "n.csv")


def test_metadata_with_a_different_row_count(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", X)
    _meta(20).to_csv(folder / "metadata.csv", index=False)
    _raises(folder, r"ds/metadata.csv: has 20 rows but the views have 25 \(ds/x.npy\)")


def test_duplicate_ids(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", X)
    meta = _meta(25)
    meta.loc[[5, 11], "id"] = "item2"
    meta.to_csv(folder / "metadata.csv", index=False)
    err = _raises(folder, r"id column 'id' has duplicate ids: 'item2' \(rows 2, 5, 11\)")
    assert err.column == "id"


def test_missing_ids(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", X)
    meta = _meta(25)
    meta.loc[6, "id"] = None
    meta.to_csv(folder / "metadata.csv", index=False)
    _raises(folder, r"id column 'id' has missing ids \(rows 6\)")


def test_views_of_different_n_in_one_folder(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "a.npy", X)
    np.save(folder / "b.npy", X[:20])
    _raises(folder, r"ds/b.npy has 20 rows but ds/a.npy has 25; all views of a dataset must hold the same items")


def test_manifest_pointing_outside_the_folder(tmp_path, X):
    np.save(tmp_path / "secret.npy", X)
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "embedlens.toml").write_text('[[views]]\nfile = "../secret.npy"\n')
    _raises(folder, r"'../secret.npy' points outside the dataset folder")


def test_symlink_escaping_the_folder_is_refused(tmp_path, X):
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "x.npy", X)
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(outside / "x.npy", data / "link.npy")
    _raises(data / "link.npy", "is outside the data folder", root=data)
    _raises("../outside/x.npy", "is outside the data folder", root=data)
    assert core.load(data / "link.npy").n == 25  # without a root, a plain path is the caller's choice


def test_manifest_errors_are_specific(tmp_path, X):
    folder = tmp_path / "ds"
    folder.mkdir()
    np.save(folder / "x.npy", X)
    (folder / "embedlens.toml").write_text('[[views]]\nfile = "x.npy"\nstepp = 3\n')
    _raises(folder, r"ds/embedlens.toml: \[\[views\]\] entry 0 \(x.npy\): unknown key\(s\) \['stepp'\]")
    (folder / "embedlens.toml").write_text('[[views]]\nfile = "x.npy"\nstep = "late"\n')
    _raises(folder, r"step = 'late' must be an integer")
    (folder / "embedlens.toml").write_text("[[views]\nfile = 'x.npy'\n")
    _raises(folder, r"ds/embedlens.toml: is not valid TOML")
    (folder / "embedlens.toml").write_text('[[views]]\nfile = "y.npy"\n')
    _raises(folder, r"ds/y.npy: no such file")


def test_file_over_the_size_limit(tmp_path, X, monkeypatch):
    np.save(tmp_path / "x.npy", X)
    _raises(tmp_path / "x.npy", r"x.npy: the file is 0.0 MB, over the limit of 0 MB", max_bytes=100)
    monkeypatch.setenv("EMBEDLENS_MAX_FILE_MB", "0.0001")
    _raises(tmp_path / "x.npy", "over the limit")
    monkeypatch.setenv("EMBEDLENS_MAX_FILE_MB", "lots")
    _raises(tmp_path / "x.npy", r"EMBEDLENS_MAX_FILE_MB='lots' is not a number")


def test_folder_without_view_files(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    _meta(3).to_csv(folder / "metadata.csv", index=False)
    _raises(folder, r"ds: holds no view files; expected .npy")


def test_parquet_chunks_report_absolute_row_numbers(tmp_path, rng):
    n = 70_000  # several row groups, so several chunks
    X = rng.standard_normal((n, 3)).astype(np.float32)
    lists = [list(map(float, row)) for row in X[:n]]
    lists[68_000] = lists[68_000][:2]  # a ragged row in the fourth chunk
    pq.write_table(pa.table({"embedding": pa.array(lists, type=pa.list_(pa.float32()))}), tmp_path / "b.parquet",
                   row_group_size=20_000)
    err = _raises(tmp_path / "b.parquet", r"ragged: row \d+ has 3 values but row 68000 has 2")
    assert err.row == 68_000
    lists[68_000] = list(map(float, X[68_000]))
    pq.write_table(pa.table({"embedding": pa.array(lists, type=pa.list_(pa.float32()))}), tmp_path / "ok.parquet",
                   row_group_size=20_000)
    np.testing.assert_array_equal(core.load(tmp_path / "ok.parquet").views[0].X, X)


def test_float64_parquet_is_converted_and_its_dtype_recorded(tmp_path, X):
    col = pa.FixedSizeListArray.from_arrays(pa.array(X.astype(np.float64).ravel()), 4)
    pq.write_table(pa.table({"e": col}), tmp_path / "d.parquet")
    v = core.load(tmp_path / "d.parquet").views[0]
    assert v.source_dtype == "float64" and v.X.dtype == np.float32
    np.testing.assert_array_equal(v.X, X)


def test_kind_fingerprint_same_on_every_pandas_version():
    """pandas 3 reads text as its ``str`` dtype, pandas 2 as ``object`` (nullable ``string`` is a
    third spelling); the metadata fingerprint hashed the dtype's name, so the same file got another
    fingerprint on a server with another pandas, and its share links warned "the data changed"
    and dropped their selections. The same cells give the same fingerprint in every spelling."""
    base = pd.DataFrame({"label": ["a", "b", None], "x": [1.0, np.nan, 2.0], "n": [1, 2, 3],
                         "flag": [True, False, True]})
    spellings = [base.assign(label=base["label"].astype(object)),
                 base.assign(label=base["label"].astype("string")),
                 base.assign(label=pd.Series(["a", "b", np.nan], dtype=object))]
    assert len({fingerprint_metadata(m) for m in spellings}) == 1
    assert fingerprint_metadata(base.assign(label=["a", "b", "c"])) != fingerprint_metadata(base)
