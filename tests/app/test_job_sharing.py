"""Background jobs shared by sessions: one session's Stop never ends what another session waits for.

Found while testing concurrent sessions (issue 15): jobs are shared by key (two sessions asking
for the same t-SNE get one computation), and the Map's Stop button cancelled that computation
for everyone, so a second user's map ended as "cancelled" because the first moved on.
"""

from __future__ import annotations

import threading
import time

from dashboard.jobs import JobRegistry


def _slow(gate: threading.Event):
    def fn(progress):
        for i in range(200):
            progress(i / 200, f"step {i}")
            if gate.wait(0.01):
                break
        return "map"
    return fn


def _wait(job, timeout=10.0):
    end = time.monotonic() + timeout
    while job.active and time.monotonic() < end:
        time.sleep(0.01)
    return job


def test_kind_sessions_one_stop_leaves_the_others_computation_running():
    reg = JobRegistry()
    gate = threading.Event()
    a = reg.submit("k", "t-SNE", _slow(gate), owner="sessionA:0")
    b = reg.submit("k", "t-SNE", _slow(gate), owner="sessionB:0")
    assert a is b and a.owners == {"sessionA:0", "sessionB:0"}
    a.stop("sessionA")
    assert a.owners == {"sessionB:0"} and not a._cancel.is_set()
    again = reg.submit("k", "t-SNE", _slow(gate), owner="sessionA:0")  # A's next run: stopped, for A only
    assert again is not a and again.state == "cancelled" and again.message == "stopped"
    assert reg.submit("k", "t-SNE", _slow(gate), owner="sessionB:0") is a  # B still waits for the shared one
    gate.set()
    assert _wait(a).state == "done" and a.result == "map"


def test_kind_sessions_run_again_rejoins_and_a_lone_stop_cancels():
    reg = JobRegistry()
    gate = threading.Event()
    job = reg.submit("k", "UMAP", _slow(gate), owner="A:0")
    reg.submit("k", "UMAP", _slow(gate), owner="B:0")
    job.stop("A")
    rejoined = reg.submit("k", "UMAP", _slow(gate), owner="A:0", retry=True)  # "Run again"
    assert rejoined is job and "A:0" in job.owners and not job.stopped_by("A:0")
    job.stop("A")
    job.stop("B")  # nobody waits any more: the computation is cancelled
    assert _wait(job).state == "cancelled"
    gate.set()


def test_kind_sessions_stop_by_prefix_covers_every_owner_key_of_a_session():
    reg = JobRegistry()
    gate = threading.Event()
    job = reg.submit("pair", "AlignedUMAP", _slow(gate), owner="S:pair")
    reg.submit("pair", "AlignedUMAP", _slow(gate), owner="S:0")
    job.stop("S")
    assert job.owners == set() and _wait(job).state == "cancelled"
    gate.set()
