"""Find the datasets under a data folder, resolve their names safely, and store uploads.

A data folder holds datasets: each sub-folder with at least one embedding file is a dataset
(see :func:`core.readers.load`), and so is each embedding file directly inside it. If the data
folder itself has a metadata file or an ``embedlens.toml``, it is one dataset. Uploaded
files are kept under ``uploads/`` keyed by their content hash, so a link to them keeps
working and the same upload twice is stored once; an upload that does not load is refused
and not kept, an upload never replaces another dataset, and :func:`remove_upload` deletes
one (only ever inside the uploads folder). A symbolic link leading out of the data folder is
never a dataset, and a name with ``..`` or an absolute path is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ._validation import EmbedLensInputError
from .readers import MANIFEST_NAME, SUPPORTED_SUFFIXES, default_max_bytes, load
from .readers.contents import _is_hidden
from .readers.manifest import _read_manifest

__all__ = [
    "CatalogEntry",
    "sample_data_dir",
    "default_data_dir",
    "uploads_dir",
    "list_datasets",
    "resolve",
    "save_upload",
    "remove_upload",
    "UPLOADS",
]

UPLOADS = "uploads"
_log = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class CatalogEntry:
    """A dataset found in the data folder: its name (used in links), path and description."""

    name: str
    path: Path
    description: str = ""

    @property
    def is_upload(self) -> bool:
        return self.name.startswith(UPLOADS + "/")


def sample_data_dir() -> Path:
    """The bundled sample data: ``sample_data/`` in a checkout, ``embedlens_sample_data/`` installed.

    Returns
    -------
    pathlib.Path
        The first of ``<package parent>/sample_data`` and ``<package parent>/embedlens_sample_data``
        that is a folder.

    Raises
    ------
    EmbedLensInputError
        When neither folder exists (a broken installation).
    """
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sample_data", here.parent / "embedlens_sample_data"):
        if candidate.is_dir():
            return candidate
    raise EmbedLensInputError(
        "the bundled sample data is missing; reinstall EmbedLens or pass a data folder"
    )


def default_data_dir() -> Path:
    """``EMBEDLENS_DATA`` if set, else the bundled sample data.

    An empty ``EMBEDLENS_DATA`` counts as unset. The path is not checked here: a missing
    folder is reported by :func:`list_datasets`.

    Returns
    -------
    pathlib.Path
        ``EMBEDLENS_DATA`` with ``~`` expanded, else :func:`sample_data_dir`.

    Raises
    ------
    EmbedLensInputError
        From :func:`sample_data_dir`, when ``EMBEDLENS_DATA`` is unset and the bundled sample
        data is missing.
    """
    env = os.environ.get("EMBEDLENS_DATA")
    return Path(env).expanduser() if env else sample_data_dir()


def uploads_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Where uploads are stored: ``EMBEDLENS_UPLOADS``, else ``<data folder>/uploads``.

    When the data folder is the bundled sample data (part of the installed package) or is
    itself one dataset, uploads go to ``$XDG_CACHE_HOME/embedlens/uploads`` instead, so the
    installation and the dataset are never written to.

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data folder; default :func:`default_data_dir`.

    Returns
    -------
    pathlib.Path
        The uploads folder; it is not created here (:func:`save_upload` creates it).

    Raises
    ------
    EmbedLensInputError
        From :func:`default_data_dir`, only when ``data_dir`` is None, ``EMBEDLENS_UPLOADS`` and
        ``EMBEDLENS_DATA`` are unset and the bundled sample data is missing.
    OSError
        From listing ``data_dir`` (e.g. :class:`PermissionError` on an unreadable folder).

    Notes
    -----
    Unlike :func:`core.cache.default_cache_dir`, an *empty* ``XDG_CACHE_HOME`` is used as
    is here, giving the relative path ``embedlens/uploads`` (under the working directory).
    """
    env = os.environ.get("EMBEDLENS_UPLOADS")
    if env:
        return Path(env).expanduser()
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    try:
        bundled = data.resolve() == sample_data_dir().resolve()
    except EmbedLensInputError:
        bundled = False
    if bundled or (data.is_dir() and _is_dataset_folder(data)):
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "embedlens" / UPLOADS
    return data / UPLOADS


def _is_dataset_folder(folder: Path) -> bool:
    if (folder / MANIFEST_NAME).exists():
        return True
    return any(
        p.is_file() and p.stem.lower() in {"metadata", "meta", "items"} and p.suffix.lower() in SUPPORTED_SUFFIXES
        for p in folder.iterdir()
    )


