"""Runtime configuration with history: the knobs that change without a rebuild.

    {"indexes":   {"v1": {"ef_search": null, "nprobe": null}, ...},
     "migration": {"shadow_sample": 0.1, "canary_steps": [...], "guardrails": {...}}}

Every change is stored as a new version (full snapshot, who, why); a revert re-applies an
earlier version as one step, at once, and is itself a new version. One change is one
transaction: the catalog's search parameters, the migration's plan with its audit events
and the version row commit together, and only then do the live FAISS wrappers and the
migration change.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from indexes import SearchParams
from indexes.errors import ConflictError, InvalidInputError

from .migration import Plan, PlanChange
from .moves import PhaseMoves
from .plan_edits import PlanEdits
from .registry import IndexRegistry
from .requests import PLAN_KNOBS, ConfigChange, PlanUpdate, SearchParamsChange
from .store import ConfigVersion, Migration, Store
from .views import ConfigView, MigrationKnobs


class RuntimeConfig:
    def __init__(
        self, store: Store, registry: IndexRegistry, moves: PhaseMoves, plans: PlanEdits
    ) -> None:
        self.store = store
        self.registry = registry
        self.moves = moves
        self.plans = plans
        self._lock = threading.Lock()

    def current(self) -> ConfigView:
        """The configuration in effect now, read from the live objects."""
        indexes = {r.name: r.index.search_params for r in self.registry.all()}
        m = self.moves.current
        versions = self.store.config.history(limit=1)
        return ConfigView(
            version=versions[0].version if versions else 0,
            indexes=indexes,
            migration=None if m is None else _knobs(m.id, m.plan),
        )

    def history(self) -> list[ConfigVersion]:
        return self.store.config.history()

    def set(self, change: ConfigChange, actor: str) -> ConfigView:
        """Validate every change, commit it whole in one transaction, then put it in effect.

        The catalog's search parameters, the migration's plan and its audit events and the
        new version commit together; the live indexes and the migration change only after
        that commit, so a failure (or a crash) leaves the old configuration in effect and
        recorded, never a mix.
        """
        if change.indexes is None and change.migration is None:
            raise InvalidInputError("send 'indexes' and/or 'migration' changes")
        reason = change.reason
        with self._lock:
            index_changes = self._check_indexes(change.indexes or {})
            knobs = change.migration or PlanUpdate()
            changed = {
                name: params
                for name, params in index_changes.items()
                if params != self.registry.get(name).index.search_params
            }
            before = self._snapshot()

            def commit(m: Migration | None, plan_changes: list[PlanChange]) -> int:
                plan = plan_changes[-1].plan if plan_changes else None if m is None else m.plan
                after = self._snapshot_of(index_changes, m, plan)
                version = self._commit(index_changes, plan_changes, after, actor, reason, before)
                for name, params in index_changes.items():  # committed: now in effect
                    self.registry.get(name).index.set_search_params(params)
                return version

            version = self.plans.change_config(changed, knobs, actor, reason, commit)
        return replace(self.current(), version=version)

    def revert(self, version: int | None, actor: str) -> ConfigView:
        """Re-apply an earlier version (default: the one before the newest) in one step."""
        history = self.store.config.history(limit=2)
        if version is None:
            if len(history) < 2:
                raise ConflictError("nothing to revert: there is no earlier configuration")
            version = history[1].version
        target = self.store.config.get(version).config
        indexes = {
            name: SearchParamsChange.from_dict(params)
            for name, params in target["indexes"].items()
            if self.registry.find(name) is not None
        }
        m = self.moves.current
        old = target.get("migration")
        knobs = None
        if m is not None and old is not None and old.get("id") == m.id:
            knobs = PlanUpdate.from_dict({k: old[k] for k in PLAN_KNOBS if k in old})
        change = ConfigChange(indexes, knobs, f"revert to version {version}")
        return self.set(change, actor)

    def _commit(
        self,
        search_params: Mapping[str, SearchParams],
        plan_changes: list[PlanChange],
        config: Mapping[str, Any],
        actor: str,
        reason: str,
        initial: Mapping[str, Any],
    ) -> int:
        """One change in one transaction; returns its version.

        The catalog's search parameters, the migration's plan with its audit events and the
        new version commit together, or nothing does. ``initial`` (what was in effect
        before) is recorded first when no version exists yet.
        """
        with self.store.atomic():
            if not self.store.config.history(limit=1):
                self.store.config.add(initial, "switchover", "initial")
            for name, params in search_params.items():
                self.store.catalog.set_search_params(name, params)
            for change in plan_changes:
                self.store.migrations.change_plan(change)
            return self.store.config.add(config, actor, reason)

    def _snapshot(self) -> dict[str, Any]:
        snapshot = self.current().to_dict()
        snapshot.pop("version")
        return snapshot

    def _snapshot_of(
        self, index_changes: Mapping[str, SearchParams], m: Migration | None, plan: Plan | None
    ) -> dict[str, Any]:
        """The configuration as it will be once ``index_changes`` and ``plan`` are in effect."""
        indexes = {
            r.name: index_changes.get(r.name, r.index.search_params).to_dict()
            for r in self.registry.all()
        }
        migration = None if m is None or plan is None else asdict(_knobs(m.id, plan))
        return {"indexes": indexes, "migration": migration}

    def _check_indexes(self, changes: Mapping[str, SearchParamsChange]) -> dict[str, SearchParams]:
        """The new search parameters of every index named (NotFoundError for an unknown one)."""
        checked = {}
        for name, change in changes.items():
            runtime = self.registry.get(name)
            params = change.applied_to(runtime.index.search_params)
            runtime.entry.spec.check_search_params(params)  # pgvector: ef_search <= 1000
            checked[name] = params
        return checked


def _knobs(migration_id: int, plan: Plan) -> MigrationKnobs:
    return MigrationKnobs(
        migration_id,
        plan.shadow_sample,
        list(plan.canary_steps),
        dict(plan.guardrails),
        plan.inconclusive.to_dict(),
    )
