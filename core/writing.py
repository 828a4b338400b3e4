"""Write embeddings from a training loop into a dataset folder the app reads while it grows.

:func:`writer` returns an :class:`EmbeddingWriter`; each :meth:`EmbeddingWriter.add` writes one
view file (``.npy``) and records it in the folder's ``embedlens.toml`` (run / layer / step /
modality), in the spirit of TensorBoard's ``SummaryWriter``::

    w = core.writer("runs/resnet", metadata={"label": y})
    for epoch in range(epochs):
        ...
        w.add(features, run="seed0", layer="penultimate", step=epoch)

Safety, in order of what can go wrong:

- **A crash mid-write** never corrupts the folder. The view file and the manifest are each
  written to a hidden temporary file in the same folder (which the loader skips), flushed to
  disk and moved into place with :func:`os.replace` (atomic on POSIX and Windows); the view
  file lands before the manifest names it. A killed writer leaves at most a hidden
  ``.*.tmp`` file.
- **Two writers** (say two seeds trained at once) into one folder both land: the manifest is
  updated under an exclusive lock on ``.embedlens.lock`` (``fcntl.flock`` / ``msvcrt.locking``),
  re-read, merged and replaced, so neither overwrites the other's views.
- **A view that would break the dataset** (another row count, other metadata) is refused
  before anything is written.

Adding the same (run, layer, step, modality) again replaces that view (a resumed run). The
manifest is rewritten from its parsed content, so comments in a hand-written one are not kept;
every key and view entry is. The app keys its dataset cache on the files' sizes and times
(``dashboard.data.files_stamp``), so a new checkpoint shows up on the next rerun.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ._files import atomic_write
from ._validation import EmbedLensInputError, check_embeddings, plain
from .readers.fingerprint import fingerprint_metadata
from .readers.manifest import MANIFEST_NAME, _read_manifest
from .readers.text_formats import _decode_bytes

__all__ = ["writer", "EmbeddingWriter", "atomic_write"]

LOCK_NAME = ".embedlens.lock"
METADATA_NAME = "metadata.parquet"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on ``folder/.embedlens.lock`` for one read-merge-replace of the manifest.

    Hand-written on the standard library (``fcntl`` / ``msvcrt``) to avoid a dependency; the
    lock is released by the operating system if the process dies holding it.
    """
    fh = open(folder / LOCK_NAME, "a+b")
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            fh.seek(0)
            while True:
                try:
                    msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s; keep waiting
                    continue
            try:
                yield
            finally:
                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


