"""Fixtures of the fault suite: a service on the hash embedder with short, fast timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator import Settings, Switchover
from tests.conftest import hash_settings
from tests.faults.faults import FaultyEmbedder, docs

TARGET_TIMEOUT_S = 0.25  # how long a request waits for the target (the product default is 2 s)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared settings with a short target timeout (the shared ``client`` uses them)."""
    return hash_settings(tmp_path / "home", target_timeout_s=TARGET_TIMEOUT_S)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    service = Switchover(settings)
    service.upsert(docs(range(60)))
    yield service
    for runtime in service.registry.all():  # a fault left on must not hang the shutdown
        if isinstance(runtime.embedder, FaultyEmbedder):
            runtime.embedder.heal()
    service.close(snapshot=False)


@pytest.fixture
def app_service(svc: Switchover) -> Switchover:
    """The shared ``client`` serves ``svc``, which the tests put faults into."""
    return svc
