"""Fixtures of the fault suite: a service on the hash embedder with short, fast timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from migrator import Settings, Switchover
from tests.conftest import hash_settings
from tests.faults.faults import FaultyEmbedder, docs

TARGET_TIMEOUT_S = 0.25  # how long a request waits for the target (the product default is 2 s)


@pytest.fixture
def fault_settings(tmp_path: Path) -> Settings:
    return hash_settings(tmp_path / "home", target_timeout_s=TARGET_TIMEOUT_S)


@pytest.fixture
def svc(fault_settings: Settings) -> Iterator[Switchover]:
    service = Switchover(fault_settings)
    service.upsert(docs(range(60)))
    yield service
    for runtime in service.registry.all():  # a fault left on must not hang the shutdown
        if isinstance(runtime.embedder, FaultyEmbedder):
            runtime.embedder.heal()
    service.close(snapshot=False)


@pytest.fixture
def client(fault_settings: Settings, svc: Switchover) -> Iterator[TestClient]:
    """The HTTP API over ``svc`` (which the test may put faults into)."""
    with TestClient(create_app(fault_settings, service=svc)) as http:
        yield http
