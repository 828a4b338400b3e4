"""Assembling a Dataset: which reader reads a file, the metadata file, ids, and a folder of views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import (EmbedLensInputError, NonFiniteRowsError, first_items, nonfinite_phrase, nonfinite_rows,
                           plain, plural)
from ..types import Dataset, View
from .arrow_formats import _ARROW_SUFFIXES, _ArrowSource, _read_arrow
from .contents import (
    _check_float32_range,
    _check_size,
    _count_error,
    _FileContents,
    _inside,
    _is_hidden,
    _Matrix,
)
from .fingerprint import _dataset_fingerprint, fingerprint_array, fingerprint_metadata
from .hf_datasets import _is_hf_folder, _read_hf
from .json_formats import _JSON_SUFFIXES, _read_jsonl
from .lance_tables import LANCE_SUFFIX, _lance_tables, _read_lance
from .manifest import MANIFEST_NAME, _read_manifest, _ViewSpec
from .numpy_formats import _NUMPY_SUFFIXES, _read_npy, _read_npz
from .projector import _projector_logs, _read_projector
from .text_formats import _TEXT_SUFFIXES, _read_text, _read_text_metadata

# ".lance" (a Lance table's data files) makes the catalog list Lance folders; a table is read whole
SUPPORTED_SUFFIXES = frozenset(_NUMPY_SUFFIXES | _ARROW_SUFFIXES | _TEXT_SUFFIXES | _JSON_SUFFIXES
                               | {LANCE_SUFFIX})
_METADATA_STEMS = {"metadata", "meta", "items"}


def _read_view_file(path: Path, rel: str, max_bytes: int) -> _FileContents:
    """A view file's matrices and metadata columns, read by the reader its suffix names."""
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
    if suffix == LANCE_SUFFIX:
        raise EmbedLensInputError("is a data file of a Lance table; open the table's folder "
                                  "(<name>.lance) instead", source=rel)
    _check_size(path, max_bytes, rel)
    if suffix in _JSON_SUFFIXES:
        return _read_jsonl(path, rel)
    if suffix == ".npy":
        return _read_npy(path, rel)
    if suffix == ".npz":
        return _read_npz(path, rel, max_bytes)
    if suffix in _ARROW_SUFFIXES:
        return _read_arrow(path, rel)
    return _read_text(path, rel)


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
    return _read_text_metadata(path, rel, n, view_source, id_column)


def _outside_error(p: Path, folder: Path, name: str) -> EmbedLensInputError:
    rel = p.relative_to(folder).as_posix()
    return EmbedLensInputError(
        f"{rel!r} is a symbolic link to a place outside the dataset folder; EmbedLens only reads "
        "files inside it (copy the file in instead of linking it)",
        source=name,
    )


def _folder_files(folder: Path, name: str = "") -> list[Path]:
    """The supported, not hidden files under ``folder``; a symbolic link leading out of it is refused.

    Raises
    ------
    EmbedLensInputError
        For a file (or a link to one) that resolves outside ``folder``: reading it would read
        whatever the link points to (another user's data, a system file).
    """
    files = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not _is_hidden(rel.parts) and p.suffix.lower() in SUPPORTED_SUFFIXES:
            if not _inside(p, folder):
                raise _outside_error(p, folder, name or folder.name)
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


def _id_column(columns, id_column: str | None) -> str | None:
    """The metadata's id column: ``id_column`` when given and present, else (``id_column`` None)
    the first column named ``id`` in any case, else None.

    The one rule for both uses: the dataset's ids (:func:`_resolve_ids`) and the ids by which
    view files that carry them are reordered (:func:`_align_by_ids`).
    """
    if id_column is not None:
        return id_column if id_column in columns else None
    return next((c for c in columns if str(c).lower() == "id"), None)


def _resolve_ids(meta: pd.DataFrame, id_column: str | None, rel: str) -> tuple[np.ndarray, str | None]:
    """The items' ids (from the id column, else the row numbers) and that column's name.

    Raises
    ------
    EmbedLensInputError
        For an ``id_column`` the metadata lacks, and for missing or duplicate ids.
    """
    found = _id_column(meta.columns, id_column)
    if id_column is not None and found is None:
        raise EmbedLensInputError(
            f"id_column {id_column!r} is not a metadata column; columns: {plain(list(meta.columns)[:10])}",
            source=rel,
        )
    id_column = found
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
        raise _count_error(meta_rel, len(meta), n, entries[0][0].source)
    meta = meta.reset_index(drop=True)
    ids, id_column = _resolve_ids(meta, id_column, meta_rel)

    for m, _ in entries:
        _check_float32_range(m.data, m.source)
    bad_by_view = {m.source: nonfinite_rows(m.data) for m, _ in entries}
    bad_any = [rows for rows in bad_by_view.values() if len(rows)]
    dropped = np.unique(np.concatenate(bad_any)) if bad_any else np.empty(0, dtype=np.int64)
    if len(dropped):
        if nonfinite != "drop":
            src, rows = next((s, r) for s, r in bad_by_view.items() if len(r))
            raise NonFiniteRowsError(
                nonfinite_phrase(rows, n) + "; "
                f"{plural(len(dropped), 'row')} across all views. EmbedLens can leave them out (from every "
                "view and the metadata) for this session; the file is not changed",
                source=src,
                rows=dropped,
            )
        if len(dropped) == n:
            raise EmbedLensInputError(
                f"every one of the {n} rows holds NaN or inf, so leaving them out leaves nothing; the "
                "embeddings were not written (or diverged): check the step that produced them and save them again",
                source=name)
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


