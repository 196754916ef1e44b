"""Request and response bodies of the operator's routes: migrations, plans, config, eval sets
and eval runs, the status page. Types only, as in :mod:`api.schemas` (its base models and
bounds are these too)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from .schemas import (
    INT64_MAX,
    INT64_MIN,
    MAX_CANARY_STEPS,
    MAX_CONFIG_INDEXES,
    OpenModel,
    StrictModel,
)


class TargetBody(StrictModel):
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


SLICES_DESCRIPTION = (
    'Judge and route slices on their own: {"keys": ["metadata.lang" | "request.tenant"],'
    ' "min_samples": 30, "on_breach": "slice" | "all"}'
)


class MigrationPlanBody(StrictModel):
    target: TargetBody
    sample: StrictInt = Field(
        default=128, ge=1, le=4096, description="Texts of the corpus encoded in the timed sample"
    )
    seed: StrictInt = Field(default=0, ge=INT64_MIN, le=INT64_MAX, description="Seed of the sample")
    eval_set: StrictStr | None = Field(
        default=None, description="An eval set: are its paired queries enough for the margin?"
    )
    guardrails: dict[str, Any] | None = Field(
        default=None, description="As in a migration's plan: the recall rule's margin and more"
    )
    power: float = Field(
        default=0.8, gt=0, lt=1, description="Chance to pass an identical target (with eval_set)"
    )


class EvalPowerResponse(BaseModel):
    """The eval set's paired queries for this pair against what the recall margin needs."""

    eval_set: str
    truth: str = Field(description="qrels, known-item or exact: what the judge scores against")
    queries: int = Field(description="Paired queries the judge can ask (after sampling)")
    needed: int | None = Field(
        description="((z_alpha + z_power) * sd / margin)^2, at least min_samples; null: margin 0"
    )
    enough: bool
    margin: float
    confidence: float
    power: float
    looks: int = Field(description="The judge's looks over these queries (alpha split over them)")
    sd: float = Field(description="Per-query sd of the recall@10 deltas")
    sd_source: str = Field(description="Measured from stored runs of the same kind, or default")
    detail: str


class MigrationEstimateResponse(BaseModel):
    """``migrate plan``: the backfill's cost for a proposed target, estimated; nothing created."""

    target: str
    embedder_fingerprint: str
    dim: int
    documents: int
    to_encode: int = Field(description="Cache misses: texts the backfill will encode")
    cached: int = Field(description="Texts the embedding cache holds for the target's embedder")
    sample: int
    encode_docs_per_s: float
    encode_s: float
    index_build_s: float
    backfill_s: float = Field(description="to_encode / encode_docs_per_s + index_build_s")
    vectors_mb: float
    index_mb: float
    vector_bytes: int
    notes: list[str]
    load_average: float = Field(description="1-minute load average when the sample was timed")
    eval_power: EvalPowerResponse | None = Field(
        default=None, description="With eval_set: the eval set's power for the margin"
    )


class MigrationBody(StrictModel):
    target: TargetBody
    # Strict: a numeric string ("5") is refused here as it is by PUT /v1/config.
    canary_steps: list[StrictFloat] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    shadow_sample: StrictFloat | None = Field(default=None, ge=0, le=1)
    backfill_batch: StrictInt | None = None
    guardrails: dict[str, Any] | None = None
    eval_set: StrictStr | None = Field(default=None, description="The eval set that judges it")
    inconclusive: dict[str, Any] | None = Field(
        default=None,
        description="When the judgement keeps holding: action 'rollback' (default) or"
        " 'freeze', deadline_s (seconds with reads on the target; null: none),"
        " on_pool_exhausted (true)",
    )
    slices: dict[str, Any] | None = Field(default=None, description=SLICES_DESCRIPTION)


class RebuildBody(StrictModel):
    target: StrictStr | None = Field(
        default=None, description="Name of the rebuilt version (default: NAME-r2, NAME-r3, ...)"
    )
    canary_steps: list[float] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    shadow_sample: float | None = Field(default=None, ge=0, le=1)
    backfill_batch: StrictInt | None = None
    guardrails: dict[str, Any] | None = None
    eval_set: StrictStr | None = Field(default=None, description="The eval set that judges it")
    inconclusive: dict[str, Any] | None = Field(
        default=None,
        description="When the judgement keeps holding: action 'rollback' (default) or"
        " 'freeze', deadline_s (seconds with reads on the target; null: none),"
        " on_pool_exhausted (true)",
    )
    slices: dict[str, Any] | None = Field(default=None, description=SLICES_DESCRIPTION)


class ActionBody(StrictModel):
    percent: float | None = Field(default=None, description="canary: the share of reads")
    reason: StrictStr | None = Field(default=None, description="why (required for rollback)")
    override: StrictBool | None = Field(
        default=None, description="canary/cutover: advance without a passing judgement (audited)"
    )


class PlanBody(StrictModel):
    shadow_sample: StrictFloat | None = Field(default=None, ge=0, le=1)
    canary_steps: list[StrictFloat] | None = Field(default=None, max_length=MAX_CANARY_STEPS)
    guardrails: dict[str, Any] | None = None
    inconclusive: dict[str, Any] | None = Field(
        default=None,
        description="When the judgement keeps holding: action 'rollback' (default) or"
        " 'freeze', deadline_s (seconds with reads on the target; null: none),"
        " on_pool_exhausted (true)",
    )


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


class EvalSetBody(StrictModel):
    name: StrictStr = Field(description="Name of the eval set, e.g. 'squad-1k'")
    path: StrictStr = Field(description="A BEIR-layout folder on the server")
    sample: StrictInt = Field(default=1000, description="How many queries to draw")
    seed: StrictInt = Field(default=0, ge=INT64_MIN, le=INT64_MAX, description="Seed of the draw")


class EvalBody(StrictModel):
    eval_set: StrictStr
    source: StrictStr | None = Field(default=None, description="Default: the migration's source")
    target: StrictStr | None = Field(default=None, description="Default: the migration's target")
    limit: StrictInt | None = Field(default=None, description="At most this many queries")
    margin: float | None = Field(default=None, description="Non-inferiority margin (0.02)")


class ConfigBody(StrictModel):
    indexes: dict[str, dict[str, Any]] | None = Field(
        default=None,
        max_length=MAX_CONFIG_INDEXES,
        description='Search parameters by index, e.g. {"v2": {"ef_search": 128}}',
    )
    migration: dict[str, Any] | None = Field(
        default=None,
        description="shadow_sample, canary_steps, guardrails, inconclusive of the live migration",
    )
    reason: StrictStr | None = None

    @field_validator("indexes", mode="before")
    @classmethod
    def _few_indexes(cls, indexes: Any) -> Any:
        # ``max_length`` on a dict is checked only after every value was validated
        if isinstance(indexes, dict) and len(indexes) > MAX_CONFIG_INDEXES:
            raise ValueError(f"{len(indexes)} indexes; the limit is {MAX_CONFIG_INDEXES}")
        return indexes


class RevertBody(StrictModel):
    version: StrictInt | None = Field(
        default=None, ge=1, le=INT64_MAX, description="Default: the previous version"
    )


class MigrationResponse(OpenModel):
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


class EvalSetResponse(OpenModel):
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
