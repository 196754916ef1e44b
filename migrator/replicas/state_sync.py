"""A replica follows what the others changed: the live migration, roles, search parameters.

Every replica keeps the live migration (phase, routing share, plan, backfill) and the
index roles and search parameters in memory, and the store holds the truth. ``refresh``
reads the truth and makes this replica's view match it: a migration another replica
created gets its target opened here, one that ended elsewhere is finalized or aborted
here too (roles swapped, the retired or aborted index dropped), and a changed phase,
share, plan or search parameter is in effect here from then on. It runs under the action
lock, so it never interleaves with a move made through this replica.
"""

from __future__ import annotations

import logging
import shutil

from ..evidence import Evidence
from ..moves import PhaseMoves
from ..phases import Phase
from ..registry import IndexRegistry
from ..store import Migration, Store
from .targets import ReplicaTargets

log = logging.getLogger(__name__)

AFRESH = (Phase.SHADOW, Phase.ROLLED_BACK)  # a (re)started rollout is judged afresh


class StateSync:
    def __init__(
        self,
        store: Store,
        registry: IndexRegistry,
        moves: PhaseMoves,
        evidence: Evidence,
        targets: ReplicaTargets,
    ) -> None:
        self.store = store
        self.registry = registry
        self.moves = moves
        self.evidence = evidence
        self.targets = targets
        self.refreshes = 0  # how many refreshes ran (status, tests)

    def refresh(self) -> None:
        """Make this replica's live migration, roles and search parameters the stored ones."""
        with self.moves.locked() as current:
            # read under the lock: a read before it could predate a migration created (or
            # moved) through this replica meanwhile, and following it would undo that here
            stored = self.store.migrations.active()
            if stored != current:
                self._follow(current, stored)
            retuned = self._follow_catalog()
            live = self.moves.current
            if live is not None and retuned & {live.source, live.target}:
                # as on the replica that made the change: the evidence gathered on the old
                # parameters is dropped, so the watchdog (on the leader) judges them afresh
                self.evidence.afresh(drop_checks=True)
        if stored is not None and self.registry.find(stored.target) is None:
            self.targets.open(stored)  # created elsewhere, or its open failed: (re)try
        self.refreshes += 1

    def _follow(self, current: Migration | None, stored: Migration | None) -> None:
        if current is not None and (stored is None or stored.id != current.id):
            self._ended(current.id)
        elif current is not None and stored is not None and stored.phase != current.phase:
            if stored.phase in AFRESH:
                self.evidence.afresh()
            log.info("replica: migration %d is %s", stored.id, stored.phase.value)
        self.moves.follow(stored)

    def _ended(self, migration_id: int) -> None:
        """The migration this replica followed ended through another replica."""
        ended = self.store.migrations.get(migration_id)
        log.info("replica: migration %d is %s", ended.id, ended.phase.value)
        if ended.phase == Phase.ABORTED:
            self.registry.drop(ended.target)
            shutil.rmtree(self.registry.settings.snapshot_dir(ended.target).parent, True)

    def _follow_catalog(self) -> set[str]:
        """Roles (a finalize swaps them) and search parameters, from the catalog; the
        retired index (a finalized source, an aborted target) goes once the new roles hold.
        Returns the indexes whose search parameters changed."""
        retired: list[str] = []
        retuned: set[str] = set()
        for entry in self.store.catalog.entries():
            runtime = self.registry.find(entry.name)
            if runtime is None:
                continue
            if entry.role == "retired":
                retired.append(entry.name)
                continue
            if runtime.entry.role != entry.role:
                self.registry.set_role(entry.name, entry.role)
            if runtime.index.search_params != entry.search_params:
                runtime.index.set_search_params(entry.search_params)
                retuned.add(entry.name)
        for name in retired:
            self.registry.drop(name)
        return retuned
