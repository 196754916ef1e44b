"""pgvector (``PgvectorIndex``) passes the index-backend contract on a real PostgreSQL.

Every layout of the contract on pgvector 0.6: ``flat`` (a plain exact scan), ``hnsw`` and
``ivfflat(lists=16)``, each with inner product and L2. Its durability is its own table:
the contract's restart case attaches a new instance to that table instead of a snapshot.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from psycopg_pool import ConnectionPool

from indexes import IndexBackend, IndexSpec
from indexes.pgvector import PgvectorIndex
from indexes.pgvector_pool import open_pool
from tests.pgserver import PgServer

from .backend_contract import BackendContract, Layout
from .helpers import DIM, FINGERPRINT, HASH_SPEC

LAYOUTS = {"flat": "flat", "hnsw": "hnsw", "ivf": "ivfflat(lists=16)"}
_tables = itertools.count()


@pytest.fixture(scope="module")
def pool(pg_server: PgServer) -> Iterator[ConnectionPool]:
    """One database for the module; every backend gets a table of its own."""
    with pg_server.database() as url:
        pool = open_pool(url)
        yield pool
        pool.close()


@dataclass(frozen=True)
class PgvectorKit:
    """Layouts as pgvector layouts; a restart attaches a new instance to the same table."""

    pool: ConnectionPool

    def make(self, layout: Layout) -> PgvectorIndex:
        spec = IndexSpec(
            name="contract",
            embedder=HASH_SPEC,
            factory=LAYOUTS[layout.kind],
            metric=layout.metric,
            backend="pgvector",
        )
        return PgvectorIndex(self.pool, f"contract_{next(_tables)}", spec, DIM, FINGERPRINT)

    def restore(self, backend: IndexBackend) -> IndexBackend:
        assert isinstance(backend, PgvectorIndex)
        assert backend.persists_itself, "pgvector comes back from its own table"
        return PgvectorIndex(self.pool, backend.table, backend.spec, DIM, FINGERPRINT)


class TestPgvectorBackend(BackendContract):
    @pytest.fixture
    def kit(self, pool: ConnectionPool) -> PgvectorKit:
        return PgvectorKit(pool)

    def test_it_persists_itself(self, kit: PgvectorKit) -> None:
        assert kit.make(Layout("hnsw", "ip")).persists_itself
