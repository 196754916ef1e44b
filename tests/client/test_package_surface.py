"""The client says what it offers and needs nothing of the server: httpx and the stdlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import client
from tests.imports import imported_roots

PACKAGE = Path(client.__file__).parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(client.__all__) == {
        "ApiError", "AsyncSwitchoverClient", "BadRequestError", "ClientError", "ConflictError",
        "Document", "Hit", "NotFoundError", "Query", "RetryPolicy", "SearchAnswer",
        "SwitchoverClient", "TransportError", "UnauthorizedError", "UnavailableError",
        "WriteAck",
    }  # fmt: skip
    for name in client.__all__:
        assert getattr(client, name) is not None


def test_it_imports_only_httpx_and_the_standard_library() -> None:
    for path in PACKAGE.rglob("*.py"):
        found = imported_roots(path) - STDLIB - {"client", "httpx"}
        assert not found, f"{path.name} imports {sorted(found)}"


def test_importing_it_loads_no_server_library() -> None:
    code = (
        "import sys, client; heavy = {'faiss', 'torch', 'numpy', 'fastapi', 'migrator'};"
        " print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
