"""``PostgresStore``: every concern of the store on one PostgreSQL database, as attributes."""

from __future__ import annotations

from contextlib import AbstractContextManager

from ...budget import WaitBudget
from ..catalog import CatalogTable
from ..config_versions import ConfigVersionTable
from ..evals import EvalTables
from ..migrations import MigrationTables
from ..shadow_reads import ShadowReadTable
from .connection import PgConnections
from .embedding_cache import PgEmbeddingCache
from .write_log import PgWriteLog


class PostgresStore:
    """The shared store: ``log``, ``catalog``, ``cache``, ``migrations``, ``evals``,
    ``config`` and ``shadow`` over a pool of connections to one PostgreSQL database.

    The write log and the cache have SQL of their own (the hot path); the other concerns
    are the same classes as SQLite's, over this database's rows (``store/tables.py``).
    """

    def __init__(self, url: str, *, busy_timeout_s: float = 10.0, pool_size: int = 8) -> None:
        """Connect, check and upgrade the schema (StorageError: unreachable, not ours,
        newer). ``busy_timeout_s``: how long a write waits for a connection or a lock."""
        self._conns = PgConnections(url, busy_timeout_s=busy_timeout_s, pool_size=pool_size)
        self.where = self._conns.where
        self.log = PgWriteLog(self._conns)
        self.catalog = CatalogTable(self._conns)
        self.cache = PgEmbeddingCache(self._conns)
        self.migrations = MigrationTables(self._conns, self.catalog, self.log)
        self.evals = EvalTables(self._conns)
        self.config = ConfigVersionTable(self._conns)
        self.shadow = ShadowReadTable(self._conns)

    def atomic(self) -> AbstractContextManager[object]:
        return self._conns.atomic()

    def waits_within(self, budget: WaitBudget) -> AbstractContextManager[None]:
        return self._conns.waits_within(budget)

    def close(self) -> None:
        self._conns.close()
