"""dashboard.show without Jupyter: it returns the dataset's URL, the server answers on it, a
second call reuses the server, and the data it serves is what was passed."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
import dashboard
from dashboard import notebook

from .apptest import run_app


@pytest.fixture
def shown():
    yield
    notebook.stop()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status


def test_show_serves_a_matrix_and_reuses_the_server(shown, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 8)).astype(np.float32)
    meta = pd.DataFrame({"label": np.arange(50) % 5})
    url = dashboard.show(X, meta)
    base = notebook.server_url()
    assert url == f"{base}/?ds=show-1" and base.startswith("http://127.0.0.1:")
    assert f"EmbedLens: {url}" in capsys.readouterr().out  # no IPython kernel: the link is printed
    assert _get(f"{base}/_stcore/health") == 200 and _get(url) == 200
    served = core.load(Path(notebook._STATE["root"]) / "show-1")
    np.testing.assert_array_equal(served.views[0].X, X)
    pd.testing.assert_frame_equal(served.metadata, meta)
    # a second call: the same server, a second dataset; a loaded Dataset keeps its labels
    ds = core.load(core.sample_data_dir() / "digits-paired")
    url2 = dashboard.show(ds, name="paired")
    assert url2 == f"{base}/?ds=paired" and _get(url2) == 200
    again = core.load(Path(notebook._STATE["root"]) / "paired")
    assert [v.modality for v in again.views] == [v.modality for v in ds.views]
    np.testing.assert_array_equal(again.views[1].X, ds.views[1].X)
    assert list(again.metadata.columns) == list(ds.metadata.columns)
    # the link opens that dataset in the app (the same app, on the server's data folder)
    monkeypatch.setenv("EMBEDLENS_DATA", str(notebook._STATE["root"]))
    at = run_app({"ds": "paired"})
    assert at.title[0].value == "paired"
    assert not [w.value for w in at.warning if "link" in w.value]
    assert at.selectbox(key="w.dataset").options == ["paired", "show-1"]


def test_show_refuses_bad_input_before_serving_it(shown):
    with pytest.raises(core.EmbedLensInputError, match="metadata: has 3 rows but X has 4"):
        dashboard.show(np.eye(4), {"label": [1, 2, 3]})
    with pytest.raises(core.EmbedLensInputError, match="X has 3 rows but the views already"):
        dashboard.show({"a": np.eye(4), "b": np.eye(3)})
    da = pytest.importorskip("dask.array")
    with pytest.raises(core.EmbedLensInputError, match="out-of-core views .* serve the dataset's folder"):
        dashboard.show(da.zeros((10, 4), chunks=5))  # never copied into memory
    with pytest.raises(core.EmbedLensInputError, match="out-of-core views"):
        dashboard.show({"a": np.eye(4), "b": da.eye(4, chunks=2)})
