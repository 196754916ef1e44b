"""The WAL is copied into the database by a background thread, never by the write itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlite_utils import Database

from migrator.store import DocumentIn, SqliteStore
from migrator.store.checkpoints import FALLBACK_PAGES


def _checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoint" and t.is_alive()]


def test_the_writer_leaves_checkpoints_to_the_background_within_a_bound(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "switchover.db")
    try:
        with store.atomic() as db:  # the writer's own connection
            assert isinstance(db, Database)  # what SqliteStore.atomic yields (typed object)
            pages = db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages == FALLBACK_PAGES, "the writer still checkpoints if the thread falls behind"
    finally:
        store.close()


def test_committed_writes_reach_the_database_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "switchover.db"
    store = SqliteStore(path)
    try:
        store.log.append_upserts([DocumentIn(f"d{i}", f"text {i}") for i in range(500)])
        size_before = path.stat().st_size
        deadline = time.monotonic() + 10
        while path.stat().st_size == size_before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.stat().st_size > size_before, "the background thread copied the WAL"
    finally:
        store.close()


def test_closing_the_store_stops_its_checkpoint_thread(tmp_path: Path) -> None:
    before = len(_checkpointers())
    store = SqliteStore(tmp_path / "switchover.db")
    assert len(_checkpointers()) == before + 1
    store.close()
    assert len(_checkpointers()) == before
