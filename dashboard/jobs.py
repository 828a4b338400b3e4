"""Long computations (UMAP, t-SNE, metric trajectories) in a background thread, shared by every session of a server.

A page asks for a result by key; if it is not ready, :meth:`JobRegistry.submit` starts (or
joins) a :class:`Job` and the page keeps drawing: a fast preview, a progress bar that polls
the job, a Stop button. Jobs with the same key are computed once, whoever asked. One worker
runs at a time (these computations use every core); a session that asks for something new
cancels what it alone was waiting for, so dragging a slider does not queue ten UMAPs.

No Streamlit here: :func:`dashboard.data.map_jobs` and ``metric_jobs`` hold one registry each per server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from collections import OrderedDict
from dataclasses import dataclass, field

__all__ = ["Job", "JobCancelled", "JobRegistry"]


class JobCancelled(Exception):
    """Raised inside a job's progress callback once someone pressed Stop."""


@dataclass(eq=False)
class Job:
    """One computation: its progress, then its result or error."""

    key: str
    label: str
    owners: set[str] = field(default_factory=set)
    state: str = "queued"  # queued | running | done | failed | cancelled
    fraction: float = 0.0
    message: str = "waiting for the worker"
    result: object = None
    error: str = ""
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    partial: dict = field(default_factory=dict)
    """Results as they come in (a job over many items fills this before it finishes)."""
    stopped: set[str] = field(default_factory=set)
    """Sessions (owner keys or their prefixes) that pressed Stop: they no longer wait for it."""
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Guards ``owners`` / ``stopped``; a registry's jobs share the registry's lock."""

    @property
    def finished_ok(self) -> bool:
        return self.state == "done"

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def progress(self, fraction: float, message: str, partial: dict | None = None) -> None:
        """The callback handed to the computation; raises :class:`JobCancelled` after Stop.

        ``partial``: results finished so far, merged into :attr:`partial` for pages to show.
        """
        if partial:
            self.partial.update(partial)
        if self._cancel.is_set():
            raise JobCancelled(self.key)
        self.fraction = max(self.fraction, min(1.0, float(fraction)))
        self.message = message

    def cancel(self) -> None:
        self._cancel.set()
        if self.state == "queued":
            self.state, self.message = "cancelled", "stopped before it started"

    def stop(self, session: str) -> None:
        """The Stop button of ``session`` (an owner key, or the prefix of a session's owner keys).

        That session stops waiting; the computation is cancelled only when no other session
        waits for it, so one user's Stop never ends another user's map (jobs are shared by key).
        """
        with self._lock:
            self.stopped.add(session)
            self.owners = {o for o in self.owners if not o.startswith(session)}
            if not self.owners:
                self.cancel()

    def stopped_by(self, owner: str) -> bool:
        """Whether ``owner`` (or its session) pressed Stop on this job."""
        with self._lock:
            return any(owner.startswith(s) for s in self.stopped)


class JobRegistry:
    """Jobs by key, run by a small thread pool; finished jobs are kept (bounded) for their result."""

    def __init__(self, *, workers: int = 1, keep: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embedlens-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._keep = keep
        self._memo: OrderedDict = OrderedDict()
        self._memo_locks: dict = {}

    def get(self, key: str) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def submit(self, key: str, label: str, fn: Callable[[Callable[[float, str], None]], object], *,
               owner: str, retry: bool = False) -> Job:
        """The job for ``key``: started if new; a failed or stopped one is returned as is
        unless ``retry``.

        ``fn(progress)`` computes the result. Other jobs that only ``owner`` was waiting for
        are cancelled: the owner has moved on. An owner whose session pressed Stop on the
        running job gets a stopped copy (not the shared job, which goes on for the others)
        until it asks again with ``retry``.
        """
        with self._lock:
            for other in self._jobs.values():
                if other.key != key and other.active and other.owners == {owner}:
                    other.cancel()
                elif other.key != key:
                    other.owners.discard(owner)
            job = self._jobs.get(key)
            if job is not None and job.active and job.stopped_by(owner):
                if not retry:  # this session pressed Stop; others may still wait: show it stopped here
                    return Job(key=key, label=label, state="cancelled", message="stopped")
                job.stopped = {s for s in job.stopped if not owner.startswith(s)}
            if job is not None and (job.state in ("queued", "running", "done") or not retry):
                job.owners.add(owner)
                return job
            job = Job(key=key, label=label, owners={owner}, _lock=self._lock)
            self._jobs[key] = job
            self._trim()
        self._pool.submit(self._run, job, fn)
        return job

    def memo(self, key, fn: Callable[[], object], *, keep: int = 4):
        """``fn()`` computed once per key (concurrent callers wait for the first), the last ``keep`` kept.

        For intermediates several jobs and pages share, such as a view's kNN graph.
        """
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
            key_lock = self._memo_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._memo:
                    return self._memo[key]
            value = fn()
            with self._lock:
                self._memo[key] = value
                while len(self._memo) > keep:
                    old, _ = self._memo.popitem(last=False)
                    self._memo_locks.pop(old, None)
                self._memo_locks.pop(key, None)
            return value

    def _run(self, job: Job, fn) -> None:
        if job._cancel.is_set():
            job.state = "cancelled"
            return
        job.state, job.started, job.message = "running", time.time(), "starting"
        try:
            job.result = fn(job.progress)
            job.state, job.fraction, job.message = "done", 1.0, "done"
        except JobCancelled:
            job.state, job.message = "cancelled", "stopped"
        except Exception as exc:  # noqa: BLE001 - shown to the user on the page
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if not j.active]
        for j in sorted(finished, key=lambda j: j.finished or 0)[: max(0, len(finished) - self._keep)]:
            del self._jobs[j.key]
