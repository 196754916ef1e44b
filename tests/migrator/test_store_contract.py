"""Every store implementation passes the store contract (``store_contract.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migrator.store import SqliteStore, Store
from migrator.store.postgres import PostgresStore
from tests.migrator.store_contract import StoreContract


def sqlite_store(request: pytest.FixtureRequest) -> Store:
    folder: Path = request.getfixturevalue("tmp_path")
    return SqliteStore(folder / "switchover.db", busy_timeout_s=5.0)


def postgres_store(request: pytest.FixtureRequest) -> Store:
    """A real PostgreSQL (``tests/pgserver.py``), a fresh database of its own."""
    return PostgresStore(request.getfixturevalue("pg_url"), busy_timeout_s=5.0)


# Each implementation, made fresh and empty.
IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest], Store]] = {
    "sqlite": sqlite_store,
    "postgres": postgres_store,
}


class TestStoreContract(StoreContract):
    @pytest.fixture(params=sorted(IMPLEMENTATIONS))
    def store(self, request: pytest.FixtureRequest) -> Iterator[Store]:
        store = IMPLEMENTATIONS[request.param](request)
        yield store
        store.close()


def test_a_reopened_sqlite_store_keeps_everything_and_applies_no_schema_version_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "switchover.db"
    first = SqliteStore(path)
    first.log.append_upserts([])
    first.config.add({"k": 1}, "a", "r")
    first.close()
    again = SqliteStore(path)
    assert [v.config for v in again.config.history()] == [{"k": 1}]
    again.close()
