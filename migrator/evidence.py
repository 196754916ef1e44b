"""Recall sessions and evidence: what the rollout has shown so far, and when it starts afresh.

Owns the eval-set recall session of the live rollout, the judgement epoch (bumped when
the evidence gathered so far stops describing the rollout: shadow entered, a resume, new
search parameters) and the guardrail checks the watchdog handed over last. The numbers
recorded with every move (``numbers``) come from here too.
"""

from __future__ import annotations

import logging
from typing import Any

from indexes.errors import ConflictError

from .guardrails import Check, Guardrails
from .reads import ReadRouter
from .recall import RecallSession
from .registry import IndexRegistry
from .store import Migration, Store
from .views import LiveNumbers

log = logging.getLogger(__name__)


class Evidence:
    def __init__(self, store: Store, registry: IndexRegistry, reads: ReadRouter) -> None:
        self.store = store
        self.registry = registry
        self.reads = reads
        self._session: RecallSession | None = None
        self._session_key: tuple[int, int] | None = None
        self._epoch = 0
        self._checks: list[Check] = []

    @property
    def epoch(self) -> int:
        """Bumps whenever the evidence gathered so far stops describing the rollout."""
        return self._epoch

    @property
    def checks(self) -> list[Check]:
        """The guardrail checks of the watchdog's last judging tick (a copy)."""
        return list(self._checks)

    def afresh(self, *, drop_checks: bool = False) -> None:
        """Start the judgement over: a new epoch, empty observation windows."""
        self._epoch += 1
        self.reads.forget()
        if drop_checks:
            self._checks = []

    def hand_over(self, checks: list[Check], epoch: int) -> bool:
        """The watchdog's checks, judged in ``epoch``; kept only if it is still current."""
        if epoch != self._epoch:
            return False  # search parameters changed mid-tick: the checks are stale
        self._checks = list(checks)
        return True

    def drop_checks(self) -> None:
        """Checks of earlier ticks are no evidence once the watchdog fails to judge."""
        self._checks = []

    def session(self, m: Migration) -> RecallSession | None:
        """The eval-set judgement of this rollout (a fresh one after shadow or resume)."""
        if m.plan.eval_set is None:
            return None
        key = (m.id, self._epoch)
        if self._session_key != key:
            rule = Guardrails.from_dict(m.plan.guardrails).recall
            self._session = RecallSession(
                self.store,
                self.registry.get(m.source),
                self.registry.get(m.target),
                self.store.evals.get_set(m.plan.eval_set),
                rule,
                target_timeout_s=self.registry.settings.target_timeout_s,
                slices=m.plan.slices,
                select=self.registry.metadata.select,
            )
            self._session_key = key
        return self._session

    def fresh_session(self, m: Migration) -> RecallSession | None:
        """This rollout's session if one was started in the current epoch, else None."""
        if self._session is not None and self._session_key == (m.id, self._epoch):
            return self._session
        return None

    def record_eval(self, m: Migration, session: RecallSession, origin: str) -> int:
        judgement = session.judgement
        return self.store.evals.add_run(
            session.eval_set.name,
            m.source,
            m.target,
            m.id,
            origin,
            None if judgement is None else judgement.decision,
            session.report(migration_id=m.id, phase=m.phase.value, origin=origin),
        )

    def record_for_rollback(self, m: Migration) -> int | None:
        """Store the session's results with a rollback (the run's id), if it has any."""
        session = self._session
        if session is None or not session.results:
            return None
        return self.record_eval(m, session, origin="watchdog-rollback")

    def gate(self, m: Migration, override: bool) -> str:
        """Advancing needs a passing recall judgement, or an operator's audited override."""
        recall = [c for c in self._checks if c.name in ("recall", "live_recall")]
        passing = any(c.state == "ok" for c in recall)
        breached = any(c.state == "breach" for c in self._checks)
        if passing and not breached:
            return ""
        if override:
            return " (operator override of the judgement)"
        found = "; ".join(f"{c.name}: {c.state} ({c.detail})" for c in recall) or "none yet"
        raise ConflictError(
            f"advancing migration {m.id} needs a passing recall judgement; current: {found}."
            " Wait for the watchdog, or send override=true (audited)."
        )

    def judgement(self) -> dict[str, Any]:
        """The checks and the recall session's progress, recorded with an advance."""
        session = self._session
        evidence: dict[str, Any] = {"guardrails": [c.to_dict() for c in self._checks]}
        if session is not None:
            evidence["recall"] = {
                **session.progress().to_dict(),
                "eval_set_hash": session.eval_set.content_hash,
                "fingerprints": session.fingerprints,
                "truth": session.truth,
            }
        return evidence

    def numbers(self, m: Migration) -> LiveNumbers:
        """The numbers recorded with every transition."""
        target = self.registry.find(m.target)
        lag = target.lag(self.store) if target is not None else (0, 0.0)
        traffic = self.reads.traffic()
        return LiveNumbers(
            documents=self.store.log.document_count(),
            last_seq=self.store.log.last_seq(),
            target_count=len(target.index) if target is not None else None,
            target_lag_records=lag[0],
            target_lag_seconds=round(lag[1], 3),
            served=dict(traffic.served),
            errors=dict(traffic.errors),
            lagging=dict(traffic.lagging),
            shadow=self.reads.shadow.stats(),
        )

    def numbers_or_error(self, m: Migration) -> dict[str, Any]:
        """The numbers as an event records them, or why they could not be gathered: a move
        never fails for want of them."""
        try:
            return self.numbers(m).to_dict()
        except Exception as exc:  # a rollback must land even when reading the numbers fails
            log.warning("migration %d: evidence not gathered: %s", m.id, exc)
            return {"evidence_error": f"{type(exc).__name__}: {exc}"}
