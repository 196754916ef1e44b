"""Leader election: the replica holding the leader lock runs the backfill and the watchdog.

A thread tries the lock every ``interval_s`` while it does not lead, and checks it is
still held while it does; ``on_gain`` and ``on_lose`` start and stop the leader's work.
Without a lock (a SQLite home, one process) the service leads from ``start`` on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .link import LeaderLock

log = logging.getLogger(__name__)


class Leadership:
    def __init__(
        self,
        lock: LeaderLock | None,
        on_gain: Callable[[], None],
        on_lose: Callable[[], None],
        *,
        interval_s: float = 1.0,
    ) -> None:
        self._lock = lock
        self._on_gain = on_gain
        self._on_lose = on_lose
        self.interval_s = interval_s
        self._leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        return self._leading

    def start(self) -> None:
        if self._lock is None:
            self._gain()
            return
        self._thread = threading.Thread(target=self._run, name="switchover-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop trying; a leader stops its work and releases the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._leading:
            self._lose()
        if self._lock is not None:
            self._lock.release()

    def check(self) -> None:
        """One round: take the lock if it is free, or notice it was lost."""
        if self._lock is None:
            return  # one process: it leads from start on
        if not self._leading and self._lock.try_acquire():
            log.info("this replica leads: it runs the backfill and the watchdog")
            self._gain()
        elif self._leading and not self._lock.held():
            log.warning("this replica lost the leader lock: backfill and watchdog stop here")
            self._lose()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the next round tries again
                log.exception("leader election failed a round")
            self._stop.wait(self.interval_s)

    def _gain(self) -> None:
        self._leading = True
        self._on_gain()

    def _lose(self) -> None:
        self._leading = False
        self._on_lose()
