"""The store: the only place with SQL; typed records out, behind the ``Store`` protocol.

``SqliteStore`` composes one object per concern over one SQLite file: ``log`` (write log and
documents), ``catalog``, ``cache`` (embeddings), ``migrations`` (index migrations and their
events), ``evals``, ``config`` (versions) and ``shadow`` (reads), with one re-entrant
``atomic()`` transaction across them.
"""

from .protocol import (
    Catalog,
    ConfigVersions,
    CountedCache,
    Evals,
    IndexMigrations,
    ShadowReads,
    Store,
    WriteLog,
)
from .records import (
    CatalogEntry,
    ConfigVersion,
    Document,
    DocumentIn,
    EvalRunRecord,
    EvalSetRecord,
    Event,
    LogRecord,
    Migration,
    Op,
    Role,
    ShadowReadRecord,
)
from .sqlite import SqliteStore

__all__ = [
    "Catalog",
    "CatalogEntry",
    "ConfigVersion",
    "ConfigVersions",
    "CountedCache",
    "Document",
    "DocumentIn",
    "EvalRunRecord",
    "EvalSetRecord",
    "Evals",
    "Event",
    "IndexMigrations",
    "LogRecord",
    "Migration",
    "Op",
    "Role",
    "ShadowReadRecord",
    "ShadowReads",
    "SqliteStore",
    "Store",
    "WriteLog",
]
