"""Which backend holds an index version, and where: FAISS in this process, or pgvector.

A FAISS version comes back from its newest snapshot in the home (or starts empty); a
pgvector version attaches to its own table in the PostgreSQL at ``Settings.pgvector_dsn``
(``[server] pgvector``, ``SWITCHOVER_PGVECTOR_URL``, else the store's own PostgreSQL),
which already holds every record it applied: the log is replayed only after its applied
sequence. The table's name is derived from the catalog entry (name, embedder and creation
time), so a new home reusing a version's name never attaches to an older home's rows.
psycopg is imported only when a pgvector version is opened.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

from indexes import IndexBackend, IndexSpec, SnapshotInfo, VectorIndex, load_latest_snapshot
from indexes.errors import InvalidInputError

from .settings import Settings
from .store import CatalogEntry

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


def table_name(entry: CatalogEntry) -> str:
    """``sv_<name>_<hash>``: readable, unique per catalog entry, within PostgreSQL's 63."""
    key = f"{entry.name}|{entry.fingerprint}|{entry.created_at!r}".encode()
    safe = "".join(c if c.isalnum() else "_" for c in entry.name)[:40]
    return f"sv_{safe}_{hashlib.sha256(key).hexdigest()[:12]}"


class Backends:
    """Opens each version on its backend; owns the one pgvector connection pool."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def check(self, spec: IndexSpec) -> None:
        """Before a version is created: its backend is configured and reachable."""
        if spec.backend == "pgvector":
            self._pgvector_pool()

    def open(
        self, entry: CatalogEntry, start_seq: int, *, snapshots: bool = True
    ) -> tuple[IndexBackend, SnapshotInfo | None, int]:
        """The version's backend, the snapshot it came from, and the sequence it holds
        (``snapshots=False``: an in-process index starts empty, whatever the home holds)."""
        if entry.spec.backend == "pgvector":
            return self._open_pgvector(entry, start_seq)
        loaded = None
        if snapshots:
            loaded = load_latest_snapshot(
                self.settings.snapshot_dir(entry.name), entry.spec, entry.fingerprint
            )
        if loaded is None:
            index = VectorIndex(entry.spec, entry.dim, entry.fingerprint, entry.search_params)
            if start_seq:
                index.apply(start_seq)
            return index, None, 0
        restored, info = loaded
        restored.set_search_params(entry.search_params)
        return restored, info, info.applied_seq

    def _open_pgvector(
        self, entry: CatalogEntry, start_seq: int
    ) -> tuple[IndexBackend, SnapshotInfo | None, int]:
        from indexes.pgvector import PgvectorIndex  # noqa: PLC0415 - psycopg only when used

        index = PgvectorIndex(
            self._pgvector_pool(),
            table_name(entry),
            entry.spec,
            entry.dim,
            entry.fingerprint,
            entry.search_params,
        )
        if start_seq:
            index.apply(start_seq)  # a no-op when the table is already past it
        return index, None, index.applied_seq

    def discard(self, index: IndexBackend) -> None:
        """Delete what a dropped version keeps outside the home (a pgvector table)."""
        drop: Any = getattr(index, "drop", None)
        if index.persists_itself and callable(drop):
            drop()

    def _pgvector_pool(self) -> ConnectionPool:
        url = self.settings.pgvector_dsn
        if url is None:
            raise InvalidInputError(
                "a pgvector index needs a PostgreSQL with pgvector: set [server] pgvector,"
                " SWITCHOVER_PGVECTOR_URL or a PostgreSQL database URL"
            )
        with self._lock:
            if self._pool is None:
                from indexes.pgvector_pool import open_pool  # noqa: PLC0415 - as above

                self._pool = open_pool(url)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
