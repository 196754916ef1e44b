"""The store's connections: one writer, a reader per thread, and one ``atomic()`` transaction.

One SQLite file (WAL journal, ``synchronous=FULL``). One writer connection, guarded by a
lock, owns every write (datasette's pattern); each reading thread gets its own connection,
so searches never queue behind a write. ``atomic()`` is the only way to write: re-entrant
on one thread, so a change that spans concerns (a config change: catalog, plan, event,
version) nests each sub-store's writes in one transaction that commits whole or not at all.

Lock order: callers' locks first (the service's write lock, the lifecycle's action lock),
then this module's ``_write_lock``, then SQLite's own file lock (``BEGIN IMMEDIATE``). The
writer lock is always the innermost lock of this process: nothing inside ``atomic()`` may
wait for another of its locks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError as RowNotFound

from indexes.errors import StorageBusyError, StorageError

from ..budget import WaitBudget
from .checkpoints import FALLBACK_PAGES, Checkpointer
from .file_checks import check_schema, make_private, not_a_switchover_database
from .schema import SCHEMA_VERSIONS


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn SQLite's operational failures (locked, disk full, I/O) into StorageError."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StorageError(f"database error: {exc}") from exc


class Connections:
    """The writer, the per-thread readers and the transactions of one SQLite file."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        """``busy_timeout_s``: how long a statement waits for another connection's lock."""
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(path)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        with storage_errors(), not_a_switchover_database(path):
            self._writer = Database(_connect(path, busy_timeout_s))
            check_schema(self._writer, path)  # before anything writes to a foreign file
            self._writer.execute("PRAGMA journal_mode = WAL")
            SCHEMA_VERSIONS.apply(self._writer)
            # checkpoints in the background; the writer's own only if that falls behind
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {int(FALLBACK_PAGES)}")
        self._checkpoints = Checkpointer(path, busy_timeout_s)

    def close(self) -> None:
        self._checkpoints.close()
        with self._write_lock:
            self._writer.close()

    def refuse_writes(self, on: bool = True) -> None:
        """While ``on``, the writer refuses every write as a read-only database does
        (SQLite's ``query_only``: "attempt to write a readonly database"); reads go on."""
        with self._write_lock, storage_errors():
            self._writer.execute(f"PRAGMA query_only = {int(on)}")

    def db(self) -> Database:
        """The connection for a read on this thread: inside ``atomic()`` the writer (it sees
        the transaction's own changes), else this thread's reader."""
        if getattr(self._local, "depth", 0):
            return self._writer
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(_connect(self.path, self.busy_timeout_s))
            self._local.db = db
        return cast(Database, db)

    def rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
        for_update: bool = False,  # noqa: ARG002 - inside atomic() the writer holds the file
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` (constant SQL pieces; values only through ``args``).

        ``for_update`` needs nothing here: inside ``atomic()`` this process's writer holds
        SQLite's write lock (``BEGIN IMMEDIATE``), so no other connection changes a row."""
        with storage_errors():
            found = (
                self.db().table(table).rows_where(where, list(args), order_by=order_by, limit=limit)
            )
            return list(found)

    def one(
        self, table: str, where: str, args: Sequence[Any], *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The first row of ``table`` matching ``where``, or None."""
        found = self.rows(table, where, args, limit=1, for_update=for_update)
        return found[0] if found else None

    def insert_row(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row (in this thread's transaction, or one of its own); its rowid."""
        with self.atomic() as db:
            return int(cast(int, db.table(table).insert(dict(row)).last_rowid))

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert a batch of rows in one transaction."""
        with self.atomic() as db:
            db.table(table).insert_all(dict(r) for r in rows)

    def update_row(self, table: str, key: str | int, values: Mapping[str, Any]) -> bool:
        """Change the row with primary key ``key``; False if there is none."""
        with self.atomic() as db:
            try:
                db.table(table).update(key, dict(values))
            except RowNotFound:
                return False
            return True

    @contextmanager
    def waits_within(self, budget: WaitBudget) -> Iterator[None]:
        """Write transactions this thread opens inside wait at most what is left of ``budget``.

        For this process's write lock and SQLite's together; without a budget a
        transaction waits for the in-process lock as long as it takes and for SQLite's up
        to ``busy_timeout_s`` (background writers: backfill, shadow reads, the cache).
        """
        previous = getattr(self._local, "budget", None)
        self._local.budget = budget
        try:
            yield
        finally:
            self._local.budget = previous

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One write transaction; nested on the same thread, a savepoint inside it.

        An error rolls back everything of the outermost block (of a nested block only, if
        the outer block catches it); nothing is visible to readers before the outermost
        block commits.
        """
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            with storage_errors(), self._nested(depth), self._writer.atomic():
                yield self._writer
            return
        with self._locked(), self._nested(depth), self._transaction():
            yield self._writer

    @contextmanager
    def _nested(self, depth: int) -> Iterator[None]:
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's write lock, within this thread's budget if it has one."""
        budget: WaitBudget | None = getattr(self._local, "budget", None)
        if budget is None:
            self._write_lock.acquire()
        elif not budget.acquire(self._write_lock):
            raise StorageBusyError(
                f"database is locked: other writes of this server held it for the whole"
                f" {budget.total:g} s this write may wait"
            )
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, holding SQLite's write lock from its first statement.

        ``BEGIN IMMEDIATE``: a deferred transaction that reads before it writes (a delete
        checks the document first) gets SQLITE_BUSY at once, without waiting out the busy
        timeout, when another process holds the lock; an immediate one waits like any write.
        Inside ``waits_within`` both waits draw on that budget: SQLite's busy timeout is
        set to what is left just before ``BEGIN``.
        """
        budget: WaitBudget | None = getattr(self._local, "budget", None)
        with storage_errors():
            conn = self._writer.conn
            wait_s = self.busy_timeout_s if budget is None else budget.left
            conn.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
            with nullcontext() if budget is None else budget.waiting():
                conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
                self._checkpoints.wrote()
            except BaseException:
                if conn.in_transaction:  # an error may have rolled it back already
                    conn.execute("ROLLBACK")
                raise
