"""A migration's status: its record, and while it is live what every part knows of it.

Read-only: gathers the phase moves' record, the backfill runner's progress, the evidence
(numbers, guardrail checks, the recall session), the watchdog's health and the failures
after a commit, and changes nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .after_commit import AfterCommit
from .backfill_runner import BackfillRunner
from .evidence import Evidence
from .moves import PhaseMoves
from .store import Migration
from .watchdog import Watchdog


class Statuses:
    def __init__(
        self,
        moves: PhaseMoves,
        backfill: BackfillRunner,
        evidence: Evidence,
        watchdog: Watchdog,
        after_commit: AfterCommit,
    ) -> None:
        self.moves = moves
        self.backfill = backfill
        self.evidence = evidence
        self.watchdog = watchdog
        self.after_commit = after_commit

    def of(self, m: Migration) -> dict[str, Any]:
        current = self.moves.current
        live = current is not None and current.id == m.id
        status: dict[str, Any] = {
            "id": m.id,
            "phase": m.phase.value,
            "source": m.source,
            "target": m.target,
            "canary_percent": m.canary_percent,
            "target_share": m.target_share,
            "plan": m.plan.to_dict(),
            "backfill": self.backfill.progress(m) if live else self.backfill.state(m).to_dict(),
            "created_at": m.created_at,
            "updated_at": m.updated_at,
        }
        if live:
            status |= self._live(m)
        failures = self.after_commit.failures(m.id)
        if failures:
            status["after_commit_errors"] = [asdict(f) for f in failures]
        return status

    def _live(self, m: Migration) -> dict[str, Any]:
        session = self.evidence.fresh_session(m)
        return {
            "live": self.evidence.numbers(m),
            "guardrails": [c.to_dict() for c in self.evidence.checks],
            "watchdog": self.watchdog.health.to_dict(),
            **({"judgement": session.progress()} if session is not None else {}),
        }
