"""Shared fixtures: settings on a temporary home, with the fast hash embedder by default.

Also the one HTTP client (the :func:`client` fixture, made by :func:`open_client`), the one
operator header (:data:`OPERATOR`) and the one seeding helper (:func:`seed_documents`) every
test that talks HTTP uses, and :func:`migration`, the request every test that creates a
migration on the facade sends.

A module that needs the client over other settings overrides ``settings``; one whose tests
also drive (or break) the service the client serves overrides ``app_service``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi.testclient import TestClient

from api import create_app
from indexes import EmbedderSpec, IndexSpec, SearchParams
from migrator import MigrationRequest, Plan, Settings, Switchover, TargetRequest
from tests.pgserver import pg_server, pg_url  # noqa: F401 - shared fixtures, by name
from tests.server import operator_header

REPO = Path(__file__).resolve().parent.parent
SQUAD_DIR = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))
SAMPLE_DIR = REPO / "data" / "sample"

HASH_EMBEDDER = EmbedderSpec(kind="hash", dim=64)
OPERATOR_TOKEN = "test-operator-token"  # noqa: S105 - a fixture value, not a secret
OPERATOR = operator_header(OPERATOR_TOKEN)  # the header of an operator call


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """``serve`` run in-process configures the root logger: undo it after every test.

    Otherwise its handler, bound to a stream the CLI runner has closed, stays for the next
    test in the same worker (which then sees one handler too many, or a logging error).
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def seed_documents(client: TestClient, count: int) -> None:
    """Write documents ``d0 .. d{count-1}``, text ``lamp tide gear number {i}``, over HTTP."""
    docs = [{"id": f"d{i}", "text": f"lamp tide gear number {i}"} for i in range(count)]
    response = client.put("/v1/documents", json={"documents": docs})
    assert response.status_code == 200, response.text


def migration(
    name: str = "v2",
    factory: str = "Flat",
    *,
    metric: str = "ip",
    embedder: EmbedderSpec | None = None,
    search_params: SearchParams | None = None,
    **plan: Any,
) -> MigrationRequest:
    """A request for a migration to ``name`` (the source's embedder unless given; the plan's
    knobs as keywords, e.g. ``shadow_sample=1.0``)."""
    params = search_params or SearchParams()
    target = TargetRequest(name, factory, metric, embedder=embedder, search_params=params)
    return MigrationRequest(target, Plan(**plan))


@contextmanager
def open_client(
    settings: Settings, service: Switchover | None = None, *, documents: int = 0
) -> Iterator[TestClient]:
    """The app over ``settings`` (or over ``service``, which the caller opened and closes),
    its lifespan running, with ``documents`` documents seeded by :func:`seed_documents`."""
    with TestClient(create_app(settings, service=service)) as http:
        if documents:
            seed_documents(http, documents)
        yield http


def hash_settings(home: Path, factory: str = "Flat", **overrides: Any) -> Settings:
    spec = IndexSpec(name="v1", embedder=HASH_EMBEDDER, factory=factory)
    overrides.setdefault("operator_tokens", {"tester": OPERATOR_TOKEN})
    # eval sets come from the sample folder or from folders a test writes next to the home
    overrides.setdefault("eval_data_roots", (home.parent, SAMPLE_DIR))
    return Settings(home=home, default_index=spec, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return hash_settings(tmp_path / "home")


@pytest.fixture
def app_service() -> Switchover | None:
    """The service :func:`client` serves; None: the app opens its own over ``settings``."""
    return None


@pytest.fixture
def client(
    settings: Settings, app_service: Switchover | None, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """The one HTTP client of the tests; a test or module marked ``documents(n)`` starts
    with documents ``d0 .. d{n-1}`` written."""
    marker = request.node.get_closest_marker("documents")
    with open_client(settings, app_service, documents=marker.args[0] if marker else 0) as http:
        yield http


@pytest.fixture
def service(settings: Settings) -> Iterator[Switchover]:
    svc = Switchover(settings)
    yield svc
    svc.close(snapshot=False)


def squad_dir() -> Path:
    """The shared SQuAD folder; missing it is a failure, not a skip (CI always has it)."""
    if not (SQUAD_DIR / "corpus.jsonl").is_file():
        pytest.fail(f"SQuAD retrieval set not found at {SQUAD_DIR} (set SWITCHOVER_SQUAD_DIR)")
    return SQUAD_DIR


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n`` (``make test``), the long tests go out first.

    The workers take tests in collection order, so a long end-to-end test collected last
    would run alone at the end while the other worker idles: started first, the short
    tests fill in around them. A serial run keeps the plain collection order.
    """
    if not config.getoption("numprocesses", None):
        return

    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is None:
            return 2
        return 0 if "tests/e2e/" in item.nodeid else 1

    items.sort(key=weight)  # stable: collection order within each weight
