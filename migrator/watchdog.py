"""The watchdog: judges the live migration continuously and rolls reads back on a breach.

Each tick, during shadow, canary and cutover: draw a few more eval-set queries into the
recall session (judged at each look of its doubling schedule), gather the other
guardrails' windows, and if any guardrail is breached, roll back at once: reads to the
source, writes still dual, recorded as an audit event carrying its evidence. When no
guardrail breaches but the judgement keeps holding, the plan's inconclusive policy
(:mod:`migrator.inconclusive`) bounds the doubt: its outcome is the ``inconclusive``
check, and when it acts, reads roll back or the canary freezes at 0%. A watchdog
that cannot judge (a tick raises) says so in the status and the metrics, and after a few
failed ticks in a row rolls reads on the target back too: nobody is watching them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from evals import judge
from indexes.errors import SwitchoverError

from .evidence import Evidence
from .guardrails import (
    Check,
    Guardrails,
    WatchdogHealth,
    error_check,
    from_judgement,
    lag_check,
    latency_check,
    overlap_check,
    verdict,
)
from .inconclusive import Doubt, Outcome, decide, judge_state
from .moves import PhaseMoves
from .phases import Phase
from .reads import ReadRouter
from .recall import RecallSession
from .slice_watch import deferred, slice_checks
from .slices import breached
from .store import Migration
from .watchdog_moves import WatchdogMoves

log = logging.getLogger(__name__)

WATCHED = frozenset({Phase.SHADOW, Phase.CANARY, Phase.CUTOVER})
READS_ON_TARGET = frozenset({Phase.CANARY, Phase.CUTOVER})


class Watchdog:
    """Judges on its own thread (from ``start``) or when ticked; owns its ``health``."""

    def __init__(
        self,
        moves: PhaseMoves,
        evidence: Evidence,
        reads: ReadRouter,
        *,
        interval_s: float = 1.0,
        budget: int = 25,
    ) -> None:
        self.moves = moves
        self.rollbacks = WatchdogMoves(moves, evidence, moves.store)
        self.evidence = evidence
        self.reads = reads
        self.registry = evidence.registry
        self.interval_s = interval_s
        self.budget = budget
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self._health = WatchdogHealth()
        self._exposure: tuple[int, int, float] | None = None  # (migration, epoch, since)

    @property
    def health(self) -> WatchdogHealth:
        """Whether the watchdog can judge: updated after every tick."""
        return self._health

    def start(self) -> None:
        """Start judging (again, after a stop: a replica that leads anew)."""
        if not self.running:
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._loop, name="switchover-watchdog", daemon=True
            )
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the watchdog's thread is alive (started and not stopped or dead)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()  # a failing tick is caught, reported and acted on inside

    def tick(self) -> list[Check]:
        """One evaluation; returns the checks (and acts on a breach).

        A tick that raises is no evidence: it is reported (``health``),
        the checks of earlier ticks are cleared so nothing presents them as current, and
        after ``FAILSAFE_AFTER`` failures in a row reads on the target go back to the
        source. It returns no checks.
        """
        with self._tick_lock:
            try:
                return self._judge()
            except Exception as exc:  # the watchdog must outlive any one bad tick, visibly
                log.exception("watchdog tick failed")
                self._failed(exc)
                return []

    def _judge(self) -> list[Check]:
        m = self.moves.current
        if m is None or m.phase not in WATCHED:
            return []
        epoch = self.evidence.epoch
        session = self.evidence.session(m)
        if session is not None and not session.done:
            before = session.judgement
            try:
                session.step(self.budget)
            except SwitchoverError as exc:  # a failing index is the errors guardrail's case
                log.warning("judging migration %d: %s", m.id, exc)
                self.reads.outcome(m.target, ok=False)
            if session.is_done() and session.judgement is not before:
                self.evidence.record_eval(m, session, origin="watchdog")
        if session is not None:
            m = self._roll_back_slices(m, session)
        checks = self.checks(m, session)
        outcome = self._doubt(m, session, checks, epoch)
        checks.append(outcome.check(m.plan.inconclusive))
        # not handed over when search parameters changed mid-tick: the checks are stale
        if self.evidence.hand_over(checks, epoch):
            if verdict([c for c in checks if c.name != "inconclusive"]) == "breach":
                self.rollbacks.auto_rollback(m, checks)
            elif outcome.acts:
                self.rollbacks.inconclusive(m, outcome)
        self._health = self._health.succeeded(time.time())
        return checks

    def _doubt(
        self, m: Migration, session: RecallSession | None, checks: list[Check], epoch: int
    ) -> Outcome:
        """The inconclusive policy's answer to this tick's checks."""
        judgement = None if session is None else session.judgement
        exhausted = session is not None and session.done and judgement is not None
        doubt = Doubt(
            judge=judge_state(checks),
            pool_exhausted=exhausted and judgement is not None and judgement.decision == "hold",
            reads_on_target=m.target_share > 0,
            on_target_s=self._on_target_for(m, epoch),
            judged=0 if session is None else len(session.results),
            pool=0 if session is None else len(session.queries),
        )
        return decide(m.plan.inconclusive, doubt)

    def _on_target_for(self, m: Migration, epoch: int) -> float:
        """Seconds since reads went on the target in this judgement (0 while none are).

        The clock starts at the first tick that sees reads on the target, afresh for each
        judgement (a resume, new search parameters) and after a restart."""
        if m.target_share <= 0:
            self._exposure = None
            return 0.0
        now = time.time()
        if self._exposure is None or self._exposure[:2] != (m.id, epoch):
            self._exposure = (m.id, epoch, now)
        return now - self._exposure[2]

    def _roll_back_slices(self, m: Migration, session: RecallSession) -> Migration:
        """Each slice whose own judgement fails: its reads back to the source (audited),
        then judged on without it. Only with the plan's ``on_breach: "slice"``."""
        plan = m.plan.slices
        if plan is None or plan.on_breach != "slice":
            return m
        for label in breached(session.slice_judgements, plan.rolled_back):
            updated = self.rollbacks.slice_rollback(m, label, session.slice_judgements[label])
            m = m if updated is None else updated
        if m.plan.slices is not None:
            session.exclude(m.plan.slices.rolled_back)
        return m

    def _failed(self, exc: Exception) -> None:
        health = self._health = self._health.failed(time.time(), exc)
        self.evidence.drop_checks()
        m = self.moves.current
        if health.fail_safe and m is not None and m.phase in READS_ON_TARGET:
            try:
                self.rollbacks.failsafe_rollback(m, health)
            except Exception:  # reported; the next failed tick tries again
                log.exception("the watchdog's fail-safe rollback failed")

    def checks(self, m: Migration, session: RecallSession | None) -> list[Check]:
        rails = Guardrails.from_dict(m.plan.guardrails)
        obs = self.reads.observations
        source = self.registry.get(m.source)
        target = self.registry.get(m.target)
        same_embedder = source.entry.fingerprint == target.entry.fingerprint
        if session is None:
            recall = Check(
                "recall",
                "hold",
                None,
                -rails.recall.margin,
                0,
                "no eval set named for this migration",
            )
        else:
            judged = from_judgement("recall", session.judgement, rails.recall.margin)
            recall = replace(judged, detail=f"truth: {session.truth}; {judged.detail}")
            recall = deferred(recall, m.plan.slices, session)
        checks = [recall, *slice_checks(m.plan.slices, session)]
        checks.append(self._live_recall(m, rails, same_embedder))
        window = rails.latency.window_s
        checks.append(
            latency_check(
                obs.latency_ms[m.source].values(window),
                obs.latency_ms[m.target].values(window),
                rails.latency,
            )
        )
        checks.append(error_check(*obs.errors(m.target, rails.errors.window_s), rails.errors))
        checks.append(lag_check(*target.lag(self.evidence.store), rails.lag))
        checks.append(
            overlap_check(obs.overlaps.values(rails.overlap.window_s), rails.overlap, same_embedder)
        )
        return checks

    def _live_recall(self, m: Migration, rails: Guardrails, same_embedder: bool) -> Check:
        rule = rails.live_recall
        source = self.registry.get(m.source)
        exact = source.entry.spec.is_exact
        if not rule.enabled or not (exact and same_embedder):
            why = "off" if not rule.enabled else "needs a Flat source with the target's embedder"
            return Check("live_recall", "hold", None, -rule.margin, 0, f"not applicable: {why}")
        # With an exact source and the same embedder, a shadow read's overlap@k IS the
        # other side's recall@k against exact truth, so the paired delta is overlap - 1.
        deltas = [o - 1.0 for o in self.reads.observations.overlaps.values(rule.window_s)]
        judgement = judge(
            deltas, margin=rule.margin, confidence=rule.confidence, min_samples=rule.min_samples
        )
        return from_judgement("live_recall", judgement, rule.margin)
