"""Shared fixtures: settings on a temporary home, with the fast hash embedder by default.

Also the one operator header (:data:`OPERATOR`) and the one seeding helper
(:func:`seed_documents`) every test that talks HTTP uses, and :func:`migration`, the request
every test that creates a migration on the facade sends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexes import EmbedderSpec, IndexSpec, SearchParams
from migrator import MigrationRequest, Plan, Settings, Switchover, TargetRequest
from tests.pgserver import pg_server, pg_url  # noqa: F401 - shared fixtures, by name

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parent.parent
SQUAD_DIR = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))
SAMPLE_DIR = REPO / "data" / "sample"

HASH_EMBEDDER = EmbedderSpec(kind="hash", dim=64)
OPERATOR_TOKEN = "test-operator-token"  # noqa: S105 - a fixture value, not a secret
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}  # the header of an operator call


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
def service(settings: Settings) -> Iterator[Switchover]:
    svc = Switchover(settings)
    yield svc
    svc.close(snapshot=False)


def squad_dir() -> Path:
    """The shared SQuAD folder; missing it is a failure, not a skip (CI always has it)."""
    if not (SQUAD_DIR / "corpus.jsonl").is_file():
        pytest.fail(f"SQuAD retrieval set not found at {SQUAD_DIR} (set SWITCHOVER_SQUAD_DIR)")
    return SQUAD_DIR
