"""The core says what it offers, and never reaches up into an adapter or its libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import migrator
from tests.imports import imported_roots

PACKAGE = Path(migrator.__file__).parent

EXPECTED = {
    "ActionRequest",
    "ConfigChange",
    "MigrationRequest",
    "Plan",
    "PlanUpdate",
    "PowerRequest",
    "RebuildRequest",
    "SearchParamsChange",
    "TargetRequest",
    "BackfillProgress",
    "CatalogEntry",
    "ConfigView",
    "Document",
    "DocumentIn",
    "EvalRequest",
    "EvalSetInfo",
    "EvalStarted",
    "HealthInfo",
    "IndexInfo",
    "Limits",
    "LogRecord",
    "MigrationEstimate",
    "MigrationKnobs",
    "MigrationStatus",
    "SearchQuery",
    "SearchResult",
    "Settings",
    "SnapshotWritten",
    "SqliteStore",
    "Store",
    "Switchover",
    "check_home",
    "WriteResult",
    "load_settings",
}

# The adapters (HTTP, the command line) and the libraries only they use.
ADAPTERS = {"api", "click", "uvicorn", "httpx", "tqdm", "fastapi", "starlette"}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(migrator.__all__) == EXPECTED
    for name in migrator.__all__:
        assert getattr(migrator, name) is not None


def test_no_module_imports_an_adapter_or_its_libraries() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert PACKAGE / "store" / "__init__.py" in modules, "nested packages are checked too"
    for path in modules:
        found = imported_roots(path) & ADAPTERS
        assert not found, f"{path.relative_to(PACKAGE)} imports {sorted(found)}"


def test_importing_the_core_loads_no_adapter_library_nor_torch() -> None:
    # click is not in the list: sqlite-utils, the store's library, imports it for its own
    # CLI; the test above keeps our own modules from importing it.
    heavy = sorted((ADAPTERS - {"click"}) | {"torch", "sentence_transformers"})
    code = (
        "import sys, migrator;"
        f" print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert out.stdout.strip() == "[]"
