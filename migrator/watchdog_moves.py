"""The watchdog's moves: automatic rollbacks (a guardrail breached, the watchdog failing),
the inconclusive policy's action and a slice's rollback, each audited with its evidence.

Each takes the phase moves' action lock and acts only on the migration it was judged for,
while that migration is still live in a phase it may act in; otherwise it does nothing
(an operator's move came first).
"""

from __future__ import annotations

import logging

from evals import Judgement

from .evidence import Evidence
from .guardrails import Check, WatchdogHealth
from .inconclusive import Outcome
from .moves import PhaseMoves
from .phases import Phase
from .slice_watch import slice_change
from .store import Migration, Store

log = logging.getLogger(__name__)


class WatchdogMoves:
    def __init__(self, moves: PhaseMoves, evidence: Evidence, store: Store) -> None:
        self.moves = moves
        self.evidence = evidence
        self.store = store

    def auto_rollback(self, m: Migration, checks: list[Check]) -> Migration | None:
        """Roll reads back because a guardrail breached; audited with the evidence."""
        with self.moves.locked() as current:
            watched = (Phase.SHADOW, Phase.CANARY, Phase.CUTOVER)
            if current is None or current.id != m.id or current.phase not in watched:
                return None
            breached = [c for c in checks if c.state == "breach"]
            reason = "guardrail breached: " + "; ".join(f"{c.name}: {c.detail}" for c in breached)
            run_id = self.evidence.record_for_rollback(current)
            evidence = {**self.evidence.judgement(), "eval_run": run_id}
            log.warning("migration %d: automatic rollback: %s", m.id, reason)
            return self.moves.move(
                current, Phase.ROLLED_BACK, "watchdog", reason, evidence=evidence
            )

    def inconclusive(self, m: Migration, outcome: Outcome) -> Migration | None:
        """The plan's inconclusive policy acts: the judgement held past its limit while
        reads were on the target. Roll reads back, or freeze the canary at 0%; audited with
        the evidence (the judgement's run, the checks), like an automatic rollback."""
        with self.moves.locked() as current:
            if current is None or current.id != m.id or current.target_share <= 0:
                return None
            run_id = self.evidence.record_for_rollback(current)
            evidence = {**self.evidence.judgement(), "eval_run": run_id}
            log.warning("migration %d: %s", m.id, outcome.reason)
            if outcome.act == "freeze":
                return self.moves.move(
                    current, Phase.CANARY, "watchdog", outcome.reason, 0.0, evidence=evidence
                )
            return self.moves.move(
                current, Phase.ROLLED_BACK, "watchdog", outcome.reason, evidence=evidence
            )

    def slice_rollback(self, m: Migration, label: str, judgement: Judgement) -> Migration | None:
        """Slice ``label``'s reads back to the source, the others keep their share (audited)."""
        with self.moves.locked() as current:
            change = slice_change(current, m.id, label, judgement, self.evidence)
            if change is None:
                return None
            updated = self.store.migrations.change_plan(change)
            self.moves.follow(updated)
            log.warning("migration %d: %s", m.id, change.reason)
            return updated

    def failsafe_rollback(self, m: Migration, health: WatchdogHealth) -> Migration | None:
        """Roll reads on the target back because the watchdog cannot judge them; audited."""
        with self.moves.locked() as current:
            if current is None or current.id != m.id:
                return None
            if current.phase not in (Phase.CANARY, Phase.CUTOVER):
                return None
            reason = (
                f"watchdog failing: {health.consecutive_failures} ticks in a row failed"
                f" ({health.last_error}); reads back on the source until it judges again"
            )
            log.warning("migration %d: fail-safe rollback: %s", m.id, reason)
            evidence = {"watchdog": health.to_dict()}
            return self.moves.move(
                current, Phase.ROLLED_BACK, "watchdog", reason, evidence=evidence
            )
