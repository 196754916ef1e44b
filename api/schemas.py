"""Request and response bodies. Types only: the bounds live in the domain (configurable).

Two kinds of bound are checked here, because they must hold before pydantic validates items
one by one (each invalid item is one more error, all of them reported): a collection's size
(``max_batch`` from the app's ``Limits``, via :data:`REQUEST_LIMITS`; fixed bounds on the
operator's lists) and the number of unknown fields in an object.
"""

from __future__ import annotations

from contextvars import ContextVar
from itertools import islice
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from migrator.settings import Limits

# SQLite integers are signed 64-bit: a larger id or seed would overflow its binding (a 500),
# so the API refuses them as invalid input first.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


RecordId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A stored record's id")]

# The limits of the app serving the request (set per request by ``BodyLimitMiddleware``).
REQUEST_LIMITS: ContextVar[Limits] = ContextVar("request_limits")
_DEFAULT_LIMITS = Limits()  # outside a request (a model validated directly)

MAX_CANARY_STEPS = 100  # a canary plan's steps, at most
MAX_CONFIG_INDEXES = 64  # indexes one config change may name, at most
MAX_UNKNOWN_FIELDS = 20  # more unknown fields than this in one object are one problem, not many


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _few_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > len(cls.model_fields) + MAX_UNKNOWN_FIELDS:
            unknown = [key for key in data if key not in cls.model_fields]
            if len(unknown) > MAX_UNKNOWN_FIELDS:
                shown = ", ".join(repr(str(key)[:40]) for key in islice(unknown, 3))
                raise ValueError(
                    f"{len(unknown)} unknown fields ({shown}, ...);"
                    f" expected some of {sorted(cls.model_fields)}"
                )
        return data


class _Open(BaseModel):
    """A response whose object may carry more keys than the ones named here."""

    model_config = ConfigDict(extra="allow")


class ErrorLocation(BaseModel):
    loc: str = Field(description="Where in the request, e.g. 'body.documents.0.text'")
    msg: str


