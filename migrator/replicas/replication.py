"""This process among the replicas of one database: the facade's collaborator for it.

On SQLite there is no link: one process serves the home, leads from ``start`` on (it
resumes the backfill a restart interrupted and runs the watchdog) and follows nobody,
exactly as a single service always has.

On PostgreSQL any number of ``switchover serve`` processes share the store, and each:

- tails the write log: every commit that appends to it notifies the replicas, whose
  applier (``IndexRegistry``) then catches their in-process indexes up; it also polls
  every 0.5 s, and a read catches the index it searches up first anyway;
- follows the state the others change (``StateSync``): notified at every commit that
  changes a migration, the catalog or the configuration, and polled every ``poll_s``
  whatever happens to the notices, so a rollback through one replica routes every
  replica's reads to the source within about a second;
- runs the backfill and the watchdog only while it holds the leader lock
  (``Leadership``); when the leader dies, PostgreSQL frees its lock and another replica
  takes it within ``leader_interval_s``, resumes the backfill from its stored cursor and
  judges from then on.
"""

from __future__ import annotations

import logging
import threading

from ..backfill_runner import BackfillRunner
from ..evidence import Evidence
from ..moves import PhaseMoves
from ..phases import Phase
from ..registry import IndexRegistry
from ..store import Migration, Store
from ..targets import Targets
from ..watchdog import Watchdog
from .leadership import Leadership
from .link import Notice, ReplicaLink
from .state_sync import StateSync
from .targets import ReplicaTargets

log = logging.getLogger(__name__)


class Replication:
    def __init__(
        self,
        link: ReplicaLink | None,
        store: Store,
        moves: PhaseMoves,
        targets: Targets,
        watchdog: Watchdog,
        *,
        poll_s: float = 0.5,
        leader_interval_s: float = 1.0,
    ) -> None:
        self.registry: IndexRegistry = moves.registry
        self.backfill: BackfillRunner = moves.backfill
        self.moves = moves
        self.watchdog = watchdog
        self.poll_s = poll_s
        self.replicated = link is not None
        self.targets = ReplicaTargets(store, self.registry, lambda: moves.current)
        evidence: Evidence = moves.evidence
        self.sync = StateSync(store, self.registry, moves, evidence, self.targets)
        lock = None if link is None else link.leader_lock()
        self.leadership = Leadership(
            lock, self._lead, self._step_down, interval_s=leader_interval_s
        )
        self._notices = None if link is None else link.notices(self._on_notice)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # SQLite: the live migration's target comes back from its snapshot and the log now,
        # and a backfill to run again is started once this process leads (at ``start``).
        # A replica opens it from the whole log in the background (its first refresh).
        self._resume: Migration | None = None
        if link is None:
            self._resume = targets.reopen()
        else:
            targets.open_target = self.targets.open
            self.backfill.may_run = lambda: self.leadership.leading

    @property
    def leading(self) -> bool:
        return self.leadership.leading

    def start(self) -> None:
        if self._notices is not None:
            self.sync.refresh()
            self._notices.start()
            self._thread = threading.Thread(
                target=self._run, name="switchover-state-sync", daemon=True
            )
            self._thread.start()
        self.leadership.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._notices is not None:
            self._notices.stop()
        self.leadership.stop()

    def refresh(self) -> None:
        """Follow the store now (the thread does every ``poll_s``, or when notified)."""
        self.sync.refresh()
        if self.leadership.leading:
            self._ensure_backfill()

    # -- inside ----------------------------------------------------------------------------

    def _on_notice(self, notice: Notice) -> None:
        if notice == "log":
            self.registry.wake()
        else:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception:  # the store is away: the next round tries again
                log.warning("replica state refresh failed", exc_info=True)

    def _lead(self) -> None:
        if self._resume is not None:
            self.backfill.start(self._resume)
            self._resume = None
        if self.replicated:
            self._ensure_backfill()
        self.watchdog.start()

    def _step_down(self) -> None:
        self.watchdog.stop()
        self.backfill.stop()

    def _ensure_backfill(self) -> None:
        """The leader runs the live migration's backfill while it is due (moved to
        ``backfilling`` through any replica, or left unfinished by a leader that died)."""
        m = self.moves.current
        if m is None or m.phase != Phase.BACKFILLING or m.backfill.finished:
            return
        if self.registry.find(m.target) is not None and not self.backfill.running:
            log.info("leader: running the backfill of migration %d", m.id)
            self.backfill.start(m)
