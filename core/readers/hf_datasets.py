"""Hugging Face ``datasets`` folders written by ``save_to_disk``, read without the library.

A ``Dataset`` folder holds ``state.json`` (its Arrow shards, in order), ``dataset_info.json``
(the features) and ``data-0000k-of-0000m.arrow`` shards, each an Arrow IPC stream; a
``DatasetDict`` folder holds ``dataset_dict.json`` (``{"splits": [...]}``) and one such folder
per split. The shards are memory-mapped and read as any Arrow table (:mod:`.arrow_formats`):
each list-of-numbers column is a view, the other columns are metadata.

**Splits are a metadata column, not views.** Views are matrices over the same items, row by
row; a ``train`` and a ``test`` split hold different items, so the splits' rows are stacked
(in ``dataset_dict.json``'s order) and a ``split`` column says which split each row came from
(the Map and the tables filter by it). ``ClassLabel`` columns show their class names instead
of the integer codes (a code of -1, "no label", is a missing value).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .._validation import EmbedLensInputError
from .arrow_formats import _ArrowSource, _read_arrow
from .contents import _check_size, _Matrix
from .manifest import _ViewSpec

DICT_FILE = "dataset_dict.json"
STATE_FILE = "state.json"
INFO_FILE = "dataset_info.json"


def _is_hf_folder(folder: Path) -> bool:
    """Whether ``folder`` is a ``save_to_disk`` folder (a Dataset or a DatasetDict)."""
    return (folder / DICT_FILE).is_file() or ((folder / STATE_FILE).is_file() and (folder / INFO_FILE).is_file())


def _json(path: Path, rel: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EmbedLensInputError(f"is not readable JSON ({exc})", source=rel) from None
    if not isinstance(data, dict):
        raise EmbedLensInputError("holds no JSON object", source=rel)
    return data


def _split_table(folder: Path, rel: str, max_bytes: int) -> tuple[pa.Table, dict]:
    """One saved ``Dataset``: its shards as one table (in ``state.json``'s order) and its features."""
    state = _json(folder / STATE_FILE, f"{rel}/{STATE_FILE}")
    files = [f.get("filename") for f in state.get("_data_files", []) if isinstance(f, dict)]
    if not files or not all(isinstance(f, str) for f in files):
        raise EmbedLensInputError("lists no data files (_data_files)", source=f"{rel}/{STATE_FILE}")
    tables = []
    for name in files:
        path = folder / name
        shard_rel = f"{rel}/{name}"
        if not path.is_file():
            raise EmbedLensInputError(f"lists {name!r}, which does not exist", source=f"{rel}/{STATE_FILE}")
        _check_size(path, max_bytes, shard_rel)
        tables.append(_ArrowSource(path, shard_rel).table)
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowInvalid as exc:
        raise EmbedLensInputError(f"its shards have different columns ({exc})", source=rel) from None
    features = _json(folder / INFO_FILE, f"{rel}/{INFO_FILE}").get("features") or {}
    return table, features if isinstance(features, dict) else {}


def _class_names(meta: pd.DataFrame, features: dict) -> list[str]:
    """ClassLabel columns as their names; returns the columns changed."""
    changed = []
    for col, feature in features.items():
        if not (isinstance(feature, dict) and feature.get("_type") == "ClassLabel" and col in meta.columns):
            continue
        names = feature.get("names")
        codes = meta[col].to_numpy()
        if not names or not np.issubdtype(codes.dtype, np.integer):
            continue
        lookup = np.asarray(list(names) + [None], dtype=object)
        codes = np.where((codes >= 0) & (codes < len(names)), codes, len(names))
        meta[col] = lookup[codes]
        changed.append(col)
    return changed


def _read_hf(folder: Path, name: str, max_bytes: int) -> tuple[list, pd.DataFrame | None, str, list[str]]:
    """The views (matrix, spec), metadata, its name in messages and reading notes of a saved
    Hugging Face ``Dataset`` or ``DatasetDict``."""
    notes = []
    if (folder / DICT_FILE).is_file():
        splits = _json(folder / DICT_FILE, f"{name}/{DICT_FILE}").get("splits")
        if not splits or not all(isinstance(s, str) for s in splits):
            raise EmbedLensInputError("lists no splits", source=f"{name}/{DICT_FILE}")
        parts, features = [], {}
        for split in splits:
            table, feats = _split_table(folder / split, f"{name}/{split}", max_bytes)
            parts.append((split, table))
            features = features or feats
        column = "split"
        if column in parts[0][1].column_names:
            column = "dataset_split"
        try:
            table = pa.concat_tables([t.append_column(column, pa.array([s] * t.num_rows, pa.string()))
                                      for s, t in parts])
        except pa.ArrowInvalid as exc:
            raise EmbedLensInputError(f"its splits have different columns ({exc})", source=name) from None
        counts = ", ".join(f"{s} {t.num_rows:,}" for s, t in parts)
        notes.append(f"{name}: a Hugging Face DatasetDict; its splits ({counts} rows) are stacked and "
                     f"the metadata column {column!r} names each row's split")
    else:
        table, features = _split_table(folder, name, max_bytes)
        notes.append(f"{name}: a Hugging Face dataset saved with save_to_disk")
    contents = _read_arrow(Path(folder.name), name, _ArrowSource.from_table(table, name))
    notes += contents.notes
    meta = contents.metadata
    if meta is not None:
        for col in _class_names(meta, features):
            notes.append(f"{name}: ClassLabel column {col!r} shows its class names instead of the codes")
    entries: list[tuple[_Matrix, _ViewSpec]] = [
        (m, _ViewSpec(file=m.source, name=m.name)) for m in contents.matrices]
    return entries, meta, name, notes
