"""core._umap_compat: the version guard and the private-internals hooks log or raise, never pass silently."""

from __future__ import annotations

import ast
import logging
import tomllib
from pathlib import Path

import pytest

from core import _umap_compat

ROOT = Path(__file__).resolve().parents[2]
UMAP_INTERNAL_MODULES = ("umap.layouts", "umap.aligned_umap", "umap.spectral", "umap.umap_", "umap.utils")
UMAP_PRIVATE_ATTRS = {"_a", "_b", "_cache", "enable_caching"}


def test_kind_version_guard_checked_range_is_the_pinned_range():
    """pyproject.toml pins umap-learn to the range this code was checked against (CHECKED)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("umap-learn")]
    low, high = spec.removeprefix("umap-learn>=").split(",<")
    assert low == _umap_compat.CHECKED[0]
    assert _umap_compat._release(_umap_compat.CHECKED[1]) < _umap_compat._release(high)
    lowest = (ROOT / "tests" / "lowest.txt").read_text()
    assert f"umap-learn=={_umap_compat.CHECKED[0]}" in lowest


@pytest.mark.parametrize("found, ok", [("0.5.7", True), ("0.5.12", True), ("0.5.9", True), ("0.5.6", False),
                                       ("0.5.13", False), ("0.6.0", False), (None, False)])
def test_kind_version_guard_unchecked_version_logged(monkeypatch, caplog, found, ok):
    monkeypatch.setattr(_umap_compat, "installed_version", lambda: found)
    with caplog.at_level(logging.WARNING, logger="core._umap_compat"):
        assert _umap_compat.check_version() is ok
    warned = [r for r in caplog.records if r.name == "core._umap_compat" and r.levelno == logging.WARNING]
    if ok:
        assert warned == []
    else:
        assert len(warned) == 1
        assert f"umap-learn {found} is outside" in warned[0].getMessage()
        assert "0.5.7 to 0.5.12" in warned[0].getMessage()


def test_kind_version_guard_checked_on_first_import(monkeypatch, caplog):
    monkeypatch.setattr(_umap_compat, "_READY", False)
    monkeypatch.setattr(_umap_compat, "installed_version", lambda: "0.6.1")
    with caplog.at_level(logging.WARNING, logger="core._umap_compat"):
        umap = _umap_compat.import_umap()
    assert umap.__name__ == "umap"
    assert any("umap-learn 0.6.1 is outside" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("error", [AttributeError("'CPUDispatcher' object has no attribute '_cache'"),
                                   RuntimeError("cannot cache function: no locator available")])
def test_kind_silent_except_failing_private_hook_logged(monkeypatch, caplog, error):
    """A failing speed-up hook (umap-learn renamed a private attribute) logs a warning; the import works."""
    def broken():
        raise error

    monkeypatch.setattr(_umap_compat, "_READY", False)
    monkeypatch.setattr(_umap_compat, "_dispatchers", broken)
    with caplog.at_level(logging.WARNING, logger="core._umap_compat"):
        umap = _umap_compat.import_umap()
    assert umap.__name__ == "umap" and _umap_compat._READY
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("numba disk cache for umap-learn" in m and type(error).__name__ in m and str(error) in m
               for m in messages), messages


def test_kind_silent_except_missing_private_function_names_versions():
    with pytest.raises(ImportError, match=r"umap.layouts._no_such_epoch.*checked against umap-learn 0.5.7 to "
                                          r"0.5.12"):
        _umap_compat.private("umap.layouts", "_no_such_epoch")
    assert _umap_compat.private("umap.umap_", "make_epochs_per_sample").__name__ == "make_epochs_per_sample"


def _private_umap_uses(path: Path) -> list[str]:
    """umap-learn internals a module touches: imports from its internal modules, private attributes."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(UMAP_INTERNAL_MODULES):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(UMAP_INTERNAL_MODULES)]
        elif isinstance(node, ast.Attribute) and node.attr in UMAP_PRIVATE_ATTRS:
            found.append(f".{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in UMAP_INTERNAL_MODULES:
            found.append(node.value)
    return found


def test_kind_private_internals_only_in_the_compat_module():
    """Every use of umap-learn's private internals is in core/_umap_compat.py, behind the guard."""
    users = {str(p.relative_to(ROOT)): _private_umap_uses(p) for p in (ROOT / "core").rglob("*.py")}
    assert {k for k, v in users.items() if v} == {"core/_umap_compat.py"}


def test_kind_silent_except_no_bare_pass_handlers_in_map_modules():
    """No ``except ...: pass`` left in the map modules: a failure is logged or raised."""
    offenders = []
    for name in ("projection.py", "alignment.py", "_umap_compat.py", "warmup.py", "quality.py"):
        for node in ast.walk(ast.parse((ROOT / "core" / name).read_text())):
            if isinstance(node, ast.ExceptHandler) and all(isinstance(b, ast.Pass) for b in node.body):
                offenders.append(f"core/{name}:{node.lineno}")
    assert offenders == []
