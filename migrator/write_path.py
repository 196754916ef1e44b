"""The write path: admit, validate, embed, log (the acknowledgement point), apply.

In order: validate -> embed for every index that serves reads (outside any lock, so
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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from indexes.errors import InvalidInputError, StorageBusyError, StorageError, SwitchoverError

from .budget import WaitBudget
from .health import WriteOutcome
from .reads import ReadRouter
from .records import WriteResult
from .registry import IndexRegistry
from .runtime import IndexRuntime
from .settings import Settings
from .store import DocumentIn, LogRecord, Store
from .validation import check_doc_id, check_documents

log = logging.getLogger(__name__)


@dataclass
class _Embedded:
    """One write's vectors per index, and per embedder the ones it had to encode."""

    vectors: dict[str, dict[str, np.ndarray] | None] = field(default_factory=dict)
    by_fingerprint: dict[str, tuple[dict[str, np.ndarray], Mapping[str, np.ndarray]]] = field(
        default_factory=dict
    )

    def fresh(self) -> dict[str, Mapping[str, np.ndarray]]:
        """Per embedder fingerprint: the vectors to cache, with the log record."""
        return {fp: found[1] for fp, found in self.by_fingerprint.items()}


class WritePath:
    """Upserts and deletes, in log order; ``acked_seq`` is the last one acknowledged."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: IndexRegistry,
        reads: ReadRouter,
        write_lock: threading.Lock,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.reads = reads
        self.write_lock = write_lock
        if settings.limits.max_pending_writes < 1:
            raise InvalidInputError("limits.max_pending_writes must be at least 1")
        self._write_slots = threading.BoundedSemaphore(settings.limits.max_pending_writes)
        self.outcome = WriteOutcome()  # the last client write's storage outcome (health)
        # The last write acknowledged to a client (everything logged before this start
        # counts): a read is served by the target only once the target has applied it.
        self._acked_seq = store.log.last_seq()

    @property
    def acked_seq(self) -> int:
        return self._acked_seq

    def upsert(self, documents: Sequence[DocumentIn]) -> WriteResult:
        metadata = check_documents(documents, self.settings.limits)
        with self._watched(), self._write_admission() as budget, self.store.waits_within(budget):
            return self._upsert(documents, metadata, budget)

    def _upsert(
        self, documents: Sequence[DocumentIn], metadata: Sequence[str], budget: WaitBudget
    ) -> WriteResult:
        sync = self.reads.sync_runtimes()
        embedded = _Embedded()
        for i, runtime in enumerate(sync):
            embedded.vectors[runtime.name] = self._embed(runtime, documents, embedded, i == 0)
        with self._write_locked(budget):
            records = self._commit(documents, metadata, embedded.fresh())
            for i, runtime in enumerate(sync):
                self._apply(runtime, records, embedded.vectors.get(runtime.name), primary=i == 0)
            self._acked_seq = records[-1].seq
        self.registry.wake()
        return WriteResult(written=len(records), seq=records[-1].seq)

    def _embed(
        self,
        runtime: IndexRuntime,
        documents: Sequence[DocumentIn],
        embedded: _Embedded,
        primary: bool,
    ) -> dict[str, np.ndarray] | None:
        """One side's vectors by content hash; None when the target failed (never the write)."""
        fingerprint = runtime.embedder.fingerprint
        if fingerprint in embedded.by_fingerprint:  # a layout-only target: the same vectors
            self.reads.outcome(runtime.name, ok=True)
            return embedded.by_fingerprint[fingerprint][0]
        embed = partial(runtime.embed_keyed, [d.text for d in documents], store=False)
        try:
            if primary:
                found = embed()
            else:  # the side that may lag never holds the write up for long
                found = runtime.bounded.call(embed, self.settings.target_timeout_s)
                self.reads.outcome(runtime.name, ok=True)
        except SwitchoverError as exc:
            if primary:
                raise  # the primary cannot embed: refuse the write, nothing changed
            runtime.last_error = str(exc)  # a target failure never fails the write
            # ... but it is a failed target request: the error guardrail sees it (its
            # reads go to the source while it lags, so they no longer would)
            self.reads.outcome(runtime.name, ok=False)
            return None
        embedded.by_fingerprint[fingerprint] = found
        return found[0]

    def _commit(
        self,
        documents: Sequence[DocumentIn],
        metadata: Sequence[str],
        fresh: Mapping[str, Mapping[str, np.ndarray]],
    ) -> list[LogRecord]:
        """The log record, the documents and the freshly encoded vectors: one commit (the
        acknowledgement point), so a write costs one transaction, not one per table."""
        with self.store.atomic():
            records = self.store.log.append_upserts(documents, metadata)
            for fingerprint, new in fresh.items():  # on disk before the commit below
                self.store.cache.put_many(fingerprint, new)
            return records

    def delete(self, doc_id: str) -> WriteResult:
        check_doc_id(doc_id, self.settings.limits)
        with (
            self._watched(),
            self._write_admission() as budget,
            self.store.waits_within(budget),
            self._write_locked(budget),
        ):
            record = self.store.log.append_delete(doc_id)
            for i, runtime in enumerate(self.reads.sync_runtimes()):
                self._apply(runtime, [record], {}, primary=i == 0)
            self._acked_seq = record.seq
        self.registry.wake()
        return WriteResult(written=1, seq=record.seq)

    @contextmanager
    def _watched(self) -> Iterator[None]:
        """Record a client write's storage outcome for health (a failure until a success)."""
        try:
            yield
        except StorageError as exc:
            self.outcome.failed(exc)
            raise
        self.outcome.succeeded()

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
        if not budget.acquire(self.write_lock):
            raise StorageBusyError(
                f"database is locked: other writes (or an operator move) held the write lock"
                f" for the whole {budget.total:g} s this write may wait"
            )
        try:
            yield
        finally:
            self.write_lock.release()

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
