"""Read embeddings and their metadata from files and folders.

One entry point, :func:`load`, turns a path into a :class:`~core.types.Dataset`:

==========================  ==============================================================
``.npy``                    one matrix, memory-mapped; never unpickled
``.npz``                    every 2-D array is a view, every 1-D array a metadata column
``.parquet`` / ``.feather``  a list / fixed-size-list vector column (HF datasets, LanceDB,
``.arrow`` / ``.ipc``        pandas) or numeric ``dim_0 .. dim_k`` columns; the other
                            columns are metadata
``.csv`` / ``.tsv``          a headerless numeric table (TensorBoard ``vectors.tsv``) or a
                            table with ``dim_*`` columns; ``metadata.tsv`` beside it
a folder                    a metadata file plus one file per view; an optional
                            ``embedlens.toml`` names each view's run / layer / step /
                            modality
==========================  ==============================================================

Text files (``.csv``, ``.tsv``, ``.txt`` and the manifest) are decoded by their byte-order
mark (UTF-8, UTF-16, UTF-32), else as UTF-8, else as Windows-1252 when every byte is defined
there (with a note in ``Dataset.notes``); a ``.csv`` follows RFC 4180, a ``.tsv`` / ``.txt`` is
split on tabs only and read literally (as TensorBoard does); only an empty cell is missing
(``NA``, ``None``, ``null`` are words, except in a column of numbers). A CSV's first row is
its header; a one-column ``.tsv`` has none (TensorBoard); a file whose first row holds only
numbers is a headerless table.

Every problem is an :class:`~core._validation.EmbedLensInputError` naming the file, the row
or column, what was found and what was expected. Loading never writes to the user's files.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ._validation import EmbedLensInputError, NonFiniteRowsError, first_items, nonfinite_rows, plain
from .types import Dataset, View

__all__ = [
    "load",
    "fingerprint_array",
    "fingerprint_metadata",
    "SUPPORTED_SUFFIXES",
    "MANIFEST_NAME",
    "default_max_bytes",
]

MANIFEST_NAME = "embedlens.toml"
_ARROW_SUFFIXES = {".parquet", ".pq", ".feather", ".arrow", ".ipc"}
_TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
SUPPORTED_SUFFIXES = frozenset({".npy", ".npz"} | _ARROW_SUFFIXES | _TEXT_SUFFIXES)
_METADATA_STEMS = {"metadata", "meta", "items"}
_VECTOR_NAMES = ("embedding", "embeddings", "vector", "vectors", "emb", "features", "x")
_DIM_COLUMN = re.compile(r"^(dim|emb|embedding|e|x|v|f|feat|feature)[_\-]?(\d+)$", re.IGNORECASE)
_NAN_TOKENS = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}
_HASH_CHUNK_BYTES = 32 << 20


def default_max_bytes() -> int:
    """The per-file size limit: ``EMBEDLENS_MAX_FILE_MB`` (default 8192 MB) in bytes."""
    raw = os.environ.get("EMBEDLENS_MAX_FILE_MB", "8192")
    try:
        mb = float(raw)
    except ValueError:
        raise EmbedLensInputError(
            f"EMBEDLENS_MAX_FILE_MB={raw!r} is not a number of megabytes"
        ) from None
    return int(mb * (1 << 20))


# --------------------------------------------------------------------------- fingerprints


def fingerprint_array(X: np.ndarray) -> str:
    """Content hash of a matrix as float32: shape and bytes, independent of file format.

    SHA-256 over 32 MiB row blocks hashed on two threads, then over the block digests
    (a two-level tree, so large views hash at about twice single-stream speed).

    Cost: O(n d), one read of the matrix.
    """
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.flags.c_contiguous:
        X = np.ascontiguousarray(X)
    n, d = X.shape
    rows = max(1, _HASH_CHUNK_BYTES // max(1, d * 4))
    blocks = [X[i : i + rows] for i in range(0, n, rows)] or [X]

    def digest(block: np.ndarray) -> bytes:
        return hashlib.sha256(memoryview(block).cast("B")).digest()

    if len(blocks) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            digests = list(pool.map(digest, blocks))
    else:
        digests = [digest(blocks[0])]
    h = hashlib.sha256(f"embedlens-view-v1:{n}x{d}:float32:".encode())
    for dg in digests:
        h.update(dg)
    return h.hexdigest()[:32]


def fingerprint_metadata(meta: pd.DataFrame) -> str:
    """Content hash of a metadata table: column names, dtypes and values."""
    h = hashlib.sha256(b"embedlens-meta-v1:")
    h.update(str(len(meta)).encode())
    for col in meta.columns:
        s = meta[col]
        h.update(f"|{col}:{s.dtype}|".encode())
        try:
            values = pd.util.hash_pandas_object(s, index=False).to_numpy()
        except TypeError:  # unhashable cells (lists, dicts): hash their text form
            values = pd.util.hash_pandas_object(s.map(repr), index=False).to_numpy()
        h.update(values.tobytes())
    return h.hexdigest()[:32]


def _dataset_fingerprint(meta_fp: str, views: list[View], dropped: np.ndarray) -> str:
    h = hashlib.sha256(b"embedlens-dataset-v1:" + meta_fp.encode())
    for v in views:
        h.update(f"|{v.name}|{v.run}|{v.layer}|{v.step}|{v.modality}|{v.fingerprint}".encode())
    h.update(b"|dropped:" + np.asarray(dropped, dtype=np.int64).tobytes())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------- raw reading


@dataclass
class _Matrix:
    """A matrix as read from a file, before validation and conversion."""

    name: str
    data: np.ndarray
    source: str
    source_dtype: str


@dataclass
class _FileContents:
    matrices: list[_Matrix]
    metadata: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _check_size(path: Path, max_bytes: int, rel: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise EmbedLensInputError("the file is empty (0 bytes)", source=rel)
    if size > max_bytes:
        raise EmbedLensInputError(
            f"the file is {size / (1 << 20):,.1f} MB, over the limit of "
            f"{max_bytes / (1 << 20):,.0f} MB; raise it with EMBEDLENS_MAX_FILE_MB or "
            "`embedlens --max-file-mb`",
            source=rel,
        )


def _numeric_matrix(arr: np.ndarray, rel: str, what: str = "the array") -> np.ndarray:
    if arr.dtype.hasobject:
        raise EmbedLensInputError(
            f"{what} holds Python objects (dtype=object); EmbedLens never unpickles data. "
            "Save a numeric array, e.g. np.save(path, X.astype(np.float32))",
            source=rel,
        )
    if arr.dtype.fields is not None or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise EmbedLensInputError(
            f"{what} has dtype {arr.dtype}; expected numbers (float or int)", source=rel
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise EmbedLensInputError(f"{what} has complex dtype {arr.dtype}; expected real numbers", source=rel)
    if arr.ndim != 2:
        raise EmbedLensInputError(
            f"{what} has shape {arr.shape}; expected a 2-D matrix (n items x d dimensions)",
            source=rel,
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise EmbedLensInputError(f"{what} has shape {arr.shape}; it holds no data", source=rel)
    return arr


def _read_npy(path: Path, rel: str) -> _FileContents:
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic != b"\x93NUMPY":
        if magic[:1] == b"\x80":
            raise EmbedLensInputError(
                "holds a Python pickle, not a NumPy array; EmbedLens never unpickles files",
                source=rel,
            )
        raise EmbedLensInputError("is not a NumPy .npy file (it lacks the NumPy header)", source=rel)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "Python objects" in str(exc) or "pickle" in str(exc):
            raise EmbedLensInputError(
                "holds Python objects (dtype=object); EmbedLens never unpickles data. "
                "Save a numeric array, e.g. np.save(path, X.astype(np.float32))",
                source=rel,
            ) from None
        raise EmbedLensInputError(
            f"is truncated or damaged ({exc}); the header promises more data than the file holds",
            source=rel,
        ) from None
    except (EOFError, OSError) as exc:
        raise EmbedLensInputError(f"cannot be read as .npy ({exc})", source=rel) from None
    arr = _numeric_matrix(arr, rel)
    return _FileContents([_Matrix(path.stem, arr, rel, str(arr.dtype))])


def _read_npz(path: Path, rel: str) -> _FileContents:
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError
        raise EmbedLensInputError(f"is not a readable .npz archive ({exc})", source=rel) from None
    matrices, columns = [], {}
    with archive:
        for key in archive.files:
            try:
                arr = archive[key]
            except ValueError:
                raise EmbedLensInputError(
                    f"array {key!r} holds Python objects (dtype=object); EmbedLens never "
                    "unpickles data",
                    source=rel,
                    column=key,
                ) from None
            if arr.ndim == 2:
                arr = _numeric_matrix(arr, rel, f"array {key!r}")
                matrices.append(_Matrix(key, arr, f"{rel}:{key}", str(arr.dtype)))
            elif arr.ndim == 1:
                columns[key] = arr
            else:
                raise EmbedLensInputError(
                    f"array {key!r} has shape {arr.shape}; expected 2-D matrices (views) and "
                    "1-D arrays (metadata columns)",
                    source=rel,
                    column=key,
                )
    if not matrices:
        raise EmbedLensInputError(
            f"holds no 2-D array (arrays: {list(columns) or 'none'}); expected at least one "
            "n x d matrix",
            source=rel,
        )
    n = matrices[0].data.shape[0]
    for key, col in columns.items():
        if len(col) != n:
            raise EmbedLensInputError(
                f"1-D array {key!r} has {len(col)} entries but the matrices have {n} rows; "
                "metadata arrays need one entry per row",
                source=rel,
                column=key,
            )
    meta = pd.DataFrame(columns) if columns else None
    return _FileContents(matrices, meta)


def _is_vector_type(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        v = t.value_type
        return pa.types.is_floating(v) or pa.types.is_integer(v)
    return False


def _list_chunk_to_matrix(arr: pa.Array, name: str, rel: str, offset: int) -> np.ndarray:
    """One Arrow list chunk as an (rows, d) array (zero-copy where Arrow allows it)."""
    n = len(arr)
    if arr.null_count:
        rows = np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False)) + offset
        raise EmbedLensInputError(
            f"column {name!r} has missing vectors (rows {first_items(rows)}); every row needs a vector",
            source=rel,
            column=name,
            row=int(rows[0]),
        )
    if pa.types.is_fixed_size_list(arr.type):
        d = arr.type.list_size
    else:
        lengths = arr.value_lengths().to_numpy(zero_copy_only=False)
        if n and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise EmbedLensInputError(
                f"column {name!r} is ragged: row {offset} has {lengths[0]} values but row "
                f"{offset + bad} has {lengths[bad]}; every vector must have the same length",
                source=rel,
                column=name,
                row=offset + bad,
            )
        d = int(lengths[0]) if n else 0
    values = arr.flatten()
    if values.null_count:
        flat = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))
        rows = np.unique(flat // max(d, 1)) + offset
        raise EmbedLensInputError(
            f"column {name!r} has null entries inside vectors (rows {first_items(rows)})",
            source=rel,
            column=name,
            row=int(rows[0]),
        )
    return values.to_numpy(zero_copy_only=False).reshape(n, d)


def _vector_column(chunks, n: int, name: str, rel: str) -> np.ndarray:
    """Fill one float32 (n, d) matrix from a column's chunks (no combined copy of the column)."""
    out = None
    row = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        mat = _list_chunk_to_matrix(chunk, name, rel, row)
        if out is None:
            _numeric_matrix(mat, rel, f"column {name!r}")
            out = np.empty((n, mat.shape[1]), dtype=np.float32)
        elif mat.shape[1] != out.shape[1]:
            raise EmbedLensInputError(
                f"column {name!r} is ragged: row 0 has {out.shape[1]} values but row {row} has "
                f"{mat.shape[1]}; every vector must have the same length",
                source=rel,
                column=name,
                row=row,
            )
        out[row : row + len(mat)] = mat
        row += len(mat)
    if out is None:
        raise EmbedLensInputError(f"column {name!r} has no rows", source=rel, column=name)
    return out


