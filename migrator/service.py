"""The facade every adapter (HTTP API, CLI, tests) calls.

Write path: validate -> embed for every index that serves reads (outside any lock, so
requests encode in parallel) -> commit the log record (the acknowledgement point) ->
apply to those indexes in sequence order -> wake the applier for the others. A
failure after the commit never un-acknowledges the write: the index catches up from
the log, and its lag shows in the status.

A write waits at most ``db_busy_timeout_s`` in all, for the service's write lock, the
store's and SQLite's together (one ``WaitBudget``), and at most
``limits.max_pending_writes`` writes are in flight: the next is refused at once. A
refused write changes nothing.

Only the primary is waited for without a bound. The other side that serves reads (the
target during canary and cutover) gets ``settings.target_timeout_s`` to embed a write
or answer a read; past it, or when it is busy catching up, the write is acknowledged
without it (it catches up from the log) and the read is answered by the source, so a
hung or slow target never holds a request up for longer than that.

Read your writes: a read goes to the target only when the target has applied every write
acknowledged before the read began; while it lags, the source (always applied before
the ack) answers, so an acknowledged write is never missing from a search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any, Concatenate, ParamSpec

import numpy as np

from indexes import Hit, IndexSpec, QueryVectors, load_embedder
from indexes.errors import (
    InvalidInputError,
    NotFoundError,
    StorageBusyError,
    StorageError,
    SwitchoverError,
)

from .budget import WaitBudget
from .config import RuntimeConfig
from .evaljobs import EvalJobs
from .health import WriteOutcome, probe_storage
from .homelock import HomeLock
from .lifecycle import MigrationLifecycle
from .records import WriteResult
from .registry import IndexRegistry
from .runtime import IndexRuntime, ProgressFn
from .settings import Settings
from .store import Document, DocumentIn, Event, LogRecord, Migration, SqliteStore, Store
from .validation import check_doc_id, check_documents, check_query
from .watchdog import Watchdog

log = logging.getLogger(__name__)
P = ParamSpec("P")


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    served_by: str
    documents: dict[str, Document] | None = None
    fallback: bool = False


@dataclass(frozen=True)
class IndexInfo:
    name: str
    role: str
    spec: IndexSpec
    fingerprint: str
    dim: int
    count: int
    applied_seq: int
    lag_records: int
    lag_seconds: float
    search_params: dict[str, Any]
    stats: dict[str, Any]
    last_snapshot_seq: int | None
    encoded_since_start: int
    last_error: str | None
    recovery: dict[str, Any]


def _watch_storage(
    write: Callable[Concatenate[Switchover, P], WriteResult],
) -> Callable[Concatenate[Switchover, P], WriteResult]:
    """Record a client write's storage outcome for ``health()`` (a failure until a success)."""

    @wraps(write)
    def watched(service: Switchover, /, *args: P.args, **kwargs: P.kwargs) -> WriteResult:
        try:
            result = write(service, *args, **kwargs)
        except StorageError as exc:
            service.write_outcome.failed(exc)
            raise
        service.write_outcome.succeeded()
        return result

    return watched


