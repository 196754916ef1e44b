"""The PostgreSQL store beyond the shared contract: its schema versions, a server it cannot
reach, a write that cannot get the log in time, and two stores (two processes) on one
database. Every test runs on a real PostgreSQL (``tests/pgserver.py``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from indexes.errors import ConflictError, InvalidInputError, StorageBusyError, StorageError
from migrator.budget import WaitBudget
from migrator.store import DocumentIn
from migrator.store.postgres import PostgresStore
from migrator.store.postgres.schema import SCHEMA_VERSIONS, apply_schema
from migrator.store.postgres.write_log import LOG_LOCK
from tests.migrator.store_contract import docs, migrate


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url, busy_timeout_s=5.0)
    yield opened
    opened.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def applied_versions(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_versions ORDER BY version")
        return [(int(n), str(name)) for n, name in rows.fetchall()]


# -- schema versions -----------------------------------------------------------------------


def test_a_new_database_gets_every_schema_version_once_and_a_reopen_applies_none(
    pg_url: str,
) -> None:
    first = PostgresStore(pg_url)
    first.config.add({"k": 1}, "a", "r")
    first.close()
    again = PostgresStore(pg_url)
    assert [v.config for v in again.config.history()] == [{"k": 1}]
    again.close()
    assert applied_versions(pg_url) == [(v.number, v.name) for v in SCHEMA_VERSIONS]


def test_a_database_of_an_older_version_is_upgraded_in_place(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert apply_schema(conn, "test", SCHEMA_VERSIONS[:1]) == [1]
        conn.execute("INSERT INTO documents VALUES ('kept', 'old text', '{}', 'h', 1)")
    upgraded = PostgresStore(pg_url)
    assert upgraded.log.document("kept") is not None
    assert upgraded.migrations.latest() is None, "the later versions' tables exist now"
    upgraded.close()
    assert [n for n, _ in applied_versions(pg_url)] == [v.number for v in SCHEMA_VERSIONS]


def test_a_database_a_newer_switchover_wrote_refuses_to_start(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO schema_versions VALUES (999, 'from_the_future', 0)")
    with pytest.raises(StorageError, match="written by a newer switchover") as refused:
        PostgresStore(pg_url)
    assert "999:from_the_future" in str(refused.value)
    assert "upgrade switchover" in str(refused.value)


def test_another_applications_database_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StorageError, match=r"not a switchover database.*'invoices'"):
        PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("invoices",)], "not even schema_versions was left behind"


# -- a server it cannot reach --------------------------------------------------------------


def test_a_server_that_is_not_there_is_one_clear_error_without_the_password() -> None:
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(StorageError) as refused:
        PostgresStore(f"postgresql://app:s3cret@127.0.0.1:{port}/switchover")
    message = str(refused.value)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/switchover")
    assert "s3cret" not in message
    assert time.monotonic() - started < 10


# -- writes: refused cleanly, never half-made ----------------------------------------------


def test_a_write_that_cannot_get_the_log_within_its_budget_is_busy_and_logs_nothing(
    store: PostgresStore, pg_url: str
) -> None:
    store.log.append_upserts(docs("a"))
    with psycopg.connect(pg_url) as holder:  # another process appending, for a long time
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOG_LOCK])
        started = time.monotonic()
        busy = pytest.raises(StorageBusyError, match="database is locked")
        with busy, store.waits_within(WaitBudget(0.3)):
            store.log.append_upserts(docs("b"))
        waited = time.monotonic() - started
        holder.rollback()
    assert 0.25 < waited < 2.0
    assert store.log.last_seq() == 1
    assert store.log.document_ids() == {"a"}
    (record,) = store.log.append_upserts(docs("b"))
    assert record.seq == 2, "the refused write took no sequence"


def test_a_text_with_a_nul_character_is_refused_before_anything_is_written(
    store: PostgresStore,
) -> None:
    with pytest.raises(InvalidInputError, match=r"documents\[1\]: text contains a NUL"):
        store.log.append_upserts([DocumentIn("a", "fine"), DocumentIn("b", "bad\x00text")])
    assert store.log.last_seq() == 0


# -- two stores on one database (two processes, or replicas) -------------------------------


def test_two_stores_writing_at_once_share_one_gapless_log(pg_url: str) -> None:
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]

    def write(worker: int) -> None:
        for i in range(15):
            stores[worker % 2].log.append_upserts(docs(f"w{worker}-{i}", f"x{worker}-{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = stores[0].log.read(0, limit=500)
    assert [r.seq for r in records] == list(range(1, 121))
    assert stores[1].log.document_count() == 120
    for opened in stores:
        opened.close()


def test_one_active_migration_holds_across_stores(pg_url: str) -> None:
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    m = migrate(first)
    assert second.migrations.active() == m
    with pytest.raises(ConflictError, match=f"migration {m.id} is still planned"):
        migrate(second, "v3")
    first.close()
    second.close()
