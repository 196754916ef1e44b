"""Index migrations and their audit events: every move commits with its record.

A migration's creation (with its target's catalog entry), each phase move (with any role
changes) and each plan change commit in one transaction together with the audit event
that records who, why and on what numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from indexes import IndexSpec
from indexes.errors import ConflictError, NotFoundError

from ..migration import Backfill, Plan, PlanChange
from ..phases import TERMINAL, Phase
from .catalog import CatalogTable
from .protocol import WriteLog
from .records import Event, Migration, Role
from .tables import Tables

_ACTIVE = "phase NOT IN (?, ?)"


class MigrationTables:
    """The ``migrations`` and ``migration_events`` tables."""

    def __init__(self, conns: Tables, catalog: CatalogTable, log: WriteLog) -> None:
        self._conns = conns
        self._catalog = catalog
        self._log = log

    def create(
        self,
        source: str,
        target_spec: IndexSpec,
        fingerprint: str,
        dim: int,
        plan: Plan,
        actor: str,
        metrics: Mapping[str, Any],
    ) -> Migration:
        """Register the target index and the migration, with its first event, atomically."""
        with self._conns.atomic():
            active = self._conns.one("migrations", _ACTIVE, _terminal())
            if active is not None:
                raise ConflictError(
                    f"migration {active['id']} is still {active['phase']};"
                    " finalize or abort it first"
                )
            entry = self._catalog.add(target_spec, fingerprint, dim, "target")
            row = {
                "source": source,
                "target": target_spec.name,
                "phase": Phase.PLANNED.value,
                "canary_percent": 0.0,
                "plan": json.dumps(plan.to_dict()),
                "backfill": json.dumps(Backfill(as_of_seq=self._log.last_seq()).to_dict()),
                "created_at": entry.created_at,
                "updated_at": entry.created_at,
            }
            migration_id = self._conns.insert_row("migrations", row)
            self._event(migration_id, actor, None, Phase.PLANNED, 0.0, "created", metrics)
            return self.get(migration_id)

    def transition(
        self,
        migration_id: int,
        expected: Phase,
        to: Phase,
        percent: float,
        actor: str,
        reason: str,
        metrics: Mapping[str, Any],
        roles: Mapping[str, Role] | None = None,
    ) -> Migration:
        """Move phase, record the event and any catalog role changes in one transaction.

        ``expected`` guards against a concurrent move: if the phase is no longer what the
        caller checked, nothing changes and ConflictError names the phase found.
        """
        with self._conns.atomic():
            found = self._locked(migration_id).phase
            if found != expected:
                raise ConflictError(
                    f"migration {migration_id} is {found.value}, not {expected.value};"
                    " refresh and retry"
                )
            self._update(migration_id, {"phase": to.value, "canary_percent": percent})
            for name, role in (roles or {}).items():
                self._catalog.set_role(name, role)
            self._event(migration_id, actor, expected, to, percent, reason, metrics)
            return self.get(migration_id)

    def change_plan(self, change: PlanChange) -> Migration:
        """Change the plan's runtime knobs; audited as an event that keeps the phase."""
        with self._conns.atomic():
            m = self._locked(change.migration_id)
            self._update(m.id, {"plan": json.dumps(change.plan.to_dict())})
            self._event(
                m.id,
                change.actor,
                m.phase,
                m.phase,
                m.canary_percent,
                change.reason,
                change.metrics,
            )
            return self.get(m.id)

    def save_backfill(self, migration_id: int, backfill: Backfill) -> None:
        self._update(migration_id, {"backfill": json.dumps(backfill.to_dict())})

    def get(self, migration_id: int) -> Migration:
        return self._get(migration_id, for_update=False)

    def _locked(self, migration_id: int) -> Migration:
        """The migration, its row locked until the caller's transaction ends."""
        return self._get(migration_id, for_update=True)

    def _get(self, migration_id: int, *, for_update: bool) -> Migration:
        row = self._conns.one("migrations", "id = ?", [migration_id], for_update=for_update)
        if row is None:
            raise NotFoundError(f"migration {migration_id} does not exist")
        return _migration(row)

    def active(self) -> Migration | None:
        """The one migration that is neither finalized nor aborted, if any."""
        rows = self._conns.rows("migrations", _ACTIVE, _terminal(), order_by="id DESC", limit=1)
        return _migration(rows[0]) if rows else None

    def latest(self) -> Migration | None:
        rows = self._conns.rows("migrations", order_by="id DESC", limit=1)
        return _migration(rows[0]) if rows else None

    def events(self, migration_id: int) -> list[Event]:
        """The migration's audit trail, oldest first; NotFoundError for an unknown one."""
        self.get(migration_id)
        rows = self._conns.rows(
            "migration_events", "migration_id = ?", [migration_id], order_by="id"
        )
        return [Event(**{**r, "metrics": json.loads(r["metrics"])}) for r in rows]

    def _update(self, migration_id: int, values: Mapping[str, Any]) -> None:
        changed = {**values, "updated_at": time.time()}
        if not self._conns.update_row("migrations", migration_id, changed):
            raise NotFoundError(f"migration {migration_id} does not exist")

    def _event(
        self,
        migration_id: int,
        actor: str,
        frm: Phase | None,
        to: Phase,
        percent: float,
        reason: str,
        metrics: Mapping[str, Any],
    ) -> None:
        event = {
            "migration_id": migration_id,
            "at": time.time(),
            "actor": actor,
            "from_phase": None if frm is None else frm.value,
            "to_phase": to.value,
            "canary_percent": percent,
            "reason": reason,
            "metrics": json.dumps(dict(metrics), sort_keys=True, default=str),
        }
        self._conns.insert_row("migration_events", event)


def _terminal() -> list[str]:
    return [p.value for p in sorted(TERMINAL)]


def _migration(row: Mapping[str, Any]) -> Migration:
    return Migration(
        id=int(row["id"]),
        source=row["source"],
        target=row["target"],
        phase=Phase(row["phase"]),
        canary_percent=float(row["canary_percent"]),
        plan=Plan.from_stored(json.loads(row["plan"])),
        backfill=Backfill.from_dict(json.loads(row["backfill"])),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )
