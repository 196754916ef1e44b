"""What a package's modules import, read from their source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    """``migrator/store/log.py`` -> ``migrator.store.log``; ``__init__`` names the package."""
    parts = path.resolve().relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module one source file imports, as absolute dotted names."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            prefix = ".".join(base) if node.level else ""
            name = ".".join(p for p in (prefix, node.module or "") if p)
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def imported_roots(path: Path) -> set[str]:
    """The top-level packages one source file imports."""
    return {name.split(".")[0] for name in imported_modules(path)}
