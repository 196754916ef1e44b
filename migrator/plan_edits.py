"""Changes to the live migration's plan: by the operator, or as part of a config change.

Each builds its audit event first (``PlanChange``), commits it, and only then puts the new
plan in effect (``PhaseMoves.reload``), all under the action lock. New search parameters
on the migration's source or target make the judgement start afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from indexes import SearchParams
from indexes.errors import ConflictError, InvalidInputError

from .evidence import Evidence
from .migration import PlanChange
from .moves import PhaseMoves
from .requests import PLAN_KNOBS, PlanUpdate
from .store import Migration, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


class PlanEdits:
    def __init__(self, store: Store, moves: PhaseMoves, evidence: Evidence) -> None:
        self.store = store
        self.moves = moves
        self.evidence = evidence

    def update(self, migration_id: int, update: PlanUpdate, actor: str) -> Migration:
        """Change shadow_sample, canary_steps or guardrails of the live migration (audited)."""
        with self.moves.locked_active(migration_id) as m:
            change = self._plan_change(m, update, actor)
            updated = self.store.migrations.change_plan(change)
            self.moves.refresh(updated)
            return updated

    def _plan_change(self, m: Migration, update: PlanUpdate, actor: str) -> PlanChange:
        """The validated new plan and its audit event; nothing is stored or changed yet."""
        if update.is_empty():
            raise InvalidInputError(f"send one or more of {sorted(PLAN_KNOBS)}")
        plan = update.applied_to(m.plan)
        reason = f"plan: {update.described()}"
        return PlanChange(m.id, plan, actor, reason, self.evidence.numbers(m).to_dict())

    def change_config(
        self,
        changed: Mapping[str, SearchParams],
        update: PlanUpdate,
        actor: str,
        why: str,
        commit: Callable[[Migration | None, list[PlanChange]], T],
    ) -> T:
        """The live migration's side of a runtime config change, committed by ``commit``.

        Builds the plan changes (a rejudge event when the source's or target's search
        parameters change, then the plan's new knobs), hands them to ``commit``, which
        stores them with the rest of the change in one transaction, and only after it
        returns changes the state in memory: the new plan, and a fresh judgement.
        """
        with self.moves.locked() as m:
            if m is None and not update.is_empty():
                raise ConflictError("no migration is active; its knobs cannot be set")
            changes: list[PlanChange] = []
            rejudge = None if m is None else self._rejudge_change(m, changed, actor, why)
            if rejudge is not None:
                changes.append(rejudge)
            if m is not None and not update.is_empty():
                changes.append(self._plan_change(m, update, actor))
            result = commit(m, changes)
            if m is not None and changes:
                self.moves.reload(m.id)
            if rejudge is not None:
                self.evidence.afresh(drop_checks=True)
                log.info("migration %d: %s", rejudge.migration_id, rejudge.reason)
            return result

    def _rejudge_change(
        self, m: Migration, changed: Mapping[str, SearchParams], actor: str, why: str
    ) -> PlanChange | None:
        """Search parameters of the live migration's source or target changed: judge afresh.

        The recall judgement, the latency and error windows and the shadow overlaps were
        gathered on the old parameters. Kept, a stale pass would go on gating the canary
        and the old samples would dilute what the new parameters do; so they are dropped,
        the watchdog starts a fresh recall session, and the change is audited on the
        migration's timeline.
        """
        if not set(changed) & {m.source, m.target}:
            return None
        what = ", ".join(
            f"{name} {k}={v}"
            for name, p in sorted(changed.items())
            for k, v in p.to_dict().items()
            if v is not None
        )
        reason = f"search parameters changed ({what}): {why}; recall is judged afresh"
        return PlanChange(m.id, m.plan, actor, reason, self.evidence.numbers(m).to_dict())
