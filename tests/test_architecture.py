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


# --------------------------------------------------------------------------- kind: import cycles


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file (top level, inside functions,
    under ``if TYPE_CHECKING``), relative and absolute; ``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module, else ``pkg`` itself."""
    files = {_module_name(p): p for top in ("core", "dashboard") for p in (ROOT / top).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # "core.selection.points_in_box" -> "core.selection"
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected component of more than one module."""
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for comp in sorted(sccs):
        start, members = comp[0], set(comp)
        paths, seen = {start: [start]}, {start}
        frontier, cycle = [start], None
        while frontier and cycle is None:  # breadth first: the shortest way back to start
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & members):
                    if w == start:
                        cycle = paths[v] + [start]
                        break
                    if w not in seen:
                        seen.add(w)
                        paths[w] = paths[v] + [w]
                        nxt.append(w)
                if cycle:
                    break
            frontier = nxt
        out.append(cycle)
    return out


KNOWN_CYCLES: list[list[str]] = []  # none: keep it so


def test_kind_import_cycles_none_lazy_imports_included():
    """No import cycles among core/ and dashboard/ modules, counting imports inside functions: a lazy
    import only hides a cycle until the import order changes."""
    assert _cycles(_import_graph()) == KNOWN_CYCLES


def test_kind_import_cycles_the_graph_sees_lazy_and_relative_imports():
    graph = _import_graph()
    assert "dashboard.data" in graph["dashboard.point_metrics"]  # `from dashboard import data` in a function
    assert "dashboard.state" in graph["dashboard.session"]  # `from .state import ...`
    assert "core.selection" in graph["dashboard.selection_state"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