def _has_embedding_files(folder: Path) -> bool:
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if p.is_file() and not _is_hidden(rel) and p.suffix.lower() in SUPPORTED_SUFFIXES:
            return True
    return False


def _leaves(child: Path, folder: Path) -> bool:
    """Whether ``child`` (a symbolic link, or a path through one) resolves outside ``folder``."""
    try:
        child.resolve().relative_to(folder.resolve())
        return False
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return True


def _outside_message(name: str, where: str) -> str:
    return (f"{name!r} is a symbolic link to a place outside the {where}; EmbedLens only opens datasets "
            f"inside it (move or copy the data in, or start EmbedLens on the folder that holds it)")


def _description(folder: Path) -> str:
    manifest = folder / MANIFEST_NAME
    if not manifest.exists():
        return ""
    if _leaves(manifest, folder):
        return f"({MANIFEST_NAME} is a link to outside the dataset folder and is not read)"
    try:  # the loader's reading (byte-order marks, cp1252 fallback), so the two never disagree
        return str(_read_manifest(manifest, MANIFEST_NAME).get("description", ""))
    except (OSError, EmbedLensInputError):
        return f"({MANIFEST_NAME} could not be read; open the dataset to see why)"


def _entries_in(folder: Path, prefix: str, skip: Iterable[Path] = ()) -> list[CatalogEntry]:
    skip = {p.resolve() for p in skip}
    out = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith((".", "_")) or child.resolve() in skip:
            continue
        if _leaves(child, folder):  # not listed: resolve() names the reason when it is asked for
            _log.warning("EmbedLens: %s", _outside_message(prefix + child.name, "data folder"))
            continue
        if child.is_dir() and ((child / MANIFEST_NAME).is_file() or _has_embedding_files(child)):
            out.append(CatalogEntry(prefix + child.name, child, _description(child)))
        elif child.is_file() and child.suffix.lower() in SUPPORTED_SUFFIXES:
            out.append(CatalogEntry(prefix + child.name, child))
    return out


def list_datasets(data_dir: str | os.PathLike | None = None) -> list[CatalogEntry]:
    """The datasets under ``data_dir`` (default :func:`default_data_dir`), uploads last.

    A sub-folder holding an ``embedlens.toml`` or at least one supported file (at any depth,
    hidden and ``_`` paths skipped) is a dataset (so a manifest that cannot be loaded is listed,
    and loading it names the problem), and so is each supported file directly in ``data_dir``; if
    ``data_dir`` itself holds a metadata file or an ``embedlens.toml`` it is the one dataset.
    Names and paths only: nothing is loaded, so a listed dataset may still fail to load. A
    file or folder that is a symbolic link to a place outside the data (or uploads) folder is
    not listed (a warning is logged; :func:`resolve` names the reason).

    Parameters
    ----------
    data_dir : str or path-like, optional
        The data folder; default :func:`default_data_dir`.

    Returns
    -------
    list of CatalogEntry
        Sorted by file name, then the uploads (named ``uploads/<folder>``). The description is
        the manifest's ``description`` (or a note that the manifest could not be read).

    Raises
    ------
    EmbedLensInputError
        When ``data_dir`` does not exist or is not a folder, or (``data_dir`` None) from
        :func:`default_data_dir`.
    OSError
        From listing an unreadable data or uploads folder (e.g. :class:`PermissionError`).

    Examples
    --------
    >>> [e.name for e in list_datasets(sample_data_dir())]
    ['digits-mlp', 'digits-paired']
    """
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    if not data.is_dir():
        raise EmbedLensInputError(f"the data folder {str(data)!r} does not exist or is not a folder")
    up = uploads_dir(data)
    if _is_dataset_folder(data):
        entries = [CatalogEntry(data.name, data, _description(data))]
    else:
        entries = _entries_in(data, "", skip=[data / UPLOADS])
    if up.is_dir():
        entries += _entries_in(up, UPLOADS + "/")
    return entries


