"""A migration's status: its record, and while it is live what every part knows of it.

Read-only: gathers the phase moves' record, the backfill runner's progress, the evidence
(numbers, guardrail checks, the recall session), the watchdog's health and the failures
after a commit, and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from indexes.errors import NotFoundError

from .after_commit import AfterCommit
from .backfill_runner import BackfillRunner
from .evidence import Evidence
from .moves import PhaseMoves
from .slices import slice_statuses
from .store import Migration
from .views import MigrationStatus
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

    def latest(self) -> MigrationStatus:
        """The live migration's status, or else the newest one's; NotFoundError if none."""
        m = self.moves.latest()
        if m is None:
            raise NotFoundError("no migration has been created")
        return self.of(m)

    def of(self, m: Migration) -> MigrationStatus:
        current = self.moves.current
        live = current is not None and current.id == m.id
        status = MigrationStatus(
            id=m.id,
            phase=m.phase.value,
            source=m.source,
            target=m.target,
            canary_percent=m.canary_percent,
            target_share=m.target_share,
            plan=m.plan,
            backfill=self.backfill.progress(m) if live else self.backfill.state(m),
            created_at=m.created_at,
            updated_at=m.updated_at,
            after_commit_errors=tuple(self.after_commit.failures(m.id)),
        )
        return self._live(status, m) if live else status

    def _live(self, status: MigrationStatus, m: Migration) -> MigrationStatus:
        session = self.evidence.fresh_session(m)
        judged = {} if session is None else session.slice_judgements
        slices = (
            () if m.plan.slices is None else slice_statuses(m.plan.slices, m.target_share, judged)
        )
        return replace(
            status,
            live=self.evidence.numbers(m),
            guardrails=self.evidence.checks,
            watchdog=self.watchdog.health,
            judgement=None if session is None else session.progress(),
            slices=tuple(slices),
        )
