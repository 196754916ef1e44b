"""Backfill: copy the documents into the target in id order, checkpointed and resumable.

Safe against live writes by a version guard: a document is copied only if, under the
target's apply lock, the store still holds the very version (sequence) that was read
and embedded. Anything newer, or deleted, reaches the target through the write log.
Checkpoints snapshot the target first and then record the cursor, so a crash resumes
from a cursor the target's snapshot already covers. A checkpoint writes the whole target,
so the next one comes after max(CHECKPOINT_SECONDS, gap_factor x the last one's duration):
checkpoints then take at most ~1/(gap_factor + 1) of the backfill, whatever the size,
instead of a share growing with it. A longer gap only means more copies to redo after a
crash; the cursor is never saved ahead of the snapshot that holds its copies.

Documents are read a window at a time (``ENCODE_WINDOW``, at least one batch), sorted by
text length, and encoded and applied ``batch`` at a time in that order: a batch of texts
of about one length pads far less than one in id order, where a single long passage pads
every other text of its batch to its length (all-mpnet-base-v2 on SQuAD passages: encoding
128 texts per call in id order ran at 0.79x one call over them all;
benchmarks/results/backfill_gap.md). Progress and the stop request are looked at after
every batch; the cursor moves when its whole window is copied, so a stop inside a window
resumes at the window's start (its texts are in the embedding cache by then).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace

import numpy as np

from indexes.errors import InvalidInputError

from .migration import Backfill
from .runtime import IndexRuntime
from .store import Document, Store
from .views import BackfillProgress

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 5.0  # the shortest gap between checkpoints
CHECKPOINT_GAP_FACTOR = 4.0  # ... and at least this many times the last one's duration
ENCODE_WINDOW = 1024  # documents read, and sorted by length for the encoder, together


class Backfiller:
    """Runs one migration's backfill; ``state`` is readable while it runs."""

    def __init__(
        self,
        store: Store,
        target: IndexRuntime,
        migration_id: int,
        batch: int,
        checkpoint: Callable[[], str | None],
        stop: threading.Event,
        gap_factor: float = CHECKPOINT_GAP_FACTOR,
    ) -> None:
        self.store = store
        self.target = target
        self.migration_id = migration_id
        self.batch = batch
        self._checkpoint = checkpoint
        self._stop = stop
        self.gap_factor = gap_factor
        self.window = max(batch, ENCODE_WINDOW)
        self.state = store.migrations.get(migration_id).backfill
        self.rate = 0.0
        self.error: str | None = None
        self._started, self._copied_here = time.monotonic(), 0

    def progress(self) -> BackfillProgress:
        state = self.state
        remaining = max(0, state.total - state.done)
        eta = remaining / self.rate if self.rate > 0 else None
        return BackfillProgress(
            **asdict(state),
            docs_per_s=round(self.rate, 2),
            eta_s=None if eta is None or state.finished else round(eta, 1),
            error=self.error,
        )

    def run(self) -> Backfill:
        if self.state.started_at is None:
            self.state = replace(
                self.state, total=self.store.log.document_count(), started_at=time.time()
            )
            self.store.migrations.save_backfill(self.migration_id, self.state)
        if self.target.replayed_whole:
            return self._nothing_to_copy()
        encoded_before = self.target.encoded_total
        self._train_if_needed()  # what its sample encodes counts as the backfill's
        self.state = replace(
            self.state, encoded=self.state.encoded + self.target.encoded_total - encoded_before
        )
        self._started, self._copied_here = time.monotonic(), 0
        last_checkpoint, gap = time.monotonic(), CHECKPOINT_SECONDS
        while not self._stop.is_set():
            docs = self.store.log.scan(self.state.cursor, self.window)
            if not docs:
                break
            boundary = self.state
            if not self._copy_window(docs):
                # stopped inside the window: resume at its start (what it encoded is cached)
                self.state = replace(boundary, encoded=self.state.encoded)
                break
            self.state = replace(self.state, cursor=docs[-1].id)  # done and total: per batch
            if time.monotonic() - last_checkpoint >= gap:
                began = time.monotonic()
                self.save()
                last_checkpoint = time.monotonic()
                gap = max(CHECKPOINT_SECONDS, self.gap_factor * (last_checkpoint - began))
        if not self._stop.is_set():
            self.state = replace(
                self.state, finished=True, finished_at=time.time(), total=self.state.done
            )
            log.info(
                "backfill of migration %d finished: %d documents",
                self.migration_id,
                self.state.done,
            )
        self.save()
        return self.state

    def _copy_window(self, docs: list[Document]) -> bool:
        """Copy ``docs`` (one window, in id order) shortest text first, a batch at a time;
        False if a stop request came first."""
        ordered = sorted(docs, key=lambda d: len(d.text))
        for start in range(0, len(ordered), self.batch):
            if self._stop.is_set():
                return False
            piece = ordered[start : start + self.batch]
            encoded_before = self.target.encoded_total
            vectors = self.target.embed_documents([d.text for d in piece])
            with self.target.apply_lock:
                current = self.store.log.versions([d.id for d in piece])
                fresh = {d.id: vectors[d.content_hash] for d in piece if current.get(d.id) == d.seq}
                self.target.index.backfill(fresh)
            self._copied_here += len(piece)
            self.rate = self._copied_here / max(1e-9, time.monotonic() - self._started)
            self.state = replace(
                self.state,
                done=self.state.done + len(piece),
                total=max(self.state.total, self.state.done + len(piece)),
                encoded=self.state.encoded + self.target.encoded_total - encoded_before,
            )
        return True

    def _nothing_to_copy(self) -> Backfill:
        """The target replayed the whole log: it holds every live document already."""
        total = self.store.log.document_count()
        self.state = replace(
            self.state, done=total, total=total, finished=True, finished_at=time.time()
        )
        log.info("backfill of migration %d: the target replayed the whole log", self.migration_id)
        self.save()
        return self.state

    def save(self) -> None:
        """A checkpoint: snapshot the target, then record the cursor it covers."""
        at = self._checkpoint()
        self.state = replace(self.state, checkpoint_at=at or self.state.checkpoint_at)
        self.store.migrations.save_backfill(self.migration_id, self.state)

    def _train_if_needed(self) -> None:
        if self.target.index.is_trained:
            return
        sample = self.store.log.sample(self.target.index.auto_train_size)
        if not sample:
            return
        vectors = self.target.embed_documents([d.text for d in sample])
        matrix = np.stack([vectors[d.content_hash] for d in sample])
        log.info("training %s on %d sampled documents", self.target.name, len(sample))
        try:
            with self.target.apply_lock:
                self.target.index.train(matrix)
        except InvalidInputError:
            # too few documents for this layout yet: the index buffers and searches them
            # exactly, and trains itself once enough have arrived
            log.warning("%s cannot train on %d documents yet", self.target.name, len(sample))
