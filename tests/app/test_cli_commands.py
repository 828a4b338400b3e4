"""`embedlens metrics`, `embedlens report` and `embedlens serve` as a user runs them (subprocess),
with the numbers checked against direct computations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core
from core.report import REPORT_METRICS
from dashboard import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "digits-mlp"
VIEWS = "seed0/hidden1/epoch001,seed2/hidden2/epoch100"


def _run(*args, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "dashboard.cli", *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


def _participation_ratio(X: np.ndarray) -> float:
    """(sum l)^2 / sum l^2 of the centred covariance, in float64 with numpy (an independent route)."""
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(0)
    lam = np.linalg.eigvalsh(Xc.T @ Xc / len(X))
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def _purity(X: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean share of the k cosine nearest neighbours with the same label (scikit-learn's search)."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(X).kneighbors(X, return_distance=False)[:, 1:]
    return float((labels[idx] == labels[:, None]).mean())


def test_metrics_json_for_chosen_views_and_metrics(tmp_path):
    out = tmp_path / "report.json"
    res = _run("metrics", SAMPLE, "--views", VIEWS, "--metrics", "participation_ratio,knn_purity,vendi",
               "--out", out)
    assert res.stdout == ""
    assert "100%" in res.stderr and "2 views x 3 metrics" in res.stderr  # the progress bar, on stderr
    report = json.loads(out.read_text())
    ds = core.load(SAMPLE)
    assert report["dataset"] == "digits-mlp" and report["fingerprint"] == ds.fingerprint
    assert list(report["metrics"]) == ["participation_ratio", "knn_purity", "vendi"]
    assert report["params"]["label"] == "label" and report["params"]["k"] == 10
    for row, name in zip(report["views"], VIEWS.split(",")):
        X = ds.view(name).X
        assert row["view"] == name and row["n"] == 1797
        assert row["participation_ratio"] == pytest.approx(_participation_ratio(X), rel=1e-4)
        assert row["knn_purity"] == pytest.approx(_purity(X, ds.metadata["label"].to_numpy(), 10), abs=2e-3)
        assert row["vendi"] == pytest.approx(float(core.vendi_score(X)), rel=1e-6)


def test_metrics_csv_to_stdout_quietly_and_every_default_metric():
    res = _run("metrics", SAMPLE, "--views", "seed1/hidden2/epoch010", "--format", "csv", "--quiet")
    assert res.stderr == ""
    from io import StringIO

    table = pd.read_csv(StringIO(res.stdout))
    assert list(table.columns[:9]) == ["dataset", "view", "run", "layer", "step", "modality", "n", "d",
                                       "fingerprint"]
    assert list(table.columns[9:]) == list(REPORT_METRICS)
    assert table.loc[0, "step"] == 10 and table[list(REPORT_METRICS)].notna().all(axis=None)


def test_metrics_errors_say_what_to_do(tmp_path):
    res = _run("metrics", SAMPLE, "--metrics", "vendi,nope", "--quiet", check=False)
    assert res.returncode == 1 and "unknown metric(s) ['nope']" in res.stderr
    res = _run("metrics", SAMPLE.parent, "--quiet", check=False)
    assert res.returncode == 1 and "looks like a data folder of 2 datasets (digits-mlp, digits-paired)" in res.stderr
    res = _run("metrics", tmp_path / "missing", check=False)
    assert res.returncode == 2 and "does not exist" in res.stderr


@pytest.mark.parametrize(("args", "said"), [
    (["metrics", SAMPLE, "--out", "/nonexistent-embedlens/x.json"], "the folder '/nonexistent-embedlens' does not exist"),
    (["report", SAMPLE, "--out", "/nonexistent-embedlens/r.html"], "the folder '/nonexistent-embedlens' does not exist"),
    (["metrics", SAMPLE, "--seed", "-3"], "argument --seed: -3 is out of range: expected 0 to 4294967295"),
    (["metrics", SAMPLE, "--k", "0"], "argument --k: 0 is out of range: expected 1 or more"),
    (["metrics", SAMPLE, "--k", "ten"], "argument --k: 'ten' is not an integer"),
    (["metrics", SAMPLE, "--views", ","], "--views names nothing"),
    (["serve", "--port", "99999"], "argument --port: 99999 is out of range: expected 1 to 65535"),
])
def test_bad_arguments_are_usage_errors_before_any_work(args, said):
    """Found by a new user: these printed a traceback (after computing every metric, for --out)."""
    res = _run(*args, check=False)
    assert res.returncode == 2 and said in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "Loading" not in res.stderr  # refused before the dataset was read


def test_rows_with_nan_name_the_flag_that_leaves_them_out(tmp_path):
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    X[3] = np.nan
    np.save(tmp_path / "v.npy", X)
    res = _run("metrics", tmp_path / "v.npy", "--metrics", "participation_ratio", "--quiet", check=False)
    assert res.returncode == 1 and "1 of 30 rows holds NaN or inf (row 3); 1 row across all views" in res.stderr
    assert "--drop-nonfinite leaves those rows out" in res.stderr and "Traceback" not in res.stderr
    res = _run("metrics", tmp_path / "v.npy", "--metrics", "participation_ratio", "--quiet", "--drop-nonfinite")
    (view,) = json.loads(res.stdout)["views"]
    assert view["n"] == 29 and view["participation_ratio"] == pytest.approx(_participation_ratio(np.delete(X, 3, 0)))


def test_every_serve_option_is_in_help_and_the_commands_are_listed():
    top = _run("--help").stdout
    assert all(c in top for c in ("serve", "metrics", "report", "DATA_DIR"))
    serve = _run("serve", "--help").stdout
    for option in ("DATA_DIR", "--port", "--address", "--max-file-mb"):
        assert option in serve
    metrics = _run("metrics", "--help").stdout
    for option in ("--out", "--format", "--metrics", "--views", "--label", "--k", "--seed", "--quiet",
                   "participation_ratio", "knn_purity"):
        assert option in metrics


@pytest.mark.parametrize("argv", [[str(SAMPLE.parent), "--port", "8611"],
                                  ["serve", str(SAMPLE.parent), "--port", "8611"]])
def test_embedlens_data_dir_still_serves(monkeypatch, argv, capsys):
    """`embedlens DATA_DIR` is `embedlens serve DATA_DIR`: the same streamlit command and data folder."""
    seen = {}
    monkeypatch.setattr(os, "execve", lambda exe, cmd, env: seen.update(cmd=cmd, env=env))
    cli.main(argv)
    assert "--server.port=8611" in seen["cmd"] and "--server.address=127.0.0.1" in seen["cmd"]
    assert seen["env"]["EMBEDLENS_DATA"] == str(SAMPLE.parent.resolve())
    assert "http://localhost:8611" in capsys.readouterr().out


def test_report_is_one_html_file_with_plotly_inline(tmp_path):
    out = tmp_path / "r.html"
    res = _run("report", SAMPLE, "--views", VIEWS, "--metrics", "participation_ratio,vendi", "--out", out)
    assert "wrote" in res.stderr
    text = out.read_text()
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in text  # plotly.js inline: opens without a server or network
    rest = text.replace(get_plotlyjs(), "")
    assert "<script src=" not in rest and "https://" not in rest
    assert rest.count("Plotly.newPlot(") == 2 + 2 * 2  # 2 trajectories, a spectrum and a map per view
    assert "seed2/hidden2/epoch100" in text and "Plotly.downloadImage" in text
    ds = core.load(SAMPLE)
    pr = _participation_ratio(ds.view("seed0/hidden1/epoch001").X)
    assert f"{pr:.4g}" in text


def test_report_images_are_rendered_on_the_server_by_kaleido(tmp_path):
    """kaleido (the formats-test extra; `export` for users) drives Debian's chromium: no download."""
    if os.environ.get("TESTS_REQUIRE_OPTIONAL_LIBS") == "1":
        import kaleido  # noqa: F401
    else:
        pytest.importorskip("kaleido", reason="kaleido is in the formats-test extra, installed by "
                                              "tests/run.sh in .venv only")
    out = tmp_path / "r.html"
    res = _run("report", SAMPLE, "--views", "seed0/hidden1/epoch100", "--metrics", "vendi", "--map", "none",
               "--images", "svg", "--out", out)
    files = sorted((tmp_path / "r_files").iterdir())
    assert [f.name for f in files] == ["seed0_hidden1_epoch100-spectrum.svg", "trajectory-vendi.svg"], res.stderr
    svg = files[0].read_text()
    assert svg.startswith("<svg") and "Eigen-spectrum" in svg
