"""Layering rules that keep core usable without a browser."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_core_never_imports_streamlit_or_plotly_anywhere():
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"streamlit", "plotly", "dashboard"})
        for p in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_core_loads_neither_streamlit_nor_plotly():
    code = "import sys, core; print(sorted(m for m in ('streamlit', 'plotly') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_figures_do_not_import_streamlit():
    for p in (ROOT / "dashboard" / "figures").rglob("*.py"):
        assert "streamlit" not in _imports(p), p


def test_only_data_py_holds_cache_decorators():
    holders = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "dashboard").rglob("*.py")
        if "st.cache_data" in p.read_text() or "st.cache_resource" in p.read_text()
    )
    assert holders and all(h.startswith("dashboard/data/") for h in holders), holders


def test_no_pickle_loading_anywhere():
    for p in list((ROOT / "core").rglob("*.py")) + list((ROOT / "dashboard").rglob("*.py")):
        text = p.read_text()
        assert "allow_pickle=True" not in text and "pickle.load" not in text, p
