"""What the pgvector backend does beyond the contract: its table is its durability."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from psycopg import sql
from psycopg_pool import ConnectionPool

from indexes import IndexSpec, SearchParams
from indexes.errors import ConflictError, StorageError
from indexes.pgvector import PgvectorIndex
from indexes.pgvector_pool import open_pool
from tests.pgserver import PgServer

from .helpers import DIM, FINGERPRINT, HASH_SPEC, doc_ids, is_trained, queries, unit_vectors

_tables = itertools.count()


@pytest.fixture(scope="module")
def pool(pg_server: PgServer) -> Iterator[ConnectionPool]:
    with pg_server.database() as url:
        pool = open_pool(url)
        yield pool
        pool.close()


def spec(factory: str = "hnsw", metric: str = "ip") -> IndexSpec:
    return IndexSpec.from_dict(
        {
            "name": "p1",
            "embedder": HASH_SPEC.to_dict(),
            "factory": factory,
            "metric": metric,
            "backend": "pgvector",
        }
    )


def fresh(pool: ConnectionPool, factory: str = "hnsw") -> PgvectorIndex:
    return PgvectorIndex(pool, f"pgv_{next(_tables)}", spec(factory), DIM, FINGERPRINT)


def test_a_restarted_instance_applies_only_the_tail_of_the_log(pool: ConnectionPool) -> None:
    before = fresh(pool)
    vectors = unit_vectors(6, seed=1)
    for seq in range(1, 6):
        before.apply(seq, {f"d{seq}": vectors[seq]})
    after = PgvectorIndex(pool, before.table, before.spec, DIM, FINGERPRINT)  # the restart
    assert after.applied_seq == 5
    after.apply(3, deletes=["d1"])  # replayed from the log: already in the table
    after.apply(6, deletes=["d2"])  # the tail
    assert after.ids() == {"d1", "d3", "d4", "d5"}
    assert len(after) == 4
    before.apply(6, {"d2": vectors[2]})  # a stale instance cannot apply a record twice
    assert "d2" not in after
    assert before.applied_seq == 6


def test_two_replicas_on_one_table_count_and_train_it_as_one(pool: ConnectionPool) -> None:
    """Each replica tails the log into the same table: whichever applied a record or ran
    the backfill, both report the table's rows, and an IVFFlat trained by one is trained
    for the other (which then never builds its index a second time)."""
    a = fresh(pool, "ivfflat(lists=2)")
    b = PgvectorIndex(pool, a.table, a.spec, DIM, FINGERPRINT)
    vectors = unit_vectors(8, seed=9)
    a.apply(1, {"d1": vectors[1], "d2": vectors[2]})
    b.apply(1, {"d1": vectors[1], "d2": vectors[2]})  # the same record: already applied
    a.backfill({"d3": vectors[3], "d4": vectors[4]})  # the leader's backfill alone
    assert (len(a), len(b)) == (4, 4)
    a.train(unit_vectors(300, seed=10))
    b.apply(2, {"d5": vectors[5]}, deletes=["d1"])  # b writes first and learns of the training
    assert b.is_trained
    b.train(unit_vectors(300, seed=11))  # nothing to build: the table's index exists
    assert (len(a), len(b), b.ids()) == (4, 4, {"d2", "d3", "d4", "d5"})


def test_a_table_of_another_version_is_refused(pool: ConnectionPool) -> None:
    index = fresh(pool)
    other = IndexSpec.from_dict({**index.spec.to_dict(), "factory": "flat"})
    with pytest.raises(ConflictError, match="holds index 'p1' \\(hnsw"):
        PgvectorIndex(pool, index.table, other, DIM, FINGERPRINT)
    with pytest.raises(ConflictError):
        PgvectorIndex(pool, index.table, index.spec, DIM, "0" * 64)


def test_training_leaves_no_sample_row_and_survives_a_restart(pool: ConnectionPool) -> None:
    index = fresh(pool, "ivfflat(lists=4)")
    docs = dict(zip(doc_ids(20), unit_vectors(20, seed=2), strict=True))
    index.apply(1, docs)
    index.train(unit_vectors(300, seed=3))
    assert index.is_trained
    assert index.ids() == set(docs)
    assert len(index) == 20
    again = PgvectorIndex(pool, index.table, index.spec, DIM, FINGERPRINT)
    assert again.is_trained
    assert len(again) == 20


def test_ivfflat_trains_itself_once_enough_documents_arrived(pool: ConnectionPool) -> None:
    index = fresh(pool, "ivfflat(lists=2)")
    assert index.auto_train_size == 1000
    index.apply(1, dict(zip(doc_ids(999), unit_vectors(999, seed=4), strict=True)))
    assert not is_trained(index)
    index.apply(2, {"last": unit_vectors(1, seed=5)[0]})
    assert index.is_trained
    assert len(index) == 1000


def test_hnsw_returns_k_hits_beyond_its_ef_search(pool: ConnectionPool) -> None:
    index = fresh(pool)
    index.apply(1, dict(zip(doc_ids(200), unit_vectors(200, seed=6), strict=True)))
    index.set_search_params(SearchParams(ef_search=10))
    assert len(index.search(queries(unit_vectors(1, seed=7)), 100)[0]) == 100


def test_a_dropped_version_leaves_no_table(pool: ConnectionPool) -> None:
    index = fresh(pool)
    index.apply(1, {"a": unit_vectors(1)[0]})
    index.drop()
    with pool.connection() as conn:
        assert conn.execute("SELECT to_regclass(%s)", (index.table,)).fetchone() == (None,)
    assert len(fresh(pool)) == 0


def test_an_unreachable_database_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="pgvector: cannot open the database"):
        open_pool("postgresql://postgres:@/nodb?host=/nonexistent-switchover-socket")


def test_every_write_is_one_transaction_with_its_sequence(pool: ConnectionPool) -> None:
    index = fresh(pool)
    with pool.connection() as conn:
        check = sql.SQL("ALTER TABLE {} ADD CHECK (id <> 'poison')")
        conn.execute(check.format(sql.Identifier(index.table)))
    with pytest.raises(StorageError):
        index.apply(1, {"ok": unit_vectors(1)[0], "poison": unit_vectors(1, seed=1)[0]})
    assert index.applied_seq == 0
    assert index.ids() == set()
    assert PgvectorIndex(pool, index.table, index.spec, DIM, FINGERPRINT).applied_seq == 0
