"""One atomic file write, shared by the writer (views, manifest, metadata) and the disk cache.

A reader, another process or a crash sees the old file or the new one, never a half: the bytes go
to a hidden temporary file in the same folder (so the final move stays on one file system), which
is flushed, fsynced and moved over the target with :func:`os.replace` (atomic on POSIX and
Windows). Hand-written because the standard library has no such call and the pattern is four lines.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "sync_folder", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"
"""Suffix of the temporary files (named ``.<target name>.<random>.tmp``); the cache's prune removes stale ones."""


def atomic_write(path: str | os.PathLike, write, *, durable: bool = True) -> None:
    """Write ``path`` all at once: ``write(fh)`` fills a hidden temporary file beside it, which is
    flushed, synced and moved over ``path`` with :func:`os.replace`.

    Parameters
    ----------
    path : path-like
        The file to create or replace; its folder must exist.
    write : callable
        ``write(fh)`` with ``fh`` a binary file open for writing.
    durable : bool, default=True
        Also fsync the folder after the move, so the rename itself survives a power cut (the
        writer's data); the cache, which can recompute, leaves it out.

    Returns
    -------
    None

    Raises
    ------
    OSError
        From creating, writing or moving the file; the temporary file is removed and ``path``
        is left as it was.
    Exception
        Whatever ``write`` raises, after the same clean-up.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (POSIX: fsync the folder); a no-op where folders cannot be opened.

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    None

    Raises
    ------
    Nothing
        Errors opening or syncing the folder are ignored (Windows cannot open folders).
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
