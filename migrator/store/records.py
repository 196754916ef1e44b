"""The typed records the store takes and returns: no untyped row leaves the store.

Every read of every concern returns one of these frozen dataclasses; ``to_dict`` gives
the JSON shape adapters answer with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from indexes import IndexSpec, SearchParams

from ..as_dict import AsDict
from ..migration import Backfill, Plan
from ..phases import TARGET_SHARE, Phase

# How the store keeps a document's metadata: JSON, keys sorted; NaN and infinities refused (no
# JSON parser reads them back). One encoder, built once (``json.dumps`` with an option builds
# one per call).
metadata_json = json.JSONEncoder(sort_keys=True, allow_nan=False).encode

Op = Literal["upsert", "delete"]
Role = Literal["primary", "target", "retired"]


@dataclass(frozen=True)
class DocumentIn:
    """A document as a client sends it, already validated."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A live document as the store holds it."""

    id: str
    text: str
    metadata: dict[str, Any]
    content_hash: str
    seq: int


@dataclass(frozen=True)
class LogRecord:
    """One entry of the append-only write log.

    ``text`` and ``content_hash`` are ``None`` for deletes. Every index applies
    the log in ``seq`` order; the log, not any index, is the source of truth.
    """

    seq: int
    op: Op
    doc_id: str
    text: str | None
    metadata: dict[str, Any] | None
    content_hash: str | None
    created_at: float


@dataclass(frozen=True)
class CatalogEntry:
    """One index version as the catalog records it."""

    spec: IndexSpec
    fingerprint: str
    dim: int
    role: Role
    search_params: SearchParams
    created_at: float

    @property
    def name(self) -> str:
        return self.spec.name

    def with_role(self, role: Role) -> CatalogEntry:
        return replace(self, role=role)


@dataclass(frozen=True)
class Migration:
    """One index migration (source to target) as the store holds it."""

    id: int
    source: str
    target: str
    phase: Phase
    canary_percent: float
    plan: Plan
    backfill: Backfill
    created_at: float
    updated_at: float

    @property
    def target_share(self) -> float:
        """Percent of reads the target serves now."""
        if self.phase == Phase.CANARY:
            return self.canary_percent
        return TARGET_SHARE[self.phase]


@dataclass(frozen=True)
class Event:
    """One audited move of an index migration (a phase change, or a plan change in place)."""

    id: int
    migration_id: int
    at: float
    actor: str
    from_phase: str | None
    to_phase: str
    canary_percent: float
    reason: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class EvalSetRecord:
    """A registered eval set: a seeded sample of a BEIR folder's queries, fixed for good."""

    name: str
    path: str
    sample: int
    seed: int
    content_hash: str
    labelled: bool
    queries: list[dict[str, Any]]
    qrels: dict[str, dict[str, int]]
    created_at: float
    # Unlabelled sets with a corpus: queries taken from its documents, each answered by the
    # document it came from ({"id", "text", "doc_id"}); the truth when the model changes.
    known_items: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The record without its query lists and judgements (for listings and responses)."""
        hidden = ("queries", "qrels", "known_items")
        return {
            **{k: v for k, v in asdict(self).items() if k not in hidden},
            "known_items": len(self.known_items),
        }


@dataclass(frozen=True)
class EvalRunRecord(AsDict):
    """One eval run of an eval set on two index versions, with its report."""

    id: int
    eval_set: str
    source: str
    target: str
    migration_id: int | None
    origin: str
    at: float
    decision: str | None
    report: dict[str, Any]


@dataclass(frozen=True)
class ConfigVersion(AsDict):
    """One version of the runtime configuration: the whole of it, who changed it and why."""

    version: int
    at: float
    actor: str
    reason: str
    config: dict[str, Any]


@dataclass(frozen=True)
class ShadowReadRecord:
    """One shadow read: a live query also run on the other index, off the request path."""

    migration_id: int
    at: float
    k: int
    served_by: str
    overlap: float | None
    served_ms: float
    shadow_ms: float | None
    error: str | None
