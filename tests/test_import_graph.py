"""Dependencies point one way: no module imports in a circle, and the HTTP adapter calls the
facade's methods, never the parts the facade is made of."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.imports import REPO as ROOT
from tests.imports import module_name

PACKAGES = ("indexes", "evals", "migrator", "api", "client")


def modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: at its top level, or in a top-level if/try
    (``if TYPE_CHECKING:`` included: a circle there is still one). Not in functions."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):
            pending += node.body + node.orelse
            if isinstance(node, ast.Try):
                pending += [stmt for handler in node.handlers for stmt in handler.body]
                pending += node.finalbody


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules ``name`` (at ``path``) imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
            continue
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        if node.level == 0:
            base = []
        module = ".".join([*base, *([node.module] if node.module else [])])
        # ``from .pkg import name``: name may be a module of its own
        submodules = {f"{module}.{alias.name}" for alias in node.names}
        found |= {m for m in submodules if m in known} or {module}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_relative_and_absolute_imports() -> None:
    graph = import_graph()
    assert "migrator.moves" in graph["migrator.service"], "from .moves import PhaseMoves"
    assert "api.evals" in graph["api.app"], "from . import evals"
    assert "migrator" in graph["api.deps"], "from migrator import Switchover"


def test_no_module_imports_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def facade_parts() -> set[str]:
    """The attributes ``Switchover`` assigns to itself: the parts behind the facade."""
    tree = ast.parse((ROOT / "migrator" / "service.py").read_text(encoding="utf-8"))
    facade = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Switchover")
    return {
        target.attr
        for node in ast.walk(facade)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }


def test_the_http_adapter_reaches_no_part_behind_the_facade() -> None:
    parts = facade_parts() - {"settings"}  # the app has its own settings
    assert {"store", "registry", "moves", "reads", "watchdog", "evals", "config"} <= parts
    allowed = {ROOT / "api" / "deps.py"}
    reached = []
    for path in sorted((ROOT / "api").rglob("*.py")):
        if path in allowed or "cli" in path.relative_to(ROOT / "api").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in parts | {"migrations"}
                and is_the_service(node.value)
            ):
                reached.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
            if (  # getattr(service, "store", None) reaches in just as well
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and any(
                    isinstance(arg, ast.Constant) and arg.value in parts | {"migrations"}
                    for arg in node.args
                )
            ):
                reached.append(f"{path.relative_to(ROOT)}:{node.lineno} getattr")
    assert reached == []


def is_the_service(node: ast.expr) -> bool:
    """``svc``, ``service`` or ``<anything>.service`` (``request.app.state.service``)."""
    if isinstance(node, ast.Name):
        return node.id in {"svc", "service"}
    return isinstance(node, ast.Attribute) and node.attr == "service"