class _ArrowSource:
    """A Parquet file (read column by column) or an Arrow IPC / Feather table (memory-mapped)."""

    def __init__(self, path: Path, rel: str) -> None:
        suffix = path.suffix.lower()
        self.rel = rel
        self.parquet = None
        self.table = None
        try:
            if suffix in {".parquet", ".pq"}:
                self.parquet = pq.ParquetFile(path, memory_map=True)
                self.schema = self.parquet.schema_arrow
                self.num_rows = self.parquet.metadata.num_rows
            else:
                source = pa.memory_map(str(path), "r")
                try:
                    self.table = pa.ipc.open_file(source).read_all()
                except pa.ArrowInvalid:
                    source.seek(0)
                    self.table = pa.ipc.open_stream(source).read_all()
                self.schema = self.table.schema
                self.num_rows = self.table.num_rows
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            kind = "Parquet" if suffix in {".parquet", ".pq"} else "Arrow IPC / Feather"
            raise EmbedLensInputError(f"is not a readable {kind} file ({exc})", source=rel) from None

    def chunks(self, name: str):
        # Parquet: one read of the column (measured: iter_batches took 2x the time for ~20 %
        # less peak memory, since pyarrow decodes a nested column a row group at a time).
        table = self.read([name]) if self.parquet is not None else self.table
        yield from table.column(name).chunks

    def read(self, names: list[str]) -> pa.Table:
        if self.parquet is not None:
            return self.parquet.read(columns=names)
        return self.table.select(names)

    def to_pandas(self, names: list[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
        """The columns ``names`` (default all) as a table, and a reading note for a stored index.

        A pandas index saved with the table (``DataFrame.to_parquet``: a named index, or a
        non-default one as ``__index_level_0__``) comes back as the first metadata column(s)
        under its name (``index`` when unnamed), as ``reset_index`` gives it, never dropped.
        """
        df = self.read(list(self.schema.names) if names is None else names).to_pandas()
        index = df.index
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return df, []
        df = df.reset_index()
        kept = ", ".join(repr(str(c)) for c in df.columns[: index.nlevels])
        return df, [f"{self.rel}: the pandas index stored with the table is kept as the metadata "
                    f"column {kept}"]


def _arrow_dtype_name(t: pa.DataType) -> str:
    try:
        return np.dtype(t.to_pandas_dtype()).name
    except (NotImplementedError, TypeError):
        return str(t)


def _read_arrow(path: Path, rel: str) -> _FileContents:
    """Find the vector column(s) of an Arrow / Parquet file; the other columns are metadata."""
    src = _ArrowSource(path, rel)
    n = src.num_rows
    if n == 0:
        raise EmbedLensInputError("has no rows", source=rel)
    schema = src.schema
    vector_cols = [f.name for f in schema if _is_vector_type(f.type)]
    matrices: list[_Matrix] = []
    for name in vector_cols:
        mat = _vector_column(src.chunks(name), n, name, rel)
        matrices.append(_Matrix(name, mat, f"{rel}:{name}", _arrow_dtype_name(schema.field(name).type.value_type)))
    rest = [c for c in schema.names if c not in vector_cols]
    dim_cols = [c for c in rest if _DIM_COLUMN.match(c)]
    if dim_cols:
        bad = [c for c in dim_cols if not (pa.types.is_floating(schema.field(c).type)
                                           or pa.types.is_integer(schema.field(c).type))]
        if bad:
            raise EmbedLensInputError(
                f"column {bad[0]!r} has type {schema.field(bad[0]).type}; dimension "
                "columns must be numeric",
                source=rel,
                column=bad[0],
            )
        dim_cols = sorted(dim_cols, key=lambda c: int(_DIM_COLUMN.match(c).group(2)))
        dims = src.read(dim_cols)
        for c in dim_cols:
            if dims.column(c).null_count:
                rows = np.flatnonzero(dims.column(c).is_null().to_numpy(zero_copy_only=False))
                raise EmbedLensInputError(
                    f"column {c!r} has missing values (rows {first_items(rows)})",
                    source=rel, column=c, row=int(rows[0]),
                )
        mat = np.empty((n, len(dim_cols)), dtype=np.float32)
        for j, c in enumerate(dim_cols):
            mat[:, j] = dims.column(c).to_numpy()
        matrices.append(_Matrix(path.stem, _numeric_matrix(mat, rel), rel,
                                _arrow_dtype_name(schema.field(dim_cols[0]).type)))
        rest = [c for c in rest if c not in dim_cols]
    if not matrices:
        kinds = ", ".join(f"{f.name} ({f.type})" for f in schema) or "none"
        raise EmbedLensInputError(
            f"has no vector column; expected a list<float> or fixed_size_list<float> column, or "
            f"numeric columns dim_0 .. dim_k (columns found: {kinds})",
            source=rel,
        )
    meta, notes = src.to_pandas(rest) if rest else (None, [])
    return _FileContents(matrices, meta, notes)


# --------------------------------------------------------------------------- text files
#
# One reading of a text file, shared by the parser (pandas), the first-line header guess,
# the slow diagnostic pass and every row count, so row and line numbers in messages agree:
#
# * encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); otherwise strict UTF-8;
#   otherwise Windows-1252 when every byte is defined there (spreadsheet programs on Windows
#   write it), with a reading note; otherwise an error naming the first bad byte's offset.
# * quoting: a ``.csv`` follows RFC 4180 (quoted fields, doubled quotes); a ``.tsv`` / ``.txt``
#   is split on tabs only and read literally (``csv.QUOTE_NONE``), as TensorBoard reads it.
# * missing values: only an empty cell. ``NA``, ``None``, ``null`` ... are words (a label, an
#   id); in a column whose other cells are all numbers they are read as missing, with a note.

_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)
_FALLBACK_ENCODING = "cp1252"
_SCAN_BYTES = 1 << 20
# pandas' default missing-value words: missing only in a column of numbers
_NA_WORDS = frozenset(
    {"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
     "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
# the cells of a vector column read as NaN (besides pandas' own inf / -inf / Infinity)
_FLOAT_NAN_CELLS = ["", "nan", "NaN", "NAN", "-nan", "-NaN", "-NAN", "+nan", "+NaN", "+NAN"]


def _first_bad_byte(fh, encoding: str) -> tuple[int, int] | None:
    """``(offset, byte)`` of the first byte ``encoding`` cannot decode, or None; streams 1 MiB blocks."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    ascii_only = encoding in {"utf-8", _FALLBACK_ENCODING}
    while True:
        block = fh.read(_SCAN_BYTES)
        final = not block
        pending = len(decoder.getstate()[0])
        if not (ascii_only and not pending and block.isascii()):  # ASCII is valid in both
            try:
                decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                start = offset - pending + exc.start
                bad = (bytes(exc.object)[exc.start : exc.start + 1] or b"\x00")[0]
                return start, bad
        if final:
            return None
        offset += len(block)


def _detect_encoding(fh, rel: str) -> tuple[str, str | None]:
    """The codec for a text file (open in binary mode) and a reading note when it is not UTF-8.

    Raises
    ------
    EmbedLensInputError
        For bytes that are neither UTF-8 nor Windows-1252 (naming the offset of the first
        bad byte), and for NUL bytes without a byte-order mark (UTF-16 without a BOM, or
        a binary file).
    """
    fh.seek(0)
    head = fh.read(1 << 16)
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            note = None if codec == "utf-8-sig" else (
                f"{rel}: decoded as {label} (it starts with a {label} byte-order mark)"
            )
            return codec, note
    nul = head.find(b"\x00")
    if nul >= 0:
        raise EmbedLensInputError(
            f"holds NUL bytes (the first at byte offset {nul}): it looks like UTF-16 text without "
            "a byte-order mark, or a binary file; save it as UTF-8 text (e.g. 'CSV UTF-8' in a "
            "spreadsheet program)",
            source=rel,
        )
    bad = _first_bad_byte(fh, "utf-8")
    if bad is None:
        return "utf-8", None
    offset, byte = bad
    if _first_bad_byte(fh, _FALLBACK_ENCODING) is None:
        return _FALLBACK_ENCODING, (
            f"{rel}: decoded as Windows-1252 (cp1252), not UTF-8: byte 0x{byte:02X} at offset "
            f"{offset} is not UTF-8. Save the file as UTF-8 to be sure every character is read as meant"
        )
    raise EmbedLensInputError(
        f"is not UTF-8 text: byte 0x{byte:02X} at offset {offset} cannot be decoded (nor as "
        "Windows-1252); save the file as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet program, or "
        "`iconv -f <its encoding> -t UTF-8`)",
        source=rel,
    )


def _decode_bytes(raw: bytes, rel: str) -> tuple[str, str | None]:
    """Text of a small file held in memory (the manifest), decoded as :func:`_detect_encoding` says."""
    codec, note = _detect_encoding(io.BytesIO(raw), rel)
    return raw.decode(codec), note


@dataclass(frozen=True)
class _TextFormat:
    """How one text file is read, by every reader of it (pandas, csv, line counts)."""

    encoding: str
    sep: str
    quoting: int
    note: str | None = None
    rel: str = ""

    @property
    def tsv(self) -> bool:
        return self.quoting == csv.QUOTE_NONE

    def open(self, path: Path):
        return open(path, encoding=self.encoding, newline="")

    def records(self, path: Path):
        """``(first line, fields)`` per record, as the parser splits them (blank lines: ``[]``)."""
        with self.open(path) as fh:
            reader = csv.reader(fh, delimiter=self.sep, quoting=self.quoting)
            start = 1
            try:
                for fields in reader:
                    yield start, fields
                    start = reader.line_num + 1
            except csv.Error as exc:  # e.g. a field over the csv module's size limit
                raise EmbedLensInputError(
                    f"line {start} cannot be read ({exc})", source=self.rel or path.name
                ) from None

    def read_csv(self, path: Path, **kwargs) -> pd.DataFrame:
        options = dict(
            sep=self.sep,
            # "utf-8" (no mark) lets pandas' C parser read the bytes itself, with no
            # decoded copy of the file; any other codec is decoded as it streams
            encoding=self.encoding,
            quoting=self.quoting,
            keep_default_na=False,
            na_values=[""],
            engine="c",
        )
        options.update(kwargs)
        return pd.read_csv(path, **options)


def _text_format(path: Path, rel: str) -> _TextFormat:
    tsv = path.suffix.lower() in {".tsv", ".txt"}
    with open(path, "rb") as fh:
        encoding, note = _detect_encoding(fh, rel)
    return _TextFormat(
        encoding=encoding,
        sep="\t" if tsv else ",",
        quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
        note=note,
        rel=rel,
    )


def _is_number(text: str) -> bool:
    if "_" in text:  # Python's float() takes 1_000, pandas does not
        return False
    try:
        float(text)
        return True
    except ValueError:
        return False


def _first_record(path: Path, fmt: _TextFormat, rel: str) -> list[str]:
    """The first non-blank record, split as the parser splits it."""
    for _, fields in fmt.records(path):
        if fields and any(f.strip() for f in fields):
            return fields
    raise EmbedLensInputError("holds no rows (only blank lines)", source=rel)


def _diagnose_text(path: Path, rel: str, fmt: _TextFormat, header: bool, vector_cols: list[int],
                   *, skip_blank_lines: bool = True) -> None:
    """Find the first ragged row, empty cell or non-number and raise; return if none.

    Reads the file as the parser does (same encoding, separator and quoting; blank lines
    skipped unless ``skip_blank_lines=False``, where they are rows of one empty value), so
    ``row`` is the parser's row number and ``line`` the record's first line.
    """
    width = None
    row = -1
    for lineno, fields in fmt.records(path):
        if not fields:
            if skip_blank_lines or (header and width is None):
                continue
            fields = [""]
        if header and width is None:
            width = len(fields)
            continue
        row += 1
        if width is None:
            width = len(fields)
        if len(fields) != width:
            raise EmbedLensInputError(
                f"row {row} (line {lineno}) has {len(fields)} fields but the rows before it "
                f"have {width}; every row must have the same number of values",
                source=rel,
                row=row,
            )
        for j in vector_cols:
            cell = fields[j].strip()
            if cell == "":
                raise EmbedLensInputError(
                    f"row {row} (line {lineno}), column {j} is empty; expected a number",
                    source=rel, row=row, column=j,
                )
            if not _is_number(cell) and cell.lower() not in _NAN_TOKENS:
                raise EmbedLensInputError(
                    f"row {row} (line {lineno}), column {j}: {cell[:40]!r} is not a number",
                    source=rel, row=row, column=j,
                )


def _parse_failure(exc: Exception, path: Path, rel: str, fmt: _TextFormat, header: bool,
                   vector_cols: list[int], skip_blank_lines: bool = True) -> EmbedLensInputError:
    """The located error for a failed parse: the diagnostic pass, else the parser's words."""
    _diagnose_text(path, rel, fmt, header, vector_cols, skip_blank_lines=skip_blank_lines)
    text = str(exc)
    if "EOF inside string" in text:
        return EmbedLensInputError(
            'a quote (") opens a field that is never closed; in a CSV file a field holding '
            'quotes, commas or line breaks is quoted and its quotes are doubled (RFC 4180). '
            "A .tsv file is read literally",
            source=rel,
        )
    return EmbedLensInputError(f"cannot be parsed as a table ({text})", source=rel)


def _read_table(path: Path, rel: str, fmt: _TextFormat, header: bool, vector_cols: list[int],
                **kwargs) -> pd.DataFrame:
    try:
        return fmt.read_csv(path, header=0 if header else None, **kwargs)
    except pd.errors.EmptyDataError:
        raise EmbedLensInputError("holds no rows", source=rel) from None
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise _parse_failure(exc, path, rel, fmt, header, vector_cols,
                             kwargs.get("skip_blank_lines", True)) from None


def _numbers_with_na_words(df: pd.DataFrame, rel: str, skip: set[str]) -> list[str]:
    """Read text columns whose cells are all numbers or NA words (NA, null, nan ...) as numbers.

    A column of labels keeps ``NA`` / ``None`` as words; only a column of numbers reads them
    as missing. Returns one reading note per converted column. Changes ``df`` in place.
    """
    notes = []
    for col in list(df.columns):
        s = df[col]
        if str(col).lower() in skip or not (
            pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        ):
            continue
        present = s.dropna()
        if not len(present):
            continue
        words = present.isin(_NA_WORDS)
        rest = present[~words]
        if not words.any() or not len(rest):
            continue
        head = pd.to_numeric(rest.head(1000), errors="coerce")
        if head.isna().any():
            continue
        numbers = pd.to_numeric(rest, errors="coerce")
        if numbers.isna().any():
            continue
        df[col] = pd.to_numeric(s.where(~s.isin(_NA_WORDS)), errors="coerce")
        found = sorted(set(present[words]))
        notes.append(
            f"{rel}: column {str(col)!r} holds numbers; its cells {', '.join(map(repr, found[:5]))} "
            "are read as missing values"
        )
    return notes


def _pandas_index(df: pd.DataFrame, header: list[str], rel: str) -> tuple[pd.DataFrame, list[str]]:
    """Take out the unnamed first column ``DataFrame.to_csv`` writes for the index.

    A table whose first header cell is empty holds pandas' index there. Holding exactly
    0 .. n-1 (a default index) it carries nothing and is dropped; any other index (a filtered
    or reordered frame) is kept as a metadata column ``index`` (pandas' name for it in
    ``reset_index``; ``level_0`` when ``index`` is taken). Either way it is never a
    dimension, and a reading note says so. ``header`` is the file's first record; ``df`` its
    table with the unnamed column first.
    """
    if len(header) < 2 or header[0].strip() != "":
        return df, []
    col = df.columns[0]
    values = df[col]
    n = len(df)
    if pd.api.types.is_integer_dtype(values) and np.array_equal(values.to_numpy(), np.arange(n)):
        return df.drop(columns=[col]), [
            f"{rel}: its first column has no name and holds 0, 1, ..., {n - 1}: the row index pandas "
            "writes (DataFrame.to_csv without index=False); it is left out, not read as data"
        ]
    name = "index" if "index" not in df.columns else "level_0"
    return df.rename(columns={col: name}), [
        f"{rel}: its first column has no name: read as the row index pandas writes (DataFrame.to_csv "
        f"without index=False) and kept as the metadata column {name!r}, not as data"
    ]


def _read_text(path: Path, rel: str) -> _FileContents:
    fmt = _text_format(path, rel)
    notes = [fmt.note] if fmt.note else []
    fields = _first_record(path, fmt, rel)
    header = not all(_is_number(f.strip()) for f in fields if f.strip() != "")
    stripped = [f.strip() for f in fields]
    if not header and len(fields) > 1 and stripped == [str(j) for j in range(len(fields))]:
        # 0,1,...,d-1 is the header pandas writes for unnamed columns (DataFrame(X).to_csv)
        header = True
        notes.append(f"{rel}: the first line 0, 1, ..., {len(fields) - 1} is read as a header (column "
                     "numbers, as pandas writes them), not as a row of data")
    elif not header and len(fields) > 2 and stripped == [""] + [str(j) for j in range(len(fields) - 1)]:
        # ,0,1,...,d-1: the same with the index column first (DataFrame(X).to_csv(path))
        header = True
        notes.append(f"{rel}: the first line (an empty cell, then 0, 1, ..., {len(fields) - 2}) is read "
                     "as a header (column numbers after the index column, as pandas writes them), not "
                     "as a row of data")
    if not header:  # a plain numeric table, e.g. TensorBoard's vectors.tsv
        notes.append(f"{rel}: no header (its first line holds only numbers, as in TensorBoard's vectors.tsv)")
        cols = list(range(len(fields)))
        df = _read_table(path, rel, fmt, False, cols, dtype=np.float32,
                         na_values={j: _FLOAT_NAN_CELLS for j in cols})
        mat = df.to_numpy()
        if mat.shape[1] != len(fields) or np.isnan(mat).any():  # short rows / empty cells read as NaN
            _diagnose_text(path, rel, fmt, False, list(range(mat.shape[1])))
        return _FileContents([_Matrix(path.stem, _numeric_matrix(mat, rel), rel, "text")], notes=notes)
    names = [f.strip() for f in fields]
    dims = [i for i, c in enumerate(names) if _DIM_COLUMN.match(c)]
    if dims:
        dims = sorted(dims, key=lambda i: int(_DIM_COLUMN.match(names[i]).group(2)))
        dim_names = [fields[i] for i in dims]
        na = {c: [""] for c in fields}
        na.update({c: _FLOAT_NAN_CELLS for c in dim_names})
        df = _read_table(path, rel, fmt, True, dims, dtype={c: np.float32 for c in dim_names}, na_values=na)
        df.columns = names
        mat = df[[names[i] for i in dims]].to_numpy(dtype=np.float32)
        if np.isnan(mat).any():
            _diagnose_text(path, rel, fmt, True, dims)
        meta, index_notes = _pandas_index(df.drop(columns=[names[i] for i in dims]), fields, rel)
        notes += index_notes
        notes += _numbers_with_na_words(meta, rel, {"id"})
        return _FileContents(
            [_Matrix(path.stem, _numeric_matrix(mat, rel), rel, "text")],
            meta if len(meta.columns) else None,
            notes,
        )
    df, index_notes = _pandas_index(_read_table(path, rel, fmt, True, []), fields, rel)
    notes += index_notes
    # A header without dim_* columns: a stringified-list column (as pandas / HF exports write).
    for col in df.columns:
        if not (pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col])):
            continue
        sample = df[col].dropna().astype(str).head(1)
        if len(sample) and sample.iloc[0].lstrip().startswith("["):
            rows = []
            for i, cell in enumerate(df[col].astype(str)):
                try:
                    rows.append(np.array(cell.strip().strip("[]").replace(",", " ").split(), dtype=np.float32))
                except ValueError:
                    raise EmbedLensInputError(
                        f"row {i}, column {col!r}: {cell[:40]!r} is not a list of numbers",
                        source=rel, row=i, column=col,
                    ) from None
            lengths = np.array([len(r) for r in rows])
            if (lengths != lengths[0]).any():
                bad = int(np.flatnonzero(lengths != lengths[0])[0])
                raise EmbedLensInputError(
                    f"column {col!r} is ragged: row 0 has {int(lengths[0])} values but row {bad} "
                    f"has {int(lengths[bad])}",
                    source=rel, row=bad, column=col,
                )
            mat = np.vstack(rows)
            meta = df.drop(columns=[col])
            notes += _numbers_with_na_words(meta, rel, {"id"})
            return _FileContents(
                [_Matrix(str(col), _numeric_matrix(mat, rel), f"{rel}:{col}", "text")],
                meta if len(meta.columns) else None,
                notes,
            )
    notes += _numbers_with_na_words(df, rel, {"id"})
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and str(c).lower() != "id"]
    if numeric and len(numeric) == len([c for c in df.columns if str(c).lower() != "id"]):
        mat = df[numeric].to_numpy(dtype=np.float32)
        meta = df.drop(columns=numeric)
        return _FileContents(
            [_Matrix(path.stem, _numeric_matrix(mat, rel), rel, "text")],
            meta if len(meta.columns) else None,
            notes,
        )
    non_numeric = [str(c) for c in df.columns if c not in numeric and str(c).lower() != "id"]
    raise EmbedLensInputError(
        f"has a header but no dimension columns: name them dim_0, dim_1, ... (or store a "
        f"headerless numeric table); non-numeric columns found: {non_numeric[:5]}",
        source=rel,
    )


