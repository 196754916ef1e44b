"""The facade every adapter (HTTP API, CLI, tests) calls.

Write path: validate -> embed for the serving index (outside any lock, so requests
encode in parallel) -> commit the log record (the acknowledgement point) -> apply
to the serving index in sequence order -> wake the appliers of the other indexes.
A failure after the commit never un-acknowledges the write: the index catches up
from the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexes import (
    Hit,
    IndexSpec,
    VectorIndex,
    load_embedder,
    load_latest_snapshot,
    write_snapshot,
)
from indexes.errors import ConflictError, NotFoundError, SnapshotError, SwitchoverError

from .records import Document, DocumentIn, LogRecord, WriteResult
from .runtime import IndexRuntime, ProgressFn
from .settings import Settings
from .store import CatalogEntry, SqliteEmbeddingCache, Store
from .validation import check_doc_id, check_documents, check_query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    served_by: str
    documents: dict[str, Document] | None = None


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


class Switchover:
    """The service: one store, the live index versions, and their background workers."""

    def __init__(self, settings: Settings, *, progress: ProgressFn | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.db_path)
        self.cache = SqliteEmbeddingCache(self.store)
        self._write_lock = threading.Lock()
        self._runtimes: dict[str, IndexRuntime] = {}
        self._snapshot_seq: dict[str, int] = {}
        self._snapshot_time: dict[str, float] = {}
        self._stop = threading.Event()
        self._snapshotter: threading.Thread | None = None
        entries = self.store.list_indexes()
        if not entries:
            entries = [self._register(settings.default_index, role="primary")]
        for entry in entries:
            if entry.role != "retired":
                self._runtimes[entry.name] = self._open_runtime(entry, progress)

    # -- lifecycle -----------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the periodic snapshot writer (the server calls this; tests may not)."""
        if self._snapshotter is None:
            self._snapshotter = threading.Thread(
                target=self._snapshot_loop, name="switchover-snapshots", daemon=True
            )
            self._snapshotter.start()

    def close(self, *, snapshot: bool = True) -> None:
        """Stop background work and, by default, snapshot every changed index."""
        self._stop.set()
        if self._snapshotter is not None:
            self._snapshotter.join(timeout=30)
        if snapshot:
            for runtime in list(self._runtimes.values()):
                self._maybe_snapshot(runtime, force=False, min_records=1)
        self.store.close()

    def _register(self, spec: IndexSpec, role: str) -> CatalogEntry:
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        return self.store.add_index(spec, embedder.fingerprint, embedder.dim, role)

    def _open_runtime(self, entry: CatalogEntry, progress: ProgressFn | None) -> IndexRuntime:
        """Newest valid snapshot, then replay of the log after it (no re-encoding of cached text)."""
        embedder = load_embedder(entry.spec.embedder)
        if embedder.fingerprint != entry.fingerprint:
            raise ConflictError(
                f"index {entry.name!r} was built with embedder {entry.fingerprint[:12]} but"
                f" {entry.spec.embedder.model} now has fingerprint {embedder.fingerprint[:12]};"
                " the model files changed. Restore them, or migrate to a new index version."
            )
        loaded = load_latest_snapshot(
            self.settings.snapshot_dir(entry.name), entry.spec, entry.fingerprint
        )
        if loaded is None:
            index = VectorIndex(entry.spec, entry.dim, entry.fingerprint, entry.search_params)
            self._snapshot_seq[entry.name] = 0
        else:
            index, info = loaded
            index.set_search_params(entry.search_params)
            self._snapshot_seq[entry.name] = info.applied_seq
        self._snapshot_time[entry.name] = time.monotonic()
        runtime = IndexRuntime(entry, embedder, index, self.cache)
        started = time.monotonic()
        replayed = runtime.catch_up(self.store, progress=progress)
        log.info(
            "index %s ready: snapshot seq %d, replayed %d log records in %.2fs, encoded %d",
            entry.name,
            self._snapshot_seq[entry.name],
            replayed,
            time.monotonic() - started,
            runtime.encoded_total,
        )
        return runtime

    # -- writes --------------------------------------------------------------------------

    def serving(self) -> IndexRuntime:
        for runtime in self._runtimes.values():
            if runtime.entry.role == "primary":
                return runtime
        raise ConflictError("no primary index is live")

    def upsert(self, documents: Sequence[DocumentIn]) -> WriteResult:
        check_documents(documents, self.settings.limits)
        serving = self.serving()
        vectors = serving.embed_documents([d.text for d in documents])
        with self._write_lock:
            records = self.store.append_upserts(documents)
            self._apply_serving(serving, records, vectors)
        return WriteResult(written=len(records), seq=records[-1].seq)

    def delete(self, doc_id: str) -> WriteResult:
        check_doc_id(doc_id, self.settings.limits)
        serving = self.serving()
        with self._write_lock:
            record = self.store.append_delete(doc_id)
            self._apply_serving(serving, [record], None)
        return WriteResult(written=1, seq=record.seq)

    def _apply_serving(
        self,
        serving: IndexRuntime,
        records: Sequence[LogRecord],
        vectors: Mapping[str, np.ndarray] | None,
    ) -> None:
        """Apply committed records to the serving index; on failure, catch up later."""
        try:
            if serving.index.applied_seq < records[0].seq - 1:
                serving.catch_up(self.store)
            else:
                serving.apply(records, vectors)
            serving.last_error = None
        except SwitchoverError as exc:  # the write is committed; the index will catch up
            serving.last_error = str(exc)
            log.exception("serving index %s failed to apply seq %d", serving.name, records[-1].seq)

    # -- reads ---------------------------------------------------------------------------

    def get(self, doc_id: str) -> Document:
        check_doc_id(doc_id, self.settings.limits)
        doc = self.store.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id!r} does not exist")
        return doc

    def search(self, query: str, k: int = 10, *, include_documents: bool = False) -> SearchResult:
        query, k = check_query(query, k, self.settings.limits)
        runtime = self.serving()
        if runtime.index.applied_seq < self.store.last_seq():
            with self._write_lock:  # a failed apply left a gap: close it before answering
                runtime.catch_up(self.store)
        hits = runtime.search(query, k)
        docs = self.store.get_documents([h.id for h in hits]) if include_documents else None
        return SearchResult(hits=hits, served_by=runtime.name, documents=docs)

    def runtime(self, name: str) -> IndexRuntime:
        try:
            return self._runtimes[name]
        except KeyError:
            raise NotFoundError(f"index {name!r} does not exist or is not live") from None

    def indexes(self) -> list[IndexInfo]:
        infos = []
        for entry in self.store.list_indexes():
            runtime = self._runtimes.get(entry.name)
            if runtime is None:
                infos.append(
                    IndexInfo(entry.name, entry.role, entry.spec, entry.fingerprint, entry.dim,
                              0, 0, 0, 0.0, entry.search_params.to_dict(), {}, None, 0)
                )
                continue
            behind, seconds = runtime.lag(self.store)
            infos.append(
                IndexInfo(
                    name=entry.name,
                    role=entry.role,
                    spec=entry.spec,
                    fingerprint=entry.fingerprint,
                    dim=entry.dim,
                    count=len(runtime.index),
                    applied_seq=runtime.index.applied_seq,
                    lag_records=behind,
                    lag_seconds=seconds,
                    search_params=runtime.index.search_params.to_dict(),
                    stats=runtime.index.stats(),
                    last_snapshot_seq=self._snapshot_seq.get(entry.name) or None,
                    encoded_since_start=runtime.encoded_total,
                )
            )
        return infos

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "documents": self.store.document_count(),
            "last_seq": self.store.last_seq(),
            "serving": self.serving().name,
        }

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self, name: str | None = None) -> list[dict[str, Any]]:
        """Write a snapshot of one index (or all live ones) now."""
        runtimes = [self.runtime(name)] if name else list(self._runtimes.values())
        written = []
        for runtime in runtimes:
            info = self._maybe_snapshot(runtime, force=True)
            if info is not None:
                written.append(info)
        return written

    def _maybe_snapshot(
        self, runtime: IndexRuntime, *, force: bool, min_records: int | None = None
    ) -> dict[str, Any] | None:
        name = runtime.name
        since = runtime.index.applied_seq - self._snapshot_seq.get(name, 0)
        threshold = self.settings.snapshot_every_records if min_records is None else min_records
        age = time.monotonic() - self._snapshot_time.get(name, 0.0)
        due = since >= threshold or (since > 0 and age >= self.settings.snapshot_interval_seconds)
        if not (force or due):
            return None
        try:
            info = write_snapshot(runtime.index, self.settings.snapshot_dir(name))
        except SnapshotError:
            log.exception("snapshot of %s failed; the log still holds every write", name)
            if force:
                raise
            return None
        self._snapshot_seq[name] = info.applied_seq
        self._snapshot_time[name] = time.monotonic()
        log.info("snapshot of %s at seq %d (%d documents)", name, info.applied_seq, info.count)
        return {"index": name, "applied_seq": info.applied_seq, "count": info.count,
                "path": str(info.path)}

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(1.0):
            for runtime in list(self._runtimes.values()):
                self._maybe_snapshot(runtime, force=False)