# --- TOML ---

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise EmbedLensInputError(f"cannot write {value!r} ({type(value).__name__}) to {MANIFEST_NAME}")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _manifest_text(manifest: dict) -> str:
    """The manifest as TOML: top-level keys, then one ``[[views]]`` table per view.

    Hand-written (the schema is flat: strings, integers and one inline table of numbers or
    strings per view) so that writing needs no TOML library; the result is parsed back with
    :mod:`tomllib` before it replaces the old file.
    """
    lines = ["# written by EmbedLens (core.writer); views are added as training runs"]
    for key, value in manifest.items():
        if key != "views":
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for view in manifest.get("views", []):
        lines += ["", "[[views]]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in view.items()]
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != manifest:  # pragma: no cover - a bug here must not reach the file
        raise AssertionError("the manifest does not round-trip through TOML")
    return text


def _slug(text: str) -> str:
    """A path component for a label: unsafe characters become ``_``; never hidden, never empty."""
    out = _UNSAFE.sub("_", text).strip("_") or "x"
    return out if not out.startswith((".", "_")) else "x" + out


def _view_name(run: str, layer: str, step: int | None, modality: str) -> str:
    parts = [p for p in (run, layer) if p]
    if step is not None:
        parts.append(f"step{step}")
    if modality:
        parts.append(modality)
    return "/".join(parts) or "view"


def _labels(entry: Mapping) -> tuple:
    return (str(entry.get("run", "")), str(entry.get("layer", "")), entry.get("step"),
            str(entry.get("modality", "")))


def _stored_rows(folder: Path, manifest: dict) -> int | None:
    """The row count of the first readable view already listed (the header of a ``.npy``)."""
    for view in manifest.get("views", []):
        path = folder / str(view.get("file", ""))
        if path.suffix.lower() != ".npy" or not path.is_file():
            continue
        try:
            return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
        except (ValueError, OSError, EOFError):
            continue
    return None


def _as_metadata(metadata, n: int) -> pd.DataFrame:
    if isinstance(metadata, pd.DataFrame):
        meta = metadata.reset_index(drop=True)
    elif isinstance(metadata, Mapping):
        meta = pd.DataFrame({str(k): np.asarray(v) if np.ndim(v) else v for k, v in metadata.items()})
    else:
        raise EmbedLensInputError(
            f"is a {type(metadata).__name__}; expected a pandas DataFrame or a dict of columns "
            "(one value per row)",
            source="metadata",
        )
    if len(meta) != n:
        raise EmbedLensInputError(f"has {len(meta)} rows but X has {n}; one row per item", source="metadata")
    meta.columns = [str(c) for c in meta.columns]
    return meta


class EmbeddingWriter:
    """Adds views to one dataset folder; made by :func:`writer`.

    Attributes
    ----------
    folder : pathlib.Path
        The dataset folder (``core.load(folder)`` reads it).
    """

    def __init__(self, folder: Path, *, description: str | None, id_column: str | None,
                 metadata=None) -> None:
        self.folder = folder
        self._metadata = metadata  # writer(metadata=...): written with the first add
        self._top = {k: v for k, v in (("description", description), ("id_column", id_column)) if v}

    def __repr__(self) -> str:
        return f"EmbeddingWriter({str(self.folder)!r})"

    def add(self, X, *, run: str, layer: str, step: int | None, modality: str | None = None,
            metadata=None, extra: Mapping | None = None) -> Path:
        """Write one view and record it in the folder's ``embedlens.toml``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            The embeddings of the dataset's n items, in the same row order every time.
            Stored as float32 (float16 as float16); NaN / inf are kept (the app offers to
            leave those rows out).
        run, layer : str
            The view's labels, e.g. ``run="seed0"``, ``layer="penultimate"``.
        step : int or None
            Training step / epoch; None for a view without one.
        modality : str, optional
            E.g. ``"image"`` / ``"text"`` for paired embeddings.
        metadata : DataFrame or dict of columns, optional
            One row per item. Written once, as ``metadata.parquet``; a later call that passes
            metadata must pass the same table.
        extra : mapping of str to number or str, optional
            Numbers shown in the views table (e.g. ``{"test_accuracy": 0.71}``).

        Returns
        -------
        pathlib.Path
            The view file written.

        Raises
        ------
        EmbedLensInputError
            X is not a non-empty real matrix; its row count differs from the views already
            written; ``metadata`` has another row count or differs from the stored one; a
            label is not a string, ``step`` not an integer, ``extra`` not numbers / strings;
            another view already has this view's name.
        OSError
            From writing the files (the folder is left as it was).
        """
        half = getattr(X, "dtype", None) == np.float16
        X = check_embeddings(X, name="X", allow_nonfinite=True, dtype=np.float32)
        X = X.astype(np.float16 if half else np.float32, copy=False)
        n = X.shape[0]
        labels = {"run": run, "layer": layer, "modality": modality or ""}
        for key, value in labels.items():
            if not isinstance(value, str):
                raise EmbedLensInputError(f"{key} = {plain(value)!r} must be a string", source="add")
        if step is not None:
            if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, np.integer)):
                raise EmbedLensInputError(f"step = {plain(step)!r} must be an integer or None", source="add")
            step = int(step)
        extra = {str(k): plain(v) for k, v in (extra or {}).items()}
        if not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in extra.values()):
            raise EmbedLensInputError(f"extra = {extra!r} must map names to numbers or strings", source="add")
        run, layer, modality = labels["run"], labels["layer"], labels["modality"]
        if metadata is None:
            metadata = self._metadata
        meta = None if metadata is None else _as_metadata(metadata, n)

        key = (run, layer, step, modality)
        rel = "/".join(["views", _slug(run or "run"), _slug(layer or "layer"),
                        (f"step{step:06d}" if step is not None else "view")
                        + (f"-{_slug(modality)}" if modality else "")])
        name = _view_name(run, layer, step, modality)
        self.folder.mkdir(parents=True, exist_ok=True)
        with _locked(self.folder):
            manifest = self._read()
            views = list(manifest.get("views", []))
            taken = {str(v.get("file")): _labels(v) for v in views}
            if rel + ".npy" in taken and taken[rel + ".npy"] != key:  # labels that slug alike
                rel += "-" + hashlib.sha256(repr(key).encode()).hexdigest()[:8]
            rel += ".npy"
            rows = _stored_rows(self.folder, manifest)
            if rows is not None and rows != n:
                raise EmbedLensInputError(
                    f"X has {n} rows but the views already in {str(self.folder)!r} have {rows}; "
                    "every view of a dataset holds the same items in the same order",
                    source="add",
                )
            clash = [v for v in views if v.get("name") == name and _labels(v) != key]
            if clash:
                raise EmbedLensInputError(
                    f"the view name {name!r} is already taken by {clash[0].get('file')!r}; choose "
                    "run / layer labels without '/'",
                    source="add",
                )
            if meta is not None:
                self._write_metadata(manifest, meta)
            target = self.folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            # the view file lands before the manifest names it: a crash leaves the old manifest
            atomic_write(target, lambda fh: np.save(fh, np.ascontiguousarray(X), allow_pickle=False))
            entry = {"file": rel, "name": name, "run": run, "layer": layer}
            if step is not None:
                entry["step"] = step
            if modality:
                entry["modality"] = modality
            if extra:
                entry["extra"] = extra
            same = [i for i, v in enumerate(views) if _labels(v) == key]
            if same:  # a resumed run: the view keeps its place
                views[same[0]] = entry
                views = [v for i, v in enumerate(views) if i not in same[1:]]
            else:
                views.append(entry)
            manifest["views"] = views
            for k, v in self._top.items():
                manifest.setdefault(k, v)
            text = _manifest_text(manifest)
            atomic_write(self.folder / MANIFEST_NAME, lambda fh: fh.write(text.encode("utf-8")))
        self._metadata = None
        return target

    def _read(self) -> dict:
        """The manifest as stored (raw TOML tables), checked by the loader's strict reader."""
        path = self.folder / MANIFEST_NAME
        if not path.exists():
            return {}
        _read_manifest(path, str(path))  # the loader's checks: unknown keys, bad steps, ...
        text, _ = _decode_bytes(path.read_bytes(), str(path))
        return tomllib.loads(text.removeprefix("\ufeff"))

    def _write_metadata(self, manifest: dict, meta: pd.DataFrame) -> None:
        stored_name = manifest.get("metadata")
        if stored_name:
            stored = self.folder / str(stored_name)
            if stored.suffix.lower() in {".parquet", ".pq"} and stored.is_file():
                old = pd.read_parquet(stored)
                if fingerprint_metadata(old) != fingerprint_metadata(meta):
                    raise EmbedLensInputError(
                        f"differs from the metadata already stored in {stored_name!r}; every view "
                        "of a dataset shares one metadata table (pass it once, or the same one)",
                        source="metadata",
                    )
                return
            raise EmbedLensInputError(
                f"the folder's metadata is {stored_name!r}; the writer only checks against "
                f"{METADATA_NAME} (leave metadata out of add)",
                source="metadata",
            )
        atomic_write(self.folder / METADATA_NAME, lambda fh: meta.to_parquet(fh, index=False))
        manifest["metadata"] = METADATA_NAME