class ErrorInfo(_Open):
    type: str = Field(
        description="invalid_input, not_found, conflict, embedder_mismatch, unauthorized,"
        " payload_too_large, request_timeout, embedder_unavailable, snapshot_failed,"
        " storage_unavailable"
    )
    message: str
    details: list[ErrorLocation] | None = Field(
        default=None,
        description="The first 20 problems found (request validation errors only)",
    )
    problems: int | None = Field(
        default=None, description="How many problems were found (request validation errors)"
    )


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer: ``{"error": {"type", "message"}}``."""

    error: ErrorInfo


class DocumentBody(_Strict):
    id: StrictStr = Field(min_length=1, description="Client-chosen document id")
    text: StrictStr = Field(min_length=1, description="Text to embed and store")
    metadata: dict[str, Any] = Field(default_factory=dict)


class UpsertBody(_Strict):
    documents: list[DocumentBody] = Field(min_length=1)

    @field_validator("documents", mode="before")
    @classmethod
    def _batch_within_the_limit(cls, documents: Any) -> Any:
        limit = REQUEST_LIMITS.get(_DEFAULT_LIMITS).max_batch
        if isinstance(documents, list) and len(documents) > limit:
            raise ValueError(f"the batch has {len(documents)} documents; the limit is {limit}")
        return documents


class WriteResponse(BaseModel):
    written: int
    seq: int


class DeleteResponse(BaseModel):
    deleted: bool
    seq: int


class DocumentResponse(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]
    seq: int


FILTER_DESCRIPTION = (
    'Only documents whose metadata match: {"lang": "de"} (equality),'
    ' {"lang": {"in": ["de", "fr"]}}, {"year": {"gte": 2020, "lt": 2024}},'
    ' {"and": [...]}, {"or": [...]}, {"not": {...}}; several keys in one object all hold'
)


class SearchBody(_Strict):
    query: StrictStr = Field(min_length=1)
    k: StrictInt = Field(default=10, ge=1)
    include_documents: StrictBool = Field(
        default=False, description="Also return each hit's text and metadata"
    )
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION)


class BatchQueryBody(_Strict):
    query: StrictStr = Field(min_length=1)
    k: StrictInt = Field(default=10, ge=1)
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION)
    routing_key: StrictStr | None = Field(
        default=None, max_length=256, description="This query's routing key (else the batch's)"
    )


class BatchSearchBody(_Strict):
    queries: list[BatchQueryBody] = Field(min_length=1)
    include_documents: StrictBool = Field(
        default=False, description="Also return each hit's text and metadata"
    )

    @field_validator("queries", mode="before")
    @classmethod
    def _batch_within_the_limit(cls, queries: Any) -> Any:
        limit = REQUEST_LIMITS.get(_DEFAULT_LIMITS).max_search_batch
        if isinstance(queries, list) and len(queries) > limit:
            raise ValueError(f"the batch has {len(queries)} queries; the limit is {limit}")
        return queries


class HitResponse(BaseModel):
    id: str
    score: float
    text: str | None = None
    metadata: dict[str, Any] | None = None


class SearchResponse(BaseModel):
    hits: list[HitResponse]
    served_by: str


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse] = Field(description="One answer per query, in order")


class IndexResponse(BaseModel):
    name: str
    role: str
    spec: dict[str, Any]
    fingerprint: str
    dim: int
    count: int
    applied_seq: int
    lag_records: int
    lag_seconds: float
    search_params: dict[str, Any]
    stats: dict[str, Any]
    last_snapshot_seq: int | None
    encoded_since_start: int = Field(
        description="Texts this index sent to its model since start-up"
    )
    last_error: str | None = None
    recovery: dict[str, Any] = Field(
        default_factory=dict,
        description="How the index came back at start-up: snapshot seq, records replayed, seconds",
    )


class IndexListResponse(BaseModel):
    indexes: list[IndexResponse]
    last_seq: int


class SnapshotResponse(BaseModel):
    snapshots: list[dict[str, Any]]


class HealthResponse(BaseModel):
    status: str = Field(description="'ok', or 'degraded' while writes fail (reads still work)")
    reasons: list[str] = Field(default_factory=list, description="Why it is degraded")
    documents: int
    last_seq: int
    serving: str


class TargetBody(_Strict):
    name: StrictStr = Field(description="Name of the new index version, e.g. 'v2'")
    factory: StrictStr = Field(
        default="Flat",
        description="FAISS index_factory string; for pgvector: flat, hnsw(m=16,"
        " ef_construction=64) or ivfflat(lists=100)",
    )
    metric: StrictStr = Field(default="ip", description="'ip' or 'l2'")
    backend: StrictStr = Field(default="faiss", description="'faiss' or 'pgvector'")
    embedder: dict[str, Any] | None = Field(
        default=None, description="Embedder spec; the source's when omitted (layout-only)"
    )
    search_params: dict[str, Any] | None = Field(default=None, description="efSearch, nprobe")


class MigrationBody(_Strict):
    target: TargetBody
    # Strict: a numeric string ("5") is refused here as it is by PUT /v1/config.
    canary_steps: list[StrictFloat] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    shadow_sample: StrictFloat | None = Field(default=None, ge=0, le=1)
    backfill_batch: StrictInt | None = None
    guardrails: dict[str, Any] | None = None
    eval_set: StrictStr | None = Field(default=None, description="The eval set that judges it")


class RebuildBody(_Strict):
    target: StrictStr | None = Field(
        default=None, description="Name of the rebuilt version (default: NAME-r2, NAME-r3, ...)"
    )
    canary_steps: list[float] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    shadow_sample: float | None = Field(default=None, ge=0, le=1)
    backfill_batch: StrictInt | None = None
    guardrails: dict[str, Any] | None = None
    eval_set: StrictStr | None = Field(default=None, description="The eval set that judges it")


class ActionBody(_Strict):
    percent: float | None = Field(default=None, description="canary: the share of reads")
    reason: StrictStr | None = Field(default=None, description="why (required for rollback)")
    override: StrictBool | None = Field(
        default=None, description="canary/cutover: advance without a passing judgement (audited)"
    )


class PlanBody(_Strict):
    shadow_sample: StrictFloat | None = Field(default=None, ge=0, le=1)
    canary_steps: list[StrictFloat] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    guardrails: dict[str, Any] | None = None


class EventResponse(BaseModel):
    id: int
    migration_id: int
    at: float
    actor: str
    from_phase: str | None
    to_phase: str
    canary_percent: float
    reason: str
    metrics: dict[str, Any]


class EventListResponse(BaseModel):
    events: list[EventResponse]


class EvalSetBody(_Strict):
    name: StrictStr = Field(description="Name of the eval set, e.g. 'squad-1k'")
    path: StrictStr = Field(description="A BEIR-layout folder on the server")
    sample: StrictInt = Field(default=1000, description="How many queries to draw")
    seed: StrictInt = Field(default=0, ge=INT64_MIN, le=INT64_MAX, description="Seed of the draw")


class EvalBody(_Strict):
    eval_set: StrictStr
    source: StrictStr | None = Field(default=None, description="Default: the migration's source")
    target: StrictStr | None = Field(default=None, description="Default: the migration's target")
    limit: StrictInt | None = Field(default=None, description="At most this many queries")
    margin: float | None = Field(default=None, description="Non-inferiority margin (0.02)")


class ConfigBody(_Strict):
    indexes: dict[str, dict[str, Any]] | None = Field(
        default=None,
        max_length=MAX_CONFIG_INDEXES,
        description='Search parameters by index, e.g. {"v2": {"ef_search": 128}}',
    )
    migration: dict[str, Any] | None = Field(
        default=None, description="shadow_sample, canary_steps, guardrails of the live migration"
    )
    reason: StrictStr | None = None

    @field_validator("indexes", mode="before")
    @classmethod
    def _few_indexes(cls, indexes: Any) -> Any:
        # ``max_length`` on a dict is checked only after every value was validated
        if isinstance(indexes, dict) and len(indexes) > MAX_CONFIG_INDEXES:
            raise ValueError(f"{len(indexes)} indexes; the limit is {MAX_CONFIG_INDEXES}")
        return indexes


class RevertBody(_Strict):
    version: StrictInt | None = Field(
        default=None, ge=1, le=INT64_MAX, description="Default: the previous version"
    )


class MigrationResponse(_Open):
    """A migration's status; ``live``, ``guardrails`` and ``judgement`` only while it is live."""

    id: int
    phase: str
    source: str
    target: str
    canary_percent: float
    target_share: float = Field(description="Percent of reads the target serves now")
    plan: dict[str, Any]
    backfill: dict[str, Any]
    created_at: float
    updated_at: float
    live: dict[str, Any] | None = Field(
        default=None, description="Documents, lag, served reads, errors and shadow stats"
    )
    guardrails: list[dict[str, Any]] | None = None
    judgement: dict[str, Any] | None = None


