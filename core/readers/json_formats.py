"""JSON lines (``.jsonl`` / ``.ndjson``): one object per line; a field holding a list of numbers
in every row is a view (several such fields, several views), the other fields are metadata.

This is what ``datasets.Dataset.to_json``, ``DataFrame.to_json(orient="records", lines=True)``
and embedding APIs' batch outputs write. The lines are parsed by :mod:`pyarrow.json` and then
read as any Arrow table is (:mod:`.arrow_formats`: ragged rows, missing vectors and nulls inside a
vector are named with their row).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json

from .._validation import EmbedLensInputError
from .arrow_formats import _ArrowSource, _read_arrow
from .contents import _FileContents

_JSON_SUFFIXES = {".jsonl", ".ndjson"}
_ROW = re.compile(r"in row (\d+)")


def _read_jsonl(path: Path, rel: str) -> _FileContents:
    """The vector fields of a JSON lines file as views, the other fields as metadata."""
    size = path.stat().st_size
    # one block for the whole file (up to 2 GiB), so pyarrow's row numbers count from the file's start
    options = pa_json.ReadOptions(block_size=max(1 << 20, min(size + 1, (1 << 31) - 1)))
    try:
        table = pa_json.read_json(path, read_options=options)
    except pa.ArrowInvalid as exc:
        text = str(exc).removeprefix("JSON parse error: ")
        m = _ROW.search(text)
        where = {}
        if m and size < (1 << 31) - 1:
            where["row"] = int(m.group(1))
            text = _ROW.sub(f"on line {int(m.group(1)) + 1}", text)
        raise EmbedLensInputError(
            f"is not valid JSON lines ({text}); expected one JSON object per line with the same "
            "fields, a vector field holding a list of numbers in every row",
            source=rel, **where,
        ) from None
    contents = _read_arrow(path, rel, _ArrowSource.from_table(table, rel))
    for m in contents.matrices:
        m.source_dtype = "json"
    return contents
