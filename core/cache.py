"""An on-disk cache of computed arrays (projections, graphs, metric values, ...) keyed by what produced them.

Each entry is two files in ``<root>/<namespace>/``: ``<key>.npz`` (the arrays, uncompressed,
read back with ``allow_pickle=False``) and ``<key>.json`` (a manifest: the parameters and
library versions that produced the arrays, and the dtype, shape and SHA-256 of every array).
Both are written to a temporary file and moved into place with :func:`os.replace`, the
manifest last, so a reader sees a whole entry or none. A manifest that does not parse, an
array whose bytes do not match its checksum, a missing file: the entry is treated as absent,
deleted and recomputed by the caller. Nothing is ever unpickled.

The key is a hash of a canonical JSON rendering of everything that determines the result
(:func:`cache_key`): the data's fingerprint, the method, every parameter, the library
versions. Change any of them and the old entry is simply not found again; :meth:`DiskCache.prune`
keeps the folder under a size limit by deleting the least recently used entries.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ._validation import EmbedLensInputError, plain

__all__ = ["CACHE_FORMAT", "CacheEntry", "DiskCache", "cache_key", "default_cache_dir", "library_versions",
           "metric_key"]

CACHE_FORMAT = 1
"""Bumped when the layout of an entry changes; part of every key."""

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

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not (len(key) >= 8 and all(c in "0123456789abcdef" for c in key)):
            raise EmbedLensInputError(f"cache key {key!r} must be lower-case hex digits (use cache_key)")
        return self.folder / f"{key}.npz", self.folder / f"{key}.json"

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
        """The entry stored under ``key``, or None when absent or unusable (then it is deleted)."""
        npz_path, json_path = self._paths(key)
        try:
            manifest_text = json_path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.discard(key, f"manifest unreadable: {exc}")
            return None
        try:
            manifest = json.loads(manifest_text)
            if manifest.get("format") != CACHE_FORMAT or manifest.get("key") != key:
                raise ValueError("format or key mismatch")
            specs = manifest["arrays"]
            arrays = {}
            with np.load(npz_path, allow_pickle=False) as z:
                if sorted(z.files) != sorted(specs):
                    raise ValueError(f"arrays {sorted(z.files)} != manifest {sorted(specs)}")
                for name, spec in specs.items():
                    a = z[name]
                    same = str(a.dtype) == spec["dtype"] and list(a.shape) == spec["shape"]
                    if not same or _sha256(a) != spec["sha256"]:
                        raise ValueError(f"array {name!r} does not match its checksum")
                    a.flags.writeable = False
                    arrays[name] = a
        except FileNotFoundError:
            self.discard(key, "array file missing")
            return None
        except Exception as exc:  # noqa: BLE001 - any failure to read back means: recompute
            self.discard(key, f"{type(exc).__name__}: {exc}")
            return None
        try:
            os.utime(json_path)  # mark as recently used, for prune()
        except OSError:
            pass
        return CacheEntry(key=key, arrays=arrays, meta=manifest.get("meta", {}),
                          created=manifest.get("created", 0.0))

    def save(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None) -> Path:
        """Store ``arrays`` (numeric or boolean, no objects) and JSON ``meta`` under ``key``, atomically."""
        npz_path, json_path = self._paths(key)
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
        self._atomic_write(npz_path, lambda f: np.savez(f, **clean))
        self._atomic_write(json_path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
        if self.max_bytes is not None:
            self.prune(self.max_bytes, keep=key)
        return json_path

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

    def _atomic_write(self, path: Path, write) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def entries(self) -> list[tuple[str, int, float]]:
        """(key, bytes, last used) of every complete entry, most recently used first."""
        if not self.folder.is_dir():
            return []
        out = []
        for j in self.folder.glob("*.json"):
            npz = j.with_suffix(".npz")
            try:
                out.append((j.stem, j.stat().st_size + npz.stat().st_size, j.stat().st_mtime))
            except OSError:
                continue
        return sorted(out, key=lambda e: -e[2])

    def prune(self, max_bytes: int, *, keep: str | None = None) -> int:
        """Delete least recently used entries until at most ``max_bytes`` remain; returns how many."""
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
