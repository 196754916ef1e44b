"""How a replica opens a migration's target: in the background, from the whole log.

One replica (the leader) runs the backfill and records it, but every replica has its own
in-process FAISS indexes, so each fills its target itself: it replays the whole write log
into an empty index (vectors come from the shared embedding cache; only misses are
encoded), which holds every live document, and its backfill has nothing to copy (see
``Backfiller``). Local snapshots of a target are not used: one written mid-backfill by a
replica that then stopped leading would miss documents. A pgvector target is one table
for all replicas: it opens at the migration's start, and the leader's backfill fills it.

The replay runs on a thread of its own; until it ends the target is not live here, so
reads and writes skip it (as they do until a target opens) and nothing waits for it. If
the migration ended meanwhile, the opened target is dropped again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..registry import IndexRegistry
from ..store import Migration, Store

log = logging.getLogger(__name__)


class ReplicaTargets:
    def __init__(
        self, store: Store, registry: IndexRegistry, live: Callable[[], Migration | None]
    ) -> None:
        self.store = store
        self.registry = registry
        self._live = live  # the live migration as this replica follows it
        self._opening: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def open(self, m: Migration) -> None:
        """Open ``m``'s target in the background, unless it is live or opening already."""
        with self._lock:
            busy = self._opening.get(m.target)
            if self.registry.find(m.target) is not None or (busy and busy.is_alive()):
                return
            thread = threading.Thread(
                target=self._open, args=(m,), name="switchover-target-open", daemon=True
            )
            self._opening[m.target] = thread
            thread.start()

    def opening(self) -> list[str]:
        """The targets replaying the log now."""
        with self._lock:
            return [name for name, t in self._opening.items() if t.is_alive()]

    def wait(self, timeout: float = 600.0) -> None:
        """Block until every open under way has ended (tests, start-up)."""
        with self._lock:
            threads = list(self._opening.values())
        for thread in threads:
            thread.join(timeout)

    def _open(self, m: Migration) -> None:
        try:
            entry = next(e for e in self.store.catalog.entries() if e.name == m.target)
            in_process = entry.spec.backend != "pgvector"
            start = 0 if in_process else m.backfill.as_of_seq
            runtime, _ = self.registry.open(entry, start_seq=start, snapshots=not in_process)
            runtime.replayed_whole = in_process
        except Exception:  # reported; the next refresh tries again
            log.exception("replica: opening target %s failed", m.target)
            return
        live = self._live()
        if live is None or live.target != m.target:
            self.registry.drop(m.target)  # the migration ended while the log replayed
            return
        log.info("replica: target %s is live here", m.target)
