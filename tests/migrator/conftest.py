"""Fixtures shared by the migrator tests that judge a migration on the sample eval set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evals import load_dataset
from migrator import DocumentIn, Settings, Switchover
from tests.conftest import SAMPLE_DIR


@pytest.fixture
def sample_service(settings: Settings) -> Iterator[Switchover]:
    """A service holding the sample corpus, its questions registered as eval set ``sample``."""
    service = Switchover(settings)
    data = load_dataset(SAMPLE_DIR)
    service.upsert([DocumentIn(d.id, d.embedding_text()) for d in data.corpus])
    service.add_eval_set("sample", str(SAMPLE_DIR), sample=150, seed=1)
    yield service
    service.close(snapshot=False)
