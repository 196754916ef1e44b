"""The backfill runner: one migration's backfill on a thread of its own, and its progress.

The runner owns that thread and its stop event. When a run ends (finished, stopped or
failed) it calls ``ended(migration_id)`` so the phase moves reload the migration's
record; it never takes the action lock (an abort joins this thread while holding it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .backfill import Backfiller
from .migration import Backfill
from .registry import IndexRegistry
from .store import Migration, Store

log = logging.getLogger(__name__)


class BackfillRunner:
    def __init__(self, store: Store, registry: IndexRegistry, ended: Callable[[int], None]) -> None:
        self.store = store
        self.registry = registry
        self._ended = ended
        self._backfiller: Backfiller | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Whether this process may run a backfill: always on SQLite; on PostgreSQL only
        # the leading replica (``replicas/leadership.py``), which starts the live one.
        self.may_run: Callable[[], bool] = lambda: True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, m: Migration) -> None:
        """Run ``m``'s backfill from its cursor, unless one is running already (or this
        replica does not lead: the leader starts it when it sees the move)."""
        if self.running or not self.may_run():
            return
        target = self.registry.get(m.target)

        def checkpoint() -> str | None:
            info = self.registry.snapshot(target, force=True)
            return None if info is None else info.created_at

        self._stop = threading.Event()
        self._backfiller = Backfiller(
            self.store,
            target,
            m.id,
            m.plan.backfill_batch,
            checkpoint,
            self._stop,
            gap_factor=self.registry.settings.snapshot_gap_factor,
        )
        self._thread = threading.Thread(target=self._run, name="switchover-backfill", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the running backfill to stop at its next batch, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def wait(self, timeout: float = 600.0) -> None:
        """Block until the running backfill ends (tests, the CLI's --wait)."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def state(self, m: Migration) -> Backfill:
        """``m``'s backfill as it stands: the live run's if it runs, else the stored one."""
        live = self._backfiller
        if live is not None and live.migration_id == m.id:
            return live.state
        return m.backfill

    def progress(self, m: Migration) -> Backfill:
        """The state with the live run's rate, ETA and error, when ``m``'s runs here."""
        live = self._backfiller
        if live is not None and live.migration_id == m.id:
            return live.progress()
        return self.state(m)

    def _run(self) -> None:
        backfiller = self._backfiller
        if backfiller is None:
            return
        try:
            backfiller.run()
        except Exception as exc:  # reported in the status; the operator retries
            backfiller.error = f"{type(exc).__name__}: {exc}"
            log.exception("backfill of migration %d failed", backfiller.migration_id)
        self._ended(backfiller.migration_id)
