"""Tests are hermetic: nothing is read from or written to the user's home, caches or uploads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import core
from core.cache import default_cache_dir
from tests.hermetic import SESSION_ROOT_VAR

ROOT = Path(__file__).resolve().parents[1]


def test_kind_hermetic_every_folder_is_the_sessions():
    root = Path(os.environ[SESSION_ROOT_VAR])
    for path in (Path.home(), default_cache_dir(), core.uploads_dir(core.sample_data_dir()),
                 Path(os.environ["XDG_CONFIG_HOME"])):
        assert root in path.resolve().parents, path
    assert os.environ["EMBEDLENS_WARMUP"] == "off"
    assert not {k for k in os.environ if k.startswith("EMBEDLENS_")} - {
        "EMBEDLENS_CACHE", "EMBEDLENS_WARMUP", SESSION_ROOT_VAR}


def test_kind_hermetic_a_users_uploads_and_environment_do_not_leak_in(tmp_path):
    """The reported fault: after an upload in the app (~/.cache/embedlens/uploads/<name>),
    the catalog tests and doctest saw it. Here a home holding an upload and a caller whose
    EMBEDLENS_* variables point at a polluted folder run those tests, which must still pass."""
    home = tmp_path / "home"
    upload = home / ".cache" / "embedlens" / "uploads" / "mine-0123abcd"
    upload.mkdir(parents=True)
    np.save(upload / "x.npy", np.ones((4, 2), np.float32))
    polluted = tmp_path / "polluted"
    (polluted / "junk").mkdir(parents=True)
    np.save(polluted / "junk" / "x.npy", np.ones((4, 2), np.float32))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBEDLENS_", "XDG_"))}
    env.update(HOME=str(home), EMBEDLENS_UPLOADS=str(polluted), EMBEDLENS_DATA=str(polluted),
               EMBEDLENS_MAX_FILE_MB="0.000001")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/core/test_catalog.py", "core/catalog.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:]
    assert list(upload.parent.iterdir()) == [upload]  # nothing written beside the user's upload
