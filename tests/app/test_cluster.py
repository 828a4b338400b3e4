"""dashboard.cluster: the server's one Dask client from EMBEDLENS_DASK, its sidebar line, job progress."""

from __future__ import annotations

import importlib.util
import socket
import threading

import numpy as np
import pytest

pytest.importorskip("dask")

from dashboard import cluster  # noqa: E402
from dashboard.jobs import JobRegistry  # noqa: E402


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    cluster.reset()
    yield
    cluster.reset()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("text, expected", [
    ("local", "local"), (" Threads ", "threads"), ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    ("tls://sched.example.org:8786", "tls://sched.example.org:8786"), ("10.0.0.5:8786", "10.0.0.5:8786"),
    ("tcp://[::1]:8786", "tcp://[::1]:8786"), ("inproc://10.0.0.5/1234/1", "inproc://10.0.0.5/1234/1"),
])
def test_settings_accepted(text, expected):
    assert cluster.parse_setting(text) == expected


@pytest.mark.parametrize("text", ["", "remote", "tcp://host", "http://h:8786", "tcp://h:0", "h:99999",
                                  "tcp://h:8786 extra", "yarn://x:1"])
def test_settings_refused(text):
    with pytest.raises(ValueError, match="is not 'local', 'threads' or a scheduler address"):
        cluster.parse_setting(text)


def test_unreachable_scheduler_is_one_line_and_not_retried_at_once(monkeypatch):
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv(cluster.ENV, address)
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(cluster.ClusterUnavailable) as info:
        cluster.active_client()
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert f"no scheduler answered at {address} within 1 s" in message and "--dask" in message
    opened = []
    monkeypatch.setattr(cluster, "_open", lambda *a, **k: opened.append(a))
    with pytest.raises(cluster.ClusterUnavailable) as again:
        cluster.active_client()
    assert str(again.value) == message and opened == []  # the failure is remembered, not waited for again
    assert cluster.cluster_info() is None  # no client: the sidebar shows nothing


def test_a_malformed_environment_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(cluster.ENV, "somewhere")
    with pytest.raises(cluster.ClusterUnavailable, match="EMBEDLENS_DASK: 'somewhere' is not"):
        cluster.active_client()


def test_threads_starts_no_distributed_client_and_jobs_still_report_tasks(monkeypatch):
    monkeypatch.setenv(cluster.ENV, "threads")
    import dask

    assert cluster.active_client() is None and cluster.cluster_info() is None
    if importlib.util.find_spec("distributed") is not None:
        from distributed import default_client

        with pytest.raises(ValueError):
            default_client()
    seen = []

    def fn(progress):
        def record(fraction, message):
            seen.append((fraction, message))
            progress(fraction, message)
        return cluster.run_with_progress(_total, 30, progress=record)

    job = JobRegistry().submit("k", "sum", fn, owner="s")
    _wait(job)
    assert job.state == "done" and job.result == sum(range(30))
    assert seen[-1] == (1.0, "tasks 31 / 31") and seen[0][1] == "tasks 0 / 31"
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)
    assert dask.config.get("scheduler", None) is None  # nothing changed globally


def _total(n):
    from dask import delayed

    from core._dask import compute

    return compute(delayed(sum, pure=True)([delayed(int, pure=True)(i) for i in range(n)]))[0]


def _wait(job, timeout=120):
    import time

    deadline = time.monotonic() + timeout
    while job.active and time.monotonic() < deadline:
        time.sleep(0.05)


def test_local_cluster_options_fit_the_machine():
    pytest.importorskip("distributed")
    from dask.system import CPU_COUNT
    from distributed.system import MEMORY_LIMIT

    opts = cluster.local_cluster_options()
    assert opts["n_workers"] * opts["threads_per_worker"] == CPU_COUNT
    assert opts["n_workers"] * opts["memory_limit"] <= MEMORY_LIMIT // 2
    assert opts["processes"] is True and opts["dashboard_address"].startswith("127.0.0.1:")


