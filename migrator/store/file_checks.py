"""Checks on the database file before the store uses it: private modes, ours, not newer.

A database another application wrote, a corrupted header or a schema a newer switchover
applied each stop start-up with one clear ``StorageError``, before anything writes to the
file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from indexes.errors import StorageError

from .schema import SCHEMA_VERSIONS

log = logging.getLogger(__name__)


def make_private(path: Path) -> None:
    """The database file 0600 (created so if missing), and any -wal/-shm left 0644 too.

    SQLite gives the -wal and -shm files it creates the database file's mode, so a
    private database keeps its journal private. Only group and other bits are removed.
    """
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            current = stat.S_IMODE(file.stat().st_mode)
            if current & 0o077:
                file.chmod(current & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change (another owner): say so, and go on
            log.warning("cannot make %s private: %s", file, exc)


@contextmanager
def not_a_switchover_database(path: Path) -> Iterator[None]:
    """A file SQLite cannot read as a database (a corrupted header): one clear StorageError.

    Operational errors (locked, I/O) pass through to ``storage_errors``.
    """
    try:
        yield
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StorageError(_not_ours(path, str(exc))) from exc


def _not_ours(path: Path, why: str) -> str:
    return f"{path} is not a switchover database or is corrupted: {why}; restore it from a backup"


def check_schema(db: Database, path: Path) -> None:
    """Refuse another application's database, and one a newer switchover has changed."""
    applied = {m.name for m in SCHEMA_VERSIONS.applied(db)}
    known = {m.name for m in SCHEMA_VERSIONS.pending(Database(memory=True))}
    newer = sorted(applied - known)
    if newer:
        raise StorageError(
            f"{path} was written by a newer switchover (schema versions {newer} are unknown to"
            " this version): upgrade switchover, or restore a backup this version wrote"
        )
    foreign = sorted(set(db.table_names()) - {SCHEMA_VERSIONS.migrations_table})
    if not applied and foreign:  # each schema version commits with its record: not ours
        raise StorageError(_not_ours(path, f"it holds other tables {foreign[:5]}"))
