"""core.cache under damage and concurrency: a damaged entry is never returned, two writers leave one whole file.

Truncated and bit-flipped entry files (hypothesis, every byte offset), entries of another
format version or of the earlier two-file layout, a header that promises more than the file
holds, killed writers' temporary files; and several processes writing and reading one key at
once (multiprocessing): every read sees one writer's whole entry.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cache import CACHE_FORMAT, DiskCache, cache_key
from core.projection import project_cached

ARRAYS = {"coords": np.arange(600, dtype=np.float32).reshape(300, 2) / 7, "mask": np.arange(300) % 3 == 0}
META = {"seconds": 1.25, "params": {"k": 15}}
KEY = cache_key(fingerprint="robust", method="pca")


def _whole(entry) -> bool:
    return (entry is not None and set(entry.arrays) == set(ARRAYS)
            and all(np.array_equal(entry.arrays[n], a) and entry.arrays[n].dtype == a.dtype for n, a in ARRAYS.items())
            and dict(entry.meta) == {"seconds": 1.25, "params": {"k": 15}})


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    c = DiskCache(tmp_path_factory.mktemp("good"), namespace="t", max_bytes=None)
    return c.save(KEY, ARRAYS, META).read_bytes()


_SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True)


@_SETTINGS
@given(data=st.data())
def test_kind_cache_damaged_file_is_whole_or_dropped(tmp_path, good_bytes, data):
    """Any truncation, or any bit flipped anywhere: load returns the saved entry exactly, or None
    (and the file is gone, so it is recomputed); it never raises and never returns other numbers."""
    raw = bytearray(good_bytes)
    how = data.draw(st.sampled_from(["truncate", "flip", "flips"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(1 if how == "flip" else data.draw(st.integers(2, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    folder = tmp_path / f"c{time.perf_counter_ns()}"
    c = DiskCache(folder, namespace="t", max_bytes=None)
    c.folder.mkdir(parents=True)
    path = c.folder / f"{KEY}.npz"
    path.write_bytes(bytes(raw))
    entry = c.load(KEY)
    assert entry is None or _whole(entry)
    assert path.exists() == (entry is not None)
    if entry is None:  # the next save starts clean and reads back
        c.save(KEY, ARRAYS, META)
        assert _whole(c.load(KEY))


def test_kind_cache_truncated_projection_is_recomputed(tmp_path, small_matrix):
    c = DiskCache(tmp_path)
    first = project_cached(small_matrix, fingerprint="m", cache=c)
    (path,) = c.folder.glob("*.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = project_cached(small_matrix, fingerprint="m", cache=c)
    assert not again.from_cache and np.array_equal(again.coords, first.coords)
    assert project_cached(small_matrix, fingerprint="m", cache=c).from_cache


def _rewrite(path, manifest_change=None, member_change=None) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    if manifest_change:
        members["__manifest__.json"] = json.dumps(manifest_change(json.loads(members["__manifest__.json"])))
    if member_change:
        members = member_change(members)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_kind_cache_other_format_versions_are_ignored_and_recomputed(tmp_path):
    c = DiskCache(tmp_path, namespace="t", max_bytes=None)
    path = c.save(KEY, ARRAYS, META)
    _rewrite(path, manifest_change=lambda m: {**m, "format": CACHE_FORMAT + 1})
    assert c.load(KEY) is None and not path.exists()
    # an entry of the earlier two-file layout (format 1: <key>.npz of bare arrays + <key>.json)
    np.savez(path, **ARRAYS)
    path.with_suffix(".json").write_text(json.dumps({"format": 1, "key": KEY, "arrays": {}}))
    assert c.load(KEY) is None and not path.exists() and not path.with_suffix(".json").exists()
    # a .npy member of a format version this cache never writes
    c.save(KEY, ARRAYS, META)
    _rewrite(path, member_change=lambda m: {**m, "mask.npy": b"\x93NUMPY\x03\x00" + m["mask.npy"][8:]})
    assert c.load(KEY) is None
    c.save(KEY, ARRAYS, META)
    assert _whole(c.load(KEY))


def test_kind_cache_header_promising_more_than_the_file_is_refused_without_allocating(tmp_path):
    c = DiskCache(tmp_path, namespace="t", max_bytes=None)
    path = c.save(KEY, ARRAYS, META)
    big = (10**9, 2)  # 8 GB of float32 promised by a header and a manifest that agree

    def grow(members):
        header = np.lib.format.header_data_from_array_1_0(ARRAYS["coords"])
        header["shape"] = big
        import io
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        members["coords.npy"] = buf.getvalue() + members["coords.npy"][128:]
        return members

    _rewrite(path, manifest_change=lambda m: {**m, "arrays": {**m["arrays"], "coords": {
        **m["arrays"]["coords"], "shape": list(big)}}}, member_change=grow)
    tracemalloc.start()
    try:
        assert c.load(KEY) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # nothing near the 8 GB the header promises


def test_kind_cache_prune_removes_killed_writers_leftovers_and_the_old_layout(tmp_path):
    c = DiskCache(tmp_path, namespace="t", max_bytes=None)
    c.save(KEY, ARRAYS, META)
    old, fresh = c.folder / f".{KEY}.npz.dead.tmp", c.folder / f".{KEY}.npz.live.tmp"
    legacy = c.folder / ("ab" * 20 + ".json")
    for p in (old, fresh, legacy):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    c.prune(10**9)
    assert not old.exists() and fresh.exists() and not legacy.exists()  # a live writer's file is kept
    assert _whole(c.load(KEY))


# ------------------------------------------------------------------ several processes, one key

def _writer(root: str, who: int, rounds: int) -> None:
    c = DiskCache(root, namespace="t", max_bytes=None)
    a = np.full((20_000,), who, dtype=np.float64)  # 160 kB: a write takes long enough to overlap
    for i in range(rounds):
        c.save(KEY, {"a": a, "b": np.arange(who + 1)}, {"who": who, "round": i})


def _reader(root: str, seconds: float, out) -> None:
    c = DiskCache(root, namespace="t", max_bytes=None)
    seen, bad, misses, deadline = 0, 0, 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        e = c.load(KEY)
        if e is None:
            misses += 1
            continue
        who = e.meta["who"]
        if not ((e.arrays["a"] == who).all() and np.array_equal(e.arrays["b"], np.arange(who + 1))):
            bad += 1
        seen += 1
    out.put((seen, bad, misses))


def test_kind_cache_concurrent_writers_leave_one_valid_file(tmp_path):
    """Four processes write the same key 40 times each (different contents) while a fifth reads it:
    every read is one writer's whole entry, none is dropped as damaged, and one valid file remains."""
    ctx = multiprocessing.get_context("spawn")
    c = DiskCache(tmp_path, namespace="t", max_bytes=None)
    _writer(str(tmp_path), 9, 1)  # the entry exists before the reader starts: a miss would be a drop
    out = ctx.Queue()
    reader = ctx.Process(target=_reader, args=(str(tmp_path), 8.0, out))
    writers = [ctx.Process(target=_writer, args=(str(tmp_path), w, 40)) for w in range(4)]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    seen, bad, misses = out.get(timeout=120)
    reader.join(30)
    print(f"concurrent cache: {seen} reads during 160 writes by 4 processes, {bad} mixed, {misses} misses")
    assert seen > 0 and bad == 0 and misses == 0
    assert [p.name for p in c.folder.iterdir()] == [f"{KEY}.npz"]  # no temporary file left
    e = c.load(KEY)
    assert e.meta["round"] == 39 and (e.arrays["a"] == e.meta["who"]).all()
