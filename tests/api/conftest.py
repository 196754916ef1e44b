"""Helpers of the API tests; their one HTTP client is ``tests/conftest.py``'s ``client``.

:func:`service_of` reaches the facade behind a client; :func:`seed_live_migration` adds
documents, an eval set and a planned migration for the tests that meet real things.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from migrator import Switchover
from tests.conftest import OPERATOR, SAMPLE_DIR, seed_documents


def service_of(client: TestClient) -> Switchover:
    """The facade behind ``client``'s app (to wait on it or read what HTTP does not show)."""
    svc = client.app.state.service  # type: ignore[attr-defined]  # Starlette's state is untyped
    assert isinstance(svc, Switchover)
    return svc


def seed_live_migration(client: TestClient, *, documents: int, sample: int) -> None:
    """``documents`` documents ``d0..``, the eval set ``sample`` (``sample`` questions) and a
    planned migration to ``v2`` (``Flat``) judged by it."""
    seed_documents(client, documents)
    body = {"name": "sample", "path": str(SAMPLE_DIR), "sample": sample, "seed": 1}
    assert client.post("/v1/eval-sets", json=body, headers=OPERATOR).status_code == 201
    target = {"target": {"name": "v2", "factory": "Flat"}, "eval_set": "sample"}
    assert client.post("/v1/migrations", json=target, headers=OPERATOR).status_code == 201
