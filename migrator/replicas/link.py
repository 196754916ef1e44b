"""What the replicas of one database share besides the store: notices and a leader lock.

The core is written against these protocols; ``store/postgres/notices.py`` implements them
on PostgreSQL (LISTEN/NOTIFY, an advisory lock). A SQLite home has no link: one process
serves it, and it always leads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

Notice = Literal["log", "state"]  # the write log grew; a migration, catalog or config changed


class Notices(Protocol):
    """A background listener that calls back with every notice (``start``/``stop``)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class LeaderLock(Protocol):
    """A lock one replica at a time holds, released by the database when that replica dies."""

    def try_acquire(self) -> bool: ...
    def held(self) -> bool: ...
    def release(self) -> None: ...


class ReplicaLink(Protocol):
    def notices(self, on_notice: Callable[[Notice], None]) -> Notices: ...
    def leader_lock(self) -> LeaderLock: ...
