"""README's command-line examples (the ```console block) run as written, from a folder of their
own, against the checkout's sample data."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _console_commands() -> list[list[str]]:
    block = re.search(r"```console\n(.*?)```", README, re.S).group(1)
    return [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]


def test_readme_cli_examples_run(tmp_path):
    commands = _console_commands()
    assert [c[:2] for c in commands] == [["embedlens", "metrics"], ["embedlens", "report"]]
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    for argv in commands:
        out = subprocess.run([sys.executable, "-m", "dashboard.cli", *argv[1:]], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr[-3000:]
    table = pd.read_csv(tmp_path / "metrics.csv")
    assert len(table) == 30 and list(table.columns[-2:]) == ["participation_ratio", "knn_purity"]
    assert table["knn_purity"].between(0, 1).all()
    assert "seed0/hidden1/epoch100" in (tmp_path / "report.html").read_text()
