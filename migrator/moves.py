"""Phase moves and gates: the one object that changes which phase the live migration is in.

Every phase change goes through ``check_move`` (one literal table) and commits together
with its audit event, in one transaction. Reads follow ``current``, a plain reference
swapped after the commit, so a rollback flips routing at once while requests already in
flight finish on the index they started on. Moves, plan changes and config changes of
the live migration run under the action lock, one at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

from indexes.errors import ConflictError, InvalidInputError, NotFoundError

from .after_commit import AfterCommit
from .backfill_runner import BackfillRunner
from .evidence import Evidence
from .phases import TERMINAL, Phase, check_move
from .registry import IndexRegistry
from .requests import ActionRequest
from .store import Migration, Role, Store

log = logging.getLogger(__name__)

ACTIONS = ("backfill", "shadow", "canary", "cutover", "rollback", "resume", "finalize", "abort")


class PhaseMoves:
    def __init__(
        self,
        store: Store,
        registry: IndexRegistry,
        write_lock: threading.Lock,
        evidence: Evidence,
        backfill: BackfillRunner,
        after_commit: AfterCommit,
    ) -> None:
        self.store = store
        self.registry = registry
        self.write_lock = write_lock
        self.evidence = evidence
        self.backfill = backfill
        self.after_commit = after_commit
        self._current: Migration | None = store.migrations.active()
        self._action_lock = threading.RLock()

    @property
    def current(self) -> Migration | None:
        """The live migration (None when none is): what reads and writes follow."""
        return self._current

    def latest(self) -> Migration | None:
        """The live migration, or else the newest one (None when none was created)."""
        return self._current or self.store.migrations.latest()

    def adopt(self, m: Migration) -> None:
        """``m`` was just created and committed: it is the live migration from now on."""
        with self._action_lock:
            if self._current is not None:
                raise ConflictError(f"migration {self._current.id} is still live")
            self._current = m

    def reload(self, migration_id: int) -> None:
        """Re-read the live migration's record (its backfill ended, its plan changed).

        No lock: the backfill thread calls it while an abort may hold the action lock and
        join that thread."""
        m = self._current
        if m is not None and m.id == migration_id:
            self._current = self.store.migrations.get(m.id)

    def refresh(self, m: Migration) -> None:
        """``m``, the live migration's record, changed and committed: follow it now."""
        with self._action_lock:
            if self._current is not None and self._current.id == m.id:
                self._current = m

    def follow(self, stored: Migration | None) -> None:
        """Another replica changed the live migration: ``stored`` is it now (or none is).
        The caller holds the action lock (``replicas/state_sync.py``)."""
        self._current = stored

    @contextmanager
    def locked(self) -> Iterator[Migration | None]:
        """Hold the action lock; yields the live migration, if any."""
        with self._action_lock:
            yield self._current

    @contextmanager
    def locked_active(self, migration_id: int) -> Iterator[Migration]:
        """Hold the action lock; yields migration ``migration_id`` if it is the live one."""
        with self._action_lock:
            yield self.active(migration_id)

    def active(self, migration_id: int) -> Migration:
        m = self._current
        if m is None or m.id != migration_id:
            found = self.store.migrations.get(migration_id)  # NotFoundError if unknown
            raise ConflictError(f"migration {migration_id} is {found.phase.value}; it is over")
        return m

    # -- operator actions ----------------------------------------------------------------

    def act(self, migration_id: int, action: str, body: ActionRequest, actor: str) -> Migration:
        if action not in ACTIONS:
            raise NotFoundError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        with self._action_lock:
            m = self.active(migration_id)
            handler: Callable[[Migration, ActionRequest, str], Migration]
            handler = getattr(self, f"_do_{action}")
            return handler(m, body, actor)

    def move(
        self,
        m: Migration,
        to: Phase,
        actor: str,
        reason: str,
        percent: float | None = None,
        roles: Mapping[str, Role] | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Migration:
        """Move ``m`` to phase ``to``, audited; the caller holds the action lock."""
        check_move(m.phase, to)
        share = {Phase.CANARY: percent, Phase.CUTOVER: 100.0}.get(to, 0.0)
        metrics = {**self.evidence.numbers_or_error(m), **(evidence or {})}
        updated = self.store.migrations.transition(
            m.id, m.phase, to, share or 0.0, actor, reason, metrics, roles
        )
        if to in (Phase.SHADOW, Phase.ROLLED_BACK):
            self.evidence.afresh()  # a new (or resumed) rollout is judged afresh
        self._current = None if updated.phase in TERMINAL else updated
        log.info("migration %d: %s -> %s by %s (%s)", m.id, m.phase, to, actor, reason)
        return updated

    def _do_backfill(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        if m.phase == Phase.BACKFILLING:  # idempotent: make sure it runs
            if not m.backfill.finished:
                self.backfill.start(m)
            return m
        updated = self.move(m, Phase.BACKFILLING, actor, _reason(body, "backfill started"))
        start = partial(self.backfill.start, updated)
        self.after_commit.run(
            m.id, "starting the backfill", start, "send backfill again to start it"
        )
        return updated

    def _do_shadow(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        bf = self.backfill.state(m)
        if m.phase == Phase.BACKFILLING and not bf.finished:
            raise ConflictError(f"backfill is not finished ({bf.done}/{bf.total} documents)")
        return self.move(m, Phase.SHADOW, actor, _reason(body, "shadow reads on"))

    def _do_canary(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        percent = body.percent
        if percent is None:
            bigger = [s for s in m.plan.canary_steps if s > m.canary_percent]
            if not bigger:
                raise ConflictError("no canary step left; cut over instead")
            percent = bigger[0]
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise InvalidInputError("percent must be a number")
        if not 0 < percent < 100:
            raise InvalidInputError("percent must be above 0 and below 100 (cut over for 100)")
        if m.phase == Phase.CANARY and percent <= m.canary_percent:
            raise ConflictError(
                f"canary is at {m.canary_percent}%; the share only grows (roll back to lower it)"
            )
        if m.phase == Phase.CUTOVER:
            raise ConflictError("every read is on the target; roll back to lower the share")
        check_move(m.phase, Phase.CANARY)
        reason = _reason(body, f"canary {percent}%") + self._gate(m, body)
        judged = self.evidence.judgement()
        return self.move(m, Phase.CANARY, actor, reason, float(percent), evidence=judged)

    def _do_cutover(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        check_move(m.phase, Phase.CUTOVER)
        reason = _reason(body, "all reads on the target") + self._gate(m, body)
        return self.move(m, Phase.CUTOVER, actor, reason, evidence=self.evidence.judgement())

    def _gate(self, m: Migration, body: ActionRequest) -> str:
        override = body.override
        if not isinstance(override, bool):
            raise InvalidInputError("override must be true or false")
        return self.evidence.gate(m, override)

    def _do_rollback(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        if m.phase == Phase.ROLLED_BACK:
            return m  # idempotent: reads are already on the source
        reason = body.reason
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInputError("rollback needs a 'reason'")
        return self.move(m, Phase.ROLLED_BACK, actor, reason)

    def _do_resume(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        if m.phase != Phase.ROLLED_BACK:
            raise ConflictError(
                f"only a rolled-back migration resumes; this one is {m.phase.value}"
            )
        return self.move(m, Phase.SHADOW, actor, _reason(body, "resumed"))

    def _do_finalize(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        check_move(m.phase, Phase.FINALIZED)
        bf = self.backfill.state(m)
        if not bf.finished:  # the target lost its snapshot at a restart and copies again
            raise ConflictError(
                f"the target's backfill is running again ({bf.done}/{bf.total} documents);"
                " finalize once it has finished"
            )
        target, source = self.registry.get(m.target), self.registry.get(m.source)
        roles: dict[str, Role] = {m.target: "primary", m.source: "retired"}
        with self.write_lock:  # no write between the role swap and the catch-up
            target.catch_up(self.store)
            reason = _reason(body, "target is the primary")
            updated = self.move(m, Phase.FINALIZED, actor, reason, roles=roles)
            for name, role in roles.items():
                self.registry.set_role(name, role)
            self.registry.drop(m.source)
        # A failed snapshot only lengthens the next start-up's replay: the new primary's
        # is written when the periodic snapshotter finds it due (or at shutdown), and the
        # retired source keeps its previous one.
        for runtime, then in (
            (target, "the periodic snapshotter writes it when due; the log holds every write"),
            (source, "the retired index keeps its previous snapshot"),
        ):
            snap = partial(self.registry.snapshot, runtime, force=True)
            self.after_commit.run(m.id, f"snapshot of {runtime.name}", snap, then)
        return updated

    def _do_abort(self, m: Migration, body: ActionRequest, actor: str) -> Migration:
        check_move(m.phase, Phase.ABORTED)
        self.backfill.stop()
        with self.write_lock:
            roles: dict[str, Role] = {m.target: "retired"}
            reason = _reason(body, "aborted")
            updated = self.move(m, Phase.ABORTED, actor, reason, roles=roles)
            self.registry.drop(m.target, delete_snapshots=True)
        return updated


def _reason(body: ActionRequest, default: str) -> str:
    reason = body.reason
    return reason if isinstance(reason, str) and reason.strip() else default
