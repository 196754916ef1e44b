"""One write's budget for waiting: every lock it waits for draws on the same seconds.

A write waits for this process's write locks and for SQLite's (another connection or
process writing). Each wait given the full busy timeout of its own made the k-th of k
queued writes wait about k timeouts; with one budget per write, a write that cannot get
its locks in ``db_busy_timeout_s`` of waiting in all is refused, however many wait with
it. Work between the waits (embedding) does not draw on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class WaitBudget:
    """Seconds a write may still spend waiting for locks, shared by all its waits."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self._left = seconds

    @property
    def left(self) -> float:
        return max(0.0, self._left)

    @contextmanager
    def waiting(self) -> Iterator[float]:
        """Time a wait (yielding what is left for it) and charge it to the budget."""
        started = time.monotonic()
        try:
            yield self.left
        finally:
            self._left -= time.monotonic() - started

    def acquire(self, lock: threading.Lock) -> bool:
        """Take ``lock`` within what is left (at once if it is free); False if it timed out."""
        with self.waiting() as left:
            return lock.acquire(timeout=left)
