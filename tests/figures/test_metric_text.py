"""One source for each formula's text (issue 11, item 6): core.metric_text holds every metric's
title, formula, reference and help; the pages and figures read them and keep no copy."""

from __future__ import annotations

import ast
import importlib
import re
import unicodedata
from pathlib import Path

import pytest

from core.metric_text import METRICS, metric_help, metric_title

ROOT = Path(__file__).resolve().parents[2]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _pieces(text: str) -> list[str]:
    """The literal stretches of a (template) text, long enough to be a copy and not a coincidence."""
    return [p.strip() for p in re.split(r"\{[a-z_]+\}", text) if len(p.strip()) >= 24]


def registry_texts() -> set[str]:
    out = set()
    for m in METRICS.values():
        for text in (m.formula, m.reference, m.help):
            out |= set(_pieces(text))
    return out


def _string_constants(path: Path) -> str:
    """Every string literal of a module, concatenated pieces joined (as Python joins them)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return "\n".join(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def copies(root: Path) -> dict[str, list[str]]:
    """Registry texts found in a dashboard module (or a core module other than the registry)."""
    texts = registry_texts()
    found = {}
    for p in [*(root / "dashboard").rglob("*.py"), *(root / "core").rglob("*.py")]:
        if p.name == "metric_text.py":
            continue
        strings = _string_constants(p)
        hits = sorted(t for t in texts if t in strings and not (p.parts[-2] == "core" and t in _docstrings(p)))
        if hits:
            found[str(p.relative_to(root))] = hits
    return found


def _docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text())
    return "\n".join(ast.get_docstring(n) or "" for n in ast.walk(tree)
                     if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)))


def test_kind_one_source_for_formula_texts_no_copies_in_pages_or_figures():
    assert registry_texts()
    assert copies(ROOT) == {}


def test_kind_every_shown_metric_has_one_registry_entry():
    from dashboard import point_metrics
    from dashboard.figures import spectra as fs

    pages = {p.stem: p.read_text() for p in (ROOT / "dashboard" / "app_pages").glob("*.py")}
    # Spectra: cards, trajectories and the paired view read the registry's own entries
    assert all(fs.METRICS[k] is METRICS[k] for k in fs.METRICS)
    trajectory = re.search(r"TRAJECTORY = \[(.*?)\]", pages["spectra"], re.S).group(1)
    assert set(re.findall(r'"(\w+)"', trajectory)) <= set(fs.METRICS)
    for key in ("coding_rate_all", "class_conditional_rate"):
        assert f'"{key}"' in pages["spectra"]
    # Geometry: every card's help names a registry entry
    help_keys = re.search(r"HELP = \{(.*?)\}", pages["geometry"], re.S).group(1)
    assert set(re.findall(r':\s*"(\w+)"', help_keys)) == {"intrinsic_dimension", "hubness", "knn_purity", "nc1"}
    # Map: each colour metric's label and help are its registry entry's, k filled in
    ks = {"norm": {}, "lid": {"k": point_metrics.LID_K}, "hub": {"k": point_metrics.HUB_K},
          "purity": {"k": point_metrics.PURITY_K}, "knn_preservation": {"k": 15}}
    assert set(point_metrics.REGISTRY) == set(ks)
    for key, m in point_metrics.REGISTRY.items():
        entry = "point_norm" if key == "norm" else f"point_{key}"
        assert (m.label, m.help) == (metric_title(entry, **ks[key]), metric_help(entry, **ks[key]))


@pytest.mark.parametrize("key", sorted(METRICS))
def test_kind_registry_entry_matches_its_core_docstring(key):
    """Each entry names the core function computing it, whose docstring cites the same source."""
    m = METRICS[key]
    module, _, name = m.function.rpartition(".")
    fn = getattr(importlib.import_module(module), name)
    doc = _ascii(fn.__doc__ or "")
    assert "Parameters" in doc
    for ref in filter(None, (r.strip() for r in m.reference.split(";"))):
        if ref == "Principal component analysis":
            continue
        author = _ascii(re.split(r"[ ,]", ref)[0])
        assert author in doc, (key, author, m.function)


def test_copy_finder_sees_a_copied_help_text(tmp_path):
    """The finder itself: a page string equal to a registry help is a copy."""
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "core").mkdir()
    (tmp_path / "dashboard" / "page.py").write_text(f"HELP = {METRICS['nc1'].help!r}\n")
    assert copies(tmp_path) == {"dashboard/page.py": _pieces(METRICS["nc1"].help)}
