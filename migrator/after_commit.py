"""Work after a move committed: run it, and report a failure in the status, never raise it.

Raised, a failure would answer "nothing changed" (a 503 to retry) for a move that did
change the state, and the retry would meet a 409.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepFailure:
    """A step that failed after a move had committed, and what happens next (``then``)."""

    step: str
    error: str
    then: str
    at: float


class AfterCommit:
    """Runs the steps that follow a commit; keeps their failures by migration."""

    def __init__(self) -> None:
        self._failures: dict[int, list[StepFailure]] = {}
        self._lock = threading.Lock()  # a leaf: nothing is taken while it is held

    def run(self, migration_id: int, step: str, work: Callable[[], object], then: str) -> None:
        try:
            work()
        except Exception as exc:  # the move committed: report any failure, never raise it
            log.warning("migration %d: %s failed after the commit: %s", migration_id, step, exc)
            with self._lock:
                found = self._failures.setdefault(migration_id, [])
                found.append(StepFailure(step, str(exc), then, time.time()))

    def failures(self, migration_id: int) -> list[StepFailure]:
        with self._lock:
            return list(self._failures.get(migration_id, []))
