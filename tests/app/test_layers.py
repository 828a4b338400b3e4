"""How the dashboard is layered (issue 11, item 1): the cached core calls live in the dashboard/data/
package only, without presentation; pages only wire (no import cycles: tests/test_architecture.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"


def import_graph() -> dict[str, set[str]]:
    """The project's import graph (function-level imports included): tests/test_architecture.py's,
    which also asserts it has no cycle."""
    from tests.test_architecture import _import_graph

    return _import_graph()


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
    assert len(lengths) == 6 and max(lengths.values()) < 180, lengths
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
