"""core.cache: what is stored comes back, a damaged entry is recomputed, nothing is unpickled."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import EmbedLensInputError
from core.cache import DiskCache, cache_key, default_cache_dir
from core.projection import project_cached


@pytest.fixture
def cache(tmp_path) -> DiskCache:
    return DiskCache(tmp_path, namespace="test", max_bytes=10**9)


def test_the_stored_arrays_and_metadata_come_back(cache):
    a = np.arange(12, dtype=np.float32).reshape(6, 2)
    b = np.array([True, False, True])
    key = cache_key(fingerprint="f", method="pca")
    cache.save(key, {"coords": a, "mask": b}, {"seconds": 1.5, "params": {"k": 3, "names": ("x", "y")}})
    e = cache.load(key)
    np.testing.assert_array_equal(e.arrays["coords"], a)
    np.testing.assert_array_equal(e.arrays["mask"], b)
    assert e.arrays["coords"].dtype == np.float32 and not e.arrays["coords"].flags.writeable
    assert e.meta == {"seconds": 1.5, "params": {"k": 3, "names": ["x", "y"]}}
    assert cache.load(cache_key(fingerprint="g", method="pca")) is None
    assert not list(cache.folder.glob("*.tmp"))  # atomic writes leave no temporary files


def _rewrite_manifest(path, change) -> None:
    """Rewrite the manifest inside an entry file (the arrays kept as they are)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["__manifest__.json"])
    members["__manifest__.json"] = change(manifest)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data if isinstance(data, bytes) else json.dumps(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "json", "other key", "old format"])
def test_a_damaged_entry_is_dropped(cache, damage):
    key = cache_key(x=1)
    cache.save(key, {"a": np.arange(1000, dtype=np.float64)}, {})
    npz = cache.folder / f"{key}.npz"
    if damage == "flip":
        raw = bytearray(npz.read_bytes())
        raw[raw.find(b"\x93NUMPY") + 500] ^= 0xFF  # inside the array's bytes
        npz.write_bytes(bytes(raw))
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:300])
    elif damage == "json":
        _rewrite_manifest(npz, lambda m: "{ not json")
    elif damage == "other key":
        _rewrite_manifest(npz, lambda m: {**m, "key": "0" * 40})
    else:
        _rewrite_manifest(npz, lambda m: {**m, "format": 1})
    assert cache.load(key) is None
    assert not npz.exists()  # removed, so the next save starts clean


def test_a_corrupt_projection_is_recomputed(tmp_path, small_matrix):
    c = DiskCache(tmp_path)
    first = project_cached(small_matrix, fingerprint="m", cache=c)
    (npz,) = c.folder.glob("*.npz")
    raw = bytearray(npz.read_bytes())
    raw[raw.find(b"\x93NUMPY") + 200] ^= 0x55  # a byte of the coordinates (after the 128-byte npy header)
    npz.write_bytes(bytes(raw))
    again = project_cached(small_matrix, fingerprint="m", cache=c)
    assert not again.from_cache
    np.testing.assert_array_equal(again.coords, first.coords)
    assert project_cached(small_matrix, fingerprint="m", cache=c).from_cache


def test_objects_are_never_stored(cache):
    with pytest.raises(EmbedLensInputError, match="dtype object; only numbers are stored"):
        cache.save(cache_key(x=2), {"bad": np.array([{"a": 1}], dtype=object)}, {})
    with pytest.raises(EmbedLensInputError, match="is not a JSON value"):
        cache_key(x=object())


def test_keys_are_canonical():
    assert cache_key(a=1, b={"y": 2, "x": (1, 2)}) == cache_key(b={"x": [1, 2], "y": 2}, a=1)
    assert cache_key(a=np.int64(3)) == cache_key(a=3)
    assert cache_key(a=1) != cache_key(a=1.5)


def test_prune_keeps_the_most_recent(tmp_path):
    c = DiskCache(tmp_path, max_bytes=None)
    keys = [cache_key(i=i) for i in range(4)]
    for k in keys:
        c.save(k, {"a": np.zeros(10_000)}, {})
    size = c.entries()[0][1]
    c.prune(2 * size + 1, keep=keys[-1])
    assert {k for k, _s, _t in c.entries()} == set(keys[2:])


def test_the_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLENS_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("EMBEDLENS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "embedlens"
    assert DiskCache().folder == tmp_path / "x" / "embedlens" / "projections"


def test_kind_metric_values_cached_by_view_metric_params_versions(tmp_path, monkeypatch):
    """A metric value comes back exactly; its key changes with the view, metric, any parameter and
    the library versions (so an upgrade never reads an old value)."""
    import core.cache as cache_mod
    from core.cache import DiskCache, metric_key

    c = DiskCache(tmp_path, namespace="metrics")
    key = metric_key("ab12", "dse", {"sigma": 10.0, "t": 1, "max_n": 3000, "seed": 0})
    value = 0.1 + 0.2  # not representable in fewer than 17 digits
    c.save_value(key, value, meta={"view": "v"})
    assert c.load_value(key) == value and c.load(key).meta["view"] == "v"
    others = {metric_key("ab13", "dse", {"sigma": 10.0, "t": 1, "max_n": 3000, "seed": 0}),
              metric_key("ab12", "dsmi", {"sigma": 10.0, "t": 1, "max_n": 3000, "seed": 0}),
              metric_key("ab12", "dse", {"sigma": 10.0, "t": 1, "max_n": 2000, "seed": 0})}
    monkeypatch.setattr(cache_mod, "library_versions", lambda *p: {"numpy": "0.0"})
    others.add(metric_key("ab12", "dse", {"sigma": 10.0, "t": 1, "max_n": 3000, "seed": 0}))
    assert key not in others and len(others) == 4
    assert all(c.load_value(k) is None for k in others)
