"""The facade's typed results: what ``Switchover`` answers, one frozen dataclass per answer.

Each has ``to_dict()``, the JSON shape the HTTP API has always answered with (the same
keys, absent keys absent), so an adapter converts it to its response model in one step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from indexes import SearchParams

from .after_commit import StepFailure
from .as_dict import AsDict
from .guardrails import Check, WatchdogHealth
from .migration import Backfill, Plan


@dataclass(frozen=True)
class HealthInfo(AsDict):
    """``degraded``, with reasons, while the home refuses writes (reads still work)."""

    status: str
    reasons: list[str]
    documents: int
    last_seq: int
    serving: str


@dataclass(frozen=True)
class SnapshotWritten(AsDict):
    """One snapshot written: of which index, up to which log position, where."""

    index: str
    applied_seq: int
    count: int
    path: str
    created_at: str


@dataclass(frozen=True)
class BackfillProgress(Backfill):
    """A backfill running here: its state with the run's rate, ETA and error."""

    docs_per_s: float = 0.0
    eta_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class MigrationStatus:
    """A migration's record and, while it is live, what every part knows of it.

    ``backfill`` is a :class:`BackfillProgress` while the backfill runs here. ``live``,
    ``guardrails``, ``watchdog`` and ``judgement`` are None once the migration is not
    live (and absent from ``to_dict()``), as is an empty ``after_commit_errors``.
    """

    id: int
    phase: str
    source: str
    target: str
    canary_percent: float
    target_share: float
    plan: Plan
    backfill: Backfill
    created_at: float
    updated_at: float
    # The evidence numbers recorded with every move: an open-ended blob of counters.
    live: dict[str, Any] | None = None
    guardrails: list[Check] | None = None
    watchdog: WatchdogHealth | None = None
    # The recall session's progress, with its judgement's numbers (open-ended evidence).
    judgement: dict[str, Any] | None = None
    after_commit_errors: tuple[StepFailure, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": self.id,
            "phase": self.phase,
            "source": self.source,
            "target": self.target,
            "canary_percent": self.canary_percent,
            "target_share": self.target_share,
            "plan": self.plan.to_dict(),
            "backfill": asdict(self.backfill),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.live is not None:
            status["live"] = self.live
        if self.guardrails is not None:
            status["guardrails"] = [c.to_dict() for c in self.guardrails]
        if self.watchdog is not None:
            status["watchdog"] = self.watchdog.to_dict()
        if self.judgement is not None:
            status["judgement"] = self.judgement
        if self.after_commit_errors:
            status["after_commit_errors"] = [asdict(f) for f in self.after_commit_errors]
        return status


@dataclass(frozen=True)
class MigrationKnobs:
    """The live migration's knobs that change without a rebuild."""

    id: int
    shadow_sample: float
    canary_steps: list[float]
    guardrails: dict[str, Any]  # the guardrail settings as set (``guardrails.Setting``)


@dataclass(frozen=True)
class ConfigView:
    """The runtime configuration in effect and its version (0 until the first change)."""

    version: int
    indexes: dict[str, SearchParams]
    migration: MigrationKnobs | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "indexes": {name: params.to_dict() for name, params in self.indexes.items()},
            "migration": None if self.migration is None else asdict(self.migration),
        }


@dataclass(frozen=True)
class EvalSetInfo(AsDict):
    """A registered eval set without its query list and judgements."""

    name: str
    path: str
    sample: int
    seed: int
    content_hash: str
    labelled: bool
    created_at: float
    known_items: int = 0  # known-item queries built from the corpus (unlabelled sets)


@dataclass(frozen=True)
class EvalStarted(AsDict):
    """An eval job recorded as running, and what it runs."""

    id: int
    status: str
    eval_set: str
    source: str
    target: str
    queries: int
