"""The write log, the index catalog, the migration lifecycle and the facade adapters call."""

from .index_info import IndexInfo
from .read_path import SearchResult
from .records import WriteResult
from .service import Switchover
from .settings import Limits, Settings, load_settings
from .store import CatalogEntry, Document, DocumentIn, LogRecord, SqliteStore, Store

__all__ = [
    "CatalogEntry",
    "Document",
    "DocumentIn",
    "IndexInfo",
    "Limits",
    "LogRecord",
    "SearchResult",
    "Settings",
    "SqliteStore",
    "Store",
    "Switchover",
    "WriteResult",
    "load_settings",
]
