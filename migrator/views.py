"""The facade's typed results: what ``Switchover`` answers, one frozen dataclass per answer.

Each has ``to_dict()``, the JSON shape the HTTP API has always answered with (the same
keys, absent keys absent), so an adapter converts it to its response model in one step.

What stays untyped, and why: guardrail settings (``MigrationKnobs.guardrails``, as the
operator set them; see ``requests.py``), and the metrics an audit event records (a JSON
object that has grown with the product: ``LiveNumbers``, the judgement's evidence, an eval
run's id, or why the numbers are missing), which old events must keep reading back as stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from evals import Judgement
from evals.harness import Truth
from indexes import SearchParams

from .after_commit import StepFailure
from .as_dict import AsDict
from .guardrails import Check, WatchdogHealth
from .migration import Backfill, Plan
from .shadow import ShadowStats
from .slices import SliceStatus


@dataclass(frozen=True)
class HealthInfo(AsDict):
    """``degraded``, with reasons, while the home refuses writes (reads still work)."""

    status: str
    reasons: list[str]
    documents: int
    last_seq: int
    serving: str
    applied_seq: int  # how far the serving index has applied the log (a replica's lag)
    leading: bool  # whether this process runs the backfill and the watchdog


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
class LiveNumbers(AsDict):
    """What a live migration counts, recorded with every move and plan change."""

    documents: int
    last_seq: int
    target_count: int | None  # None while the target is not open
    target_lag_records: int
    target_lag_seconds: float
    served: dict[str, int]  # reads served, by index name
    errors: dict[str, int]  # failed reads, by index name
    lagging: dict[str, int]  # reads kept on the source because the target lagged, by index
    shadow: ShadowStats


@dataclass(frozen=True)
class RecallProgress:
    """How far the recall session has come: queries judged of the pool, and its judgement."""

    eval_set: str
    done: int
    pool: int
    finished: bool
    judgement: Judgement | None
    truth: Truth  # what the judgement is measured against: qrels, known-item or exact
    truth_detail: str

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["judgement"] = None if self.judgement is None else self.judgement.to_dict()
        return data


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
    live: LiveNumbers | None = None
    guardrails: list[Check] | None = None
    watchdog: WatchdogHealth | None = None
    judgement: RecallProgress | None = None  # the recall session's, once one runs
    after_commit_errors: tuple[StepFailure, ...] = ()
    slices: tuple[SliceStatus, ...] = ()  # with slice keys: each slice's share and judgement

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
            status["live"] = self.live.to_dict()
        if self.guardrails is not None:
            status["guardrails"] = [c.to_dict() for c in self.guardrails]
        if self.watchdog is not None:
            status["watchdog"] = self.watchdog.to_dict()
        if self.judgement is not None:
            status["judgement"] = self.judgement.to_dict()
        if self.after_commit_errors:
            status["after_commit_errors"] = [asdict(f) for f in self.after_commit_errors]
        if self.plan.slices is not None:
            status["slices"] = [s.to_dict() for s in self.slices]
        return status


@dataclass(frozen=True)
class MigrationKnobs:
    """The live migration's knobs that change without a rebuild."""

    id: int
    shadow_sample: float
    canary_steps: list[float]
    guardrails: dict[str, Any]  # the guardrail settings as set (``guardrails.Setting``)
    inconclusive: dict[str, Any]  # the policy on a judgement that keeps holding


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
