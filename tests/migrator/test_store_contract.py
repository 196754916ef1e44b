"""Every store implementation passes the store contract (``store_contract.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migrator.store import SqliteStore, Store
from tests.migrator.store_contract import StoreContract

# Each implementation, made fresh and empty in a temporary folder.
IMPLEMENTATIONS: dict[str, Callable[[Path], Store]] = {
    "sqlite": lambda folder: SqliteStore(folder / "switchover.db", busy_timeout_s=5.0),
}


class TestStoreContract(StoreContract):
    @pytest.fixture(params=sorted(IMPLEMENTATIONS))
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
        store = IMPLEMENTATIONS[request.param](tmp_path)
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
