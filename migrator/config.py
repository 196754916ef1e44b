"""Runtime configuration with history: the knobs that change without a rebuild.

    {"indexes":   {"v1": {"ef_search": null, "nprobe": null}, ...},
     "migration": {"shadow_sample": 0.1, "canary_steps": [...], "guardrails": {...}}}

Every change is stored as a new version (full snapshot, who, why); a revert re-applies an
earlier version as one step, at once, and is itself a new version. Search parameters go
straight to the live FAISS wrappers; migration knobs go through the lifecycle, which
audits them on the migration's timeline too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from indexes import SearchParams
from indexes.errors import ConflictError, InvalidInputError

from .lifecycle import MigrationLifecycle
from .migration import Plan
from .registry import IndexRegistry
from .store import Store

MIGRATION_KNOBS = ("shadow_sample", "canary_steps", "guardrails")


class RuntimeConfig:
    def __init__(
        self, store: Store, registry: IndexRegistry, lifecycle: MigrationLifecycle
    ) -> None:
        self.store = store
        self.registry = registry
        self.lifecycle = lifecycle
        self._lock = threading.Lock()

    def current(self) -> dict[str, Any]:
        """The configuration in effect now, read from the live objects."""
        indexes = {r.name: r.index.search_params.to_dict() for r in self.registry.all()}
        m = self.lifecycle.current
        migration = None
        if m is not None:
            plan = m.plan.to_dict()
            migration = {"id": m.id, **{k: plan[k] for k in MIGRATION_KNOBS}}
        versions = self.store.config_versions(limit=1)
        return {
            "version": versions[0]["version"] if versions else 0,
            "indexes": indexes,
            "migration": migration,
        }

    def history(self) -> list[dict[str, Any]]:
        return self.store.config_versions()

    def set(self, changes: Mapping[str, Any], actor: str, reason: str) -> dict[str, Any]:
        """Validate every change first, then apply them all and record the new version."""
        unknown = set(changes) - {"indexes", "migration"}
        if unknown or not changes:
            raise InvalidInputError("send 'indexes' and/or 'migration' changes")
        with self._lock:
            index_changes = self._check_indexes(changes.get("indexes") or {})
            migration_changes = self._check_migration(changes.get("migration") or {})
            if not self.store.config_versions(limit=1):  # what was in effect before the first set
                self.store.add_config_version(self._snapshot(), "switchover", "initial")
            changed = {
                name: params
                for name, params in index_changes.items()
                if params != self.registry.get(name).index.search_params
            }
            for name, params in index_changes.items():
                self.store.set_search_params(name, params)
                self.registry.get(name).index.set_search_params(params)
            if changed:  # a judgement of the old parameters no longer holds
                self.lifecycle.rejudge(changed, actor, reason)
            m = self.lifecycle.current
            if migration_changes and m is not None:
                self.lifecycle.update_plan(m.id, migration_changes, actor)
            version = self.store.add_config_version(self._snapshot(), actor, reason)
        return {**self.current(), "version": version}

    def revert(self, version: int | None, actor: str) -> dict[str, Any]:
        """Re-apply an earlier version (default: the one before the newest) in one step."""
        history = self.store.config_versions(limit=2)
        if version is None:
            if len(history) < 2:
                raise ConflictError("nothing to revert: there is no earlier configuration")
            version = int(history[1]["version"])
        target = self.store.config_version(version)["config"]
        changes: dict[str, Any] = {
            "indexes": {
                name: params
                for name, params in target["indexes"].items()
                if self.registry.find(name) is not None
            }
        }
        m = self.lifecycle.current
        old = target.get("migration")
        if m is not None and old is not None and old.get("id") == m.id:
            changes["migration"] = {k: old[k] for k in MIGRATION_KNOBS}
        return self.set(changes, actor, f"revert to version {version}")

    def _snapshot(self) -> dict[str, Any]:
        snapshot = self.current()
        snapshot.pop("version")
        return snapshot

    def _check_indexes(self, changes: Mapping[str, Any]) -> dict[str, SearchParams]:
        if not isinstance(changes, Mapping):
            raise InvalidInputError("'indexes' maps index names to search parameters")
        checked = {}
        for name, params in changes.items():
            runtime = self.registry.get(name)  # NotFoundError for an unknown index
            if not isinstance(params, Mapping):
                raise InvalidInputError(f"indexes.{name} must be an object")
            merged = {**runtime.index.search_params.to_dict(), **params}
            checked[name] = SearchParams.from_dict(merged)
        return checked

    def _check_migration(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, Mapping):
            raise InvalidInputError("'migration' must be an object")
        if not changes:
            return {}
        unknown = set(changes) - set(MIGRATION_KNOBS)
        if unknown:
            raise InvalidInputError(f"unknown migration knob(s) {sorted(unknown)}")
        m = self.lifecycle.current
        if m is None:
            raise ConflictError("no migration is active; its knobs cannot be set")
        Plan.from_dict({**m.plan.to_dict(), **changes})  # refuse bad values before applying
        return dict(changes)
