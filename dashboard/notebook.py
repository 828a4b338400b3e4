"""``dashboard.show(X)``: open embeddings from a notebook or a script in the dashboard.

:func:`show` writes the data to a temporary data folder (with :func:`core.writer`, so every
view keeps its run / layer / step labels), starts one local EmbedLens server on it -- or reuses
the one this Python process started -- and returns the link to the dataset. In Jupyter / IPython
it also displays the app in an ``IFrame``; elsewhere it prints the link. The server listens on
127.0.0.1 only and is stopped when Python exits (or by :func:`stop`).
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

__all__ = ["show", "stop", "server_url"]

_STATE: dict = {}
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive() -> bool:
    proc = _STATE.get("proc")
    return proc is not None and proc.poll() is None


def server_url() -> str | None:
    """The base URL of the server :func:`show` started, or None when none is running.

    Returns
    -------
    str or None

    Raises
    ------
    Nothing
        Of its own.
    """
    return f"http://127.0.0.1:{_STATE['port']}" if _alive() else None


def stop() -> None:
    """Stop the server :func:`show` started (a no-op when none runs); its data folder is deleted.

    Returns
    -------
    None

    Raises
    ------
    Nothing
        Of its own; a server that does not stop within 10 s is killed.
    """
    import shutil

    proc = _STATE.pop("proc", None)
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    root = _STATE.pop("root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
    _STATE.pop("port", None)


def _start(port: int | None, timeout: float) -> None:
    from .cli import streamlit_command

    root = Path(tempfile.mkdtemp(prefix="embedlens-show-"))
    port = port or _free_port()
    env = {**os.environ, "EMBEDLENS_DATA": str(root), "EMBEDLENS_UPLOADS": str(root / ".uploads")}
    log = open(root / ".server.log", "wb")
    proc = subprocess.Popen(streamlit_command(port, "127.0.0.1"), env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    _STATE.update(proc=proc, port=port, root=root)
    if not _STATE.get("atexit"):
        atexit.register(stop)
        _STATE["atexit"] = True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (root / ".server.log").read_text(errors="replace")[-2000:]
            stop()
            raise RuntimeError(f"the EmbedLens server exited (status {proc.returncode}):\n{text}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    stop()
    raise RuntimeError(f"the EmbedLens server did not answer on port {port} within {timeout:.0f} s")


def _write(data, metadata, folder: Path) -> None:
    import numpy as np

    import core

    arrays = (list(data.values()) if isinstance(data, Mapping) else
              [v.X for v in data.views] if isinstance(data, core.Dataset) else [data])
    if any(core._dask.is_dask(X) for X in arrays):
        where = f" (its folder: {data.path})" if isinstance(data, core.Dataset) and data.path else ""
        raise core.EmbedLensInputError(
            f"holds out-of-core views (dask arrays){where}: show() would copy them into memory; serve the "
            "dataset's folder instead (`embedlens serve DATA_DIR`; README, Scale-out), where the pages show a "
            "seeded sample and compute exact sums over every item on Dask", source="show")
    if isinstance(data, core.Dataset):
        meta = data.metadata if metadata is None else metadata
        w = core.writer(folder, metadata=meta if len(getattr(meta, "columns", meta)) else None,
                        description=data.description or None, id_column=data.id_column)
        keys = [(v.run, v.layer, v.step, v.modality) for v in data.views]
        unique = len(set(keys)) == len(keys)  # else the view names tell them apart
        for v in data.views:
            w.add(v.X, run=v.run, layer=v.layer if unique else (v.layer or v.name), step=v.step,
                  modality=v.modality or None, extra=dict(v.extra) or None)
    elif isinstance(data, Mapping):
        if not data:
            raise core.EmbedLensInputError("is an empty dict; pass {name: matrix, ...}", source="show")
        w = core.writer(folder, metadata=metadata)
        for name, X in data.items():
            w.add(X, run="", layer=str(name), step=None)
    else:
        w = core.writer(folder, metadata=metadata)
        w.add(data if hasattr(data, "shape") else np.asarray(data), run="", layer="", step=None)


def show(data, metadata=None, *, name: str | None = None, port: int | None = None,
         height: int = 800, timeout: float = 120) -> str:
    """Open ``data`` in EmbedLens: write it to a temporary data folder, serve it, return its link.

    Parameters
    ----------
    data : array-like of shape (n, d), dict of name -> array, or core.Dataset
        One matrix (one view), several row-aligned matrices (one view each, named by the keys),
        or a loaded dataset (its views with their labels, and its metadata).
    metadata : DataFrame or dict of columns, optional
        One row per item (labels colour the map, text shows on hover).
    name : str, optional
        The dataset's name in the app (default ``show-1``, ``show-2``, ...).
    port : int, optional
        Port of a new server (default: a free one); ignored when a server is running.
    height : int, default=800
        Height of the IFrame in Jupyter, in pixels.
    timeout : float, default=120
        Seconds to wait for a new server to answer.

    Returns
    -------
    str
        The URL of the dataset in the running app (``http://127.0.0.1:PORT/?ds=NAME``).

    Raises
    ------
    EmbedLensInputError
        ``data`` or ``metadata`` cannot be written (not a numeric matrix, another row count,
        views of different row counts, ...); nothing is served then.
    RuntimeError
        The server exited or did not answer within ``timeout`` (its log is in the message).
    """
    count = _STATE.get("count", 0) + 1
    name = _NAME.sub("_", name).strip("._") if name else f"show-{count}"
    if not _alive():
        stop()
        _start(port, timeout)
    _STATE["count"] = count
    folder = _STATE["root"] / name
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    try:
        _write(data, metadata, folder)
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    url = f"{server_url()}/?ds={name}"
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None and "IPKernelApp" in get_ipython().config:
        from IPython.display import IFrame, display

        display(IFrame(url, width="100%", height=height))
    else:
        print(f"EmbedLens: {url}", file=sys.stdout, flush=True)
    return url
