"""How the dashboard is layered (issue 11, item 1): no import cycles, lazy imports included; the
cached core calls live in the dashboard/data/ package only, without presentation; pages only wire."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in DASHBOARD.rglob("*.py") if "app_pages" not in p.parts}


def import_graph() -> dict[str, set[str]]:
    """Every import of every dashboard module -- at the top or inside a function -- as an edge to
    the dashboard module it loads (``from pkg import name`` loads ``pkg.name`` when that is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:  # a name inside a module: the module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_kind_no_import_cycles_in_dashboard_lazy_imports_included():
    graph = import_graph()
    assert "dashboard.point_metrics" in graph and graph["dashboard.point_metrics"]  # the walk sees imports
    assert cycles(graph) == []


def test_cycle_finder_sees_a_cycle_through_a_function_local_import():
    """The finder itself: the unfixed layering (data -> map_view -> point_metrics -> data, the last
    edge inside a function) is a cycle."""
    graph = {"dashboard.data": {"dashboard.map_view"}, "dashboard.map_view": {"dashboard.point_metrics"},
             "dashboard.point_metrics": {"dashboard.data"}, "dashboard.jobs": set()}
    assert cycles(graph) == [["dashboard.data", "dashboard.map_view", "dashboard.point_metrics"]]


PRESENTATION = ("dashboard.figures", "dashboard.views", "dashboard.map_view", "dashboard.map_panels",
                "dashboard.point_metrics", "dashboard.app_pages", "dashboard.context", "dashboard.sidebar",
                "dashboard.state", "dashboard.session")


def test_kind_cache_decorators_only_in_the_data_package_without_presentation():
    holders = sorted(str(p.relative_to(ROOT)) for p in DASHBOARD.rglob("*.py")
                     if "st.cache_data" in p.read_text() or "st.cache_resource" in p.read_text())
    assert holders and all(h.startswith("dashboard/data/") for h in holders), holders
    graph = import_graph()
    data_modules = [m for m in graph if m == "dashboard.data" or m.startswith("dashboard.data.")]
    assert len(data_modules) >= 4  # shared + one module per page family
    loads = {m: sorted(t for t in graph[m] if t.startswith(PRESENTATION)) for m in data_modules}
    assert {m: t for m, t in loads.items() if t} == {}


def test_kind_pages_only_wire_well_under_200_lines():
    pages = sorted((DASHBOARD / "app_pages").glob("*.py"))
    lengths = {p.name: len(p.read_text().splitlines()) for p in pages}
    assert len(lengths) == 4 and max(lengths.values()) < 180, lengths
    late = {}
    for p in pages:  # no global set below the functions that read it (the Geometry page's LABELS)
        body = ast.parse(p.read_text()).body
        first_def = next(i for i, node in enumerate(body) if isinstance(node, ast.FunctionDef))
        names = sorted({n.id for node in body[first_def:] if not isinstance(node, (ast.FunctionDef, ast.ClassDef))
                        for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                        and n.id.isupper()})
        if names:
            late[p.name] = names
    assert late == {}


def test_kind_magic_output_no_bare_strings_in_page_scripts():
    """Streamlit's "magic" writes a bare expression of a page script onto the page: a string
    meant as an attribute docstring (``HELP = {...}`` then ``\"\"\"...\"\"\"``) showed at the top of
    the Geometry page. Only the module docstring may be a bare string."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "dashboard"
    found = []
    for path in [*sorted((root / "app_pages").glob("*.py")), root / "app.py"]:
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for node in body[1:]:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
