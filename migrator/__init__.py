"""The write log, the index catalog, the migration lifecycle and the facade adapters call."""

from .index_info import IndexInfo
from .read_path import SearchResult
from .records import WriteResult
from .requests import ActionRequest, EvalRequest
from .service import Switchover, check_home
from .settings import Limits, Settings, load_settings
from .store import CatalogEntry, Document, DocumentIn, LogRecord, SqliteStore, Store
from .views import (
    BackfillProgress,
    ConfigView,
    EvalSetInfo,
    EvalStarted,
    HealthInfo,
    MigrationKnobs,
    MigrationStatus,
    SnapshotWritten,
)

__all__ = [
    "ActionRequest",
    "BackfillProgress",
    "CatalogEntry",
    "ConfigView",
    "Document",
    "DocumentIn",
    "EvalRequest",
    "EvalSetInfo",
    "EvalStarted",
    "HealthInfo",
    "IndexInfo",
    "Limits",
    "LogRecord",
    "MigrationKnobs",
    "MigrationStatus",
    "SearchResult",
    "Settings",
    "SnapshotWritten",
    "SqliteStore",
    "Store",
    "Switchover",
    "WriteResult",
    "check_home",
    "load_settings",
]
