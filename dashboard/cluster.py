"""The server's Dask: one client per server process, chosen by ``embedlens --dask`` (``EMBEDLENS_DASK``).

``EMBEDLENS_DASK`` (set by ``embedlens serve --dask VALUE``; see :func:`parse_setting`):

- unset or ``local``: a ``distributed.LocalCluster`` on this machine (:func:`local_cluster_options`);
- ``tcp://HOST:PORT`` (any scheduler address): the running cluster there, connected within
  :data:`CONNECT_TIMEOUT_S` (its workers need EmbedLens installed, as they import ``core``);
- ``threads``: dask's threaded scheduler in this process, no ``distributed``.

Nothing starts at import, nor for datasets that are not Dask-backed: the client starts (or
connects) on the first :func:`active_client` call, and stays for the server's life. It becomes
``distributed``'s default client, so every :func:`core._dask.compute` of every session runs on
it. A module-level singleton behind a lock rather than a Streamlit resource cache: only
:mod:`dashboard.data` holds Streamlit caches (tests/test_architecture.py), and the lifetime wanted
is the process's, which a module global is.

How a page computes on a Dask-backed view (``core.open_sharded(...).X``) in a background job with
task progress (the lead wires this into the pages)::

    from dashboard import cluster, data
    from dashboard.errors import user_errors
    from dashboard.views import job_progress

    with user_errors():                 # ClusterUnavailable: one line on the page, never a traceback
        cluster.active_client()         # starts the LocalCluster / connects, once per server
        job = data.metric_jobs().submit(
            key, "Spectrum", lambda progress: cluster.run_with_progress(core.spectral_profile, X,
                                                                        progress=progress),
            owner=owner)
        if job.active:
            job_progress(job, owner, stop_key="stop-spectrum")   # "tasks 37 / 120", Stop cancels
        elif job.finished_ok:
            profile = job.result

The sidebar shows :func:`cluster_info` (scheduler, workers, threads, the cluster's dashboard
link) once a client is active.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from core import EmbedLensInputError
from core._dask import INSTALL_HINT

__all__ = ["ENV", "CONNECT_TIMEOUT_S", "ClusterUnavailable", "ClusterInfo", "parse_setting", "setting",
           "local_cluster_options", "active_client", "cluster_info", "run_with_progress", "command_client",
           "reset"]

ENV = "EMBEDLENS_DASK"
CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for a scheduler to answer before saying it cannot be reached."""
RETRY_AFTER_S = 30.0
"""After a failed connection, calls within this many seconds repeat the error instead of waiting again."""
INFO_TTL_S = 5.0
"""The sidebar's worker count is asked of the scheduler at most this often."""
_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


class ClusterUnavailable(EmbedLensInputError):
    """The Dask setting cannot be used (no scheduler answered, distributed missing): one line."""


def parse_setting(text: str) -> str:
    """``local``, ``threads`` or a scheduler address; anything else is refused.

    Addresses: ``tcp://HOST:PORT`` (also ``tls://``, ``ws://``, ``wss://``), ``inproc://...``,
    ``ucx://...``, or a bare ``HOST:PORT`` (distributed reads it as ``tcp://``).

    Raises
    ------
    ValueError
        A value of another form (the message names the accepted ones).
    """
    value = text.strip()
    if value.lower() in ("local", "threads"):
        return value.lower()
    scheme, sep, rest = value.partition("://")
    if sep:
        if scheme.lower() in ("inproc", "ucx") and rest:
            return value
        host_port = rest.rstrip("/")
    else:
        scheme, host_port = "tcp", value
    m = _HOST_PORT.fullmatch(host_port)
    if scheme.lower() in _SCHEMES and m and 1 <= int(m["port"]) <= 65535:
        return value
    raise ValueError(f"{text!r} is not 'local', 'threads' or a scheduler address such as tcp://HOST:8786")


