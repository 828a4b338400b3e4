"""Text files as people really write them: byte-order marks, encodings, NA words, quotes, headers.

Every expected value is the literal file content written in the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import core
from core import EmbedLensInputError
from core.selection import filter_mask

BOM = b"\xef\xbb\xbf"


def _folder(tmp_path, n=5, name="ds"):
    folder = tmp_path / name
    folder.mkdir()
    np.save(folder / "x.npy", np.arange(n * 2, dtype=np.float32).reshape(n, 2))
    return folder


# --------------------------------------------------------------------------- 2. byte-order marks


def test_kind_bom_headerless_vectors_tsv_keeps_every_row(tmp_path):
    (tmp_path / "vectors.tsv").write_bytes(BOM + b"1.5\t2\n3\t4\n5\t6.25\n")
    ds = core.load(tmp_path / "vectors.tsv")
    assert ds.n == 3
    assert ds.views[0].X[0].tolist() == [1.5, 2.0]
    assert ds.views[0].X[2].tolist() == [5.0, 6.25]


def test_kind_bom_csv_header_keeps_dim_0_a_dimension(tmp_path):
    (tmp_path / "e.csv").write_bytes(BOM + b"dim_0,dim_1,name\n1,2,a\n3,4,b\n")
    ds = core.load(tmp_path / "e.csv")
    assert ds.views[0].d == 2
    assert ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert list(ds.metadata.columns) == ["name"]


def test_kind_bom_metadata_csv_keeps_its_id_column(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.csv").write_bytes(BOM + b"id,label\nq1,a\nq2,b\nq3,c\n")
    ds = core.load(folder)
    assert ds.id_column == "id" and list(ds.ids) == ["q1", "q2", "q3"]


def test_kind_bom_utf16_files_decode(tmp_path):
    folder = _folder(tmp_path, n=2)
    (folder / "metadata.tsv").write_bytes("name\tn\ncafé\t1\nnaïve\t2\n".encode("utf-16"))
    (tmp_path / "v.csv").write_bytes("1,2\n3,4\n".encode("utf-32"))
    ds = core.load(folder)
    assert ds.metadata["name"].tolist() == ["café", "naïve"]
    assert core.load(tmp_path / "v.csv").views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_kind_bom_manifest(tmp_path):
    folder = _folder(tmp_path, n=2)
    (folder / "embedlens.toml").write_bytes(BOM + 'description = "café"\n'.encode())
    assert core.load(folder).description == "café"


# --------------------------------------------------------------------------- 3. encodings


def test_kind_encoding_cp1252_metadata_loads_with_a_note(tmp_path):
    folder = _folder(tmp_path, n=2)
    (folder / "metadata.csv").write_bytes("name,x\ncafé,1\nnaïve,2\n".encode("cp1252"))
    ds = core.load(folder)
    assert ds.metadata["name"][0] == "café" and ds.metadata["name"][1] == "naïve"
    assert any("metadata.csv" in note and "cp1252" in note for note in ds.notes)


def test_kind_encoding_cp1252_view_file_metadata_column(tmp_path):
    (tmp_path / "e.csv").write_bytes("dim_0,dim_1,word\n1,2,café\n3,4,€uro\n".encode("cp1252"))
    ds = core.load(tmp_path / "e.csv")
    assert ds.metadata["word"].tolist() == ["café", "€uro"]
    assert ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert any("cp1252" in note for note in ds.notes)


def test_kind_encoding_utf8_file_has_no_note(tmp_path):
    folder = _folder(tmp_path, n=2)
    (folder / "metadata.csv").write_text("name\ncafé\nnaïve\n", encoding="utf-8")
    assert core.load(folder).notes == ()


def test_kind_encoding_undecodable_file_names_the_byte_offset(tmp_path):
    folder = _folder(tmp_path, n=2)
    # 0x81 is undefined in Windows-1252 and invalid as a UTF-8 start byte
    (folder / "metadata.csv").write_bytes(b"name\nab\x81c\nd\n")
    with pytest.raises(EmbedLensInputError, match=r"metadata.csv: .*byte 0x81 at offset 7.*UTF-8") as info:
        core.load(folder)
    assert not isinstance(info.value, UnicodeDecodeError)


def test_kind_encoding_manifest_not_utf8(tmp_path):
    folder = _folder(tmp_path, n=2)
    (folder / "embedlens.toml").write_bytes('description = "café"\n'.encode("cp1252"))
    ds = core.load(folder)
    assert ds.description == "café"
    assert any("embedlens.toml" in note and "cp1252" in note for note in ds.notes)
    (folder / "embedlens.toml").write_bytes(b'description = "\x81"\n')
    with pytest.raises(EmbedLensInputError, match=r"embedlens.toml: .*byte 0x81 at offset 15"):
        core.load(folder)


def test_kind_encoding_utf16_without_bom_is_refused_clearly(tmp_path):
    (tmp_path / "v.csv").write_bytes("1,2\n3,4\n".encode("utf-16-le"))
    with pytest.raises(EmbedLensInputError, match=r"v.csv: .*NUL bytes.*UTF-8"):
        core.load(tmp_path / "v.csv")


# --------------------------------------------------------------------------- 4. only an empty cell is missing


def test_kind_only_empty_cell_is_missing_labels(tmp_path):
    folder = _folder(tmp_path, n=6)
    (folder / "metadata.csv").write_text("label\nNA\nN/A\nnull\nNone\n\nnan\n")
    ds = core.load(folder)
    labels = ds.metadata["label"]
    assert labels[:4].tolist() == ["NA", "N/A", "null", "None"] and labels[5] == "nan"
    assert pd.isna(labels[4])
    assert filter_mask(ds.metadata, ["label=NA"]).tolist() == [True, False, False, False, False, False]
    assert filter_mask(ds.metadata, ["label=None"]).tolist() == [False, False, False, True, False, False]


def test_kind_only_empty_cell_is_missing_ids(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.tsv").write_text("id\tname\nNA\tsodium\nEU\teurope\nNone\tnobody\n")
    ds = core.load(folder)
    assert ds.id_column == "id" and list(ds.ids) == ["NA", "EU", "None"]


def test_kind_only_empty_cell_is_missing_view_file_columns(tmp_path):
    (tmp_path / "e.csv").write_text("dim_0,dim_1,label\n1,2,NA\n3,4,None\n")
    ds = core.load(tmp_path / "e.csv")
    assert ds.metadata["label"].tolist() == ["NA", "None"]


def test_kind_only_empty_cell_is_missing_numbers_stay_numbers(tmp_path):
    folder = _folder(tmp_path, n=4)
    (folder / "metadata.csv").write_text("score,tag\n1.5,a\n,b\n2,c\nnan,d\n")
    ds = core.load(folder)
    score = ds.metadata["score"]
    assert pd.api.types.is_float_dtype(score)
    assert score[0] == 1.5 and score[2] == 2.0 and pd.isna(score[1]) and pd.isna(score[3])


# --------------------------------------------------------------------------- 5. quotes in TSV


def test_kind_tsv_read_literally_lone_quote_label(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.tsv").write_text('a\n"\nb\n')
    ds = core.load(folder)
    assert ds.metadata["label"].tolist() == ["a", '"', "b"]


def test_kind_tsv_read_literally_multi_column(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.tsv").write_text('word\tfreq\n"hello\t1\nsay "hi"\t2\n"\t3\n')
    ds = core.load(folder)
    assert ds.metadata["word"].tolist() == ['"hello', 'say "hi"', '"']
    assert ds.metadata["freq"].tolist() == [1, 2, 3]


def test_kind_tsv_read_literally_diagnostic_row_numbers(tmp_path):
    (tmp_path / "v.tsv").write_text('dim_0\tdim_1\tlabel\n1\t2\t"a\n3\tx\tb\n')
    err = pytest.raises(EmbedLensInputError, core.load, tmp_path / "v.tsv").value
    assert "row 1 (line 3), column 1: 'x' is not a number" in str(err)
    assert err.row == 1


def test_kind_csv_rfc4180_quoted_newline_line_numbers(tmp_path):
    (tmp_path / "v.csv").write_text('dim_0,dim_1,text\n1,2,"two\nlines"\n3,x,b\n')
    err = pytest.raises(EmbedLensInputError, core.load, tmp_path / "v.csv").value
    assert "row 1 (line 4), column 1: 'x' is not a number" in str(err)


def test_kind_bom_diagnostic_row_numbers(tmp_path):
    (tmp_path / "v.csv").write_bytes(BOM + b"1,2\n3,x\n")
    err = pytest.raises(EmbedLensInputError, core.load, tmp_path / "v.csv").value
    assert "row 1 (line 2), column 1: 'x' is not a number" in str(err)


# --------------------------------------------------------------------------- 6. headers


def test_kind_header_csv_one_numeric_column_keeps_its_header(tmp_path):
    folder = _folder(tmp_path, n=5)
    (folder / "metadata.csv").write_text("score\n0.5\n1\n2\n3\n4\n")
    ds = core.load(folder)
    assert list(ds.metadata.columns) == ["score"] and ds.metadata["score"].tolist() == [0.5, 1, 2, 3, 4]
    # one value too many: the header is still a header, so the count names 6 rows, not 7
    (folder / "metadata.csv").write_text("score\n0.5\n1\n2\n3\n4\n5\n")
    with pytest.raises(EmbedLensInputError, match=r"metadata.csv: has 6 rows but the views have 5"):
        core.load(folder)


def test_kind_header_one_column_tsv_has_none_and_says_so(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.tsv").write_text("cat\ndog\nfox\n")
    ds = core.load(folder)
    assert ds.metadata["label"].tolist() == ["cat", "dog", "fox"]
    assert any("metadata.tsv" in n and "no header" in n and "TensorBoard" in n for n in ds.notes)


def test_kind_header_one_column_tsv_blank_line_is_an_empty_label(tmp_path):
    folder = _folder(tmp_path, n=5)
    (folder / "metadata.tsv").write_text("a\nb\n\n \ne\n")
    ds = core.load(folder)
    labels = ds.metadata["label"]
    assert labels[[0, 1, 4]].tolist() == ["a", "b", "e"]
    assert pd.isna(labels[2]) and pd.isna(labels[3])


def test_kind_header_one_column_tsv_count_error_names_the_lines(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.tsv").write_text("a\n\nb\nc\n")
    with pytest.raises(EmbedLensInputError, match=r"has 4 rows but the views have 3.*line 2"):
        core.load(folder)


def test_kind_header_guess_for_headerless_csv_view_is_noted(tmp_path):
    (tmp_path / "v.csv").write_text("1,2\n3,4\n")
    ds = core.load(tmp_path / "v.csv")
    assert ds.n == 2
    assert any("v.csv" in n and "no header" in n for n in ds.notes)


# --------------------------------------------------------------------------- 7. numbers in messages


def test_kind_plain_numbers_in_messages_duplicate_integer_ids(tmp_path):
    folder = _folder(tmp_path, n=3)
    (folder / "metadata.csv").write_text("id\n7\n2\n7\n")
    err = pytest.raises(EmbedLensInputError, core.load, folder).value
    assert "7 (rows 0, 2)" in str(err) and "np." not in str(err)


def test_kind_plain_numbers_in_messages_cache_key():
    from core.cache import cache_key

    with pytest.raises(EmbedLensInputError) as info:
        cache_key(part={np.int64(2)})
    assert "np." not in str(info.value)


def test_kind_header_one_column_csv_row_numbers_count_blank_lines(tmp_path):
    folder = _folder(tmp_path, n=4)
    (folder / "metadata.csv").write_text("name\na\n\nb,c\nd\n")
    err = pytest.raises(EmbedLensInputError, core.load, folder).value
    assert "row 2 (line 4) has 2 fields but the rows before it have 1" in str(err)


def test_kind_header_reading_notes_on_the_data_page(monkeypatch, tmp_path):
    from tests.app.apptest import run_app

    folder = tmp_path / "data" / "tb"
    folder.mkdir(parents=True)
    (folder / "vectors.tsv").write_text("1\t2\n3\t4\n5\t6\n")
    (folder / "metadata.tsv").write_bytes("café\nnaïve\nNA\n".encode("cp1252"))
    monkeypatch.setenv("EMBEDLENS_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("EMBEDLENS_UPLOADS", str(tmp_path / "uploads"))
    at = run_app({"ds": "tb"}, page="app_pages/data.py")
    shown = [t.value for t in at.text]
    assert any("tb/metadata.tsv: one column, no header (TensorBoard convention)" in t for t in shown)
    assert any("tb/metadata.tsv: decoded as Windows-1252 (cp1252)" in t for t in shown)
    assert any("tb/vectors.tsv: no header" in t for t in shown)


def test_kind_encoding_offset_is_exact_across_read_blocks(tmp_path, monkeypatch):
    # 'é' (2 bytes) straddles a block boundary
    monkeypatch.setattr("core.readers.text_formats._SCAN_BYTES", 4)
    folder = _folder(tmp_path, n=2)
    content = "name\nabé\nx".encode() + b"\x81" + b"\n"
    (folder / "metadata.csv").write_bytes(content)
    offset = content.index(b"\x81")  # 11
    with pytest.raises(EmbedLensInputError, match=rf"byte 0x81 at offset {offset}\b"):
        core.load(folder)
    (folder / "metadata.csv").write_text("name\ncafé\nnaïve\n")
    assert core.load(folder).metadata["name"].tolist() == ["café", "naïve"]


def test_kind_header_pandas_column_numbers_are_a_header(tmp_path):
    (tmp_path / "v.csv").write_text("0,1,2\n0.5,1.5,2.5\n3,4,5\n")  # pd.DataFrame(X).to_csv(index=False)
    ds = core.load(tmp_path / "v.csv")
    assert ds.n == 2 and ds.views[0].X.tolist() == [[0.5, 1.5, 2.5], [3.0, 4.0, 5.0]]
    assert any("v.csv" in n and "read as a header" in n for n in ds.notes)


# --------------------------------------------------------------------------- 8. pandas' index column
#
# df.to_csv(path) without index=False writes the DataFrame's index as an unnamed first column
# (its header cell is empty). Each file below is the literal text pandas writes; the expected
# values are the dims and metadata the DataFrame held.


def test_kind_pandas_index_column_headerless_dataframe(tmp_path):
    # pd.DataFrame([[1.5, 2.0], [3.0, 4.0], [5.0, 6.25]]).to_csv(path)
    (tmp_path / "v.csv").write_text(",0,1\n0,1.5,2.0\n1,3.0,4.0\n2,5.0,6.25\n")
    ds = core.load(tmp_path / "v.csv")
    assert ds.views[0].X.tolist() == [[1.5, 2.0], [3.0, 4.0], [5.0, 6.25]]
    assert list(ds.metadata.columns) == []
    assert any("v.csv" in n and "index" in n and "0, 1, ..., 2" in n for n in ds.notes)


def test_kind_pandas_index_column_dim_columns_and_labels(tmp_path):
    # pd.DataFrame({"dim_0": [1.0, 3.0], "dim_1": [2.0, 4.0], "label": ["a", "b"]}).to_csv(path)
    (tmp_path / "v.csv").write_text(",dim_0,dim_1,label\n0,1.0,2.0,a\n1,3.0,4.0,b\n")
    ds = core.load(tmp_path / "v.csv")
    assert ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert list(ds.metadata.columns) == ["label"] and ds.metadata["label"].tolist() == ["a", "b"]
    assert any("v.csv" in n and "index" in n for n in ds.notes)


def test_kind_pandas_index_column_dim_columns_only(tmp_path):
    # pd.DataFrame({"dim_0": [1.0, 3.0], "dim_1": [2.0, 4.0]}).to_csv(path)
    (tmp_path / "v.csv").write_text(",dim_0,dim_1\n0,1.0,2.0\n1,3.0,4.0\n")
    ds = core.load(tmp_path / "v.csv")
    assert ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert list(ds.metadata.columns) == []


def test_kind_pandas_index_column_named_numeric_columns(tmp_path):
    # pd.DataFrame({"a": [1.0, 3.0], "b": [2.0, 4.0]}).to_csv(path, sep="\t")
    (tmp_path / "v.tsv").write_text("\ta\tb\n0\t1.0\t2.0\n1\t3.0\t4.0\n")
    ds = core.load(tmp_path / "v.tsv")
    assert ds.views[0].d == 2 and ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_kind_pandas_index_column_list_column(tmp_path):
    # pd.DataFrame({"embedding": [[1.0, 2.0], [3.0, 4.0]], "label": ["a", "b"]}).to_csv(path)
    (tmp_path / "v.csv").write_text(',embedding,label\n0,"[1.0, 2.0]",a\n1,"[3.0, 4.0]",b\n')
    ds = core.load(tmp_path / "v.csv")
    assert ds.views[0].X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert list(ds.metadata.columns) == ["label"]


def test_kind_pandas_index_column_metadata_file(tmp_path):
    folder = _folder(tmp_path, n=3)
    # pd.DataFrame({"id": ["x", "y", "z"], "label": ["a", "b", "c"]}).to_csv(folder / "metadata.csv")
    (folder / "metadata.csv").write_text(",id,label\n0,x,a\n1,y,b\n2,z,c\n")
    ds = core.load(folder)
    assert list(ds.metadata.columns) == ["id", "label"]
    assert ds.ids.tolist() == ["x", "y", "z"] and ds.metadata["label"].tolist() == ["a", "b", "c"]
    assert any("metadata.csv" in n and "index" in n for n in ds.notes)


def test_kind_pandas_index_column_metadata_file_other_index_is_kept(tmp_path):
    folder = _folder(tmp_path, n=3)
    # df = pd.DataFrame({"label": list("abcdefgh")}).iloc[[5, 2, 7]]; df.to_csv(folder / "metadata.csv")
    (folder / "metadata.csv").write_text(",label\n5,f\n2,c\n7,h\n")
    ds = core.load(folder)
    assert list(ds.metadata.columns) == ["index", "label"]
    assert ds.metadata["index"].tolist() == [5, 2, 7] and ds.metadata["label"].tolist() == ["f", "c", "h"]
    assert any("metadata.csv" in n and "'index'" in n for n in ds.notes)


def test_kind_pandas_index_column_round_trip_through_pandas(tmp_path):
    X = np.array([[0.25, -1.0, 3.0], [4.0, 5.5, -6.0]], dtype=np.float32)
    pd.DataFrame(X).to_csv(tmp_path / "plain.csv")
    frame = pd.DataFrame(X, columns=["dim_0", "dim_1", "dim_2"]).assign(label=["p", "q"])
    frame.to_csv(tmp_path / "dims.csv")
    assert (tmp_path / "plain.csv").read_text().startswith(",0,1,2\n0,")  # what pandas wrote
    plain, dims = core.load(tmp_path / "plain.csv"), core.load(tmp_path / "dims.csv")
    assert plain.views[0].X.tolist() == X.tolist() and dims.views[0].X.tolist() == X.tolist()
    assert dims.metadata["label"].tolist() == ["p", "q"]


def test_kind_pandas_index_column_parquet_keeps_a_stored_index(tmp_path):
    # DataFrame.to_parquet stores a non-default index as a column (__index_level_0__, or its name)
    frame = pd.DataFrame({"dim_0": [1.0, 2.0, 3.0], "dim_1": [4.0, 5.0, 6.0], "label": ["a", "b", "c"]})
    frame.index = [5, 2, 7]
    frame.to_parquet(tmp_path / "v.parquet")
    ds = core.load(tmp_path / "v.parquet")
    assert ds.metadata["index"].tolist() == [5, 2, 7] and ds.metadata["label"].tolist() == ["a", "b", "c"]
    assert any("v.parquet" in n and "'index'" in n for n in ds.notes)
    folder = _folder(tmp_path, n=3)
    pd.DataFrame({"id": ["x", "y", "z"], "label": ["a", "b", "c"]}).set_index("id").to_parquet(
        folder / "metadata.parquet"
    )
    ds = core.load(folder)
    assert ds.ids.tolist() == ["x", "y", "z"] and ds.metadata["label"].tolist() == ["a", "b", "c"]
