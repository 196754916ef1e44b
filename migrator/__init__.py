"""The write log, the index catalog, the migration lifecycle and the facade adapters call."""

from .estimate import MigrationEstimate
from .index_info import IndexInfo
from .migration import Plan
from .read_path import SearchResult
from .records import WriteResult
from .requests import (
    ActionRequest,
    ConfigChange,
    EvalRequest,
    MigrationRequest,
    PlanUpdate,
    PowerRequest,
    RebuildRequest,
    SearchParamsChange,
    SearchQuery,
    TargetRequest,
)
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
    "ConfigChange",
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
    "MigrationEstimate",
    "MigrationKnobs",
    "MigrationRequest",
    "MigrationStatus",
    "Plan",
    "PlanUpdate",
    "PowerRequest",
    "RebuildRequest",
    "SearchParamsChange",
    "SearchQuery",
    "SearchResult",
    "Settings",
    "SnapshotWritten",
    "SqliteStore",
    "Store",
    "Switchover",
    "TargetRequest",
    "WriteResult",
    "check_home",
    "load_settings",
]