def resolve(name: str, data_dir: str | os.PathLike | None = None) -> CatalogEntry:
    """The catalog entry called ``name``; refuses names that would leave the data folder.

    Parameters
    ----------
    name : str
        A name as listed by :func:`list_datasets` (e.g. ``"digits-mlp"``, ``"uploads/x-1a2b"``).
    data_dir : str or path-like, optional
        The data folder; default :func:`default_data_dir`.

    Returns
    -------
    CatalogEntry

    Raises
    ------
    EmbedLensInputError
        When ``name`` is not a non-empty string, holds a NUL byte, is absolute or has a ``..``
        part, names a symbolic link leading out of the data (or uploads) folder, or is not
        listed; and from :func:`list_datasets` (missing data folder).
    OSError
        From :func:`list_datasets` (unreadable folder).
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise EmbedLensInputError(f"{name!r} is not a dataset name")
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        raise EmbedLensInputError(
            f"{name!r} is outside the data folder; EmbedLens only opens datasets inside it"
        )
    for entry in list_datasets(data_dir):
        if entry.name == name:
            return entry
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    if name.startswith(UPLOADS + "/"):
        parent, rest, where = uploads_dir(data), name[len(UPLOADS) + 1:], "uploads folder"
    else:
        parent, rest, where = data, name, "data folder"
    candidate = parent / rest
    if (candidate.is_symlink() or candidate.exists()) and _leaves(candidate, parent):
        raise EmbedLensInputError(_outside_message(name, where))
    raise EmbedLensInputError(f"there is no dataset {name!r} in the data folder")


def _upload_error(exc: EmbedLensInputError, prefixes) -> EmbedLensInputError:
    """``exc`` with the never-kept upload folder (its name or temporary path) cut out of its text."""
    text, source = str(exc), exc.source
    for prefix in prefixes:
        text = text.replace(prefix, "" if prefix.endswith(("/", os.sep)) else "the upload")
        if source is not None:
            source = source.replace(prefix, "" if prefix.endswith(("/", os.sep)) else "the upload")
    out = EmbedLensInputError(text)
    out.source, out.row, out.column = source, getattr(exc, "row", None), getattr(exc, "column", None)
    return out


_STALE_SECONDS = 3600.0


def _holds_exactly(folder: Path, files: list[tuple[str, bytes]]) -> bool:
    """Whether ``folder`` holds exactly ``files`` (names and bytes): an upload stored before, not
    something else that happens to have its name."""
    try:
        present = sorted(p.name for p in folder.iterdir())
        if present != sorted(name for name, _ in files):
            return False
        return all((folder / name).read_bytes() == data for name, data in files)
    except OSError:
        return False


def _remove_stale_partials(root: Path) -> None:
    """Temporary folders of uploads interrupted more than an hour ago (a killed server)."""
    if not root.is_dir():
        return
    now = time.time()
    for p in root.glob(".*.partial"):
        try:
            if p.is_dir() and not p.is_symlink() and now - p.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(p)
        except OSError:
            continue


def _require_disk_space(root: Path, nbytes: int) -> None:
    """Refuse an upload that would leave less than 100 MB free on the uploads folder's disk."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if nbytes + (100 << 20) > free:
        raise EmbedLensInputError(
            f"the upload is {nbytes / (1 << 20):,.1f} MB but the uploads folder's disk has "
            f"{free / (1 << 20):,.0f} MB free (100 MB are kept free); nothing was stored")


