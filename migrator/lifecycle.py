"""The migration lifecycle: dual-write, backfill, routing, shadow reads, rollback, finalize.

Every phase change goes through ``check_move`` (one literal table) and commits together
with its audit event, in one transaction. Reads follow ``self.current`` — a plain
reference swapped after the commit — so a rollback flips routing at once while
requests already in flight finish on the index they started on.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from indexes import Hit, IndexSpec, QueryVectors, SearchParams, load_embedder
from indexes.errors import ConflictError, InvalidInputError, NotFoundError

from .backfill import Backfiller
from .evaljobs import RecallSession
from .guardrails import Check, Guardrails, WatchdogHealth
from .migration import Backfill, Plan, PlanChange
from .observations import Observations
from .phases import TERMINAL, Phase, check_move
from .registry import IndexRegistry
from .routing import routes_to_target
from .runtime import IndexRuntime
from .shadow import ShadowJob, ShadowReader
from .store import Event, Migration, Role, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

ACTIONS = ("backfill", "shadow", "canary", "cutover", "rollback", "resume", "finalize", "abort")
SHADOW_PHASES = frozenset({Phase.SHADOW, Phase.CANARY, Phase.CUTOVER, Phase.ROLLED_BACK})


class MigrationLifecycle:
    def __init__(self, store: Store, registry: IndexRegistry, write_lock: threading.Lock) -> None:
        self.store = store
        self.registry = registry
        self.write_lock = write_lock
        self.current: Migration | None = store.migrations.active()
        self._action_lock = threading.RLock()
        self._backfiller: Backfiller | None = None
        self._backfill_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rng = random.Random()  # noqa: S311 - sampling, not security
        self.served: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.lagging: Counter[str] = Counter()  # target reads the source answered: behind
        self.observations = Observations()
        # per migration: steps that failed after a move had committed (shown in its status)
        self.after_commit_errors: dict[int, list[dict[str, Any]]] = {}
        self.last_checks: list[Check] = []
        self.watchdog_health = WatchdogHealth()  # the watchdog reports here after every tick
        self._session: RecallSession | None = None
        self._session_key: tuple[int, int] | None = None
        self._epoch = 0  # bumps when a judgement must start afresh (shadow entered, resume)
        self.shadow = ShadowReader(
            self._shadow_search, store.shadow.add, observe=self.observations.shadow
        )

    # -- start-up and shutdown -----------------------------------------------------------

    def open_target(self) -> None:
        """At start-up: bring the active migration's target back (snapshot + log)."""
        m = self.current
        if m is None:
            return
        entry = next(e for e in self.store.catalog.entries() if e.name == m.target)
        _, info = self.registry.open(entry, start_seq=m.backfill.as_of_seq)
        bf = m.backfill
        covered = info is not None and (
            bf.checkpoint_at is None or info.created_at >= bf.checkpoint_at
        )
        if bf.started_at is not None and not covered:
            log.warning(
                "target %s came back without the snapshot that covers its backfill cursor;"
                " the backfill starts over (copies are idempotent)",
                m.target,
            )
            reset = replace(bf, done=0, cursor=None, finished=False, finished_at=None)
            self.store.migrations.save_backfill(m.id, reset)
            self.current = self.store.migrations.get(m.id)
        m = self.current
        # In ``backfilling`` the backfill runs until it finishes, whether or not it had
        # saved its start before the crash (a kill right after the move commits). In any
        # later phase it runs again when the reset above undid it (reads stay on the
        # source meanwhile: see ``route``).
        if (
            m is not None
            and not m.backfill.finished
            and (m.phase == Phase.BACKFILLING or m.backfill.started_at is not None)
        ):
            self._start_backfill(m)

    def close(self) -> None:
        self._stop.set()
        if self._backfill_thread is not None:
            self._backfill_thread.join(timeout=60)
        self.shadow.close()

    # -- creation ------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], actor: str) -> Migration:
        target = body.get("target")
        if not isinstance(target, Mapping):
            raise InvalidInputError("'target' must be an object with name, factory, metric")
        extra = set(body) - {
            "target",
            "canary_steps",
            "guardrails",
            "shadow_sample",
            "backfill_batch",
            "eval_set",
        }
        if extra:
            raise InvalidInputError(f"unknown field(s): {sorted(extra)}")
        plan = Plan.from_dict({k: v for k, v in body.items() if k != "target"})
        if plan.eval_set is not None:
            self.store.evals.get_set(plan.eval_set)  # NotFoundError names it
        spec_fields = {k: v for k, v in target.items() if k != "search_params"}
        source = self.registry.primary()
        spec_fields.setdefault("embedder", source.entry.spec.embedder.to_dict())
        spec = IndexSpec.from_dict(spec_fields)
        params = SearchParams.from_dict(target.get("search_params"))
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        with self._action_lock, self.write_lock:
            m = self.store.migrations.create(
                source.name,
                spec,
                embedder.fingerprint,
                embedder.dim,
                plan,
                actor,
                {
                    "documents": self.store.log.document_count(),
                    "last_seq": self.store.log.last_seq(),
                },
            )
            self.current = m  # committed: until the target opens, reads and writes skip it
            if params != SearchParams():
                self._after_commit(
                    m,
                    f"search parameters of {spec.name}",
                    partial(self.store.catalog.set_search_params, spec.name, params),
                    "the target searches with the defaults; set them with PUT /v1/config",
                )
            self._after_commit(
                m,
                f"opening {spec.name}",
                partial(self._open_new_target, m),
                "reads and writes skip the target until it opens at the next start-up",
            )
        log.info("migration %d created: %s -> %s by %s", m.id, source.name, spec.name, actor)
        return m

    def _open_new_target(self, m: Migration) -> None:
        entry = next(e for e in self.store.catalog.entries() if e.name == m.target)
        self.registry.open(entry, start_seq=m.backfill.as_of_seq)

    def _after_commit(self, m: Migration, step: str, work: Callable[[], object], then: str) -> None:
        """Work after a move committed: a failure is reported in the status, never raised.

        Raised, it would answer "nothing changed" (a 503 to retry) for a move that did
        change the state, and the retry would meet a 409. ``then``: what happens next.
        """
        try:
            work()
        except Exception as exc:  # the move committed: report any failure, never raise it
            log.warning("migration %d: %s failed after the commit: %s", m.id, step, exc)
            self.after_commit_errors.setdefault(m.id, []).append(
                {"step": step, "error": str(exc), "then": then, "at": time.time()}
            )

    # -- operator actions ----------------------------------------------------------------

    def act(self, migration_id: int, action: str, body: Mapping[str, Any], actor: str) -> Migration:
        if action not in ACTIONS:
            raise NotFoundError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        with self._action_lock:
            m = self._active(migration_id)
            handler = getattr(self, f"_do_{action}")
            result: Migration = handler(m, body, actor)
            return result

    def _active(self, migration_id: int) -> Migration:
        m = self.current
        if m is None or m.id != migration_id:
            found = self.store.migrations.get(migration_id)  # NotFoundError if unknown
            raise ConflictError(f"migration {migration_id} is {found.phase.value}; it is over")
        return m

    def _move(
        self,
        m: Migration,
        to: Phase,
        actor: str,
        reason: str,
        percent: float | None = None,
        roles: Mapping[str, Role] | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> Migration:
        check_move(m.phase, to)
        share = {Phase.CANARY: percent, Phase.CUTOVER: 100.0}.get(to, 0.0)
        metrics = {**self._evidence_or_error(m), **(evidence or {})}
        updated = self.store.migrations.transition(
            m.id, m.phase, to, share or 0.0, actor, reason, metrics, roles
        )
        if to in (Phase.SHADOW, Phase.ROLLED_BACK):
            self._epoch += 1  # a new (or resumed) rollout is judged afresh
            self.observations.reset()
        self.current = None if updated.phase in TERMINAL else updated
        log.info("migration %d: %s -> %s by %s (%s)", m.id, m.phase, to, actor, reason)
        return updated

    def _do_backfill(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        if m.phase == Phase.BACKFILLING:  # idempotent: make sure it runs
            if not m.backfill.finished:
                self._start_backfill(m)
            return m
        updated = self._move(m, Phase.BACKFILLING, actor, _reason(body, "backfill started"))
        self._after_commit(
            updated,
            "starting the backfill",
            partial(self._start_backfill, updated),
            "send backfill again to start it",
        )
        return updated

    def _do_shadow(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        if m.phase == Phase.BACKFILLING and not self._backfill_state(m).finished:
            bf = self._backfill_state(m)
            raise ConflictError(f"backfill is not finished ({bf.done}/{bf.total} documents)")
        return self._move(m, Phase.SHADOW, actor, _reason(body, "shadow reads on"))

    def _do_canary(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        percent = body.get("percent")
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
        check_move(m.phase, Phase.CANARY)
        note = self._gate(m, body)
        return self._move(
            m,
            Phase.CANARY,
            actor,
            _reason(body, f"canary {percent}%") + note,
            float(percent),
            evidence=self._judgement_evidence(),
        )

    def _do_cutover(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        check_move(m.phase, Phase.CUTOVER)
        note = self._gate(m, body)
        reason = _reason(body, "all reads on the target") + note
        return self._move(m, Phase.CUTOVER, actor, reason, evidence=self._judgement_evidence())

    def _gate(self, m: Migration, body: Mapping[str, Any]) -> str:
        """Advancing needs a passing recall judgement, or an operator's audited override."""
        override = body.get("override", False)
        if not isinstance(override, bool):
            raise InvalidInputError("override must be true or false")
        recall = [c for c in self.last_checks if c.name in ("recall", "live_recall")]
        passing = any(c.state == "ok" for c in recall)
        breached = any(c.state == "breach" for c in self.last_checks)
        if passing and not breached:
            return ""
        if override:
            return " (operator override of the judgement)"
        found = "; ".join(f"{c.name}: {c.state} ({c.detail})" for c in recall) or "none yet"
        raise ConflictError(
            f"advancing migration {m.id} needs a passing recall judgement; current: {found}."
            " Wait for the watchdog, or send override=true (audited)."
        )

    def _do_rollback(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        if m.phase == Phase.ROLLED_BACK:
            return m  # idempotent: reads are already on the source
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInputError("rollback needs a 'reason'")
        return self._move(m, Phase.ROLLED_BACK, actor, reason)

    def _do_resume(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        if m.phase != Phase.ROLLED_BACK:
            raise ConflictError(
                f"only a rolled-back migration resumes; this one is {m.phase.value}"
            )
        return self._move(m, Phase.SHADOW, actor, _reason(body, "resumed"))

    def _do_finalize(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        check_move(m.phase, Phase.FINALIZED)
        bf = self._backfill_state(m)
        if not bf.finished:  # the target lost its snapshot at a restart and copies again
            raise ConflictError(
                f"the target's backfill is running again ({bf.done}/{bf.total} documents);"
                " finalize once it has finished"
            )
        target, source = self.registry.get(m.target), self.registry.get(m.source)
        with self.write_lock:  # no write between the role swap and the catch-up
            target.catch_up(self.store)
            updated = self._move(
                m,
                Phase.FINALIZED,
                actor,
                _reason(body, "target is the primary"),
                roles={m.target: "primary", m.source: "retired"},
            )
            self.registry.set_role(m.target, "primary")
            self.registry.set_role(m.source, "retired")
            self.registry.drop(m.source)
        # A failed snapshot only lengthens the next start-up's replay: the new primary's
        # is written when the periodic snapshotter finds it due (or at shutdown), and the
        # retired source keeps its previous one.
        self._after_commit(
            updated,
            f"snapshot of {target.name}",
            partial(self.registry.snapshot, target, force=True),
            "the periodic snapshotter writes it when due; the log holds every write",
        )
        self._after_commit(
            updated,
            f"snapshot of {source.name}",
            partial(self.registry.snapshot, source, force=True),
            "the retired index keeps its previous snapshot",
        )
        return updated

    def _do_abort(self, m: Migration, body: Mapping[str, Any], actor: str) -> Migration:
        check_move(m.phase, Phase.ABORTED)
        self._stop_backfill()
        with self.write_lock:
            updated = self._move(
                m, Phase.ABORTED, actor, _reason(body, "aborted"), roles={m.target: "retired"}
            )
            self.registry.drop(m.target, delete_snapshots=True)
        return updated

    def update_plan(self, migration_id: int, changes: Mapping[str, Any], actor: str) -> Migration:
        """Change shadow_sample, canary_steps or guardrails of the live migration (audited)."""
        with self._action_lock:
            m = self._active(migration_id)
            change = self._plan_change(m, changes, actor)
            updated = self.store.migrations.change_plan(change)
            self.current = updated
            return updated

    def _plan_change(self, m: Migration, changes: Mapping[str, Any], actor: str) -> PlanChange:
        """The validated new plan and its audit event; nothing is stored or changed yet."""
        allowed = {"shadow_sample", "canary_steps", "guardrails"}
        unknown = set(changes) - allowed
        if unknown or not changes:
            raise InvalidInputError(f"send one or more of {sorted(allowed)}")
        plan = Plan.from_dict({**m.plan.to_dict(), **changes})
        what = ", ".join(f"{k}={v}" for k, v in sorted(changes.items()))
        return PlanChange(m.id, plan, actor, f"plan: {what}", self.evidence(m))

    # -- judgement -----------------------------------------------------------------------

    @property
    def judgement_epoch(self) -> int:
        """Bumps whenever the evidence gathered so far stops describing the rollout."""
        return self._epoch

    def change_config(
        self,
        changed: Mapping[str, SearchParams],
        plan_changes: Mapping[str, Any],
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
        with self._action_lock:
            m = self.current
            if m is None and plan_changes:
                raise ConflictError("no migration is active; its knobs cannot be set")
            changes: list[PlanChange] = []
            rejudge = None if m is None else self._rejudge_change(m, changed, actor, why)
            if rejudge is not None:
                changes.append(rejudge)
            if m is not None and plan_changes:
                changes.append(self._plan_change(m, plan_changes, actor))
            result = commit(m, changes)
            if m is not None and changes:
                self.current = self.store.migrations.get(m.id)
            if rejudge is not None:
                self._epoch += 1
                self.observations.reset()
                self.last_checks = []
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
        return PlanChange(m.id, m.plan, actor, reason, self.evidence(m))

    def recall_session(self, m: Migration) -> RecallSession | None:
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
            )
            self._session_key = key
        return self._session

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

    def _judgement_evidence(self) -> dict[str, Any]:
        session = self._session
        evidence: dict[str, Any] = {"guardrails": [c.to_dict() for c in self.last_checks]}
        if session is not None:
            evidence["recall"] = {
                **session.progress(),
                "eval_set_hash": session.eval_set.content_hash,
                "fingerprints": session.fingerprints,
                "truth": session.truth,
            }
        return evidence

    def auto_rollback(self, m: Migration, checks: list[Check]) -> Migration | None:
        """Roll reads back because a guardrail breached; audited with the evidence."""
        with self._action_lock:
            current = self.current
            watched = (Phase.SHADOW, Phase.CANARY, Phase.CUTOVER)
            if current is None or current.id != m.id or current.phase not in watched:
                return None
            breached = [c for c in checks if c.state == "breach"]
            reason = "guardrail breached: " + "; ".join(f"{c.name}: {c.detail}" for c in breached)
            session = self._session
            run_id = None
            if session is not None and session.results:
                run_id = self.record_eval(current, session, origin="watchdog-rollback")
            evidence = {**self._judgement_evidence(), "eval_run": run_id}
            log.warning("migration %d: automatic rollback: %s", m.id, reason)
            return self._move(current, Phase.ROLLED_BACK, "watchdog", reason, evidence=evidence)

    def failsafe_rollback(self, m: Migration, health: WatchdogHealth) -> Migration | None:
        """Roll reads on the target back because the watchdog cannot judge them; audited."""
        with self._action_lock:
            current = self.current
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
            return self._move(current, Phase.ROLLED_BACK, "watchdog", reason, evidence=evidence)

    # -- backfill ------------------------------------------------------------------------

    def _start_backfill(self, m: Migration) -> None:
        if self._backfill_thread is not None and self._backfill_thread.is_alive():
            return
        target = self.registry.get(m.target)

        def checkpoint() -> str | None:
            info = self.registry.snapshot(target, force=True)
            return None if info is None else str(info["created_at"])

        self._stop = threading.Event()
        self._backfiller = Backfiller(
            self.store,
            target,
            m.id,
            m.plan.backfill_batch,
            checkpoint,
            self._stop,
            gap_factor=self.registry.settings.snapshot_gap_factor,
        )
        self._backfill_thread = threading.Thread(
            target=self._run_backfill, name="switchover-backfill", daemon=True
        )
        self._backfill_thread.start()

    def _run_backfill(self) -> None:
        backfiller = self._backfiller
        if backfiller is None:
            return
        try:
            backfiller.run()
        except Exception as exc:  # reported in the status; the operator retries
            backfiller.error = f"{type(exc).__name__}: {exc}"
            log.exception("backfill of migration %d failed", backfiller.migration_id)
        m = self.current
        if m is not None and m.id == backfiller.migration_id:
            self.current = self.store.migrations.get(m.id)

    def _stop_backfill(self) -> None:
        self._stop.set()
        if self._backfill_thread is not None:
            self._backfill_thread.join(timeout=60)

    def wait_backfill(self, timeout: float = 600.0) -> Backfill:
        """Block until the running backfill ends (tests, the CLI's --wait)."""
        if self._backfill_thread is not None:
            self._backfill_thread.join(timeout=timeout)
        m = self.current
        return m.backfill if m is not None else Backfill()

    def _backfill_state(self, m: Migration) -> Backfill:
        live = self._backfiller
        if live is not None and live.migration_id == m.id:
            return live.state
        return m.backfill

    # -- reads ---------------------------------------------------------------------------

    def route(
        self, routing_key: str | None, acked_seq: int | None = None
    ) -> tuple[IndexRuntime, IndexRuntime | None]:
        """(index to serve this read, fallback if it fails).

        ``acked_seq`` is the last write acknowledged before the read began (default: the
        primary's applied sequence, which the primary reaches before every ack). The
        target serves only once it has applied that far: it applies writes within a
        bound and otherwise catches up from the log, and a read routed to it meanwhile
        could miss an acknowledged write, see an older text or a deleted document. Such
        a read goes to the source instead, is counted in ``lagging`` and is no error.
        """
        m = self.current
        if m is None:
            return self.registry.primary(), None
        source = self.registry.get(m.source)
        target = self.registry.find(m.target)
        # A target whose backfill runs again (its snapshot was lost at a restart) is not
        # whole yet: the source answers every read until the copy has finished.
        whole = m.backfill.finished
        if (
            target is not None
            and whole
            and routes_to_target(m.target_share, routing_key, m.id, self._rng)
        ):
            needed = source.index.applied_seq if acked_seq is None else acked_seq
            if target.index.applied_seq >= needed:
                return target, source
            self.lagging[target.name] += 1
        return source, None

    def sync_runtimes(self) -> list[IndexRuntime]:
        """Indexes that apply a write before it is acknowledged: those serving reads."""
        m = self.current
        primary = self.registry.primary()
        if m is None or m.target_share <= 0:
            return [primary]
        target = self.registry.find(m.target)
        return [primary] if target is None else [primary, target]

    def maybe_shadow(
        self,
        query: str,
        k: int,
        served: IndexRuntime,
        hit_ids: list[str],
        served_ms: float,
        vectors: QueryVectors | None = None,
        embed_ms: float = 0.0,
    ) -> None:
        m = self.current
        if m is None or m.phase not in SHADOW_PHASES or m.plan.shadow_sample <= 0:
            return
        if self._rng.random() >= m.plan.shadow_sample:
            return
        other = m.target if served.name == m.source else m.source
        job = ShadowJob(
            m.id, query, k, served.name, other, tuple(hit_ids), served_ms, vectors, embed_ms
        )
        self.shadow.submit(job)

    def _shadow_search(
        self, index_name: str, query: str, k: int, vectors: QueryVectors | None
    ) -> tuple[list[Hit], bool]:
        """The shadow side's hits, and whether it reused the served query's vector.

        Bounded like a target read: past ``target_timeout_s`` it raises EmbedderError (a
        shadow failure, and an error of that index for the guardrail), so a hung index
        never stalls the shadow worker behind it."""
        runtime = self.registry.get(index_name)
        reused = vectors is not None and vectors.fingerprint == runtime.embedder.fingerprint
        search = partial(runtime.search, query, k, vectors=vectors)
        hits = runtime.shadow_bounded.call(search, self.registry.settings.target_timeout_s)
        return hits, reused

    # -- status --------------------------------------------------------------------------

    def evidence(self, m: Migration) -> dict[str, Any]:
        """The numbers recorded with every transition."""
        target = self.registry.find(m.target)
        lag = target.lag(self.store) if target is not None else (0, 0.0)
        return {
            "documents": self.store.log.document_count(),
            "last_seq": self.store.log.last_seq(),
            "target_count": len(target.index) if target is not None else None,
            "target_lag_records": lag[0],
            "target_lag_seconds": round(lag[1], 3),
            "served": dict(self.served),
            "errors": dict(self.errors),
            "lagging": dict(self.lagging),
            "shadow": self.shadow.stats(),
        }

    def _evidence_or_error(self, m: Migration) -> dict[str, Any]:
        """The evidence, or why it could not be gathered: a move never fails for want of it."""
        try:
            return self.evidence(m)
        except Exception as exc:  # a rollback must land even when reading the numbers fails
            log.warning("migration %d: evidence not gathered: %s", m.id, exc)
            return {"evidence_error": f"{type(exc).__name__}: {exc}"}

    def status(self, m: Migration) -> dict[str, Any]:
        session = self._session if self._fresh_session(m) else None
        live = self.current is not None and self.current.id == m.id
        bf = self._backfill_state(m)
        progress: dict[str, Any] = bf.to_dict()
        if live and self._backfiller is not None and self._backfiller.migration_id == m.id:
            progress = self._backfiller.progress()
        return {
            "id": m.id,
            "phase": m.phase.value,
            "source": m.source,
            "target": m.target,
            "canary_percent": m.canary_percent,
            "target_share": m.target_share,
            "plan": m.plan.to_dict(),
            "backfill": progress,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
            **({"live": self.evidence(m)} if live else {}),
            **({"guardrails": [c.to_dict() for c in self.last_checks]} if live else {}),
            **({"watchdog": self.watchdog_health.to_dict()} if live else {}),
            **({"judgement": session.progress()} if live and session is not None else {}),
            **(
                {"after_commit_errors": errors}
                if (errors := self.after_commit_errors.get(m.id))
                else {}
            ),
        }

    def _fresh_session(self, m: Migration) -> bool:
        return self._session is not None and self._session_key == (m.id, self._epoch)

    def events(self, migration_id: int) -> list[Event]:
        return self.store.migrations.events(migration_id)


def _reason(body: Mapping[str, Any], default: str) -> str:
    reason = body.get("reason")
    return reason if isinstance(reason, str) and reason.strip() else default
