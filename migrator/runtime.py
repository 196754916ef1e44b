"""A live index version: catalog entry + embedder + index backend, fed from the write log."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from indexes import (
    Embedder,
    EmbeddingCache,
    Hit,
    IndexBackend,
    QueryVectors,
    SearchParams,
    embed_documents_cached,
)
from indexes.errors import EmbedderError

from .filtered_search import Selection, search_selected
from .store import CatalogEntry, LogRecord, Store

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Coalesced:
    """A run of log records reduced to its net effect per document."""

    last_seq: int
    upserts: dict[str, LogRecord]
    deletes: set[str]


def coalesce(records: Sequence[LogRecord]) -> Coalesced:
    """Reduce ordered log records to the final operation per document (pure)."""
    upserts: dict[str, LogRecord] = {}
    deletes: set[str] = set()
    for rec in records:
        if rec.op == "upsert":
            upserts[rec.doc_id] = rec
            deletes.discard(rec.doc_id)
        else:
            upserts.pop(rec.doc_id, None)
            deletes.add(rec.doc_id)
    return Coalesced(records[-1].seq if records else 0, upserts, deletes)


class BoundedCalls:
    """Calls a request makes on the side that may lag, waited for at most a timeout.

    The call runs on one of a few daemon worker threads (started on first use); past the
    timeout the caller gets :class:`EmbedderError` and goes on without that side while
    the call keeps running. When every worker is still busy (a hung model), a new call
    fails at once instead of queueing, so a hang costs each request one timeout at most
    and never piles up threads or work.
    """

    def __init__(self, name: str, workers: int = 4, *, pool: str = "bounded") -> None:
        self._name = name
        self._pool = pool  # names the worker threads: which caller's pool this is
        self._workers = workers
        self._slots = threading.BoundedSemaphore(workers)
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._start_lock = threading.Lock()
        self._started = False

    def call(self, fn: Callable[[], T], timeout_s: float) -> T:
        if not self._slots.acquire(blocking=False):
            raise EmbedderError(
                f"index {self._name}: {self._workers} earlier calls have not returned; not waiting"
            )
        self._start()
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            raise EmbedderError(
                f"index {self._name} did not answer within {timeout_s:g}s"
            ) from None

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            for i in range(self._workers):
                name = f"switchover-{self._name}-{self._pool}-{i}"
                threading.Thread(target=self._run, name=name, daemon=True).start()
            self._started = True

    def close(self) -> None:
        """Let idle workers exit (a busy one exits when its call returns)."""
        with self._start_lock:
            if self._started:
                for _ in range(self._workers):
                    self._jobs.put(None)
            self._started = False

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller, who may have stopped waiting
                future.set_exception(exc)
            finally:
                self._slots.release()


class IndexRuntime:
    """Applies log records to one index version, in order, exactly once.

    ``apply_lock`` serialises application so the write path and a catch-up never
    interleave; searches go straight to the index, which allows them concurrently.
    """

    def __init__(
        self,
        entry: CatalogEntry,
        embedder: Embedder,
        index: IndexBackend,
        cache: EmbeddingCache,
    ) -> None:
        self.entry = entry
        self.embedder = embedder
        self.index = index
        self.cache = cache
        self.apply_lock = threading.Lock()
        self.encoded_total = 0
        self.last_error: str | None = None
        # Replayed from the log's first record: it holds every live document, so a
        # backfill into it has nothing to copy (a replica's target: replicas/targets.py).
        self.replayed_whole = False
        self.bounded = BoundedCalls(entry.name)
        # Shadow reads get a pool of their own, of one worker (the shadow reader is one
        # thread): a hung model costs the reader one timeout, the next reads fail at once,
        # and it never takes a slot from the requests that share ``bounded``.
        self.shadow_bounded = BoundedCalls(entry.name, workers=1, pool="shadow")

    @property
    def name(self) -> str:
        return self.entry.name

    def close(self) -> None:
        """Let the idle bounded workers exit (the index is no longer live)."""
        self.bounded.close()
        self.shadow_bounded.close()

    def embed_documents(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors for ``texts`` keyed by content hash, encoding only cache misses."""
        return self.embed_keyed(texts)[0]

    def embed_keyed(
        self, texts: Sequence[str], *, store: bool = True
    ) -> tuple[dict[str, np.ndarray], Mapping[str, np.ndarray]]:
        """Vectors by content hash, and the fresh ones, which (unless ``store``) the caller
        puts in the cache (the write path: in the log record's transaction)."""
        result = embed_documents_cached(self.embedder, self.cache, texts, store=store)
        self.encoded_total += result.encoded
        by_hash = dict(zip(result.hashes, result.vectors, strict=True))
        return by_hash, result.fresh or {}

    def apply(
        self,
        records: Sequence[LogRecord],
        vectors: Mapping[str, np.ndarray] | None = None,
        *,
        wait: bool = True,
    ) -> bool:
        """Apply ordered log records; ``vectors`` (by content hash) saves a cache lookup.

        With ``wait=False`` it gives up at once (returns False) when another thread is
        applying to this index; the applier, woken after every write, catches it up.
        """
        if not records:
            return True
        if not self.apply_lock.acquire(blocking=wait):
            return False
        try:
            fresh = [r for r in records if r.seq > self.index.applied_seq]
            if not fresh:
                return True
            net = coalesce(fresh)
            upserts: dict[str, np.ndarray] = {}
            if net.upserts:
                known = dict(vectors or {})
                missing = [
                    r.text
                    for r in net.upserts.values()
                    if r.content_hash not in known and r.text is not None
                ]
                if missing:
                    known.update(self.embed_documents(missing))
                for doc_id, rec in net.upserts.items():
                    upserts[doc_id] = known[str(rec.content_hash)]
            self.index.apply(net.last_seq, upserts=upserts, deletes=net.deletes)
            return True
        finally:
            self.apply_lock.release()

    def catch_up(
        self, store: Store, *, batch: int = 512, progress: ProgressFn | None = None
    ) -> int:
        """Apply every log record after the index's applied sequence; returns how many."""
        target = store.log.last_seq()
        done = 0
        while True:
            records = store.log.read(self.index.applied_seq, batch)
            if not records:
                return done
            self.apply(records)
            done += len(records)
            if progress is not None:
                progress(self.index.applied_seq, target)

    def embed_query(self, query: str, reuse: QueryVectors | None = None) -> QueryVectors:
        """The query's vector for this index; ``reuse`` it when the embedder is the same."""
        if reuse is not None and reuse.fingerprint == self.embedder.fingerprint:
            return reuse
        return self.embedder.embed_queries([query])

    def search(
        self,
        query: str,
        k: int,
        params: SearchParams | None = None,
        vectors: QueryVectors | None = None,
        selection: Selection | None = None,
    ) -> list[Hit]:
        """Top ``k`` for ``query`` (among the documents ``selection`` selects, when given);
        ``params`` override the index's own search knobs."""
        queries = self.embed_query(query, vectors)
        if selection is not None:
            return search_selected(self.index, queries, k, selection, params)[0]
        return self.index.search(queries, k, params)[0]

    def lag(self, store: Store) -> tuple[int, float]:
        """(records behind the log, seconds since the oldest unapplied record)."""
        last = store.log.last_seq()
        behind = max(0, last - self.index.applied_seq)
        if behind == 0:
            return 0, 0.0
        created = store.log.created_at(self.index.applied_seq + 1)
        return behind, 0.0 if created is None else max(0.0, time.time() - created)
