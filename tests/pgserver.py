"""A real, private PostgreSQL 16 (with pgvector 0.6) for the tests, from the ``pgserver`` wheel.

One server per test session, started the first time a test asks for it (about a second) in
a temporary folder, stopped and deleted at the end. It listens on a Unix socket only (no TCP
port), so parallel sessions never collide. Each test (or module) gets a database of its own,
dropped afterwards:

- ``pg_server``: the session's :class:`PgServer` (``url(name)``, ``database()``).
- ``pg_url``: the URL of a fresh, empty database for one test.

Test modules import the fixtures they use (``from tests.pgserver import pg_url``); the root
``tests/conftest.py`` imports both, so any test may take them as arguments.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

_names = itertools.count()


class PgServer:
    """A running PostgreSQL: the URL of any of its databases, and fresh databases on demand."""

    def __init__(self, server: Any) -> None:  # pgserver ships no type information we rely on
        self._server = server
        self.pgdata = Path(server.pgdata)

    @property
    def admin_url(self) -> str:
        """The maintenance database ``postgres`` (to create and drop others)."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """``postgresql://postgres:@/<database>?host=<socket folder>``."""
        return str(self._server.get_uri(database))

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)  # constant SQL written by the tests

    @contextmanager
    def database(self, extensions: Sequence[str] = ()) -> Iterator[str]:
        """A new, empty database (with ``extensions`` created, e.g. ``("vector",)``): its URL.

        Dropped on exit, even with sessions still connected to it (``WITH (FORCE)``).
        """
        name = f"test_{os.getpid()}_{next(_names)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        try:
            for extension in extensions:
                self.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}", name)
            yield self.url(name)
        finally:
            self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# A test server needs no power-loss safety: without fsync a committed transaction survives
# anything but an operating-system crash (the tests kill switchover, and may kill PostgreSQL
# itself, never the machine), and creating a database per test costs far less. Benchmarks
# start their own server with the defaults.
_FAST_BUT_NOT_POWER_SAFE = (
    "ALTER SYSTEM SET fsync = off",
    "ALTER SYSTEM SET full_page_writes = off",
    "SELECT pg_reload_conf()",
)


@contextmanager
def running_server(*, power_safe: bool = False) -> Iterator[PgServer]:
    """Start a private server in a new temporary folder; stop it and delete the folder after.

    ``power_safe``: keep PostgreSQL's durable defaults (``fsync``, full page writes), as a
    benchmark comparing it with SQLite (``synchronous=FULL``) must."""
    folder = tempfile.mkdtemp(prefix="switchover-pg-")
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver  # noqa: PLC0415 - importing it warns; imported under the filter

        server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        pg = PgServer(server)
        for statement in () if power_safe else _FAST_BUT_NOT_POWER_SAFE:
            pg.execute(statement)
        yield pg
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (started on first use)."""
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for one test, dropped after it."""
    with pg_server.database() as url:
        yield url
