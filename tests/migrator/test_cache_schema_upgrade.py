"""A home written before the cache became a rowid table keeps every cached vector."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from migrator.store import SqliteStore
from migrator.store.schema import SCHEMA_VERSIONS


def _old_home_db(path: Path, vectors: dict[str, np.ndarray]) -> None:
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    SCHEMA_VERSIONS.apply(db, stop_before="m006_cache_rowid")
    db.conn.executemany(
        "INSERT INTO embedding_cache (fingerprint, content_hash, vector) VALUES ('fp', ?, ?)",
        [(h, v.astype(np.float32).tobytes()) for h, v in vectors.items()],
    )
    db.close()


def test_the_upgrade_keeps_every_cached_vector_and_the_first_stored_wins(tmp_path: Path) -> None:
    path = tmp_path / "switchover.db"
    rng = np.random.default_rng(3)
    old = {f"h{i}": rng.random(8).astype(np.float32) for i in range(300)}
    _old_home_db(path, old)
    store = SqliteStore(path)
    try:
        found = store.cache.get_many("fp", list(old))
        assert found.keys() == old.keys()
        assert all(np.array_equal(found[h], old[h]) for h in old)
        store.cache.put_many("fp", {"h0": np.zeros(8, dtype=np.float32)})  # a key it holds
        assert np.array_equal(store.cache.get_many("fp", ["h0"])["h0"], old["h0"])
        assert store.cache.count("fp") == 300
    finally:
        store.close()


def test_a_new_home_has_the_cache_as_a_rowid_table_with_a_unique_key(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "switchover.db").close()
    db = Database(tmp_path / "switchover.db")
    ddl = db.execute("SELECT sql FROM sqlite_master WHERE name = 'embedding_cache'").fetchone()[0]
    assert "WITHOUT ROWID" not in ddl
    assert db["embedding_cache"].indexes[0].unique
    assert db["embedding_cache"].indexes[0].columns == ["fingerprint", "content_hash"]