class ConfigResponse(BaseModel):
    version: int = Field(description="0 until the first change")
    indexes: dict[str, dict[str, Any]] = Field(description="Search parameters by index")
    migration: dict[str, Any] | None = Field(description="The live migration's knobs, if any")


class ConfigVersionResponse(BaseModel):
    version: int
    at: float
    actor: str
    reason: str
    config: dict[str, Any]


class ConfigHistoryResponse(BaseModel):
    versions: list[ConfigVersionResponse]


class EvalSetResponse(_Open):
    name: str
    path: str
    sample: int
    seed: int
    content_hash: str = Field(description="sha256 of the folder's BEIR files")
    labelled: bool = Field(description="Whether the folder has qrels.tsv")
    created_at: float | None = Field(default=None, description="In listings")
    known_items: int = Field(
        default=0,
        description="Known-item queries built from corpus.jsonl (unlabelled sets): the truth"
        " when the embedder changes",
    )


class EvalSetListResponse(BaseModel):
    eval_sets: list[EvalSetResponse]


class EvalStartResponse(BaseModel):
    id: int
    status: str
    eval_set: str
    source: str
    target: str
    queries: int


class EvalRunSummary(BaseModel):
    id: int
    eval_set: str
    source: str
    target: str
    migration_id: int | None
    origin: str
    at: float
    decision: str | None


class EvalListResponse(BaseModel):
    evals: list[EvalRunSummary]


class EvalRunResponse(EvalRunSummary):
    report: dict[str, Any] = Field(description="status, summary, judgement, per-query results")


class StatusPageResponse(BaseModel):
    generated_at: float
    health: dict[str, Any]
    indexes: list[dict[str, Any]]
    migration: dict[str, Any] | None
    events: list[dict[str, Any]]
    eval_runs: list[dict[str, Any]]
