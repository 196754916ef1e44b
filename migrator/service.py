"""The facade every adapter (HTTP API, CLI, tests) calls, and the parts it is made of.

``Switchover(settings)`` opens the store and the live indexes and wires the parts; it
starts no thread. ``start()`` starts every background worker (the applier and the
periodic snapshots, the shadow reader, a backfill resumed from before a restart, the
watchdog); ``close()`` stops them in reverse.

Lock order. A thread holding a lock takes only locks below it in this list, never one
above it (the list is read top to bottom, outermost first). The home's flock
(``HomeLock``, HOME/switchover.lock) is held by the process from open to close and
guards the home against a second service; it is no thread lock.

1. ``RuntimeConfig._lock``: one config change (or revert) at a time.
2. ``Watchdog._tick_lock``: one tick at a time (the thread's and a test's).
3. ``RecallSession._lock``: one step of the session at a time (taken by a tick).
4. ``PhaseMoves._action_lock`` (re-entrant): moves, creation, plan and config changes
   of the live migration, one at a time. The backfill thread never takes it (an abort
   joins that thread while holding it).
5. ``WritePath._write_slots`` (a semaphore, never waited for): writes in flight.
6. ``write_lock`` (this module's, shared by the write path, creation, finalize and abort):
   log order is apply order; no write between finalize's catch-up and the role swap.
7. ``IndexRuntime.apply_lock``: one thread applies records to an index at a time.
8. ``IndexRegistry._snapshot_lock``: one snapshot writer; then ``indexes.snapshots``'s.
9. ``Connections._write_lock`` (``store/connection.py``): the one write connection
   (SQLite's own lock after it). On PostgreSQL: a pooled connection, then the database's
   row and advisory locks (``store/postgres/connection.py``).
10. ``VectorIndex``'s read/write lock: searches together, mutations alone.

Leaves, under which nothing is taken: the observation windows, the shadow reader's
stats, ``AfterCommit``'s failures, ``WriteOutcome``'s, ``BoundedCalls._start_lock``, the
embedding cache's and the embedders' locks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Unpack

from indexes import load_embedder

from .after_commit import AfterCommit
from .backfill_runner import BackfillRunner
from .batch_search import search_batch
from .config import RuntimeConfig
from .estimate import MigrationEstimate
from .evaljobs import EvalJobs
from .evidence import Evidence
from .guardrails import Check, WatchdogHealth
from .health import health_info
from .homelock import HomeLock
from .index_info import IndexInfo, index_infos
from .migration import Backfill
from .moves import PhaseMoves
from .plan_edits import PlanEdits
from .planning import Planner
from .read_path import ReadPath, SearchOptions, SearchResult
from .reads import ReadRouter, Traffic
from .records import WriteResult
from .registry import IndexRegistry
from .replicas import Replication
from .requests import (
    ActionRequest,
    ConfigChange,
    EvalRequest,
    MigrationRequest,
    PlanUpdate,
    PowerRequest,
    RebuildRequest,
    SearchQuery,
    TargetRequest,
)
from .runtime import IndexRuntime, ProgressFn
from .settings import Settings
from .shadow import ShadowStats
from .status import Statuses
from .store import (
    ConfigVersion,
    Document,
    DocumentIn,
    EvalRunRecord,
    Event,
    Migration,
    Store,
)
from .stores import open_link, open_store
from .targets import Targets
from .views import (
    ConfigView,
    EvalSetInfo,
    EvalStarted,
    HealthInfo,
    MigrationStatus,
    SnapshotWritten,
)
from .watchdog import Watchdog
from .write_path import WritePath


def check_home(settings: Settings) -> None:
    """Refuse, without opening the service: a home another process has open (ConflictError),
    a database that is not ours, corrupted or newer (StorageError). For an adapter that must
    fail in one clean line before it starts serving; the service takes the lock again itself."""
    lock = HomeLock.acquire(settings.home)
    try:
        open_store(settings).close()
    finally:
        lock.release()


def open_primaries(
    settings: Settings, store: Store, registry: IndexRegistry, progress: ProgressFn | None
) -> None:
    """Open every primary index of the catalog; on a new home, create the default one."""
    entries = store.catalog.entries()
    if not entries:
        spec = settings.default_index
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        entries = [store.catalog.add(spec, embedder.fingerprint, embedder.dim, "primary")]
    for entry in entries:
        if entry.role == "primary":
            registry.open(entry, progress=progress)


class Switchover:
    """The service: one store, the live index versions, the migration's parts."""

    moves: PhaseMoves  # built after the parts that read its live migration late

    def __init__(self, settings: Settings, *, progress: ProgressFn | None = None) -> None:
        """Open the home; ConflictError if another process (or service) has it open."""
        self.settings = settings
        # One service per home, for as long as it is open: a second one would route and
        # apply from its own stale view of the shared log (released in close()).
        self._home_lock = HomeLock.acquire(settings.home)
        try:
            self._open(progress)
        except BaseException:
            self._home_lock.release()
            raise

    def _open(self, progress: ProgressFn | None) -> None:
        settings = self.settings
        self.store: Store = open_store(settings)
        self.registry = IndexRegistry(settings, self.store)
        write_lock = threading.Lock()
        open_primaries(settings, self.store, self.registry, progress)
        self.after_commit = AfterCommit()

        def current() -> Migration | None:  # ``moves`` holds it; read at every call
            return self.moves.current

        def ended(migration_id: int) -> None:  # ``moves`` is built after the runner
            self.moves.reload(migration_id)

        self.reads = ReadRouter(self.registry, current, self.store.shadow.add)
        self.evidence = Evidence(self.store, self.registry, self.reads)
        self.backfill = BackfillRunner(self.store, self.registry, ended)
        self.moves = PhaseMoves(
            self.store, self.registry, write_lock, self.evidence, self.backfill, self.after_commit
        )
        self.targets = Targets(self.store, self.registry, write_lock, self.moves, self.after_commit)
        self.plans = PlanEdits(self.store, self.moves, self.evidence)
        self.planner = Planner(self.store, self.registry)
        self.watchdog = Watchdog(self.moves, self.evidence, self.reads)
        # one process on SQLite; one of several on PostgreSQL (replicas/replication.py)
        link = open_link(settings)
        self.replication = Replication(link, self.store, self.moves, self.targets, self.watchdog)
        self.statuses = Statuses(
            self.moves, self.backfill, self.evidence, self.watchdog, self.after_commit
        )
        self.evals = EvalJobs(self.store, self.registry, current)
        self.config = RuntimeConfig(self.store, self.registry, self.moves, self.plans)
        self.writes = WritePath(settings, self.store, self.registry, self.reads, write_lock)
        self.read_path = ReadPath(
            settings, self.store, self.registry, self.reads, lambda: self.writes.acked_seq
        )

    # -- background work -----------------------------------------------------------------

    def start(self) -> None:
        """Start every background worker: applier and snapshots, shadow reader, a resumed
        backfill, the watchdog (the server does; tests start it or tick by hand)."""
        self.registry.start_background()
        self.reads.start()
        self.replication.start()  # leads: a resumed backfill, the watchdog

    def close(self, *, snapshot: bool = True) -> None:
        """Stop background work in reverse and, by default, snapshot every changed index."""
        self.replication.stop()
        self.watchdog.stop()
        self.evals.close()
        self.backfill.stop()
        self.reads.close()
        self.registry.stop()
        if snapshot:
            for runtime in self.registry.all():
                self.registry.snapshot(runtime, force=False, min_records=1)
        self.registry.backends.close()
        self.store.close()
        self._home_lock.release()

    # -- documents and search ------------------------------------------------------------

    def upsert(self, documents: Sequence[DocumentIn]) -> WriteResult:
        return self.writes.upsert(documents)

    def delete(self, doc_id: str) -> WriteResult:
        return self.writes.delete(doc_id)

    def get(self, doc_id: str) -> Document:
        return self.read_path.get(doc_id)

    def search(self, query: str, k: int = 10, **options: Unpack[SearchOptions]) -> SearchResult:
        """One routed search (:class:`SearchOptions` names its options)."""
        return self.read_path.search(query, k, **options)

    def search_batch(
        self,
        queries: Sequence[SearchQuery],
        *,
        include_documents: bool = False,
        routing_key: str | None = None,
        after_seq: int | None = None,
    ) -> list[SearchResult]:
        """Up to ``max_search_batch`` queries, embedded in one call per embedder, each routed
        by its own routing key or else ``routing_key``; one answer per query, in order."""
        return search_batch(
            self.read_path,
            queries,
            include_documents=include_documents,
            routing_key=routing_key,
            after_seq=after_seq,
        )

    def search_pinned(
        self,
        index_name: str,
        query: str,
        k: int = 10,
        *,
        include_documents: bool = False,
        where: Mapping[str, Any] | None = None,
    ) -> SearchResult:
        """Search one named index version, bypassing routing (eval jobs, debugging)."""
        return self.read_path.search_pinned(
            index_name, query, k, include_documents=include_documents, where=where
        )

    # -- indexes -------------------------------------------------------------------------

    def runtime(self, name: str) -> IndexRuntime:
        return self.registry.get(name)

    def indexes(self) -> list[IndexInfo]:
        return index_infos(self.store, self.registry)

    def last_seq(self) -> int:
        return self.store.log.last_seq()

    def health(self) -> HealthInfo:
        """``degraded``, with reasons, while the home refuses writes (reads still work)."""
        info = health_info(self.settings, self.store, self.registry, self.writes.outcome)
        return replace(info, leading=self.replication.leading)

    def snapshot(self, name: str | None = None) -> list[SnapshotWritten]:
        """Write a snapshot of one index (or every live one) now."""
        return self.registry.snapshot_now(name)

    # -- migrations ----------------------------------------------------------------------

    def create_migration(self, request: MigrationRequest, actor: str) -> MigrationStatus:
        return self.statuses.of(self.targets.create(request, actor))

    def plan_migration(
        self,
        target: TargetRequest,
        sample: int = 128,
        seed: int = 0,
        power: PowerRequest | None = None,
    ) -> MigrationEstimate:
        """What migrating to ``target`` would cost (a timed sample), and with ``power`` the
        eval set's paired queries against the margin's need; creates nothing."""
        return self.planner.plan(target, sample, seed, power)

    def rebuild(self, name: str, request: RebuildRequest, actor: str) -> MigrationStatus:
        """A layout-only migration of the primary ``name`` to a fresh copy of itself."""
        return self.statuses.of(self.targets.rebuild(name, request, actor))

    def migration_action(
        self, migration_id: int, action: str, request: ActionRequest, actor: str
    ) -> MigrationStatus:
        return self.statuses.of(self.moves.act(migration_id, action, request, actor))

    def update_migration_plan(
        self, migration_id: int, update: PlanUpdate, actor: str
    ) -> MigrationStatus:
        return self.statuses.of(self.plans.update(migration_id, update, actor))

    def live_migration(self) -> Migration | None:
        """The migration in progress (None when none is)."""
        return self.moves.current

    def latest_migration(self) -> Migration | None:
        """The live migration, or else the newest one (None when none was created)."""
        return self.moves.latest()

    def current_migration(self) -> MigrationStatus:
        return self.statuses.latest()

    def migration_events(self, migration_id: int) -> list[Event]:
        return self.store.migrations.events(migration_id)

    def wait_backfill(self, timeout: float = 600.0) -> Backfill:
        """Block until the running backfill ends (tests, benchmarks); the live one's state."""
        self.backfill.wait(timeout)
        m = self.moves.current
        return m.backfill if m is not None else Backfill()

    # -- what the operator watches -------------------------------------------------------

    def traffic(self) -> Traffic:
        return self.reads.traffic()

    def shadow_stats(self) -> ShadowStats:
        return self.reads.shadow.stats()

    def guardrail_checks(self) -> list[Check]:
        return self.evidence.checks

    def watchdog_health(self) -> WatchdogHealth:
        return self.watchdog.health

    def latencies_ms(self, index: str, window_s: float) -> list[float]:
        """Search latencies of ``index`` within the window (none for an unseen index)."""
        return self.reads.observations.latencies_ms(index, window_s)

    # -- eval sets and eval jobs ---------------------------------------------------------

    def add_eval_set(self, name: str, path: str, sample: int, seed: int) -> EvalSetInfo:
        return self.evals.add_eval_set(name, path, sample, seed)

    def eval_sets(self) -> list[EvalSetInfo]:
        return self.evals.eval_sets()

    def start_eval(self, request: EvalRequest) -> EvalStarted:
        return self.evals.start(request)

    def eval_run(self, run_id: int) -> EvalRunRecord:
        return self.evals.get(run_id)

    def eval_runs(self, migration_id: int | None = None, limit: int = 100) -> list[EvalRunRecord]:
        """Eval runs, newest first (of one migration, when given)."""
        return self.store.evals.runs(migration_id, limit)

    # -- runtime configuration -----------------------------------------------------------

    def config_view(self) -> ConfigView:
        return self.config.current()

    def set_config(self, change: ConfigChange, actor: str) -> ConfigView:
        return self.config.set(change, actor)

    def revert_config(self, version: int | None, actor: str) -> ConfigView:
        return self.config.revert(version, actor)

    def config_history(self) -> list[ConfigVersion]:
        return self.config.history()
