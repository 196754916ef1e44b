"""Whether the home can take writes: the last write's outcome and cheap file checks.

``/healthz`` reports ``degraded`` with these reasons while they hold (reads still work,
so it stays HTTP 200). Every check is a syscall or two, cheap enough for every probe:
no write is attempted, and no lock is taken that a write could be waiting for.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from indexes.errors import StorageBusyError, StorageError

from .views import HealthInfo

if TYPE_CHECKING:
    from .registry import IndexRegistry
    from .settings import Settings
    from .store import Store

# SQLite's transient refusals: another connection holds a lock; the write may be retried.
TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED")


def is_transient(exc: StorageError) -> bool:
    """A lock held by another process (a backup, a shell) or by this server's other writes:
    a wait, not a broken home."""
    if isinstance(exc, StorageBusyError):
        return True
    cause = exc.__cause__
    name = getattr(cause, "sqlite_errorname", None) if isinstance(cause, sqlite3.Error) else None
    return isinstance(name, str) and name.startswith(TRANSIENT)


class WriteOutcome:
    """The last client write's storage outcome: its error until a write succeeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: str | None = None

    def failed(self, exc: StorageError) -> None:
        if not is_transient(exc):
            with self._lock:
                self._error = str(exc)

    def succeeded(self) -> None:
        with self._lock:
            self._error = None

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error


def storage_reasons(
    *,
    last_write_error: str | None,
    db_writable: bool,
    read_only_filesystem: bool,
    free_bytes: int,
) -> list[str]:
    """Why writes fail or will, from what was observed (pure)."""
    reasons = []
    if last_write_error is not None:
        reasons.append(f"writes are failing: {last_write_error}")
    if not db_writable:
        reasons.append("the database file or its folder is not writable")
    if read_only_filesystem:
        reasons.append("the home's filesystem is mounted read-only")
    if free_bytes <= 0:
        reasons.append("the home's filesystem has no free space")
    return reasons


def probe_storage(db_path: Path, last_write_error: str | None) -> list[str]:
    """:func:`storage_reasons` for ``db_path`` now.

    ``os.access`` says yes to root for any file mode; the last write's outcome is what
    catches a database refusing writes there.
    """
    folder = db_path.parent
    writable = os.access(folder, os.W_OK) and (not db_path.exists() or os.access(db_path, os.W_OK))
    try:
        fs = os.statvfs(folder)
        read_only, free = bool(fs.f_flag & os.ST_RDONLY), fs.f_bavail * fs.f_frsize
    except OSError:  # the folder is gone: nothing can be written there
        read_only, free, writable = False, 0, False
    return storage_reasons(
        last_write_error=last_write_error,
        db_writable=writable,
        read_only_filesystem=read_only,
        free_bytes=free,
    )


def health_info(
    settings: Settings, store: Store, registry: IndexRegistry, outcome: WriteOutcome
) -> HealthInfo:
    """``degraded``, with reasons, while the home refuses writes (reads still work)."""
    reasons = probe_storage(settings.db_path, outcome.error)
    return HealthInfo(
        status="degraded" if reasons else "ok",
        reasons=reasons,
        documents=store.log.document_count(),
        last_seq=store.log.last_seq(),
        serving=registry.primary().name,
        applied_seq=registry.primary().index.applied_seq,
        leading=False,  # the service says whether it leads (``Replication``)
    )
