"""README's two set-up commands are true: the first serves the sample data (on loopback only),
the second is the command CI runs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _setup_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listen_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) == port and state == "0A":  # 0A: LISTEN
                if len(addr) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
                else:
                    raw = bytes.fromhex(addr)
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))
    return found


def test_readme_setup_is_two_commands_and_ci_runs_the_second():
    serve, tests = _setup_commands()
    assert serve == "bash dashboard/serve.sh" and tests == "bash tests/run.sh"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash tests/run.sh" in ci
    assert "Python 3.11 or newer" in README


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_kind_network_exposure_readme_serve_command_listens_on_loopback_only():
    """README's first command, run as written (plus a free port): the app answers on
    127.0.0.1 and its listening socket is bound to loopback, not to every interface."""
    serve = _setup_commands()[0].split()
    port = _free_port()
    proc = subprocess.Popen([*serve, "--port", str(port)], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("README's serve command did not answer in 240 s")
        assert _listen_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


def test_lowest_versions_tested_are_the_declared_lower_bounds():
    """tests/run.sh's second run installs tests/lowest.txt: it must pin exactly the lower bound
    of every runtime dependency pyproject.toml declares (else it tests something else)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["scale"]  # run.sh installs [test,scale]
    declared = {}
    for dep in deps:
        name, _, low = dep.partition(">=")
        name = name.split("[")[0]  # dask[array]
        assert low, f"{dep}: every runtime dependency declares a lower bound"
        declared[name.strip().lower()] = low.split(",")[0].strip()
    pinned = {}
    for line in (ROOT / "tests" / "lowest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pinned[name.strip().lower()] = version.strip()
    assert pinned == declared
