"""Reading embeddings and their metadata from files and folders: :func:`load` and the public names.

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
numbers is a headerless table. An unnamed first column (the index ``DataFrame.to_csv`` writes)
is left out when it holds 0 .. n-1 and kept as the metadata column ``index`` otherwise.

Every problem is an :class:`~core._validation.EmbedLensInputError` naming the file, the row
or column, what was found and what was expected. Loading never writes to the user's files.
"""

from __future__ import annotations

import os
from pathlib import Path

from .._validation import EmbedLensInputError
from ..types import Dataset
from .contents import _inside, default_max_bytes
from .fingerprint import fingerprint_array, fingerprint_metadata
from .folder import SUPPORTED_SUFFIXES, _assemble, _load_folder, _read_view_file
from .manifest import MANIFEST_NAME, _ViewSpec

__all__ = [
    "load",
    "fingerprint_array",
    "fingerprint_metadata",
    "SUPPORTED_SUFFIXES",
    "MANIFEST_NAME",
    "default_max_bytes",
]


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
        ``Dataset.notes`` says how files were read where a choice was made (an encoding
        other than UTF-8, a header or none by convention, ``NA`` words read as missing in a
        column of numbers, a pandas index column left out or kept as metadata).

    Raises
    ------
    EmbedLensInputError
        For any file that cannot be used as it is, naming the file and the row / line /
        column / byte offset: unknown or damaged formats, text that is neither UTF-8 nor
        Windows-1252, ragged rows, non-numbers in vector columns, metadata with another row
        count, missing or duplicate ids, paths outside the data folder, files over the limit.
    NonFiniteRowsError
        For rows holding NaN or inf, with ``nonfinite="error"``.
    ValueError, TypeError
        From ``int(max_bytes)`` for a ``max_bytes`` that is not a number; an unset
        ``max_bytes`` with a non-numeric ``EMBEDLENS_MAX_FILE_MB`` is an
        :class:`EmbedLensInputError` instead. ``nonfinite`` other than "error" / "drop" is an
        :class:`EmbedLensInputError`.

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
