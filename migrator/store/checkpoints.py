"""WAL checkpoints off the write path: a background thread copies the WAL into the database.

SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past
``wal_autocheckpoint`` pages (1,000 by default): that write, and every write queued behind it,
waits while about 4 MB are copied into the database file and both files are synced. Here the
writer's automatic checkpoint waits for ``FALLBACK_PAGES`` instead, and a thread with its own
connection runs a ``PASSIVE`` checkpoint (it never blocks a writer or a reader) soon after
commits. The WAL stays bounded: should the thread fall behind, the writer's own automatic
checkpoint still runs at ``FALLBACK_PAGES``. Durability is unchanged: with ``synchronous =
FULL`` a commit is on disk in the WAL before it returns, whenever the copy happens.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

FALLBACK_PAGES = 8_000  # about 32 MB of WAL: the writer checkpoints itself past it
INTERVAL_S = 0.05  # after a commit, the thread checkpoints within this long


class Checkpointer:
    """The background checkpoints of one SQLite file; ``wrote()`` after every commit."""

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self) -> None:
        self._dirty.set()

    def close(self) -> None:
        """Stop the thread after a last checkpoint of what is committed."""
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
            while not self._stop.is_set():
                self._dirty.wait()
                self._stop.wait(INTERVAL_S)  # let a burst of commits land first
                self._dirty.clear()
                self._checkpoint(conn)
        finally:
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the writer's automatic checkpoint is the fallback
            log.warning("background WAL checkpoint failed: %s", exc)
