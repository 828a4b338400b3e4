"""core._dask.compute's task progress: on dask's threaded scheduler and on a real LocalCluster.

The graphs are built so their task count is known without dask: N independent leaf tasks and one
task adding them (N + 1 tasks). The callback must see live counts (some done < total), never go
back, and end at done == total; what the callback raises (a Stop button) ends the computation.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytest.importorskip("dask")

import dask  # noqa: E402
from dask import delayed  # noqa: E402

from core import _dask  # noqa: E402

LEAVES = 12


def _leaf(i):
    return np.arange(5.0) * i


def _other_leaf(i):
    return np.full(5, float(i))


def _slow_leaf(i):
    time.sleep(0.05)
    return float(i)


def _graph(leaf=_leaf, n=LEAVES):
    """n leaf tasks and one that adds them: n + 1 tasks; the value is sum(leaf(i))."""
    return delayed(sum, pure=True)([delayed(leaf, pure=True)(i) for i in range(n)])


class Recorder:
    """A thread-safe progress callback that keeps every call and the thread it came from."""

    def __init__(self, stop_at=None):
        self.calls, self.threads = [], set()
        self._lock = threading.Lock()
        self.stop_at = stop_at

    def __call__(self, done, total):
        with self._lock:
            self.calls.append((done, total))
            self.threads.add(threading.get_ident())
        if self.stop_at is not None and done >= self.stop_at:
            raise KeyboardInterrupt("stop pressed")


def _check(calls, total):
    assert calls, "the callback was never called"
    assert all(type(d) is int and type(t) is int for d, t in calls)  # plain ints, not numpy
    assert all(0 <= d <= t for d, t in calls)
    dones, totals = [d for d, _ in calls], [t for _, t in calls]
    assert dones == sorted(dones) and totals == sorted(totals)  # monotone
    assert calls[-1] == (total, total)
    assert len(set(calls)) == len(calls)  # no repeated call


def test_threaded_scheduler_reports_every_task_and_ends_at_the_total():
    rec = Recorder()
    (value,) = _dask.compute(_graph(), progress=rec)
    np.testing.assert_array_equal(value, np.arange(5.0) * sum(range(LEAVES)))
    _check(rec.calls, LEAVES + 1)
    assert rec.calls[0] == (0, LEAVES + 1)  # the start, then one call per finished task
    assert len(rec.calls) == LEAVES + 2


def test_sync_scheduler_and_several_objects():
    rec = Recorder()
    with dask.config.set(scheduler="synchronous"):
        a, b, c = _dask.compute(_graph(), _graph(_other_leaf, 3), 7, progress=rec)
    assert (a.sum(), b.sum(), c) == (10.0 * sum(range(LEAVES)), 15.0, 7)
    _check(rec.calls, LEAVES + 1 + 3 + 1)


def test_without_tasks_or_callback_nothing_is_called():
    rec = Recorder()
    assert _dask.compute(1, "x", progress=rec) == (1, "x")
    assert rec.calls == []
    with _dask.progress_to(None):
        assert _dask.compute(_graph(n=2))[0].sum() == 10.0


def test_a_callback_that_raises_stops_the_local_computation():
    rec = Recorder(stop_at=3)
    with pytest.raises(KeyboardInterrupt, match="stop pressed"):
        _dask.compute(_graph(_slow_leaf, 40), progress=rec)
    assert rec.calls[-1][0] == 3  # nothing reported after the stop


def test_progress_to_reaches_computes_deep_inside_a_metric_in_its_own_thread():
    """The route for callers that pass no callback (core metrics): set inside the job's thread."""
    da = pytest.importorskip("dask.array")
    import core

    X = np.random.default_rng(0).standard_normal((600, 6))
    lazy = da.from_array(X, chunks=(100, 6))
    rec, out = Recorder(), {}

    def job():
        with _dask.progress_to(rec):
            out["spectrum"] = core.spectrum(lazy)

    t = threading.Thread(target=job)
    t.start()
    t.join()
    np.testing.assert_allclose(out["spectrum"].eigenvalues, core.spectrum(X).eigenvalues, rtol=1e-10)
    assert rec.calls and rec.threads == {t.ident}
    ends = [c for c in rec.calls if c[0] == c[1]]
    assert ends  # every pass over the data ends at done == total
    # this thread never set the context: its computations report nothing
    n = len(rec.calls)
    core.spectrum(lazy)
    assert len(rec.calls) == n


def test_progress_contexts_of_two_threads_do_not_mix():
    recs = [Recorder(), Recorder()]
    barrier = threading.Barrier(2)

    def job(i):
        with _dask.progress_to(recs[i]):
            barrier.wait()
            _dask.compute(_graph(n=LEAVES + 10 * i))

    threads = [threading.Thread(target=job, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check(recs[0].calls, LEAVES + 1)
    _check(recs[1].calls, LEAVES + 11)


@pytest.fixture(scope="module")
def cluster_client():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as lc, \
            Client(lc) as c:
        yield c


def test_local_cluster_reports_its_tasks_and_ends_at_the_total(cluster_client):
    rec = Recorder()
    (value,) = _dask.compute(_graph(_slow_leaf, LEAVES), progress=rec)
    assert value == sum(range(LEAVES))
    _check(rec.calls, LEAVES + 1)  # the scheduler's count: the same N + 1 tasks
    assert any(d < t for d, t in rec.calls)  # live counts came in before the end


def test_local_cluster_via_progress_to_and_the_same_keys_as_without(cluster_client):
    """The progress route sends the graph as dask.compute does: no 'different run_spec' for a key."""
    da = pytest.importorskip("dask.array")
    import core

    X = np.random.default_rng(1).standard_normal((500, 4))
    lazy = da.from_array(X, chunks=(77, 4))
    plain = core.spectrum(lazy)
    rec = Recorder()
    with _dask.progress_to(rec):
        tracked = core.spectrum(lazy)
    np.testing.assert_allclose(tracked.eigenvalues, plain.eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(tracked.eigenvalues, core.spectrum(X).eigenvalues, rtol=1e-10)
    assert rec.calls and rec.calls[-1][0] == rec.calls[-1][1]


_RAN = []


def _counted_leaf(i):
    _RAN.append(i)  # the workers run in this process (processes=False)
    time.sleep(0.05)
    return float(i)


def test_a_callback_that_raises_cancels_the_cluster_tasks(cluster_client):
    rec = Recorder(stop_at=2)
    _RAN.clear()
    with pytest.raises(KeyboardInterrupt, match="stop pressed"):
        _dask.compute(_graph(_counted_leaf, 200), progress=rec)  # 200 x 50 ms on 2 threads: 5 s if not stopped
    assert len(_RAN) < 100  # cancelled, not run to the end and then raised

    def tasks(dask_scheduler):
        return len(dask_scheduler.tasks)

    deadline = time.monotonic() + 30
    while cluster_client.run_on_scheduler(tasks) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cluster_client.run_on_scheduler(tasks) == 0  # cancelled and released, nothing left running
