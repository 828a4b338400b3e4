"""An on-disk cache of computed arrays (projections, graphs, metric values, ...) keyed by what produced them.

Each entry is one file, ``<root>/<namespace>/<key>.npz``: a zip (``np.load`` opens it) of one
uncompressed ``.npy`` member per array (never pickled) and the manifest ``__manifest__.json``
(the format, the key, the parameters and library versions that produced the arrays, and the
dtype, shape and SHA-256 of every array). The file is written to a temporary
file in the same folder and moved into place with :func:`os.replace`, so a reader sees a whole
entry or none, and two processes writing the same entry at once leave one valid file (the
last rename wins; each file is whole and matches its own manifest). A file that does not
open, a manifest that does not parse or is of another format version or key, an array whose
bytes do not match its checksum: the entry is treated as absent, deleted and recomputed by
the caller. Nothing is ever unpickled.

The key is a hash of a canonical JSON rendering of everything that determines the result
(:func:`cache_key`): the data's fingerprint, the method, every parameter, the library
versions. Change any of them and the old entry is simply not found again; :meth:`DiskCache.prune`
keeps the folder under a size limit by deleting the least recently used entries (and the
leftovers of writers that were killed, and entries of the earlier two-file layout).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ._files import TEMP_SUFFIX, atomic_write
from ._validation import EmbedLensInputError, plain
from .readers.numpy_formats import _npy_header, _promised_bytes  # the loader's .npy header checks

__all__ = ["CACHE_FORMAT", "CacheEntry", "DiskCache", "cache_key", "default_cache_dir", "library_versions",
           "metric_key"]

CACHE_FORMAT = 2
"""Bumped when the layout of an entry changes; part of every key (2: one file per entry)."""

_MANIFEST = "__manifest__.json"
_STALE_SECONDS = 3600.0
"""A temporary file older than this is a killed writer's leftover; :meth:`DiskCache.prune` removes it."""

_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``EMBEDLENS_CACHE`` if set, else ``$XDG_CACHE_HOME/embedlens`` (``~/.cache/embedlens``).

    An empty ``EMBEDLENS_CACHE`` or ``XDG_CACHE_HOME`` counts as unset. The folder is not
    created here (:meth:`DiskCache.save` creates it).

    Returns
    -------
    pathlib.Path
        The cache root, ``~`` expanded; it may not exist yet.

    Raises
    ------
    RuntimeError
        From :meth:`pathlib.Path.home`, only when ``XDG_CACHE_HOME`` is unset and the home
        directory cannot be determined. Nothing else is raised.
    """
    env = os.environ.get("EMBEDLENS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "embedlens"


def _canonical(value):
    """Plain JSON types only (numpy scalars and tuples converted); anything else is an error."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise EmbedLensInputError(
        f"cache key part {plain(value)!r} of type {type(value).__name__} is not a JSON value; "
        "pass strings, numbers, booleans, lists or dicts"
    )


