"""``SqliteStore``: every concern of the store on one SQLite file, composed as attributes.

The one exception is the embedding cache: its vectors are append-only files in a folder beside
the database (``switchover.db-vectors``), see ``embedding_cache``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from ..budget import WaitBudget
from .catalog import CatalogTable
from .config_versions import ConfigVersionTable
from .connection import Connections
from .embedding_cache import FileEmbeddingCache, cache_folder
from .evals import EvalTables
from .migrations import MigrationTables
from .shadow_reads import ShadowReadTable
from .write_log import SqliteWriteLog


class SqliteStore:
    """The embedded store: ``log``, ``catalog``, ``cache``, ``migrations``, ``evals``,
    ``config`` and ``shadow`` over one writer connection and per-thread readers."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        """``busy_timeout_s``: how long a statement waits for another connection's lock."""
        self.path = path
        self._conns = Connections(path, busy_timeout_s=busy_timeout_s)
        self.log = SqliteWriteLog(self._conns)
        self.catalog = CatalogTable(self._conns)
        self.cache = FileEmbeddingCache(cache_folder(path))
        self.migrations = MigrationTables(self._conns, self.catalog, self.log)
        self.evals = EvalTables(self._conns)
        self.config = ConfigVersionTable(self._conns)
        self.shadow = ShadowReadTable(self._conns)

    def atomic(self) -> AbstractContextManager[object]:
        return self._conns.atomic()

    def waits_within(self, budget: WaitBudget) -> AbstractContextManager[None]:
        return self._conns.waits_within(budget)

    def refuse_writes(self, on: bool = True) -> None:
        """While ``on``, every write fails as on a read-only database, and reads go on: a
        home frozen for maintenance (a copy of the file being taken), or a test of a home
        that refuses writes (as root, a read-only file mode would not stop one)."""
        self._conns.refuse_writes(on)
        self.cache.refuse_writes(on)

    def close(self) -> None:
        self._conns.close()
        self.cache.close()
