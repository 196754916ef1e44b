"""The HTTP adapter says what it offers; the command line and its libraries stay in ``api/cli``."""

from __future__ import annotations

from pathlib import Path

import api
from tests.imports import imported_modules, imported_roots

PACKAGE = Path(api.__file__).parent
HTTP_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts)


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(api.__all__) == {"STATUS_BY_ERROR", "create_app"}
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_http_modules_do_not_import_the_command_line_libraries() -> None:
    assert PACKAGE / "app.py" in HTTP_MODULES
    for path in HTTP_MODULES:
        found = imported_roots(path) & {"click", "tqdm"}
        assert not found, f"{path.relative_to(PACKAGE)} imports {sorted(found)}"


def test_http_modules_never_import_the_command_line() -> None:
    for path in HTTP_MODULES:
        found = {m for m in imported_modules(path) if m == "api.cli" or m.startswith("api.cli.")}
        assert not found, f"{path.relative_to(PACKAGE)} imports {sorted(found)}"