def cache_key(**parts) -> str:
    """A 40-hex-digit key: SHA-256 of the canonical JSON of ``parts`` (sorted keys) and the format.

    Parameters
    ----------
    **parts
        Everything that determines the cached result (fingerprint, method, parameters, library
        versions). Values must be JSON values: str, int, float, bool, None, or lists / tuples /
        dicts of them; numpy scalars are converted with ``.item()``, tuples become lists and
        dict keys are converted with ``str``.

    Returns
    -------
    str
        40 lower-case hex digits (the first 160 bits of the SHA-256 of the sorted-key JSON,
        with :data:`CACHE_FORMAT` included), independent of the keyword order.

    Raises
    ------
    EmbedLensInputError
        When a part (at any depth) is not a JSON value, e.g. a numpy array, a set, a Path or
        an object; the message names the value and its type.

    Notes
    -----
    Float NaN / inf parts are accepted (``json.dumps`` writes ``NaN`` / ``Infinity``) and
    hash to the same key each time, although ``nan != nan``.

    Examples
    --------
    >>> a = cache_key(fingerprint="ab12", method="pca", params={"seed": 0, "n_components": 2})
    >>> b = cache_key(params={"n_components": 2, "seed": 0}, method="pca", fingerprint="ab12")
    >>> a == b, len(a), a == cache_key(fingerprint="ab12", method="pca", params={"seed": 1})
    (True, 40, False)
    """
    text = json.dumps({"format": CACHE_FORMAT, **_canonical(parts)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def library_versions(*packages: str) -> dict[str, str]:
    """``{distribution: version}`` of ``packages`` as installed ("absent" if not), plus this
    package's own version ("embedlens"), so a cached result is not reused across upgrades.

    Parameters
    ----------
    *packages : str
        Distribution names as pip knows them (``"scikit-learn"``, not ``"sklearn"``).

    Returns
    -------
    dict of str to str
        ``"embedlens"`` first, then ``packages`` in order (a repeat keeps one entry), each
        mapped to its :func:`importlib.metadata.version` or ``"absent"``. The embedlens version
        is the declared one (pyproject's ``version``): code changes without a version bump
        keep the same value.

    Raises
    ------
    ValueError
        From :func:`importlib.metadata.version`, for an empty name (``""`` or None).
    TypeError
        For a name that is not a string (e.g. an int).
    """
    return dict(_installed_versions(("embedlens", *packages)))


@functools.lru_cache(maxsize=32)
def _installed_versions(dists: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The metadata look-ups behind :func:`library_versions`, once per process (they read the
    installed distributions' files; a key is made per view and metric on every page run)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in dists:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "absent"
    return tuple(out.items())


def metric_key(fingerprint: str, metric: str, params: Mapping, *,
               packages: tuple[str, ...] = ("numpy", "scipy")) -> str:
    """The disk-cache key of one metric value of one view (:meth:`DiskCache.save_value`).

    Made of the view's ``fingerprint``, the ``metric`` name, every parameter that changes the
    value (``params``: bandwidth, steps, sample size, seed, labels, ...) and the versions of
    ``packages`` and of EmbedLens (:func:`library_versions`).

    Parameters
    ----------
    fingerprint : str
        The view's data fingerprint (:func:`core.readers.fingerprint.fingerprint_array`).
    metric : str
        The metric's name, e.g. ``"dse"``.
    params : Mapping
        Anything ``dict()`` accepts (a mapping or ``(name, value)`` pairs); values must be
        JSON values (see :func:`cache_key`), and keys are converted with ``str`` (so ``{1: x}``
        and ``{"1": x}`` give the same key). The order does not matter.
    packages : tuple of str, default=("numpy", "scipy")
        Distributions whose versions are part of the key. A bare string is unpacked into its
        characters (``packages="numpy"`` looks up ``"n"``, ``"u"``, ... -- all ``"absent"``).

    Returns
    -------
    str
        40 lower-case hex digits: ``cache_key(kind="metric", fingerprint=..., metric=...,
        params=..., versions=library_versions(*packages))``.

    Raises
    ------
    EmbedLensInputError
        From :func:`cache_key`, when ``fingerprint``, ``metric`` or a ``params`` value (at any
        depth) is not a JSON value (an array, bytes, a set, a Path, ...).
    TypeError
        When ``params`` is None or not convertible by ``dict()``; from
        :func:`library_versions`, for a package name that is not a string.
    ValueError
        From ``dict()``, for pairs of the wrong length; from :func:`library_versions`, for an
        empty package name.

    Examples
    --------
    >>> a = metric_key("ab12", "dse", {"sigma": 10.0, "t": 1, "max_n": 3000, "seed": 0})
    >>> a == metric_key("ab12", "dse", {"t": 1, "sigma": 10.0, "seed": 0, "max_n": 3000})
    True
    >>> a == metric_key("ab12", "dse", {"sigma": 10.0, "t": 2, "max_n": 3000, "seed": 0})
    False
    """
    return cache_key(kind="metric", fingerprint=fingerprint, metric=metric, params=dict(params),
                     versions=library_versions(*packages))


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(a)).cast("B")).hexdigest()


@dataclass(frozen=True, eq=False)
class CacheEntry:
    """What :meth:`DiskCache.load` returns: read-only arrays, the stored metadata, the key."""

    key: str
    arrays: Mapping[str, np.ndarray]
    meta: Mapping
    created: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrays", MappingProxyType(dict(self.arrays)))


def _write_entry(f, arrays: Mapping[str, np.ndarray], manifest: dict) -> None:
    """One entry file: a zip (``np.load`` opens it as an ``.npz``) of ``<name>.npy`` members and the manifest.

    Written with :mod:`zipfile` rather than ``np.savez``, whose own keyword arguments (``file``,
    ``allow_pickle``) would collide with arrays of those names.
    """
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)
        zf.writestr(_MANIFEST, json.dumps(manifest, indent=1))


def _read_member(zf: zipfile.ZipFile, member: str, spec: Mapping) -> np.ndarray:
    """One array, read-only, after its ``.npy`` header matches ``spec`` (dtype, shape) and the bytes it
    promises are there, so a damaged header never makes the reader allocate what the file does not hold."""
    info = zf.getinfo(member)
    with zf.open(info) as fh:
        shape, fortran, dtype = _npy_header(fh, member)  # EmbedLensInputError is a ValueError
        if str(dtype) != spec["dtype"] or list(shape) != list(spec["shape"]):
            raise ValueError(f"{member}: header {dtype}{shape} does not match the manifest")
        nbytes = _promised_bytes(shape, dtype)
        if nbytes > info.file_size:
            raise ValueError(f"{member}: the header promises {nbytes} bytes, the file holds {info.file_size}")
        data = fh.read(nbytes)
    if len(data) != nbytes:
        raise ValueError(f"{member}: truncated ({len(data)} of {nbytes} bytes)")
    a = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return a  # frombuffer over bytes: read-only


class DiskCache:
    """Arrays + JSON metadata on disk, one entry per key (see the module docstring).

    Parameters
    ----------
    root : path, optional
        The cache folder; default :func:`default_cache_dir`.
    namespace : str, default="projections"
        A sub-folder, so different kinds of artefacts never share a directory listing.
    max_bytes : int, optional
        After each :meth:`save`, delete the least recently used entries beyond this size.
        Default: ``EMBEDLENS_CACHE_MAX_MB`` (4096 MB).
    """

    def __init__(self, root: str | os.PathLike | None = None, *, namespace: str = "projections",
                 max_bytes: int | None = None) -> None:
        if not namespace or "/" in namespace or namespace.startswith("."):
            raise EmbedLensInputError(f"namespace={namespace!r} must be a plain folder name")
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.folder = self.root / namespace
        if max_bytes is None:
            raw = os.environ.get("EMBEDLENS_CACHE_MAX_MB", "4096")
            try:
                max_bytes = int(float(raw) * (1 << 20))
            except ValueError:
                raise EmbedLensInputError(
                    f"EMBEDLENS_CACHE_MAX_MB={raw!r} is not a number of megabytes"
                ) from None
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"DiskCache({str(self.folder)!r})"

    def _path(self, key: str) -> Path:
        if not (isinstance(key, str) and len(key) >= 8 and all(c in "0123456789abcdef" for c in key)):
            raise EmbedLensInputError(f"cache key {key!r} must be lower-case hex digits (use cache_key)")
        return self.folder / f"{key}.npz"

    def _paths(self, key: str) -> tuple[Path, Path]:
        """The entry's file and the manifest file of the earlier two-file layout (removed with it)."""
        path = self._path(key)
        return path, path.with_suffix(".json")

    def discard(self, key: str, why: str) -> None:
        """Delete the entry under ``key`` (logging why); the next :meth:`load` misses."""
        _log.warning("EmbedLens cache entry %s in %s is unusable (%s); recomputing", key, self.folder, why)
        for p in self._paths(key):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # read-only folder: leave it, the caller recomputes anyway
                _log.warning("could not remove %s: %s", p, exc)

    def load(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or None when absent or unusable (then it is deleted).

        Unusable: the file does not open as an ``.npz`` (truncated, overwritten), its manifest
        is missing, does not parse, or is of another :data:`CACHE_FORMAT` or key, or an array
        does not match the dtype, shape and SHA-256 its manifest records.
        """
        path = self._path(key)
        try:
            # one open file: a concurrent os.replace of the entry cannot mix two versions
            with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
                manifest = json.loads(zf.read(_MANIFEST).decode("utf-8"))
                if not isinstance(manifest, dict):
                    raise ValueError("the manifest is not a JSON object")
                if manifest.get("format") != CACHE_FORMAT:
                    raise ValueError(f"format {manifest.get('format')!r}, expected {CACHE_FORMAT}")
                if manifest.get("key") != key:
                    raise ValueError("written under another key")
                specs = manifest["arrays"]
                names = sorted(n.removesuffix(".npy") for n in zf.namelist() if n != _MANIFEST)
                if names != sorted(specs):
                    raise ValueError(f"arrays {names} != manifest {sorted(specs)}")
                arrays = {}
                for name, spec in specs.items():
                    a = _read_member(zf, name + ".npy", spec)
                    if _sha256(a) != spec["sha256"]:
                        raise ValueError(f"array {name!r} does not match its checksum")
                    arrays[name] = a
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any failure to read back means: recompute
            self.discard(key, f"{type(exc).__name__}: {exc}")
            return None
        try:
            os.utime(path)  # mark as recently used, for prune()
        except OSError:
            pass
        return CacheEntry(key=key, arrays=arrays, meta=manifest.get("meta", {}),
                          created=manifest.get("created", 0.0))

    def save(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None) -> Path:
        """Store ``arrays`` (numeric or boolean, no objects) and JSON ``meta`` under ``key``, atomically.

        Parameters
        ----------
        key : str
            From :func:`cache_key` (lower-case hex digits).
        arrays : Mapping of str to array-like
            Numeric or boolean arrays.
        meta : Mapping, optional
            JSON values (see :func:`cache_key`), returned as :attr:`CacheEntry.meta`.

        Returns
        -------
        pathlib.Path
            The entry's file.

        Raises
        ------
        EmbedLensInputError
            A malformed key, an array of objects or strings, a ``meta`` value that is not JSON.
        OSError
            The folder cannot be written (read-only, disk full); no partial file is left.
        """
        path = self._path(key)
        clean = {}
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
                raise EmbedLensInputError(
                    f"cache array {name!r} has dtype {a.dtype}; only numbers are stored"
                )
            clean[name] = a
        manifest = {
            "format": CACHE_FORMAT,
            "key": key,
            "created": time.time(),
            "meta": _canonical(dict(meta or {})),
            "arrays": {n: {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": _sha256(a)}
                       for n, a in clean.items()},
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: _write_entry(f, clean, manifest), durable=False)
        if self.max_bytes is not None:
            self.prune(self.max_bytes, keep=key)
        return path

    def save_value(self, key: str, value: float, meta: Mapping | None = None) -> Path:
        """Store one number (a metric value, as float64) and JSON ``meta`` under ``key`` (see :func:`metric_key`)."""
        return self.save(key, {"value": np.asarray([value], dtype=np.float64)}, meta)

    def load_value(self, key: str) -> float | None:
        """The number stored by :meth:`save_value` under ``key``, or None when absent or unusable."""
        entry = self.load(key)
        if entry is None:
            return None
        a = entry.arrays.get("value")
        if a is None or a.shape != (1,):
            self.discard(key, "not a single value")
            return None
        return float(a[0])

    def entries(self) -> list[tuple[str, int, float]]:
        """(key, bytes, last used) of every entry file, most recently used first."""
        if not self.folder.is_dir():
            return []
        out = []
        for p in self.folder.glob("*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.stem, st.st_size, st.st_mtime))
        return sorted(out, key=lambda e: -e[2])

    def _remove_leftovers(self) -> None:
        """Temporary files of writers killed more than an hour ago, and manifests of the two-file layout."""
        now = time.time()
        for p in list(self.folder.glob(f".*{TEMP_SUFFIX}")) + list(self.folder.glob("*.json")):
            try:
                if p.suffix == ".json" or now - p.stat().st_mtime > _STALE_SECONDS:
                    p.unlink()
            except OSError:
                continue

    def prune(self, max_bytes: int, *, keep: str | None = None) -> int:
        """Delete least recently used entries until at most ``max_bytes`` remain; returns how many."""
        if self.folder.is_dir():
            self._remove_leftovers()
        total, removed = 0, 0
        for key, size, _used in self.entries():
            total += size
            if total > max_bytes and key != keep:
                for p in self._paths(key):
                    p.unlink(missing_ok=True)
                removed += 1
        return removed

    def clear(self) -> None:
        """Delete every entry of this namespace."""
        for key, _size, _used in self.entries():
            for p in self._paths(key):
                p.unlink(missing_ok=True)
