"""Shadow reads: a sample of live searches also runs on the other index, off the request path.

The request thread only enqueues (``put_nowait`` on a bounded queue; a full queue drops
the sample and counts it), so shadowing never slows an answer. One worker runs the
shadow search, measures overlap@k against what was served, and records it in batches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.metrics import overlap_at_k
from indexes import Hit, QueryVectors

from .filtered_search import Selection
from .store import ShadowReadRecord

log = logging.getLogger(__name__)

# (index name, query, k, the served query's vectors to reuse if the embedder matches, the
# served read's filter) -> (hits, whether the vectors were reused)
ShadowSearch = Callable[
    [str, str, int, QueryVectors | None, Selection | None], tuple[list[Hit], bool]
]
# stores a batch of finished shadow reads
ShadowRecord = Callable[[Sequence[ShadowReadRecord]], None]


@dataclass(frozen=True)
class ShadowJob:
    migration_id: int
    query: str
    k: int
    served_by: str
    shadow_on: str
    served_ids: tuple[str, ...]
    served_ms: float
    vectors: QueryVectors | None = None
    embed_ms: float = 0.0  # what embedding the query cost the served side
    selection: Selection | None = None  # the served read's filter, applied on this side too


@dataclass(frozen=True)
class ShadowStats:
    """The shadow reader's counters and its recent window's overlap and latencies."""

    completed: int
    dropped: int
    errors: int
    queued: int
    window: int
    mean_overlap: float | None
    served_p95_ms: float | None
    shadow_p95_ms: float | None


class ShadowReader:
    """Bounded queue + one worker thread (from ``start``); a rolling window of results.

    Jobs submitted before ``start`` wait in the queue (or are dropped when it is full).
    """

    def __init__(
        self,
        search: ShadowSearch,
        record: ShadowRecord,
        *,
        observe: Callable[[str, float, float | None], None] | None = None,
        maxsize: int = 1000,
        window: int = 2000,
    ) -> None:
        self._search = search
        self._record = record
        self._observe = observe
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=maxsize)
        self._recent: deque[dict[str, Any]] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.dropped = 0
        self.completed = 0
        self.errors = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="switchover-shadow", daemon=True)
            self._thread.start()

    def submit(self, job: ShadowJob) -> bool:
        """Enqueue without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return False
        return True

    def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._thread = None

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued job is done (tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        pending: list[ShadowReadRecord] = []
        last_flush = time.monotonic()
        while True:
            try:
                job = self._queue.get(timeout=0.5)
            except queue.Empty:
                self._flush(pending)
                pending, last_flush = [], time.monotonic()
                continue
            if job is None:
                self._flush(pending)
                self._queue.task_done()
                return
            pending.append(self._run_one(job))
            if len(pending) >= 100 or self._queue.empty() or time.monotonic() - last_flush >= 1:
                self._flush(pending)
                pending, last_flush = [], time.monotonic()
            self._queue.task_done()

    def _run_one(self, job: ShadowJob) -> ShadowReadRecord:
        started = time.perf_counter()
        error: str | None = None
        overlap: float | None = None
        try:
            hits, reused = self._search(job.shadow_on, job.query, job.k, job.vectors, job.selection)
            overlap = overlap_at_k(job.served_ids, [h.id for h in hits], job.k)
        except Exception as exc:  # a shadow failure is data, never a crash
            error, reused = f"{type(exc).__name__}: {exc}", False
        shadow_ms = (time.perf_counter() - started) * 1000
        if reused:  # same model: the shadow side would have paid the same embedding
            shadow_ms += job.embed_ms
        row = {
            "served_by": job.served_by,
            "shadow_on": job.shadow_on,
            "overlap": overlap,
            "served_ms": job.served_ms,
            "shadow_ms": shadow_ms,
            "error": error,
        }
        if self._observe is not None:
            self._observe(job.shadow_on, shadow_ms, overlap)
        with self._lock:
            self._recent.append(row)
            self.completed += 1
            self.errors += error is not None
        return ShadowReadRecord(
            job.migration_id,
            time.time(),
            job.k,
            job.served_by,
            overlap,
            job.served_ms,
            shadow_ms,
            error,
        )

    def _flush(self, rows: list[ShadowReadRecord]) -> None:
        if not rows:
            return
        try:
            self._record(rows)
        except Exception:  # losing shadow records must not stop shadowing
            log.exception("could not record %d shadow reads", len(rows))

    def stats(self) -> ShadowStats:
        with self._lock:
            recent = list(self._recent)
            dropped, completed, errors = self.dropped, self.completed, self.errors
        overlaps = [r["overlap"] for r in recent if r["overlap"] is not None]
        shadow_ms = [r["shadow_ms"] for r in recent if r["error"] is None]
        served_ms = [r["served_ms"] for r in recent]
        return ShadowStats(
            completed=completed,
            dropped=dropped,
            errors=errors,
            queued=self._queue.qsize(),
            window=len(recent),
            mean_overlap=float(np.mean(overlaps)) if overlaps else None,
            served_p95_ms=float(np.percentile(served_ms, 95)) if served_ms else None,
            shadow_p95_ms=float(np.percentile(shadow_ms, 95)) if shadow_ms else None,
        )