@pytest.fixture
def small_local(monkeypatch):
    """'local' on two in-process workers (the real options start processes: slower, same code path)."""
    pytest.importorskip("distributed")
    monkeypatch.delenv(cluster.ENV, raising=False)
    monkeypatch.setattr(cluster, "local_cluster_options", lambda: {
        "n_workers": 2, "threads_per_worker": 1, "processes": False, "dashboard_address": "127.0.0.1:0"})


def test_local_cluster_is_started_lazily_once_and_described(small_local):
    from distributed import default_client

    assert cluster.cluster_info() is None  # nothing started by asking
    first = cluster.active_client()
    assert cluster.active_client() is first and default_client() is first
    info = cluster.cluster_info()
    assert (info.kind, info.workers, info.threads) == ("LocalCluster", 2, 2)
    assert info.summary == "LocalCluster · 2 workers · 2 threads"
    has_bokeh = importlib.util.find_spec("bokeh") is not None
    assert (info.dashboard_link is not None) == has_bokeh  # a link only when the dashboard is served
    if has_bokeh:
        port = first.scheduler_info()["services"]["dashboard"]
        assert info.dashboard_link.startswith("http://") and info.dashboard_link.endswith(f":{port}/status")


def test_the_real_local_cluster_worker_processes_and_dashboard(monkeypatch):
    """The options the server uses (worker processes), and the link answering where bokeh is installed."""
    pytest.importorskip("distributed")
    import urllib.request

    monkeypatch.setenv(cluster.ENV, "local")
    opts = cluster.local_cluster_options()
    cluster.active_client()
    info = cluster.cluster_info()
    assert info.summary == (f"LocalCluster · {opts['n_workers']} worker{'s' * (opts['n_workers'] > 1)} · "
                            f"{opts['n_workers'] * opts['threads_per_worker']} thread"
                            f"{'s' * (opts['n_workers'] * opts['threads_per_worker'] > 1)}")
    if importlib.util.find_spec("bokeh") is None:
        assert info.dashboard_link is None
    else:
        assert info.dashboard_link.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(info.dashboard_link, timeout=30) as r:
            assert r.status == 200 and b"Dask needs bokeh" not in r.read()


def test_run_with_progress_on_the_cluster_fills_the_job(small_local):
    da = pytest.importorskip("dask.array")
    import core

    X = np.random.default_rng(2).standard_normal((900, 5))
    lazy = da.from_array(X, chunks=(100, 5))
    messages, threads = [], set()
    lock = threading.Lock()

    def fn(progress):
        def record(fraction, message):
            with lock:
                messages.append((fraction, message))
                threads.add(threading.current_thread().name)
            progress(fraction, message)
        return cluster.run_with_progress(core.spectrum, lazy, progress=record, start=0.5, end=1.0)

    job = JobRegistry().submit("spectrum", "Spectrum", fn, owner="s")
    _wait(job)
    assert job.state == "done", job.error
    np.testing.assert_allclose(job.result.eigenvalues, core.spectrum(X).eigenvalues, rtol=1e-10)
    assert messages and all(0.5 <= f <= 1.0 for f, _ in messages)
    last = messages[-1][1]
    done, total = last.split()[1], last.split()[3]
    assert last.startswith("tasks ") and done == total and messages[-1][0] == 1.0
    assert cluster.cluster_info().workers == 2


def test_sidebar_block_shows_the_cluster_only_once_active(small_local):
    from streamlit.testing.v1 import AppTest

    def script():
        from dashboard.sidebar import dask_block

        dask_block()

    at = AppTest.from_function(script).run(timeout=60)
    assert not at.exception and not at.caption  # no client yet: nothing shown, nothing started
    assert cluster.active_client(start=False) is None
    cluster.active_client()
    at = AppTest.from_function(script).run(timeout=60)
    assert not at.exception
    assert [c.value for c in at.caption] == ["Dask · LocalCluster · 2 workers · 2 threads"]


def test_command_client_threads_and_local(small_local):
    import dask

    with cluster.command_client(None) as info:
        assert info is None
    with cluster.command_client("threads") as info:
        assert info is None and dask.config.get("scheduler") == "threads"
    from distributed import default_client

    with cluster.command_client("local") as info:
        assert info.summary == "LocalCluster · 2 workers · 2 threads"
        client = default_client()
    assert client.status == "closed"  # closed with the block, the local cluster with it
