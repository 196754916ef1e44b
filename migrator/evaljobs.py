"""Eval jobs: run an eval set on two live index versions, judge, and keep the report.

``EvalJobs.start`` is the one-shot job behind ``POST /v1/evals`` and ``switchover eval
run``: a ``RecallSession`` run to its end on a thread of its own, its report stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from indexes.errors import InvalidInputError, SwitchoverError

from .evalsets import build_eval_set
from .guardrails import RecallRule
from .recall import RecallSession
from .registry import IndexRegistry
from .requests import EvalRequest
from .store import EvalRunRecord, EvalSetRecord, Migration, Store
from .views import EvalSetInfo, EvalStarted

log = logging.getLogger(__name__)

# A step of 50 queries whose target timed out (a moment of CPU contention, a slow model
# call behind a dual-write) is tried again; a hung target fails all three tries, 0.5 s
# apart, and the job ends failed with the last error.
STEP_ATTEMPTS = 3
RETRY_PAUSE_S = 0.5


class EvalJobs:
    """One-shot eval runs on any two live index versions, in the background, stored."""

    def __init__(
        self, store: Store, registry: IndexRegistry, current: Callable[[], Migration | None]
    ) -> None:
        self.store = store
        self.registry = registry
        self._current = current  # the live migration, whose pair is the default
        self.progress: dict[int, tuple[int, int]] = {}
        self._threads: list[threading.Thread] = []

    def add_eval_set(self, name: str, path: str, sample: int, seed: int) -> EvalSetInfo:
        record = build_eval_set(name, path, sample, seed, self.registry.settings.eval_roots)
        self.store.evals.add_set(record)
        return eval_set_info(record)

    def start(self, request: EvalRequest) -> EvalStarted:
        """Validate, record a running job, and run it in the background."""
        name = request.eval_set
        if not isinstance(name, str):
            raise InvalidInputError("'eval_set' names a registered eval set")
        eval_set = self.store.evals.get_set(name)
        m = self._current()
        source_name = request.source or (m.source if m else None)
        target_name = request.target or (m.target if m else None)
        if not source_name or not target_name:
            raise InvalidInputError("name 'source' and 'target' (no migration is active)")
        source, target = self.registry.get(source_name), self.registry.get(target_name)
        limit = len(eval_set.queries) if request.limit is None else request.limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError("limit must be a positive integer")
        margin = RecallRule().margin if request.margin is None else request.margin
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin < 1:
            raise InvalidInputError("margin must be a number from 0 to 1")
        rule = RecallRule(margin=float(margin), pool=limit)
        # Bounded on the target like the watchdog's session: a hung or too slow target
        # ends the job ``failed`` with the reason instead of leaving it running.
        timeout_s = self.registry.settings.target_timeout_s
        session = RecallSession(
            self.store,
            source,
            target,
            eval_set,
            rule,
            target_timeout_s=timeout_s,
            select=self.registry.metadata.select,
        )
        migration_id = m.id if m and {m.source, m.target} == {source.name, target.name} else None
        run_id = self.store.evals.add_run(
            name, source.name, target.name, migration_id, "job", None, {"status": "running"}
        )
        thread = threading.Thread(
            target=self._run,
            args=(run_id, session, migration_id),
            daemon=True,
            name=f"switchover-eval-{run_id}",
        )
        self._threads.append(thread)
        thread.start()
        return EvalStarted(run_id, "running", name, source.name, target.name, len(session.queries))

    def _run(self, run_id: int, session: RecallSession, migration_id: int | None) -> None:
        try:
            session.run_to_end(
                lambda done, total: self.progress.__setitem__(run_id, (done, total)),
                attempts=STEP_ATTEMPTS,
                pause_s=RETRY_PAUSE_S,
            )
            judgement = session.judgement
            report = session.report(
                migration_id=migration_id,
                origin="job",
                run_id=run_id,
                retried_steps=session.retried_steps,
            )
            self.store.evals.finish_run(
                run_id, None if judgement is None else judgement.decision, report
            )
        except SwitchoverError as exc:  # an index failed or timed out (the target: bounded)
            done, total = len(session.results), len(session.queries)
            error = f"stopped after {done} of {total} queries: {exc}"
            log.warning("eval run %d failed: %s", run_id, error)
            self.store.evals.finish_run(run_id, None, {"status": "failed", "error": error})
        except Exception as exc:  # a failed job is reported, never crashes the server
            log.exception("eval run %d failed", run_id)
            self.store.evals.finish_run(run_id, None, {"status": "failed", "error": str(exc)})

    def get(self, run_id: int) -> EvalRunRecord:
        """The stored run; while it runs, its report has the queries ``done`` of ``total``."""
        record = self.store.evals.get_run(run_id)
        if record.report.get("status") == "running":
            done, total = self.progress.get(run_id, (0, 0))
            record = replace(record, report={**record.report, "done": done, "total": total})
        return record

    def eval_sets(self) -> list[EvalSetInfo]:
        return [eval_set_info(record) for record in self.store.evals.sets()]

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=1)


def eval_set_info(record: EvalSetRecord) -> EvalSetInfo:
    """The record without its query list and judgements (for listings and responses)."""
    return EvalSetInfo(**record.summary())