def _log_reader(folder: Path):
    """The reader of a folder that another tool wrote (TensorBoard projector log, Hugging Face
    ``save_to_disk``, Lance table), or None for a plain folder of view files."""
    if _projector_logs(folder):
        return _read_projector
    if _is_hf_folder(folder):
        return _read_hf
    if _lance_tables(folder):
        return _read_lance
    return None


def _load_folder(folder: Path, name: str, max_bytes: int, nonfinite: str) -> Dataset:
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.exists() and not _inside(manifest_path, folder):
        raise _outside_error(manifest_path, folder, name)
    reader = None if manifest_path.exists() else _log_reader(folder)
    if reader is not None:
        entries, meta, meta_rel, notes = reader(folder, name, max_bytes)
        return _assemble(name, entries, meta, id_column=None, meta_rel=meta_rel, nonfinite=nonfinite,
                         description="", path=folder, notes=notes)
    manifest = _read_manifest(manifest_path, f"{name}/{MANIFEST_NAME}") if manifest_path.exists() else {}
    files = _folder_files(folder, name)
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
    sharded = [s for s in specs if (folder / s.file).is_dir()]
    if sharded:
        return _load_sharded(folder, name, specs, sharded, manifest, meta_path, max_bytes)
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
        col = _id_column(meta.columns, id_column)
        if col is not None and len(meta) == n:
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


def _load_sharded(folder: Path, name: str, specs: list[_ViewSpec], sharded: list[_ViewSpec], manifest: dict,
                  meta_path: Path | None, max_bytes: int) -> Dataset:
    """A dataset whose views are folders of shards (``.npy``, Parquet, Zarr): lazy dask arrays, nothing read
    but headers. NaN / inf rows are found by each metric's pass over the view (and in the pages' sample),
    not here: a scan would read every shard."""
    if len(sharded) != len(specs):
        files = [s.file for s in specs if s not in sharded]
        raise EmbedLensInputError(
            f"mixes views that are folders of shards ({sharded[0].file!r}) with single-file views ({files[0]!r}); "
            "an out-of-core dataset keeps every view as a folder of shards (write the small views as one-shard "
            "folders)", source=f"{name}/{MANIFEST_NAME}")
    from .._dask import INSTALL_HINT

    try:
        import dask.array  # noqa: F401

        from ..outofcore import open_sharded
    except ImportError:
        raise EmbedLensInputError(
            f"view {sharded[0].file!r} is a folder of shards; reading it out of core needs dask: {INSTALL_HINT}",
            source=name) from None
    views, notes = [], list(manifest.get("notes", []))
    for spec in specs:
        vpath = folder / spec.file
        if not _inside(vpath, folder):
            raise _outside_error(vpath, folder, name)
        sv = open_sharded(vpath, column=spec.key, inside=folder)
        views.append(View(name=spec.name or Path(spec.file).as_posix().rstrip("/"), X=sv.X,
                          fingerprint=sv.stat_fingerprint, run=spec.run, layer=spec.layer, step=spec.step,
                          modality=spec.modality, source=spec.file, source_dtype=sv.source_dtype, extra=spec.extra))
        notes.append(f"{spec.file}: {plural(len(sv.shards), sv.format + ' shard')} in "
                     f"{plural(sv.params['chunks'], 'chunk')}, read out of core (Dask).")
    n = views[0].n
    for v in views[1:]:
        if v.n != n:
            raise EmbedLensInputError(
                f"{v.source} has {v.n} rows but {views[0].source} has {n}; all views of a dataset must hold "
                "the same items in the same order", source=name)
    id_column = manifest.get("id_column")
    if meta_path is not None:
        meta_rel = f"{name}/{meta_path.relative_to(folder).as_posix()}"
        meta, meta_notes = _read_metadata(meta_path, meta_rel, max_bytes, n, views[0].source, id_column)
        notes += meta_notes
        if len(meta) != n:
            raise _count_error(meta_rel, len(meta), n, views[0].source)
        meta = meta.reset_index(drop=True)
    else:
        meta_rel, meta = name, pd.DataFrame(index=pd.RangeIndex(n))
    ids, id_column = _resolve_ids(meta, id_column, meta_rel)
    ids = np.asarray(ids)
    ids.flags.writeable = False
    dropped = np.empty(0, dtype=np.int64)
    return Dataset(name=name, metadata=meta, ids=ids, views=tuple(views),
                   fingerprint=_dataset_fingerprint(fingerprint_metadata(meta), views, dropped),
                   id_column=id_column, description=str(manifest.get("description", "")), dropped_rows=dropped,
                   path=str(folder), notes=tuple(dict.fromkeys(notes)))