def _read_view_file(path: Path, rel: str, max_bytes: int) -> _FileContents:
    if not path.exists():
        raise EmbedLensInputError("no such file", source=rel)
    if path.is_dir():
        raise EmbedLensInputError("is a folder; expected a file", source=rel)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise EmbedLensInputError(
            f"has an unknown extension {suffix or '(none)'!r}; supported: "
            f"{', '.join(sorted(SUPPORTED_SUFFIXES))}",
            source=rel,
        )
    _check_size(path, max_bytes, rel)
    if suffix == ".npy":
        return _read_npy(path, rel)
    if suffix == ".npz":
        return _read_npz(path, rel)
    if suffix in _ARROW_SUFFIXES:
        return _read_arrow(path, rel)
    return _read_text(path, rel)


def _count_error(rel: str, rows: int, n: int, view_source: str, how: str = "") -> EmbedLensInputError:
    return EmbedLensInputError(
        f"has {rows} rows but the views have {n} ({view_source}); metadata needs one row per item, "
        f"in the views' order" + (f". {how}" if how else ""),
        source=rel,
    )


def _read_metadata(path: Path, rel: str, max_bytes: int, n: int, view_source: str,
                   id_column: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The metadata table and reading notes (encoding fallbacks, header guesses, NA words)."""
    suffix = path.suffix.lower()
    _check_size(path, max_bytes, rel)
    if suffix in _ARROW_SUFFIXES:
        return _ArrowSource(path, rel).to_pandas()
    if suffix not in _TEXT_SUFFIXES:
        raise EmbedLensInputError(
            f"has extension {suffix!r}; a metadata file must be .parquet, .feather, .arrow, .csv or .tsv",
            source=rel,
        )
    fmt = _text_format(path, rel)
    notes = [fmt.note] if fmt.note else []
    skip = {"id"} | ({str(id_column).lower()} if id_column else set())
    first = _first_record(path, fmt, rel)
    if len(first) > 1:
        # A multi-column file has a header (CSV convention; TensorBoard's too). Blank lines
        # are skipped, as the parser and the diagnostic pass both do.
        df = _read_table(path, rel, fmt, True, [])
        if len(df) != n:
            raise _count_error(rel, len(df), n, view_source)
        df, index_notes = _pandas_index(df, first, rel)
        notes += index_notes
        notes += _numbers_with_na_words(df, rel, skip)
        return df, notes
    # One column: one value per line, and a blank (or whitespace-only) line is an empty value.
    # A CSV's first line is its header (the CSV convention), also above a column of numbers;
    # a .tsv has none (TensorBoard's one-column metadata.tsv).
    header = not fmt.tsv
    df = _read_table(path, rel, fmt, header, [], skip_blank_lines=False)
    col = df.columns[0]
    if not pd.api.types.is_numeric_dtype(df[col]):
        blank = df[col].isna() | df[col].astype(str).str.strip().eq("")
        df[col] = df[col].where(~blank)
    if not header:
        df.columns = ["label"]
        notes.append(f"{rel}: one column, no header (TensorBoard convention): one label per line")
    if len(df) != n:
        first_line = 2 if header else 1
        blank_lines = (np.flatnonzero(df[df.columns[0]].isna().to_numpy()) + first_line).tolist()
        if header:
            how = (f"The first line ({str(col)[:40]!r}) is the header, as in every CSV file; a "
                   "one-column file without a header is a .tsv (TensorBoard)")
        else:
            how = ("It is read as TensorBoard reads a one-column metadata.tsv: no header, one label "
                   "per line")
            if len(df) == n + 1:
                how += (f" (so its first line, {str(df['label'].iloc[0])[:40]!r}, is a label; a "
                        "one-column file with a header is a .csv)")
        if blank_lines:
            plural = len(blank_lines) > 1
            how += (f"; line{'s' if plural else ''} {first_items(blank_lines)} {'are' if plural else 'is'} "
                    "blank and count as empty values")
        raise _count_error(rel, len(df), n, view_source, how)
    notes += _numbers_with_na_words(df, rel, skip)
    return df, notes


# --------------------------------------------------------------------------- manifests

_MANIFEST_KEYS = {"description", "metadata", "id_column", "views"}
_VIEW_KEYS = {"file", "name", "key", "run", "layer", "step", "modality", "extra"}


@dataclass
class _ViewSpec:
    file: str
    name: str | None = None
    key: str | None = None
    run: str = ""
    layer: str = ""
    step: int | None = None
    modality: str = ""
    extra: dict = field(default_factory=dict)


def _read_manifest(path: Path, rel: str) -> dict:
    """The manifest's keys, with ``views`` as :class:`_ViewSpec` s and ``notes`` (reading notes).

    TOML is UTF-8; a byte-order mark is skipped, UTF-16 / UTF-32 with a mark are decoded,
    and a Windows-1252 file is read as such with a note (the same rules as every text file).
    """
    with open(path, "rb") as fh:
        data = fh.read()
    text, note = _decode_bytes(data, rel)
    try:
        raw = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise EmbedLensInputError(f"is not valid TOML ({exc})", source=rel) from None
    unknown = set(raw) - _MANIFEST_KEYS
    if unknown:
        raise EmbedLensInputError(
            f"unknown key(s) {sorted(unknown)}; known keys: {sorted(_MANIFEST_KEYS)}", source=rel
        )
    specs = []
    for i, entry in enumerate(raw.get("views", [])):
        if not isinstance(entry, dict) or "file" not in entry:
            raise EmbedLensInputError(f"[[views]] entry {i} needs a 'file' key", source=rel)
        bad = set(entry) - _VIEW_KEYS
        if bad:
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): unknown key(s) {sorted(bad)}; known "
                f"keys: {sorted(_VIEW_KEYS)}",
                source=rel,
            )
        step = entry.get("step")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): step = {step!r} must be an integer",
                source=rel,
            )
        extra = entry.get("extra", {})
        if not isinstance(extra, dict) or not all(isinstance(v, (int, float, str)) for v in extra.values()):
            raise EmbedLensInputError(
                f"[[views]] entry {i} ({entry['file']}): extra must be a table of numbers or strings",
                source=rel,
            )
        specs.append(
            _ViewSpec(
                file=str(entry["file"]),
                name=entry.get("name"),
                key=entry.get("key"),
                run=str(entry.get("run", "")),
                layer=str(entry.get("layer", "")),
                step=step,
                modality=str(entry.get("modality", "")),
                extra=dict(extra),
            )
        )
    raw["views"] = specs
    raw["notes"] = [note] if note else []
    return raw


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- assembling


def _is_hidden(rel_parts: tuple[str, ...]) -> bool:
    return any(p.startswith((".", "_")) for p in rel_parts)


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not _is_hidden(rel.parts) and p.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(p)
    return files


def _pick_metadata_file(folder: Path, files: list[Path]) -> Path | None:
    found = [p for p in files if p.parent == folder and p.stem.lower() in _METADATA_STEMS]
    if len(found) > 1:
        raise EmbedLensInputError(
            f"has several metadata files ({', '.join(p.name for p in found)}); keep one, or name "
            f"it in {MANIFEST_NAME} (metadata = \"...\")",
            source=folder.name,
        )
    return found[0] if found else None


def _resolve_ids(meta: pd.DataFrame, id_column: str | None, rel: str) -> tuple[np.ndarray, str | None]:
    if id_column is None:
        matches = [c for c in meta.columns if str(c).lower() == "id"]
        id_column = matches[0] if matches else None
    elif id_column not in meta.columns:
        raise EmbedLensInputError(
            f"id_column {id_column!r} is not a metadata column; columns: {plain(list(meta.columns)[:10])}",
            source=rel,
        )
    if id_column is None:
        return np.arange(len(meta)), None
    ids = meta[id_column]
    if ids.isna().any():
        rows = np.flatnonzero(ids.isna().to_numpy())
        raise EmbedLensInputError(
            f"id column {id_column!r} has missing ids (rows {first_items(rows)})",
            source=rel, column=id_column, row=int(rows[0]),
        )
    dup_mask = ids.duplicated(keep=False).to_numpy()
    if dup_mask.any():
        dup_rows = np.flatnonzero(dup_mask)
        examples = []
        for value in pd.unique(ids.iloc[dup_rows])[:3]:
            rows = np.flatnonzero((ids == value).to_numpy())
            examples.append(f"{plain(value)!r} (rows {first_items(rows, 3)})")
        raise EmbedLensInputError(
            f"id column {id_column!r} has duplicate ids: {'; '.join(examples)}; ids must be unique",
            source=rel, column=id_column, row=int(dup_rows[0]),
        )
    return ids.to_numpy(), id_column


def _as_float32(X: np.ndarray) -> np.ndarray:
    if X.dtype != np.float32 or not X.flags.c_contiguous:
        X = np.ascontiguousarray(X, dtype=np.float32)
    if X.flags.writeable:
        X.flags.writeable = False
    return X


def _assemble(
    name: str,
    entries: list[tuple[_Matrix, _ViewSpec]],
    meta: pd.DataFrame | None,
    *,
    id_column: str | None,
    meta_rel: str,
    nonfinite: str,
    description: str,
    path: Path,
    notes: list[str] | tuple[str, ...] = (),
) -> Dataset:
    n = entries[0][0].data.shape[0]
    for m, _ in entries[1:]:
        if m.data.shape[0] != n:
            raise EmbedLensInputError(
                f"{m.source} has {m.data.shape[0]} rows but {entries[0][0].source} has {n}; all "
                "views of a dataset must hold the same items in the same order",
                source=name,
            )
    if meta is None:
        meta = pd.DataFrame(index=pd.RangeIndex(n))
    elif len(meta) != n:
        raise EmbedLensInputError(
            f"has {len(meta)} rows but the views have {n} ({entries[0][0].source}); metadata needs "
            "one row per item, in the views' order",
            source=meta_rel,
        )
    meta = meta.reset_index(drop=True)
    ids, id_column = _resolve_ids(meta, id_column, meta_rel)

    bad_by_view = {m.source: nonfinite_rows(m.data) for m, _ in entries}
    bad_any = [rows for rows in bad_by_view.values() if len(rows)]
    dropped = np.unique(np.concatenate(bad_any)) if bad_any else np.empty(0, dtype=np.int64)
    if len(dropped):
        if nonfinite != "drop":
            src, rows = next((s, r) for s, r in bad_by_view.items() if len(r))
            raise NonFiniteRowsError(
                f"{len(rows)} of {n} rows hold NaN or inf (rows {first_items(rows)}); "
                f"{len(dropped)} rows across all views. EmbedLens can leave them out (from every "
                "view and the metadata) for this session; the file is not changed",
                source=src,
                rows=dropped,
            )
        if len(dropped) == n:
            raise EmbedLensInputError(f"every one of the {n} rows holds NaN or inf", source=name)
        keep = np.ones(n, dtype=bool)
        keep[dropped] = False
        meta = meta.loc[keep].reset_index(drop=True)
        ids = ids[keep]
    else:
        keep = None

    views = []
    for m, spec in entries:
        X = m.data if keep is None else m.data[keep]
        X = _as_float32(X)
        views.append(
            View(
                name=spec.name or m.name,
                X=X,
                fingerprint=fingerprint_array(X),
                run=spec.run,
                layer=spec.layer,
                step=spec.step,
                modality=spec.modality,
                source=m.source,
                source_dtype=m.source_dtype,
                extra=spec.extra,
            )
        )
    ids = np.asarray(ids)
    ids.flags.writeable = False
    meta_fp = fingerprint_metadata(meta)
    return Dataset(
        name=name,
        metadata=meta,
        ids=ids,
        views=tuple(views),
        fingerprint=_dataset_fingerprint(meta_fp, views, dropped),
        id_column=id_column,
        description=description,
        dropped_rows=dropped,
        path=str(path),
        notes=tuple(dict.fromkeys(notes)),
    )


def _align_by_ids(contents: _FileContents, ids: pd.Series, id_column: str, rel: str) -> None:
    """Reorder a view file's rows to the metadata's id order when the file carries ids."""
    if contents.metadata is None or id_column not in contents.metadata.columns:
        return
    file_ids = contents.metadata[id_column]
    if len(file_ids) == len(ids) and (file_ids.to_numpy() == ids.to_numpy()).all():
        return
    pos = pd.Index(file_ids).get_indexer(ids)
    if (pos < 0).any() or len(file_ids) != len(ids):
        missing = ids[pos < 0].tolist()
        raise EmbedLensInputError(
            f"its {id_column!r} column does not hold the metadata's ids (missing: "
            f"{first_items(missing)}); a view file that carries ids must cover every item",
            source=rel,
            column=id_column,
        )
    for m in contents.matrices:
        m.data = np.asarray(m.data)[pos]


def _load_folder(folder: Path, name: str, max_bytes: int, nonfinite: str) -> Dataset:
    manifest_path = folder / MANIFEST_NAME
    manifest = _read_manifest(manifest_path, f"{name}/{MANIFEST_NAME}") if manifest_path.exists() else {}
    files = _folder_files(folder)
    if manifest.get("metadata"):
        meta_path = folder / manifest["metadata"]
        if not _inside(meta_path, folder):
            raise EmbedLensInputError(
                f"metadata = {manifest['metadata']!r} points outside the dataset folder",
                source=f"{name}/{MANIFEST_NAME}",
            )
        if not meta_path.exists():
            raise EmbedLensInputError(
                f"metadata file {manifest['metadata']!r} does not exist", source=f"{name}/{MANIFEST_NAME}"
            )
    else:
        meta_path = _pick_metadata_file(folder, files)

    specs: list[_ViewSpec] = manifest.get("views") or [
        _ViewSpec(file=str(p.relative_to(folder).as_posix())) for p in files if p != meta_path
    ]
    if not specs:
        raise EmbedLensInputError(
            f"holds no view files; expected .npy, .npz, .parquet, .feather, .arrow, .csv or .tsv "
            f"files{' besides ' + meta_path.name if meta_path else ''}",
            source=name,
        )
    entries: list[tuple[_Matrix, _ViewSpec]] = []
    file_meta = None
    contents_by_file: list[tuple[_FileContents, str]] = []
    for spec in specs:
        vpath = folder / spec.file
        rel = f"{name}/{spec.file}"
        if not _inside(vpath, folder):
            raise EmbedLensInputError(f"{spec.file!r} points outside the dataset folder", source=name)
        contents = _read_view_file(vpath, rel, max_bytes)
        contents_by_file.append((contents, rel))
        if file_meta is None and contents.metadata is not None:
            file_meta = contents.metadata
        mats = contents.matrices
        if spec.key is not None:
            mats = [m for m in mats if m.name == spec.key]
            if not mats:
                raise EmbedLensInputError(
                    f"has no array or column {spec.key!r}; it holds "
                    f"{[m.name for m in contents.matrices]}",
                    source=rel,
                )
        stem = Path(spec.file).with_suffix("").as_posix()
        for m in mats:
            view_name = spec.name if (spec.name and len(mats) == 1) else None
            if view_name is None:
                view_name = stem if len(mats) == 1 else f"{stem}/{m.name}"
            entries.append((m, _ViewSpec(**{**spec.__dict__, "name": view_name})))
    n = entries[0][0].data.shape[0]
    id_column = manifest.get("id_column")
    notes = list(manifest.get("notes", []))
    for contents, _ in contents_by_file:
        notes += contents.notes
    if meta_path is not None:
        meta_rel = f"{name}/{meta_path.relative_to(folder).as_posix()}"
        meta, meta_notes = _read_metadata(meta_path, meta_rel, max_bytes, n, entries[0][0].source, id_column)
        notes += meta_notes
    else:
        meta_rel, meta = name, file_meta
    if meta is not None and meta_path is not None:
        col = id_column or next((c for c in meta.columns if str(c).lower() == "id"), None)
        if col is not None and len(meta) == n and col in meta.columns:
            for contents, rel in contents_by_file:
                _align_by_ids(contents, meta[col], col, rel)
    return _assemble(
        name,
        entries,
        meta,
        id_column=id_column,
        meta_rel=meta_rel,
        nonfinite=nonfinite,
        description=str(manifest.get("description", "")),
        path=folder,
        notes=notes,
    )


def load(
    path: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    name: str | None = None,
    nonfinite: str = "error",
    max_bytes: int | None = None,
) -> Dataset:
    """Load a dataset (embeddings + metadata) from a file or a folder.

    Parameters
    ----------
    path : path-like
        A ``.npy`` / ``.npz`` / Parquet / Arrow / Feather / CSV / TSV file, or a folder
        holding a metadata file plus one file per view (optionally with an
        ``embedlens.toml`` manifest). Relative paths are taken from ``root`` when given.
    root : path-like, optional
        The data folder. When given, ``path`` must lie inside it (after resolving symbolic
        links and ``..``); anything else is refused.
    name : str, optional
        The dataset's name; defaults to the file or folder name.
    nonfinite : {"error", "drop"}, default="error"
        Rows with NaN or inf raise :class:`~core._validation.NonFiniteRowsError` (naming
        their count and first row numbers), or, with ``"drop"``, are left out of every view
        and the metadata; ``Dataset.dropped_rows`` lists them. Files are never changed.
    max_bytes : int, optional
        Refuse files larger than this; default from ``EMBEDLENS_MAX_FILE_MB`` (8192 MB).

    Returns
    -------
    Dataset
        ``Dataset.notes`` says how text files were read where a choice was made (an encoding
        other than UTF-8, a header or none by convention, ``NA`` words read as missing in a
        column of numbers).

    Raises
    ------
    EmbedLensInputError
        For any file that cannot be used as it is, naming the file and the row / line /
        column / byte offset: unknown or damaged formats, text that is neither UTF-8 nor
        Windows-1252, ragged rows, non-numbers in vector columns, metadata with another row
        count, missing or duplicate ids, paths outside the data folder, files over the limit.
    NonFiniteRowsError
        For rows holding NaN or inf, with ``nonfinite="error"``.

    Notes
    -----
    Cost: one read of every file (memory-mapped for float32 ``.npy``) plus one SHA-256 pass
    over each view for its fingerprint, O(n d).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.save(folder / "X.npy", np.eye(3, dtype=np.float32))
    >>> ds = load(folder / "X.npy")
    >>> ds.n, ds.views[0].d
    (3, 3)
    """
    if nonfinite not in {"error", "drop"}:
        raise EmbedLensInputError(f"nonfinite={nonfinite!r}; expected 'error' or 'drop'")
    max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
    p = Path(path)
    if root is not None:
        root_path = Path(root)
        if not p.is_absolute():
            p = root_path / p
        if not _inside(p, root_path):
            raise EmbedLensInputError(
                f"{str(path)!r} is outside the data folder {str(root_path)!r}; EmbedLens only "
                "opens files inside its data folder"
            )
    display = name or p.name
    if not p.exists():
        raise EmbedLensInputError("no such file or folder", source=str(path))
    if p.is_dir():
        return _load_folder(p, display, max_bytes, nonfinite)
    contents = _read_view_file(p, display, max_bytes)
    entries = [(m, _ViewSpec(file=p.name, name=m.name)) for m in contents.matrices]
    return _assemble(
        display,
        entries,
        contents.metadata,
        id_column=None,
        meta_rel=display,
        nonfinite=nonfinite,
        description="",
        path=p,
        notes=contents.notes,
    )
