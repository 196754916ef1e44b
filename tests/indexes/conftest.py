"""Fixtures for the indexes tests: the hash embedder and a calm FAISS thread pool."""

from __future__ import annotations

from collections.abc import Iterator

import faiss
import pytest

from indexes import EmbedderSpec, HashEmbedder

from .helpers import HASH_SPEC


@pytest.fixture(scope="package", autouse=True)
def _single_threaded_faiss() -> Iterator[None]:
    """Run FAISS on one OpenMP thread while these tests run.

    The test data is tiny, and on a busy 2-core machine OpenMP's spinning barriers
    turn a 20 ms IVF-PQ training into seconds. Restored afterwards for other packages.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture
def hash_spec() -> EmbedderSpec:
    return HASH_SPEC


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder(HASH_SPEC)
