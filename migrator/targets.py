"""A migration's target: registered and opened at creation, brought back at start-up.

Creating a migration commits its record and the target's catalog entry first; the target
opens after that commit (a failure there is reported in the status, never raised). At
start-up the live migration's target comes back from its snapshot and the log, and
``reopen`` says whether its backfill must run (again): ``Switchover.start`` starts it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from indexes import SearchParams, load_embedder
from indexes.errors import InvalidInputError

from .after_commit import AfterCommit
from .moves import PhaseMoves
from .phases import Phase
from .registry import IndexRegistry, rebuild_migration
from .requests import MigrationRequest, RebuildRequest
from .store import Migration, Store
from .truth import unjudgeable

log = logging.getLogger(__name__)


class Targets:
    def __init__(
        self,
        store: Store,
        registry: IndexRegistry,
        write_lock: threading.Lock,
        moves: PhaseMoves,
        after_commit: AfterCommit,
    ) -> None:
        self.store = store
        self.registry = registry
        self.write_lock = write_lock
        self.moves = moves
        self.after_commit = after_commit
        # How a created migration's target opens: here, at the migration's start (the
        # backfill copies the rest); a replica replaces it (``replicas/targets.py``).
        self.open_target: Callable[[Migration], None] = self._open

    def rebuild(self, name: str, request: RebuildRequest, actor: str) -> Migration:
        """A layout-only migration of the primary ``name`` to a fresh copy of itself."""
        taken = {entry.name for entry in self.store.catalog.entries()}
        return self.create(rebuild_migration(self.registry.get(name), taken, request), actor)

    def create(self, request: MigrationRequest, actor: str) -> Migration:
        plan = request.plan.checked()
        # NotFoundError names an unknown eval set
        eval_set = None if plan.eval_set is None else self.store.evals.get_set(plan.eval_set)
        source = self.registry.primary()
        spec = request.target.spec(source.entry.spec.embedder)
        params = request.target.search_params
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        spec.check_search_params(params)
        self.registry.backends.check(spec)  # configured and reachable, before anything commits
        same_embedder = embedder.fingerprint == source.entry.fingerprint
        reason = None if eval_set is None else unjudgeable(eval_set, same_embedder)
        if reason is not None:
            raise InvalidInputError(f"{reason}; nothing was created")
        with self.moves.locked(), self.write_lock:
            counts = {
                "documents": self.store.log.document_count(),
                "last_seq": self.store.log.last_seq(),
            }
            m = self.store.migrations.create(
                source.name, spec, embedder.fingerprint, embedder.dim, plan, actor, counts
            )
            self.moves.adopt(m)  # committed: until the target opens, reads and writes skip it
            if params != SearchParams():
                self.after_commit.run(
                    m.id,
                    f"search parameters of {spec.name}",
                    partial(self.store.catalog.set_search_params, spec.name, params),
                    "the target searches with the defaults; set them with PUT /v1/config",
                )
            self.after_commit.run(
                m.id,
                f"opening {spec.name}",
                partial(self.open_target, m),
                "reads and writes skip the target until it opens at the next start-up",
            )
        log.info("migration %d created: %s -> %s by %s", m.id, source.name, spec.name, actor)
        return m

    def _open(self, m: Migration) -> None:
        entry = next(e for e in self.store.catalog.entries() if e.name == m.target)
        self.registry.open(entry, start_seq=m.backfill.as_of_seq)

    def reopen(self) -> Migration | None:
        """At start-up: bring the live migration's target back (snapshot + log).

        Returns the migration when its backfill must run: in ``backfilling`` until it
        finishes, whether or not it had saved its start before the crash (a kill right
        after the move commits); in any later phase when the target came back without
        the snapshot that covers the backfill's cursor, so the copy starts over (reads
        stay on the source meanwhile: see ``ReadRouter.route``).
        """
        m = self.moves.current
        if m is None:
            return None
        entry = next(e for e in self.store.catalog.entries() if e.name == m.target)
        runtime, info = self.registry.open(entry, start_seq=m.backfill.as_of_seq)
        bf = m.backfill
        # a backend that persists itself holds every copy made before the cursor was saved
        covered = runtime.index.persists_itself or (
            info is not None and (bf.checkpoint_at is None or info.created_at >= bf.checkpoint_at)
        )
        if bf.started_at is not None and not covered:
            log.warning(
                "target %s came back without the snapshot that covers its backfill cursor;"
                " the backfill starts over (copies are idempotent)",
                m.target,
            )
            reset = replace(bf, done=0, cursor=None, finished=False, finished_at=None)
            self.store.migrations.save_backfill(m.id, reset)
            self.moves.reload(m.id)
        m = self.moves.current
        if m is None or m.backfill.finished:
            return None
        resumes = m.phase == Phase.BACKFILLING or m.backfill.started_at is not None
        return m if resumes else None