class Switchover:
    """The service: one store, the live index versions, the migration lifecycle."""

    def __init__(self, settings: Settings, *, progress: ProgressFn | None = None) -> None:
        """Open the home; ConflictError if another process (or service) has it open."""
        self.settings = settings
        self.write_outcome = WriteOutcome()  # the last client write's storage outcome
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
        self.store: Store = SqliteStore(settings.db_path, busy_timeout_s=settings.db_busy_timeout_s)
        self.registry = IndexRegistry(settings, self.store)
        self._write_lock = threading.Lock()
        if settings.limits.max_pending_writes < 1:
            raise InvalidInputError("limits.max_pending_writes must be at least 1")
        self._write_slots = threading.BoundedSemaphore(settings.limits.max_pending_writes)
        entries = self.store.catalog.entries()
        if not entries:
            spec = settings.default_index
            embedder = load_embedder(spec.embedder)
            spec.validate(embedder.dim)
            entries = [self.store.catalog.add(spec, embedder.fingerprint, embedder.dim, "primary")]
        for entry in entries:
            if entry.role == "primary":
                self.registry.open(entry, progress=progress)
        self.migrations = MigrationLifecycle(self.store, self.registry, self._write_lock)
        self.migrations.open_target()
        self.watchdog = Watchdog(self.migrations)
        self.evals = EvalJobs(self.store, self.registry, self.migrations)
        self.config = RuntimeConfig(self.store, self.registry, self.migrations)
        # The last write acknowledged to a client (everything logged before this start
        # counts): a read is served by the target only once the target has applied it.
        self._acked_seq = self.store.log.last_seq()

    # -- lifecycle -----------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the applier, periodic snapshots and the watchdog (the server does; tests tick)."""
        self.registry.start_background()
        self.watchdog.start()

    def close(self, *, snapshot: bool = True) -> None:
        """Stop background work and, by default, snapshot every changed index."""
        self.watchdog.stop()
        self.evals.close()
        self.migrations.close()
        self.registry.stop()
        if snapshot:
            for runtime in self.registry.all():
                self.registry.snapshot(runtime, force=False, min_records=1)
        self.store.close()
        self._home_lock.release()

    # -- writes --------------------------------------------------------------------------

    @_watch_storage
    def upsert(self, documents: Sequence[DocumentIn]) -> WriteResult:
        check_documents(documents, self.settings.limits)
        with self._write_admission() as budget, self.store.waits_within(budget):
            return self._upsert(documents, budget)

    def _upsert(self, documents: Sequence[DocumentIn], budget: WaitBudget) -> WriteResult:
        texts = [d.text for d in documents]
        sync = self.migrations.sync_runtimes()
        vectors: dict[str, dict[str, np.ndarray] | None] = {}
        observations = self.migrations.observations
        for i, runtime in enumerate(sync):
            try:
                if i == 0:
                    vectors[runtime.name] = runtime.embed_documents(texts)
                else:  # the side that may lag never holds the write up for long
                    vectors[runtime.name] = runtime.bounded.call(
                        partial(runtime.embed_documents, texts), self.settings.target_timeout_s
                    )
                    observations.success(runtime.name)
            except SwitchoverError as exc:
                if i == 0:
                    raise  # the primary cannot embed: refuse the write, nothing changed
                runtime.last_error = str(exc)  # a target failure never fails the write
                # ... but it is a failed target request: the error guardrail sees it (its
                # reads go to the source while it lags, so they no longer would)
                observations.failure(runtime.name)
                vectors[runtime.name] = None
        with self._write_locked(budget):
            records = self.store.log.append_upserts(documents)
            for i, runtime in enumerate(sync):
                self._apply(runtime, records, vectors.get(runtime.name), primary=i == 0)
            self._acked_seq = records[-1].seq
        self.registry.wake()
        return WriteResult(written=len(records), seq=records[-1].seq)

    @_watch_storage
    def delete(self, doc_id: str) -> WriteResult:
        check_doc_id(doc_id, self.settings.limits)
        with (
            self._write_admission() as budget,
            self.store.waits_within(budget),
            self._write_locked(budget),
        ):
            record = self.store.log.append_delete(doc_id)
            for i, runtime in enumerate(self.migrations.sync_runtimes()):
                self._apply(runtime, [record], {}, primary=i == 0)
            self._acked_seq = record.seq
        self.registry.wake()
        return WriteResult(written=1, seq=record.seq)

    @contextmanager
    def _write_admission(self) -> Iterator[WaitBudget]:
        """One of at most ``limits.max_pending_writes`` writes in flight, with its wait budget.

        Past the bound a write is refused at once (a 503 with Retry-After; nothing
        changed) instead of queueing behind the others for locks they cannot get.
        """
        if not self._write_slots.acquire(blocking=False):
            raise StorageBusyError(
                f"database busy: {self.settings.limits.max_pending_writes} writes are already"
                " in flight; retry"
            )
        try:
            yield WaitBudget(self.settings.db_busy_timeout_s)
        finally:
            self._write_slots.release()

    @contextmanager
    def _write_locked(self, budget: WaitBudget) -> Iterator[None]:
        """The service's write lock (log order = apply order), within the write's budget."""
        if not budget.acquire(self._write_lock):
            raise StorageBusyError(
                f"database is locked: other writes (or an operator move) held the write lock"
                f" for the whole {budget.total:g} s this write may wait"
            )
        try:
            yield
        finally:
            self._write_lock.release()

    def _apply(
        self,
        runtime: IndexRuntime,
        records: Sequence[LogRecord],
        vectors: Mapping[str, np.ndarray] | None,
        *,
        primary: bool,
    ) -> None:
        """Apply committed records to one index; on failure it catches up later.

        The primary always applies before the write returns. The other side only applies
        when that is quick: if it lags or another thread is applying to it, the applier
        (woken after every write) catches it up, outside the write lock.
        """
        if vectors is None:
            return  # its embedder failed for this batch: the applier retries from the log
        try:
            if runtime.index.applied_seq < records[0].seq - 1:
                if not primary:
                    return
                runtime.catch_up(self.store)
            elif not runtime.apply(records, vectors, wait=primary):
                return
            runtime.last_error = None
        except SwitchoverError as exc:  # the write is committed; the index will catch up
            runtime.last_error = str(exc)
            log.warning("index %s failed to apply seq %d: %s", runtime.name, records[-1].seq, exc)

    # -- reads ---------------------------------------------------------------------------

    def get(self, doc_id: str) -> Document:
        check_doc_id(doc_id, self.settings.limits)
        doc = self.store.log.document(doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id!r} does not exist")
        return doc

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        include_documents: bool = False,
        routing_key: str | None = None,
    ) -> SearchResult:
        query, k = check_query(query, k, self.settings.limits)
        serve, fallback = self.migrations.route(routing_key, self._acked_seq)
        used_fallback = False
        try:
            if fallback is None:
                hits, vectors, embed_ms, served_ms = self._embed_and_search(serve, query, k)
            else:  # a side that may fail or hang: bounded, the source answers instead
                # route() checked it holds every acknowledged write: no catch-up here,
                # so a target read does no write work and never waits for apply locks
                hits, vectors, embed_ms, served_ms = serve.bounded.call(
                    partial(self._embed_and_search, serve, query, k, catch_up=False),
                    self.settings.target_timeout_s,
                )
        except SwitchoverError:
            if fallback is None:
                raise
            self.migrations.errors[serve.name] += 1
            self.migrations.observations.failure(serve.name)
            log.warning(
                "index %s failed a search; %s answers", serve.name, fallback.name, exc_info=True
            )
            serve, used_fallback = fallback, True
            hits, vectors, embed_ms, served_ms = self._embed_and_search(serve, query, k)
        self.migrations.served[serve.name] += 1
        self.migrations.observations.search(serve.name, served_ms)
        self.migrations.maybe_shadow(
            query, k, serve, [h.id for h in hits], served_ms, vectors, embed_ms
        )
        docs = self.store.log.documents([h.id for h in hits]) if include_documents else None
        return SearchResult(hits, serve.name, docs, used_fallback)

    def search_pinned(
        self, index_name: str, query: str, k: int = 10, *, include_documents: bool = False
    ) -> SearchResult:
        """Search one named index version, bypassing routing (eval jobs, debugging)."""
        query, k = check_query(query, k, self.settings.limits)
        runtime = self.registry.get(index_name)
        hits = self._search_on(runtime, query, k)
        docs = self.store.log.documents([h.id for h in hits]) if include_documents else None
        return SearchResult(hits, runtime.name, docs)

    def _embed_and_search(
        self, runtime: IndexRuntime, query: str, k: int, *, catch_up: bool = True
    ) -> tuple[list[Hit], QueryVectors, float, float]:
        """Hits, the query's vectors (for the shadow side), embedding and total time in ms.

        Timed where it runs, so the latency guardrail compares the indexes' own work, not
        the hand-off to the worker thread that bounds a target's call.
        """
        started = time.perf_counter()
        vectors = runtime.embed_query(query)
        embed_ms = (time.perf_counter() - started) * 1000
        hits = self._search_on(runtime, query, k, vectors, catch_up=catch_up)
        return hits, vectors, embed_ms, (time.perf_counter() - started) * 1000

    def _search_on(
        self,
        runtime: IndexRuntime,
        query: str,
        k: int,
        vectors: QueryVectors | None = None,
        *,
        catch_up: bool = True,
    ) -> list[Hit]:
        """Search one index, first closing any gap a failed apply left (read your writes)."""
        if catch_up and runtime.index.applied_seq < self.store.log.last_seq():
            runtime.catch_up(self.store)
        return runtime.search(query, k, vectors=vectors)

    def runtime(self, name: str) -> IndexRuntime:
        return self.registry.get(name)

    def indexes(self) -> list[IndexInfo]:
        infos = []
        for entry in self.store.catalog.entries():
            runtime = self.registry.find(entry.name)
            behind, seconds = runtime.lag(self.store) if runtime else (0, 0.0)
            infos.append(
                IndexInfo(
                    name=entry.name,
                    role=entry.role,
                    spec=entry.spec,
                    fingerprint=entry.fingerprint,
                    dim=entry.dim,
                    count=len(runtime.index) if runtime else 0,
                    applied_seq=runtime.index.applied_seq if runtime else 0,
                    lag_records=behind,
                    lag_seconds=seconds,
                    search_params=(
                        runtime.index.search_params if runtime else entry.search_params
                    ).to_dict(),
                    stats=runtime.index.stats() if runtime else {},
                    last_snapshot_seq=self.registry.last_snapshot_seq(entry.name),
                    encoded_since_start=runtime.encoded_total if runtime else 0,
                    last_error=runtime.last_error if runtime else None,
                    recovery=self.registry.recovery.get(entry.name, {}),
                )
            )
        return infos

    def health(self) -> dict[str, Any]:
        """``degraded``, with reasons, while the home refuses writes (reads still work)."""
        reasons = probe_storage(self.settings.db_path, self.write_outcome.error)
        return {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "documents": self.store.log.document_count(),
            "last_seq": self.store.log.last_seq(),
            "serving": self.registry.primary().name,
        }

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self, name: str | None = None) -> list[dict[str, Any]]:
        """Write a snapshot of one index (or every live one) now."""
        runtimes = [self.registry.get(name)] if name else self.registry.all()
        written = []
        for runtime in runtimes:
            info = self.registry.snapshot(runtime, force=True)
            if info is not None:
                written.append(info)
        return written

    # -- migrations ----------------------------------------------------------------------

    def create_migration(self, body: Mapping[str, Any], actor: str) -> dict[str, Any]:
        return self.migrations.status(self.migrations.create(body, actor))

    def migration_action(
        self, migration_id: int, action: str, body: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        return self.migrations.status(self.migrations.act(migration_id, action, body, actor))

    def update_migration_plan(
        self, migration_id: int, changes: Mapping[str, Any], actor: str
    ) -> dict[str, Any]:
        return self.migrations.status(self.migrations.update_plan(migration_id, changes, actor))

    def current_migration(self) -> dict[str, Any]:
        m: Migration | None = self.migrations.current or self.store.migrations.latest()
        if m is None:
            raise NotFoundError("no migration has been created")
        return self.migrations.status(m)

    def migration_events(self, migration_id: int) -> list[Event]:
        return self.migrations.events(migration_id)

    # -- eval sets and eval jobs ---------------------------------------------------------

    def add_eval_set(self, name: str, path: str, sample: int, seed: int) -> dict[str, Any]:
        return self.evals.add_eval_set(name, path, sample, seed)

    def eval_sets(self) -> list[dict[str, Any]]:
        return [r.summary() for r in self.store.evals.sets()]

    def start_eval(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.evals.start(body)

    def eval_run(self, run_id: int) -> dict[str, Any]:
        return self.evals.get(run_id)

    def eval_runs(self, migration_id: int | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.store.evals.runs(migration_id)]
