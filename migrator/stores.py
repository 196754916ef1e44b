"""The one place that picks the store: SQLite in the home, or PostgreSQL at a URL.

SQLite is the embedded default; ``Settings.database_url`` (``--database``,
``SWITCHOVER_DATABASE_URL`` or ``[server] database``) puts every concern on PostgreSQL.
psycopg is imported only then, so a SQLite home never loads it.
"""

from __future__ import annotations

from .replicas import ReplicaLink
from .settings import Settings
from .store import SqliteStore, Store


def open_store(settings: Settings) -> Store:
    """The settings' store, opened: schema checked and upgraded (StorageError if it cannot)."""
    if settings.database_url is None:
        return SqliteStore(settings.db_path, busy_timeout_s=settings.db_busy_timeout_s)
    # Imported here: only a PostgreSQL deployment pays for psycopg and its pool.
    from .store.postgres import PostgresStore  # noqa: PLC0415

    return PostgresStore(settings.database_url, busy_timeout_s=settings.db_busy_timeout_s)


def open_link(settings: Settings) -> ReplicaLink | None:
    """What the replicas of the settings' PostgreSQL share (None: a SQLite home, one process)."""
    if settings.database_url is None:
        return None
    from .store.postgres.notices import PgReplicaLink  # noqa: PLC0415 - psycopg only then

    return PgReplicaLink(settings.database_url)
