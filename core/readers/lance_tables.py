"""LanceDB / Lance tables: a ``<name>.lance`` folder (``_versions/``, ``data/*.lance``), or a
LanceDB database folder holding one such table.

The Lance format has no reader in pyarrow; the ``pylance`` package (``pip install
'embedlens[lance]'``) reads the table's latest version as an Arrow table, which is then read as
any Arrow table (:mod:`.arrow_formats`): LanceDB's ``vector`` column (a fixed-size list of
float32) is a view, the other columns are metadata. Without ``pylance`` a Lance folder is
refused with that install line; nothing else needs it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .._validation import EmbedLensInputError
from .arrow_formats import _ArrowSource, _read_arrow
from .contents import _check_size
from .manifest import _ViewSpec

LANCE_SUFFIX = ".lance"


def _is_table(folder: Path) -> bool:
    return folder.suffix == LANCE_SUFFIX and (folder / "_versions").is_dir()


def _lance_tables(folder: Path) -> list[Path]:
    """``folder`` itself when it is a Lance table, else the Lance tables directly inside it."""
    if _is_table(folder):
        return [folder]
    return [c for c in sorted(folder.iterdir()) if c.is_dir() and _is_table(c)]


def _read_lance(folder: Path, name: str, max_bytes: int) -> tuple[list, pd.DataFrame | None, str, list[str]]:
    """The views (matrix, spec), metadata, its name in messages and reading notes of a Lance table."""
    tables = _lance_tables(folder)
    if len(tables) > 1:
        raise EmbedLensInputError(
            f"is a LanceDB database with {len(tables)} tables ({', '.join(t.stem for t in tables)}); "
            "a dataset is one table: open one table's folder (e.g. "
            f"{name}/{tables[0].name}) or give each table a folder of its own",
            source=name,
        )
    table_dir = tables[0]
    rel = name if table_dir == folder else f"{name}/{table_dir.name}"
    for data in sorted((table_dir / "data").glob(f"*{LANCE_SUFFIX}")):
        _check_size(data, max_bytes, f"{rel}/data/{data.name}")
    try:
        import lance
    except ImportError:
        raise EmbedLensInputError(
            "is a Lance table; reading it needs the pylance package: pip install 'embedlens[lance]' "
            "(or pip install pylance)",
            source=rel,
        ) from None
    try:
        table = lance.dataset(str(table_dir)).to_table()
    except (OSError, ValueError, RuntimeError) as exc:
        raise EmbedLensInputError(f"is not a readable Lance table ({exc})", source=rel) from None
    if table.num_rows == 0:
        raise EmbedLensInputError("has no rows", source=rel)
    contents = _read_arrow(Path(table_dir.stem), rel, _ArrowSource.from_table(table, rel))
    entries = [(m, _ViewSpec(file=m.source, name=m.name)) for m in contents.matrices]
    notes = [f"{rel}: a Lance table (latest version), read with pylance"] + contents.notes
    return entries, contents.metadata, rel, notes
