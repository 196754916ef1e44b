"""Fixtures for the indexes tests: the hash embedder and seeded synthetic vectors."""

from __future__ import annotations

import pytest

from indexes import EmbedderSpec, HashEmbedder

from .helpers import HASH_SPEC


@pytest.fixture
def hash_spec() -> EmbedderSpec:
    return HASH_SPEC


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder(HASH_SPEC)
