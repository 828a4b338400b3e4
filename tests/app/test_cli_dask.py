"""`embedlens --dask`: checked before any work, passed to the server, opened around the metrics CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dashboard import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["local", "threads", "tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://h.example:8786"])
def test_dask_values_accepted_by_every_command(value):
    parser = cli.build_parser()
    assert parser.parse_args(["metrics", "x", "--dask", value]).dask == value
    assert parser.parse_args(["report", "x", "--out", "r.html", "--dask", value]).dask == value
    assert parser.parse_args(["serve", "--dask", value]).dask == value


@pytest.mark.parametrize("value", ["cluster", "tcp://h", "http://h:8786", "h:70000"])
def test_dask_values_refused_as_usage_errors_before_any_work(value, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_load_for_command", lambda *a: pytest.fail("loaded data before checking --dask"))
    for argv in (["metrics", str(tmp_path), "--dask", value], [str(tmp_path), "--dask", value]):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument --dask: {value!r} is not 'local', 'threads' or a scheduler address" in err


def test_help_documents_dask():
    for command in ("serve", "metrics", "report"):
        text = cli.build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "--dask ADDRESS" in text and "tcp://HOST:8786" in text


@pytest.mark.parametrize("argv", [["serve"], []])
def test_serve_passes_the_setting_to_streamlit(argv, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda path, cmd, env: calls.append((path, cmd, env)))
    monkeypatch.delenv("EMBEDLENS_DASK", raising=False)
    cli.main([*argv, str(tmp_path), "--dask", "tcp://10.0.0.5:8786", "--port", "8611"])
    cli.main([*argv, str(tmp_path), "--port", "8612"])
    (path, cmd, env), (_, _, env_default) = calls
    assert path == sys.executable and cmd[1:4] == ["-m", "streamlit", "run"]
    assert env["EMBEDLENS_DASK"] == "tcp://10.0.0.5:8786"
    assert "EMBEDLENS_DASK" not in env_default  # no flag: the server's default (a local cluster)


def _dataset(folder: Path) -> Path:
    """Three .npy shards of a run (row-aligned views of 300 items) and their labels."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(4)
    base = rng.standard_normal((300, 16)).astype(np.float32)
    for i in range(3):
        np.save(folder / f"shard-{i}.npy", base + 0.5 * i * rng.standard_normal((300, 16)).astype(np.float32))
    (folder / "metadata.csv").write_text("label\n" + "\n".join(str(i % 3) for i in range(300)) + "\n")
    return folder


def _metrics(path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dashboard.cli", "metrics", str(path), "--out", str(out),
                           "--metrics", "participation_ratio,effective_rank,knn_purity", *extra],
                          cwd=out.parent, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _sharded(folder: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """An out-of-core dataset: one view as a folder of uneven .npy shards (a manifest names it), labels."""
    rng = np.random.default_rng(5)
    labels = np.arange(900) % 3
    X = (rng.standard_normal((3, 16))[labels] * 2 + rng.standard_normal((900, 16))).astype(np.float32)
    (folder / "emb").mkdir(parents=True)
    for i, (s, e) in enumerate([(0, 100), (100, 101), (101, 900)]):
        np.save(folder / "emb" / f"part-{i}.npy", X[s:e])
    (folder / "metadata.csv").write_text("label\n" + "\n".join(map(str, labels)) + "\n")
    (folder / "embedlens.toml").write_text('metadata = "metadata.csv"\n[[views]]\nfile = "emb"\n')
    return folder, X, labels


def test_metrics_of_an_out_of_core_view_on_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    import core

    data, X, labels = _sharded(tmp_path / "big")
    plain = _metrics(data, tmp_path / "plain.json")
    on_dask = _metrics(data, tmp_path / "dask.json", "--dask", "local")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert on_dask.returncode == 0, on_dask.stderr[-2000:]
    assert "Dask: LocalCluster · " in on_dask.stderr
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("plain.json", "dask.json"))
    assert a["views"] == b["views"]  # the same numbers on dask's threads and on the cluster
    s = core.spectrum(X)  # in memory: the independent path
    (row,) = b["views"]
    assert row["n"] == 900
    assert row["participation_ratio"] == pytest.approx(core.participation_ratio(s), rel=1e-6)
    assert row["effective_rank"] == pytest.approx(core.effective_rank(s), rel=1e-6)
    est = core.sampled_knn_metric(X, kind="knn_purity", labels=labels.astype(str), k=10, metric="cosine",
                                  sample_size=2000, seed=0, stratify=labels.astype(str))
    assert row["knn_purity"] == pytest.approx(est.value)  # 900 < 2,000: every item, exact neighbours


def test_metrics_with_a_local_cluster_writes_the_same_numbers(tmp_path):
    pytest.importorskip("distributed")
    data = _dataset(tmp_path / "run")
    plain = _metrics(data, tmp_path / "plain.json")
    on_dask = _metrics(data, tmp_path / "dask.json", "--dask", "local")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert on_dask.returncode == 0, on_dask.stderr[-2000:]
    assert "Dask: LocalCluster · " in on_dask.stderr and "Dask:" not in plain.stderr
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("plain.json", "dask.json"))
    assert [v["view"] for v in a["views"]] == ["shard-0", "shard-1", "shard-2"]
    assert all(0 < v["participation_ratio"] <= 16 and 0 <= v["knn_purity"] <= 1 for v in a["views"])
    assert a["views"] == b["views"] and a["metrics"] == b["metrics"]


def test_metrics_with_an_unreachable_scheduler_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = ("import dashboard.cluster as c, dashboard.cli as cli; c.CONNECT_TIMEOUT_S = 1.0; "
            f"cli.main(['metrics', {str(_dataset(tmp_path / 'run'))!r}, '--quiet', '--dask', 'tcp://127.0.0.1:{port}'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        next(line for line in out.stderr.splitlines() if line.startswith("embedlens metrics: Dask: no scheduler"))]
    assert f"tcp://127.0.0.1:{port} within 1 s" in out.stderr


def test_report_of_an_out_of_core_view_maps_a_declared_sample(tmp_path, monkeypatch):
    import core
    from dashboard import report

    data, X, _ = _sharded(tmp_path / "big")
    monkeypatch.setattr(report, "MAP_SAMPLE", 300)
    ds = core.load(data)
    assert ds.lazy
    out = tmp_path / "r.html"
    report.write_report(ds, out, map_method="pca")
    text = out.read_text()
    assert "PCA map, seed 0, a seeded uniform sample of 300 of 900 items" in text
    assert "out of core (900 items); intrinsic_dimension and hubness on" in text  # the metrics' notes