def setting() -> str:
    """This server's Dask setting, from ``EMBEDLENS_DASK`` (unset or empty: ``local``).

    Raises
    ------
    ClusterUnavailable
        The variable holds something :func:`parse_setting` refuses.
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return "local"
    try:
        return parse_setting(raw)
    except ValueError as exc:
        raise ClusterUnavailable(f"{ENV}: {exc}") from None


def local_cluster_options() -> dict:
    """``LocalCluster`` options sized to this machine.

    - ``n_workers`` x ``threads_per_worker`` = the cores dask sees (``dask.system.CPU_COUNT``:
      affinity and cgroup limits included), split as ``distributed`` itself does by default
      (``nprocesses_nthreads``: one single-threaded process per core up to 4 cores, about
      sqrt(cores) processes above). EmbedLens' tasks are numpy products that release the GIL;
      ``distributed`` starts its workers with one BLAS thread each (``OMP/MKL/OPENBLAS_NUM_THREADS=1``),
      so workers x threads = cores and BLAS does not oversubscribe them.
    - ``memory_limit``: half of the memory ``distributed`` sees (cgroup-aware), shared evenly. The
      other half stays with the Streamlit server, which holds the in-memory views, kNN graphs
      and maps; a worker spills, then pauses, as it nears its share instead of taking the server's.
    - processes, not threads: a worker that runs out of memory is restarted without taking the
      server down, and the server's own threads keep the pages responsive.
    - the dashboard on loopback, on a free port (its link is shown in the sidebar).
    """
    from dask.system import CPU_COUNT
    from distributed.deploy.utils import nprocesses_nthreads
    from distributed.system import MEMORY_LIMIT

    n_workers, threads = nprocesses_nthreads(max(1, CPU_COUNT))
    return {"n_workers": n_workers, "threads_per_worker": threads, "processes": True,
            "memory_limit": max(1, int(MEMORY_LIMIT // 2 // n_workers)), "dashboard_address": "127.0.0.1:0"}


def _open(value: str, *, timeout: float):
    """A new ``distributed.Client`` for ``local`` or an address; ClusterUnavailable (one line) if it fails."""
    from core import _dask

    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterUnavailable(f"Dask: --dask {value} needs distributed ({INSTALL_HINT})") from None
    if value == "local":
        try:
            return _dask.client(None, **local_cluster_options())
        except Exception as exc:  # noqa: BLE001 - the page gets one line, not a traceback
            raise ClusterUnavailable(f"Dask: the local cluster did not start ({_one_line(exc)})") from None
    try:
        return _dask.client(value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - OSError / TimeoutError from distributed, and any other
        raise ClusterUnavailable(
            f"Dask: no scheduler answered at {value} within {timeout:g} s ({_one_line(exc)}); start one there "
            "(`dask scheduler`) or serve without --dask for a local cluster") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.setting: str | None = None
        self.client = None
        self.error: str | None = None
        self.failed_at = 0.0
        self.info: ClusterInfo | None = None
        self.info_at = 0.0


_STATE = _State()


def active_client(*, start: bool = True):
    """The server's ``distributed.Client``, started (or connected) on the first call.

    Parameters
    ----------
    start : bool, default=True
        False: only the client already there (None if none was started).

    Returns
    -------
    distributed.Client or None
        None under ``threads`` (dask's threaded scheduler computes in this process).

    Raises
    ------
    ClusterUnavailable
        The scheduler could not be reached (repeated without waiting again for
        :data:`RETRY_AFTER_S`), ``distributed`` is missing, or ``EMBEDLENS_DASK`` is malformed.
    """
    with _STATE.lock:
        if _STATE.client is not None:
            if _STATE.client.status not in ("closed", "closing"):
                return _STATE.client
            _STATE.client = None
        if not start:
            return None
        value = setting()
        _STATE.setting = value
        if value == "threads":
            return None
        if _STATE.error is not None and time.monotonic() - _STATE.failed_at < RETRY_AFTER_S:
            raise ClusterUnavailable(_STATE.error)
        try:
            _STATE.client = _open(value, timeout=CONNECT_TIMEOUT_S)
        except ClusterUnavailable as exc:
            _STATE.error, _STATE.failed_at = str(exc), time.monotonic()
            raise
        _STATE.error, _STATE.info = None, None
        return _STATE.client


def reset() -> None:
    """Close the server's client (and a local cluster it started); the next :func:`active_client` starts anew.

    For tests and for a server that shuts down.
    """
    with _STATE.lock:
        c, _STATE.client, _STATE.error, _STATE.info, _STATE.setting = _STATE.client, None, None, None, None
    if c is not None:
        c.close()


@dataclass(frozen=True)
class ClusterInfo:
    """What the sidebar says about the server's cluster.

    Attributes
    ----------
    kind : str
        ``"LocalCluster"`` (started by this server) or ``"scheduler"`` (one it connected to).
    address : str
        The scheduler's address.
    workers, threads : int
        Workers, and threads over all of them.
    dashboard_link : str or None
        The cluster's dashboard, only when it is served (``distributed`` serves it where bokeh
        >= 3.1 is installed).
    error : str or None
        One line when the scheduler did not answer the last question.
    """

    kind: str
    address: str
    workers: int
    threads: int
    dashboard_link: str | None = None
    error: str | None = None

    @property
    def summary(self) -> str:
        from core._validation import plural

        head = "LocalCluster" if self.kind == "LocalCluster" else self.address
        if self.error:
            return f"{head} · {self.error}"
        return f"{head} · {plural(self.workers, 'worker')} · {plural(self.threads, 'thread')}"


def _describe(client) -> ClusterInfo:
    from distributed import LocalCluster

    kind = "LocalCluster" if isinstance(getattr(client, "cluster", None), LocalCluster) else "scheduler"
    address = str(client.scheduler.address)
    try:
        nthreads = client.nthreads(callback_timeout=2)
        services = client.scheduler_info().get("services", {})
    except Exception as exc:  # noqa: BLE001 - a scheduler gone away: said in the sidebar, not raised
        return ClusterInfo(kind, address, 0, 0, None, f"not answering ({_one_line(exc)})")
    link = None
    if services.get("dashboard") and _dashboard_served(client):
        try:
            link = client.dashboard_link
        except Exception:  # noqa: BLE001 - no link rather than an error
            link = None
    return ClusterInfo(kind, address, len(nthreads), int(sum(nthreads.values())), link)


def _dashboard_served(client) -> bool:
    """Whether the scheduler serves the bokeh dashboard, not only its HTTP port.

    Without bokeh >= 3.1 a scheduler still listens on the dashboard port (health, metrics) and
    answers /status with "Dask needs bokeh"; it imports ``distributed.dashboard.scheduler`` only
    when it serves the dashboard. Asked of the scheduler (a lambda, sent by value): a remote
    scheduler's environment is not this one. If it cannot be asked, the link is shown.
    """
    try:
        return bool(client.run_on_scheduler(
            lambda dask_scheduler: "distributed.dashboard.scheduler" in __import__("sys").modules))
    except Exception:  # noqa: BLE001 - e.g. a scheduler refusing pickled functions
        return True


def cluster_info() -> ClusterInfo | None:
    """The active client's cluster (asked at most every :data:`INFO_TTL_S`), or None when no client is active.

    Never starts a client.

    Raises
    ------
    Nothing
        A scheduler that stopped answering gives ``ClusterInfo.error``.
    """
    client = active_client(start=False)
    if client is None:
        return None
    now = time.monotonic()
    with _STATE.lock:
        if _STATE.info is not None and now - _STATE.info_at < INFO_TTL_S:
            return _STATE.info
    info = _describe(client)
    with _STATE.lock:
        _STATE.info, _STATE.info_at = info, now
    return info


class _TaskProgress:
    """Dask's ``(done, total)`` per pass as a job's ``(fraction, message)`` (thread-safe).

    A metric may compute several passes over the data, each counting its own tasks; a pass ends
    at its first ``done == total``. The fraction is every task done over every task announced so
    far, mapped into ``[start, end]`` (a job keeps its largest fraction, so a new pass's tasks do
    not move the bar back); the message names the current pass's tasks.
    """

    def __init__(self, progress, start: float, end: float, label: str) -> None:
        self._progress, self._start, self._end, self._label = progress, start, end, label
        self._lock = threading.Lock()
        self.passes = 0
        self._before = [0, 0]  # tasks done / announced in finished passes
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            if not self._open:
                self.passes += 1
                self._open = True
            all_done, all_total = self._before[0] + done, self._before[1] + total
            if done >= total:
                self._before = [all_done, all_total]
                self._open = False
            fraction = self._start + (self._end - self._start) * (all_done / all_total if all_total else 0.0)
            where = f" (pass {self.passes})" if self.passes > 1 else ""
            self._progress(fraction, f"{self._label} {done:,} / {total:,}{where}")


def run_with_progress(fn: Callable, *args, progress: Callable[[float, str], None], start: float = 0.0,
                      end: float = 1.0, label: str = "tasks", **kwargs):
    """``fn(*args, **kwargs)`` on the server's Dask, its task progress told to a job's ``progress``.

    Call it inside the job (``JobRegistry.submit(key, label, lambda progress:
    run_with_progress(fn, X, progress=progress), owner=...)``): the progress context is set in
    the job's thread, where ``fn`` computes. Starts the server's client first if none is active
    (:func:`active_client`).

    Parameters
    ----------
    fn : callable
        Any computation reaching :func:`core._dask.compute` (every core metric on a dask array).
    *args, **kwargs
        Passed to ``fn``.
    progress : callable
        ``progress(fraction, message)``, e.g. :meth:`dashboard.jobs.Job.progress`; what it raises
        (``JobCancelled`` after Stop) ends the computation and cancels its tasks on a cluster.
    start, end : float, default 0 and 1
        The part of the job's bar this computation fills.
    label : str, default="tasks"
        The message's first word: ``"tasks 37 / 120"``.

    Returns
    -------
    object
        What ``fn`` returns.

    Raises
    ------
    ClusterUnavailable
        The cluster could not be reached.
    Exception
        Whatever ``fn`` raises.
    """
    from core._dask import progress_to

    active_client()
    with progress_to(_TaskProgress(progress, float(start), float(end), label)):
        return fn(*args, **kwargs)


@contextmanager
def command_client(value: str | None):
    """The Dask of one ``embedlens metrics`` / ``report`` run: yields its :class:`ClusterInfo` or None.

    None (no ``--dask``): dask's default scheduler (threads), as before. ``threads``: dask's
    threaded scheduler, also when a default client exists. ``local`` / an address: a client
    open for the block (a local cluster closes with it).

    Raises
    ------
    ClusterUnavailable
        No scheduler answered, or ``distributed`` is missing.
    """
    if value is None:
        yield None
        return
    if value == "threads":
        import dask

        with dask.config.set(scheduler="threads"):
            yield None
        return
    client = _open(value, timeout=CONNECT_TIMEOUT_S)
    with client if client is not None else nullcontext():
        yield _describe(client)
