"""The live index versions: opening (snapshot + replay), snapshots, background catch-up,
and the migration request that rebuilds one without its dead vectors."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Collection
from typing import Any

from indexes import (
    SnapshotInfo,
    load_embedder,
    snapshottable,
    write_snapshot,
)
from indexes.errors import (
    ConflictError,
    NotFoundError,
    SnapshotError,
    SwitchoverError,
)

from .backends import Backends
from .metadata_index import MetadataIndex
from .requests import MigrationRequest, RebuildRequest, TargetRequest
from .runtime import IndexRuntime, ProgressFn
from .settings import Settings
from .store import CatalogEntry, Role, Store
from .views import SnapshotWritten

log = logging.getLogger(__name__)


class IndexRegistry:
    """Owns every live ``IndexRuntime``; a background thread keeps lagging ones caught up."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.metadata = MetadataIndex(store)  # what filters select, shared by every index
        self.store = store
        self.cache = store.cache
        self._runtimes: dict[str, IndexRuntime] = {}
        self._snapshot_seq: dict[str, int] = {}
        self._snapshot_time: dict[str, float] = {}  # when the last snapshot ended
        self._snapshot_cost: dict[str, float] = {}  # how long the last snapshot took
        self.recovery: dict[str, dict[str, Any]] = {}  # how each index came back at start-up
        self._snapshot_lock = threading.Lock()
        self.backends = Backends(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- runtimes ------------------------------------------------------------------------

    def get(self, name: str) -> IndexRuntime:
        try:
            return self._runtimes[name]
        except KeyError:
            raise NotFoundError(f"index {name!r} does not exist or is not live") from None

    def find(self, name: str) -> IndexRuntime | None:
        return self._runtimes.get(name)

    def all(self) -> list[IndexRuntime]:
        return list(self._runtimes.values())

    def primary(self) -> IndexRuntime:
        for runtime in self._runtimes.values():
            if runtime.entry.role == "primary":
                return runtime
        raise ConflictError("no primary index is live")

    def set_role(self, name: str, role: Role) -> None:
        runtime = self._runtimes.get(name)
        if runtime is not None:
            runtime.entry = runtime.entry.with_role(role)

    def drop(self, name: str, *, delete_snapshots: bool = False) -> None:
        runtime = self._runtimes.pop(name, None)
        if runtime is not None:
            runtime.close()
            if delete_snapshots:
                self.backends.discard(runtime.index)
        if delete_snapshots:
            shutil.rmtree(self.settings.snapshot_dir(name).parent, ignore_errors=True)

    def open(
        self,
        entry: CatalogEntry,
        *,
        start_seq: int = 0,
        progress: ProgressFn | None = None,
        snapshots: bool = True,
    ) -> tuple[IndexRuntime, SnapshotInfo | None]:
        """Newest valid snapshot, then the log after it; returns the runtime and that snapshot.

        Without a snapshot the index starts at ``start_seq`` (0 for a primary, the
        migration's start for a target, whose older documents come from the backfill).
        ``snapshots=False`` ignores the home's snapshots (a replica's target replays the
        whole log: ``replicas/targets.py``).
        """
        embedder = load_embedder(entry.spec.embedder)
        if embedder.fingerprint != entry.fingerprint:
            raise ConflictError(
                f"index {entry.name!r} was built with embedder {entry.fingerprint[:12]} but"
                f" {entry.spec.embedder.model} now has fingerprint {embedder.fingerprint[:12]};"
                " the model files changed. Restore them, or migrate to a new index version."
            )
        opened = time.monotonic()
        index, info, held = self.backends.open(entry, start_seq, snapshots=snapshots)
        loaded_s = time.monotonic() - opened  # the snapshot's checks and load (or a new index)
        self._snapshot_seq[entry.name] = 0 if info is None else held
        self._snapshot_time[entry.name] = time.monotonic()
        runtime = IndexRuntime(entry, embedder, index, self.cache)
        started = time.monotonic()
        replayed = runtime.catch_up(self.store, progress=progress or _replay_logger(entry.name))
        self.recovery[entry.name] = {
            "snapshot_seq": self._snapshot_seq[entry.name],
            "snapshot_load_seconds": round(loaded_s, 3),
            "replayed_records": replayed,
            "replay_seconds": round(time.monotonic() - started, 3),
            "encoded": runtime.encoded_total,
        }
        log.info(
            "index %s ready: snapshot seq %d, replayed %d log records in %.2fs, encoded %d",
            entry.name,
            self._snapshot_seq[entry.name],
            replayed,
            time.monotonic() - started,
            runtime.encoded_total,
        )
        self._runtimes[entry.name] = runtime
        return runtime, info

    # -- snapshots -----------------------------------------------------------------------

    def last_snapshot_seq(self, name: str) -> int | None:
        return self._snapshot_seq.get(name) or None

    def snapshot_now(self, name: str | None = None) -> list[SnapshotWritten]:
        """Write a snapshot of one index (or every live one) now."""
        runtimes = [self.get(name)] if name else self.all()
        written = (self.snapshot(runtime, force=True) for runtime in runtimes)
        return [info for info in written if info is not None]

    def snapshot(
        self, runtime: IndexRuntime, *, force: bool, min_records: int | None = None
    ) -> SnapshotWritten | None:
        """Write a snapshot when forced, when ``min_records`` records arrived since the last
        (at shutdown), or when due by the periodic cadence (:func:`snapshot_due`)."""
        name, index = runtime.name, runtime.index
        if not snapshottable(index):
            return None  # the backend persists itself: there is nothing to write
        since = index.applied_seq - self._snapshot_seq.get(name, 0)
        if min_records is not None:
            due = since >= min_records
        else:
            due = snapshot_due(
                self.settings,
                since=since,
                count=len(index),
                idle_s=time.monotonic() - self._snapshot_time.get(name, 0.0),
                last_cost_s=self._snapshot_cost.get(name, 0.0),
            )
        if not (force or due):
            return None
        try:
            with self._snapshot_lock:
                started = time.monotonic()  # its own cost, not the wait for another's
                info = write_snapshot(index, self.settings.snapshot_dir(name))
        except SnapshotError:
            log.exception("snapshot of %s failed; the log still holds every write", name)
            if force:
                raise
            return None
        self._snapshot_seq[name] = info.applied_seq
        self._snapshot_time[name] = time.monotonic()
        self._snapshot_cost[name] = self._snapshot_time[name] - started
        log.info("snapshot of %s at seq %d (%d documents)", name, info.applied_seq, info.count)
        return SnapshotWritten(name, info.applied_seq, info.count, str(info.path), info.created_at)

    # -- background ----------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the catch-up applier and the periodic snapshot writer."""
        if self._threads:
            return
        for target, name in ((self._apply_loop, "applier"), (self._snapshot_loop, "snapshots")):
            thread = threading.Thread(target=target, name=f"switchover-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New log records: let the applier look at the lagging indexes now."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def catch_up_all(self) -> None:
        """One pass of the applier: every live index to the end of the log."""
        for runtime in self.all():
            try:
                runtime.catch_up(self.store)
                runtime.last_error = None
            except SwitchoverError as exc:
                if runtime.last_error != str(exc):
                    log.warning("index %s lags: %s", runtime.name, exc)
                runtime.last_error = str(exc)

    def _apply_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            if not self._stop.is_set():
                self.catch_up_all()

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(1.0):
            for runtime in self.all():
                self.snapshot(runtime, force=False)


def snapshot_due(
    settings: Settings, *, since: int, count: int, idle_s: float, last_cost_s: float
) -> bool:
    """Whether a periodic snapshot is due: ``since`` log records after the last one, of an
    index holding ``count`` documents, ``idle_s`` after the last one ended, which took
    ``last_cost_s``.

    Due after max(every_records, growth_fraction x count) records, or after
    interval_seconds with any change, but never sooner than gap_factor x the last one's
    duration. A snapshot writes the whole index, so a fixed record interval made a bulk
    load's snapshot work grow with the square of its size; with the record threshold
    growing with the index, the snapshots of a load of N documents write O(N) in all
    (a geometric series) and their number grows with log N, and the gap keeps them to
    at most ~1/(gap_factor + 1) of the time whatever the size.

    But once ``max_tail_records`` records arrived a snapshot is due whatever the rules
    above say: that bounds the tail a restart replays after the newest snapshot (writes
    faster than max_tail_records per gap_factor x a snapshot's duration then give
    snapshots a larger share of the time).
    """
    if since >= settings.snapshot_max_tail_records:
        return True
    if since <= 0 or idle_s < settings.snapshot_gap_factor * last_cost_s:
        return False
    threshold = max(settings.snapshot_every_records, settings.snapshot_growth_fraction * count)
    return since >= threshold or idle_s >= settings.snapshot_interval_seconds


def _replay_logger(name: str, every_s: float = 5.0) -> ProgressFn:
    """Log replay progress at most every few seconds (long logs take a while)."""
    last = [time.monotonic()]

    def report(applied_seq: int, target_seq: int) -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            log.info("index %s replaying the log: seq %d of %d", name, applied_seq, target_seq)

    return report


# -- rebuilds ------------------------------------------------------------------------------

REBUILT_NAME = re.compile(r"(?P<base>.+)-r(?P<n>[0-9]+)")


def rebuild_name(name: str, taken: Collection[str]) -> str:
    """The default name of ``name``'s rebuild: ``v1`` -> ``v1-r2``, ``v1-r2`` -> ``v1-r3``,
    skipping names already ``taken`` (pure)."""
    match = REBUILT_NAME.fullmatch(name)
    base, n = (match["base"], int(match["n"]) + 1) if match else (name, 2)
    while f"{base}-r{n}" in taken:  # ends: ``taken`` is finite
        n += 1
    return f"{base}-r{n}"


def rebuild_migration(
    runtime: IndexRuntime, taken: Collection[str], request: RebuildRequest
) -> MigrationRequest:
    """The migration request that rebuilds ``runtime``'s index (pure).

    HNSW and IVF cannot remove a vector, so replaced and deleted documents leave dead
    vectors (tombstones) that only a rebuild purges. A rebuild is a layout-only migration
    to the same spec (embedder, factory, metric) and search parameters under a new name,
    ``request.target`` or :func:`rebuild_name`: its backfill copies only the live
    documents, from the embedding cache, while writes go to both sides, and it is judged,
    rolled out and finalized like any other migration, with the request's plan. Only the
    primary can be rebuilt: it is every migration's source.
    """
    if runtime.entry.role != "primary":
        raise ConflictError(
            f"index {runtime.name!r} is {runtime.entry.role}, not the primary; only the"
            " primary can be rebuilt (a migration's source is always the primary)"
        )
    spec = runtime.entry.spec
    target = TargetRequest(
        name=request.target or rebuild_name(runtime.name, taken),
        factory=spec.factory,
        metric=spec.metric,
        embedder=spec.embedder,
        search_params=runtime.index.search_params,
    )
    return MigrationRequest(target, request.plan)