def writer(folder: str | os.PathLike, *, description: str | None = None,
           id_column: str | None = None, metadata=None) -> EmbeddingWriter:
    """A writer that adds views to the dataset folder ``folder`` (created if missing).

    Parameters
    ----------
    folder : path-like
        The dataset folder; put it inside the app's data folder to watch training live.
    description : str, optional
        The dataset's description, written to the manifest if it has none.
    id_column : str, optional
        The metadata column holding item ids, written to the manifest if it has none.
    metadata : DataFrame or dict of columns, optional
        Written with the first :meth:`EmbeddingWriter.add` (same as passing it there).

    Returns
    -------
    EmbeddingWriter

    Raises
    ------
    EmbedLensInputError
        ``folder`` exists and is a file; an existing ``embedlens.toml`` is invalid (the loader's
        message).

    Examples
    --------
    >>> import numpy as np, tempfile, core
    >>> w = core.writer(tempfile.mkdtemp())
    >>> for step in (1, 2):
    ...     _ = w.add(np.eye(4, 3) * step, run="seed0", layer="fc", step=step)
    >>> [v.label for v in core.load(w.folder).views]
    ['seed0 · fc · step 1', 'seed0 · fc · step 2']
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise EmbedLensInputError("is a file; a writer needs a dataset folder", source=str(folder))
    w = EmbeddingWriter(path, description=description, id_column=id_column, metadata=metadata)
    if (path / MANIFEST_NAME).exists():
        w._read()
    return w
