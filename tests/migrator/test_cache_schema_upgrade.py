"""A home written before the cache moved to vector files keeps every cached vector."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from migrator.store import SqliteStore
from migrator.store.embedding_cache import FileEmbeddingCache, cache_folder
from migrator.store.schema import SCHEMA_VERSIONS


def _old_home_db(path: Path, vectors: dict[str, np.ndarray], *, before: str) -> None:
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    SCHEMA_VERSIONS.apply(db, stop_before=before)
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO embedding_cache (fingerprint, content_hash, vector) VALUES ('fp', ?, ?)",
            [(h, v.astype(np.float32).tobytes()) for h, v in vectors.items()],
        )
    db.close()


def _vectors(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"h{i}": rng.random(8).astype(np.float32) for i in range(n)}


def _assert_holds(store: SqliteStore, vectors: dict[str, np.ndarray]) -> None:
    found = store.cache.get_many("fp", list(vectors))
    assert found.keys() == vectors.keys()
    assert all(np.array_equal(found[h], vectors[h]) for h in vectors)
    assert store.cache.count("fp") == len(vectors)


def test_a_home_from_before_the_rowid_table_keeps_every_vector_and_the_first_stored_wins(
    tmp_path: Path,
) -> None:
    path = tmp_path / "switchover.db"
    old = _vectors(300)
    _old_home_db(path, old, before="m006_cache_rowid")
    store = SqliteStore(path)
    try:
        _assert_holds(store, old)
        store.cache.put_many("fp", {"h0": np.zeros(8, dtype=np.float32)})  # a key it holds
        assert np.array_equal(store.cache.get_many("fp", ["h0"])["h0"], old["h0"])
    finally:
        store.close()


def test_the_upgrade_moves_the_rows_to_vector_files_and_drops_the_table(tmp_path: Path) -> None:
    path = tmp_path / "switchover.db"
    old = _vectors(12_000)  # more than one chunk of the copy (10,000 rows)
    _old_home_db(path, old, before="m007_cache_files")
    SqliteStore(path).close()
    assert "embedding_cache" not in Database(path).table_names()
    assert sorted(p.suffix for p in cache_folder(path).iterdir()) == [".keys", ".vec"]
    store = SqliteStore(path)  # reopened: the vectors come from the files
    try:
        _assert_holds(store, old)
    finally:
        store.close()


def test_an_upgrade_cut_short_runs_again_without_doubling_the_files(tmp_path: Path) -> None:
    """A crash after part of the copy, before the schema version committed: the table is
    still there, the files hold some of its rows; the next start copies only the rest."""
    path = tmp_path / "switchover.db"
    old = _vectors(500)
    _old_home_db(path, old, before="m007_cache_files")
    partial = FileEmbeddingCache(cache_folder(path))
    partial.put_many("fp", dict(list(old.items())[:200]))
    partial.close()
    vec = next(cache_folder(path).glob("*.vec"))
    record = 32 + 4 * 8 + 4  # key, 8 float32, crc
    header = vec.stat().st_size - 200 * record
    store = SqliteStore(path)
    try:
        _assert_holds(store, old)
    finally:
        store.close()
    assert vec.stat().st_size == header + 500 * record, "the 200 copied before, not again"


def test_a_new_home_keeps_no_vectors_in_the_database(tmp_path: Path) -> None:
    path = tmp_path / "switchover.db"
    store = SqliteStore(path)
    try:
        store.cache.put_many("fp", _vectors(10))
    finally:
        store.close()
    assert "embedding_cache" not in Database(path).table_names()
    assert len(list(cache_folder(path).glob("*.vec"))) == 1