def save_upload(
    files: Iterable[tuple[str, bytes]], data_dir: str | os.PathLike | None = None, *, check: bool = True
) -> CatalogEntry:
    """Store uploaded files as one dataset folder under ``uploads/``, keyed by content hash.

    ``files`` are (file name, bytes) pairs: one embedding file, or a set such as
    ``vectors.tsv`` + ``metadata.tsv``. Names are reduced to their base name and safe
    characters. Storing the same files again returns the same entry and writes nothing.
    The files are written to a hidden temporary folder and, with ``check`` (default), loaded
    there with :func:`core.readers.load` (rows with NaN / inf allowed: the app offers to leave them
    out); only an upload that loads is moved into place, so a refused one leaves nothing behind.

    Parameters
    ----------
    files : iterable of (str, bytes)
        File name (any path part is dropped) and content of each uploaded file.
    data_dir : str or path-like, optional
        The data folder; the uploads go to :func:`uploads_dir` of it.
    check : bool, default=True
        Load the upload with :func:`core.readers.load` before keeping it.

    Returns
    -------
    CatalogEntry
        Named ``uploads/<stem>-<10 hex digits of the content hash>``; the description is empty.

    Raises
    ------
    EmbedLensInputError
        No files, an unknown extension, an empty file, a file over ``EMBEDLENS_MAX_FILE_MB``,
        two files that would get one name (``"a b.tsv"`` and ``"a_b.tsv"``, or names differing in
        case only), too little free disk, files that do not load as a dataset (the loader's
        message), or something else already in the upload's place (a file, a symbolic link, a
        folder holding other files): nothing is ever replaced.
    OSError
        From creating or writing the uploads folder (read-only folder, disk full); the
        temporary folder is removed first.

    Notes
    -----
    Temporary folders of uploads interrupted more than an hour ago (a killed server) are
    removed by the next upload.
    """
    files = sorted(((Path(str(fname).replace("\\", "/")).name, data) for fname, data in files), key=lambda f: f[0])
    if not files:
        raise EmbedLensInputError("no files were uploaded")
    limit = default_max_bytes()
    h = hashlib.sha256(b"embedlens-upload-v1")
    safe = []
    taken: dict[str, str] = {}
    for fname, data in files:
        clean = _SAFE_NAME.sub("_", fname).lstrip("._") or "file"
        if Path(clean).suffix.lower() not in SUPPORTED_SUFFIXES | {".toml"}:
            raise EmbedLensInputError(
                f"has an unknown extension {Path(clean).suffix or '(none)'!r}; supported: "
                f"{', '.join(sorted(SUPPORTED_SUFFIXES))}",
                source=fname,
            )
        if not data:
            raise EmbedLensInputError("the file is empty (0 bytes)", source=fname)
        if len(data) > limit:
            raise EmbedLensInputError(
                f"the file is {len(data) / (1 << 20):,.1f} MB, over the limit of {limit / (1 << 20):,.0f} MB; "
                "raise it with EMBEDLENS_MAX_FILE_MB or `embedlens --max-file-mb`", source=fname)
        if clean.lower() in taken:  # one folder holds both: one would replace the other
            raise EmbedLensInputError(
                f"{taken[clean.lower()]!r} and {fname!r} would be stored under one name ({clean!r}); "
                "upload files with different names")
        taken[clean.lower()] = fname
        h.update(clean.encode() + b"\0" + hashlib.sha256(data).digest())
        safe.append((clean, data))
    stem = Path(next((c for c, _ in safe if not c.lower().startswith("metadata")), safe[0][0])).stem
    folder_name = f"{_SAFE_NAME.sub('_', stem)[:40]}-{h.hexdigest()[:10]}"
    root = uploads_dir(data_dir)
    target = root / folder_name
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink() or not _holds_exactly(target, safe):
            raise EmbedLensInputError(
                f"{str(target)!r} exists and does not hold these files; EmbedLens never replaces it. "
                "Move it away and upload again"
            )
        return CatalogEntry(f"{UPLOADS}/{folder_name}", target)  # the same content, stored before
    _remove_stale_partials(root)
    _require_disk_space(root, sum(len(d) for _, d in safe))
    tmp = root / f".{folder_name}.{uuid.uuid4().hex[:8]}.partial"  # hidden: never listed
    tmp.mkdir(parents=True)
    try:
        for clean, data in safe:
            (tmp / clean).write_bytes(data)
        if check:
            try:
                load(tmp, name=f"{UPLOADS}/{folder_name}", nonfinite="drop")  # raises on anything unreadable
            except EmbedLensInputError as exc:  # name the uploaded file, not a folder that is not kept
                raise _upload_error(exc, (f"{UPLOADS}/{folder_name}/", f"{tmp}{os.sep}", f"{tmp}/",
                                          f"{UPLOADS}/{folder_name}", str(tmp))) from None
        try:
            tmp.rename(target)
        except OSError:  # another session stored the same upload meanwhile
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return CatalogEntry(f"{UPLOADS}/{folder_name}", target)


def remove_upload(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Delete the uploaded dataset ``name`` (``uploads/...``); returns the path removed.

    Only an entry of the uploads folder (:func:`uploads_dir`) is ever deleted: a name that is
    not an upload, a symbolic link, or anything that resolves outside the uploads folder is
    refused with :class:`EmbedLensInputError` and nothing is touched.

    Parameters
    ----------
    name : str
        The upload's catalog name, ``uploads/<folder>``.
    data_dir : str or path-like, optional
        The data folder; default :func:`default_data_dir`.

    Returns
    -------
    pathlib.Path
        The folder (or file) that was deleted.

    Raises
    ------
    EmbedLensInputError
        ``name`` is not a listed upload (from :func:`resolve`, with its checks on the name), or
        its path is not a plain entry of the uploads folder.
    OSError
        From deleting the folder (e.g. :class:`PermissionError`); part of it may then remain.
    """
    entry = resolve(name, data_dir)
    root = uploads_dir(data_dir)
    path = entry.path
    if not entry.is_upload:
        raise EmbedLensInputError(f"{name!r} is not an upload; EmbedLens only removes uploads")
    if path.is_symlink() or path.resolve().parent != root.resolve() or path.name in ("", ".", ".."):
        raise EmbedLensInputError(
            f"{name!r} is not a plain entry of the uploads folder {str(root)!r}; nothing was removed"
        )
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    return path
