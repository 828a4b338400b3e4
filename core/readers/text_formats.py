"""CSV / TSV / TXT: encodings, RFC 4180 or literal-tab reading, headers, NA words, pandas' index column."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import EmbedLensInputError, first_items
from .contents import _DIM_COLUMN, _check_float32_range, _count_error, _FileContents, _Matrix, _numeric_matrix

_TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
_NAN_TOKENS = {"nan", "-nan", "+nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}

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
# * pandas' index: an unnamed first column (``DataFrame.to_csv`` without ``index=False``) is
#   never a dimension: left out when it holds 0 .. n-1, else kept as metadata ``index``.

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
            bad = _first_bad_byte(fh, codec)
            if bad is not None:  # the mark promises an encoding the rest of the file does not keep
                raise EmbedLensInputError(
                    f"starts with a {label} byte-order mark but is not {label} text: the bytes at offset "
                    f"{bad[0]} cannot be decoded as {label} (a truncated or damaged file, or a stray mark); "
                    "save the file again as UTF-8",
                    source=rel,
                )
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
            except UnicodeDecodeError as exc:  # not expected: _detect_encoding checked every byte
                raise EmbedLensInputError(
                    f"line {start} cannot be decoded as {self.encoding} ({exc.reason})",
                    source=self.rel or path.name,
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


_F32_MAX = float(np.finfo(np.float32).max)


def _diagnose_overflow(path: Path, rel: str, fmt: _TextFormat, header: bool, vector_cols: list[int]) -> None:
    """Raise for the first cell whose number float32 cannot hold (it was read as inf); return if none.

    Called when a float32 column holds inf: a written ``inf`` stays an inf row (the NaN / inf
    rule), but ``3.5e38`` or ``1e999`` read as inf would otherwise be reported as if the file said inf.
    """
    first = True
    row = -1
    for lineno, fields in fmt.records(path):
        if not fields:
            continue
        if header and first:
            first = False
            continue
        first = False
        row += 1
        for j in vector_cols:
            if j >= len(fields):
                continue
            cell = fields[j].strip()
            if cell.lower() in _NAN_TOKENS or not _is_number(cell):
                continue
            value = float(cell)
            if abs(value) > _F32_MAX:
                raise EmbedLensInputError(
                    f"row {row} (line {lineno}), column {j}: {cell[:40]!r} is beyond float32's range (it holds "
                    "up to 3.4e38); EmbedLens keeps views as float32, where it would become inf. Rescale the "
                    "values (or write inf if infinity is meant)",
                    source=rel, row=row, column=j,
                )


def _parse_failure(exc: Exception, path: Path, rel: str, fmt: _TextFormat, header: bool,
                   vector_cols: list[int], skip_blank_lines: bool = True) -> EmbedLensInputError:
    """The located error for a failed parse: the diagnostic pass, else the parser's words."""
    _diagnose_text(path, rel, fmt, header, vector_cols, skip_blank_lines=skip_blank_lines)
    _diagnose_overflow(path, rel, fmt, header, vector_cols)  # pandas < 2.3 refuses 1e999 as a float32 cell
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
        with np.errstate(over="ignore"):  # 3.5e38 read as float32 is inf; _diagnose_overflow names it
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


def _unique_header(fields: list[str], rel: str) -> None:
    """Refuse a header naming a column twice (pandas would rename the second ``name.1`` silently)."""
    seen: set[str] = set()
    for j, name in enumerate(f.strip() for f in fields):
        if name and name in seen:
            raise EmbedLensInputError(
                f"its header names the column {name[:40]!r} twice (the second time in column {j}); column "
                "names must be unique", source=rel, column=j)
        seen.add(name)


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
        if np.isinf(mat).any():
            _diagnose_overflow(path, rel, fmt, False, list(range(mat.shape[1])))
        return _FileContents([_Matrix(path.stem, _numeric_matrix(mat, rel), rel, "text")], notes=notes)
    _unique_header(fields, rel)
    names = [f.strip() for f in fields]
    dims = [i for i, c in enumerate(names) if _DIM_COLUMN.match(c)]
    if dims:
        dims = sorted(dims, key=lambda i: int(_DIM_COLUMN.match(names[i]).group(2)))
        dim_names = [fields[i] for i in dims]
        na = {c: [""] for c in fields}
        na.update({c: _FLOAT_NAN_CELLS for c in dim_names})
        df = _read_table(path, rel, fmt, True, dims, dtype={c: np.float32 for c in dim_names}, na_values=na)
        names = [n or str(c) for n, c in zip(names, df.columns)]  # pandas' name for an empty header cell
        df.columns = names
        mat = df[[names[i] for i in dims]].to_numpy(dtype=np.float32)
        if np.isnan(mat).any():
            _diagnose_text(path, rel, fmt, True, dims)
        if np.isinf(mat).any():
            _diagnose_overflow(path, rel, fmt, True, dims)
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
                    values = cell.strip().strip("[]").replace(",", " ").split()
                    rows.append(np.array(values, dtype=np.float64))
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
            _check_float32_range(mat, rel, column=col)
            mat = mat.astype(np.float32)
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
        mat = df[numeric].to_numpy(dtype=np.float64)
        _check_float32_range(mat, rel)
        mat = mat.astype(np.float32)
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


def _read_text_metadata(path: Path, rel: str, n: int, view_source: str,
                        id_column: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """A text metadata table of ``n`` rows and its reading notes (encoding, header, NA words)."""
    fmt = _text_format(path, rel)
    notes = [fmt.note] if fmt.note else []
    skip = {"id"} | ({str(id_column).lower()} if id_column else set())
    first = _first_record(path, fmt, rel)
    if len(first) > 1:
        _unique_header(first, rel)
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
    if not len(df.columns):  # a blank first line taken as the header
        raise EmbedLensInputError(
            "its first line is blank; in a CSV file the first line is the header (a one-column file "
            "without a header is a .tsv)", source=rel)
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
