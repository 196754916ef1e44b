"""The PostgreSQL store's connections: a pool, and one re-entrant ``atomic()`` per thread.

A transaction holds one pooled connection from its outermost ``atomic()`` to its commit;
a nested block on the same thread is a savepoint on that connection, and reads inside it
see its own writes. A read outside any transaction borrows a connection for one
statement (autocommit), so searches never wait for a write.

Waiting. A write waits for a free connection of the pool and then for row and advisory
locks inside PostgreSQL. Inside ``waits_within(budget)`` the pool's wait draws on the
budget and the lock waits are bounded by what is left of it (``lock_timeout``); without
one, each waits up to ``busy_timeout_s``. A write that runs out gets ``StorageBusyError``
(503 with Retry-After), with nothing committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from indexes.errors import (
    ConflictError,
    InvalidInputError,
    StorageBusyError,
    StorageError,
)

from ...budget import WaitBudget
from ...settings import describe_database as describe
from .schema import KEYS, apply_schema

_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"  # for this transaction only
CONNECT_TIMEOUT_S = 5  # how long opening a connection waits for the server (libpq's own)

# PostgreSQL's transient refusals: a lock not had in time, a deadlock or serialization
# failure (retrying the write succeeds), a statement cancelled by a timeout.
_BUSY = (errors.LockNotAvailable, errors.DeadlockDetected, errors.SerializationFailure)


@contextmanager
def pg_errors(where: str) -> Iterator[None]:
    """Turn psycopg's errors into the store's: busy, bad value, conflict, or broken."""
    try:
        yield
    except PoolTimeout as exc:
        raise StorageBusyError(
            f"no connection to {where} became free in time (the pool is busy,"
            f" or the server is unreachable): {exc}"
        ) from exc
    except _BUSY as exc:
        raise StorageBusyError(f"database is locked: {_first_line(exc)}") from exc
    except errors.QueryCanceled as exc:
        raise StorageBusyError(f"database is busy: {_first_line(exc)}") from exc
    except psycopg.DataError as exc:
        raise InvalidInputError(f"the database refused a value: {_first_line(exc)}") from exc
    except psycopg.IntegrityError as exc:
        raise ConflictError(f"a concurrent change conflicts: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"database error ({where}): {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _milliseconds(seconds: float) -> int:
    """A ``lock_timeout`` (0 would mean no limit: at least 1 ms)."""
    return max(1, int(seconds * 1000))


def connect(url: str) -> psycopg.Connection[Any]:
    """One connection, or StorageError naming the server (never the password)."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StorageError(
            f"cannot connect to PostgreSQL at {describe(url)}: {_first_line(exc)};"
            " check that the server is running and the database URL is right"
        ) from exc


class PgConnections:
    """The pool, the per-thread transactions and the row access of one PostgreSQL database."""

    def __init__(self, url: str, *, busy_timeout_s: float = 10.0, pool_size: int = 8) -> None:
        """Connect, check and upgrade the schema, then open the pool; StorageError if the
        server is unreachable, the database is not ours or its schema is newer."""
        self.where = describe(url)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        with connect(url) as first, pg_errors(self.where):
            apply_schema(first, self.where)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=busy_timeout_s,
            # a connection is checked as it leaves the pool: after a server restart the
            # dead ones are replaced instead of failing one request each
            check=ConnectionPool.check_connection,
            name="switchover",
            open=False,
        )
        with pg_errors(self.where):
            self._pool.open(wait=True, timeout=busy_timeout_s)

    def close(self) -> None:
        self._pool.close()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def waits_within(self, budget: WaitBudget) -> Iterator[None]:
        """Transactions this thread opens inside wait at most what is left of ``budget``."""
        previous = getattr(self._local, "budget", None)
        self._local.budget = budget
        try:
            yield
        finally:
            self._local.budget = previous

    @contextmanager
    def atomic(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction; nested on the same thread, a savepoint inside it."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            with pg_errors(self.where), conn.transaction():
                yield conn
            return
        with pg_errors(self.where), self._borrow(for_write=True) as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    wait = self._budget_left()
                    conn.execute(_LOCK_TIMEOUT, [f"{_milliseconds(wait)}ms"])
                    yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection for a read on this thread: the open transaction's, else a pooled
        one for as long as the block runs."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            with pg_errors(self.where):
                yield conn
            return
        with pg_errors(self.where), self._borrow(for_write=False) as conn:
            yield conn

    def fetch(self, query: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one statement (constant SQL; values only through ``args``)."""
        with self.connection() as conn:
            return conn.execute(query, list(args)).fetchall()

    def _budget_left(self) -> float:
        budget: WaitBudget | None = getattr(self._local, "budget", None)
        return self.busy_timeout_s if budget is None else budget.left

    @contextmanager
    def _borrow(self, *, for_write: bool) -> Iterator[psycopg.Connection[Any]]:
        budget: WaitBudget | None = getattr(self._local, "budget", None) if for_write else None
        with nullcontext(self.busy_timeout_s) if budget is None else budget.waiting() as left:
            conn = self._pool.getconn(timeout=max(left, 0.001))
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    # -- rows by table name (the ``Tables`` protocol) --------------------------------------

    def rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] = (),
        *,
        order_by: str | None = None,
        limit: int | None = None,
        for_update: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts; ``where`` and ``order_by`` are constant SQL pieces
        with ``?`` placeholders."""
        query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))
        values = list(args)
        if where is not None:
            query += sql.SQL(" WHERE " + where.replace("?", "%s"))
        if order_by is not None:
            query += sql.SQL(" ORDER BY " + order_by)
        if limit is not None:
            query += sql.SQL(" LIMIT %s")
            values.append(limit)
        if for_update:
            query += sql.SQL(" FOR UPDATE")
        with self.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(query, values).fetchall()

    def one(
        self, table: str, where: str, args: Sequence[Any], *, for_update: bool = False
    ) -> dict[str, Any] | None:
        found = self.rows(table, where, args, limit=1, for_update=for_update)
        return found[0] if found else None

    def insert_row(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert one row; its integer key (0 for a table keyed by text)."""
        key = KEYS[table]
        query = _insert(table, list(row))
        if key.integer:
            query += sql.SQL(" RETURNING {}").format(sql.Identifier(key.column))
        with self.atomic() as conn:
            cursor = conn.execute(query, list(row.values()))
            return int(cursor.fetchone()[0]) if key.integer else 0  # type: ignore[index]  # RETURNING gives one row

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        with self.atomic() as conn, conn.cursor() as cursor:
            cursor.executemany(_insert(table, columns), [[r[c] for c in columns] for r in rows])

    def update_row(self, table: str, key: str | int, values: Mapping[str, Any]) -> bool:
        """Change the row with primary key ``key``; False if there is none."""
        query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values),
            sql.Identifier(KEYS[table].column),
        )
        with self.atomic() as conn:
            return conn.execute(query, [*values.values(), key]).rowcount > 0


def _insert(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
