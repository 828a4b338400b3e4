"""pytest plugin (loaded with ``-p tests.hermetic`` from pyproject's addopts): the whole session
runs with every folder EmbedLens or its libraries would read or write in a temporary folder.

Loaded as a plugin rather than from ``tests/conftest.py`` because a conftest applies only to
the tests below it, while the README and ``core`` doctests (and the app servers the browser
tests start, which inherit the environment) need the same isolation. What it sets:

- ``HOME`` and ``XDG_CACHE_HOME`` / ``XDG_CONFIG_HOME`` / ``XDG_DATA_HOME``: nothing under the
  user's home (``~/.cache/embedlens/uploads``, ``~/.streamlit``) is seen or written;
- every ``EMBEDLENS_*`` variable of the caller is removed, then ``EMBEDLENS_CACHE`` points into
  the session folder and ``EMBEDLENS_WARMUP=off`` (no background numba compilation competing
  for the CPU with the browser tests; tests compile what they use).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

SESSION_ROOT_VAR = "EMBEDLENS_TEST_SESSION_ROOT"
_saved: dict[str, str | None] = {}
_root: Path | None = None


def pytest_configure(config) -> None:
    global _root
    _root = Path(tempfile.mkdtemp(prefix="embedlens-tests-"))
    env = {
        "HOME": _root / "home",
        "XDG_CACHE_HOME": _root / "home" / ".cache",
        "XDG_CONFIG_HOME": _root / "home" / ".config",
        "XDG_DATA_HOME": _root / "home" / ".local" / "share",
        "EMBEDLENS_CACHE": _root / "embedlens-cache",
    }
    for path in env.values():
        path.mkdir(parents=True, exist_ok=True)
    for key in [k for k in os.environ if k.startswith("EMBEDLENS_")]:
        _saved[key] = os.environ.pop(key)
    for key, value in {**{k: str(v) for k, v in env.items()}, "EMBEDLENS_WARMUP": "off",
                       SESSION_ROOT_VAR: str(_root)}.items():
        _saved.setdefault(key, os.environ.get(key))
        os.environ[key] = value


def pytest_unconfigure(config) -> None:
    for key, value in _saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved.clear()
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
