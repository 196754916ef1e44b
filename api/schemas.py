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


class StrictModel(BaseModel):
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


class OpenModel(BaseModel):
    """A response whose object may carry more keys than the ones named here."""

    model_config = ConfigDict(extra="allow")


class ErrorLocation(BaseModel):
    loc: str = Field(description="Where in the request, e.g. 'body.documents.0.text'")
    msg: str


class ErrorInfo(OpenModel):
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


class DocumentBody(StrictModel):
    id: StrictStr = Field(min_length=1, description="Client-chosen document id")
    text: StrictStr = Field(min_length=1, description="Text to embed and store")
    metadata: dict[str, Any] = Field(default_factory=dict)


class UpsertBody(StrictModel):
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


SLICE_DESCRIPTION = (
    'This query\'s slice fields, e.g. {"tenant": "acme"}: a migration with slice keys'
    " judges and routes it with its slice"
)


class SearchBody(StrictModel):
    query: StrictStr = Field(min_length=1)
    k: StrictInt = Field(default=10, ge=1)
    include_documents: StrictBool = Field(
        default=False, description="Also return each hit's text and metadata"
    )
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION)
    slice: dict[str, Any] | None = Field(default=None, description=SLICE_DESCRIPTION)


class BatchQueryBody(StrictModel):
    query: StrictStr = Field(min_length=1)
    k: StrictInt = Field(default=10, ge=1)
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_DESCRIPTION)
    slice: dict[str, Any] | None = Field(default=None, description=SLICE_DESCRIPTION)
    routing_key: StrictStr | None = Field(
        default=None, max_length=256, description="This query's routing key (else the batch's)"
    )


class BatchSearchBody(StrictModel):
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
    applied_seq: int = Field(description="How far the serving index has applied the write log")
    leading: bool = Field(
        description="Whether this replica runs the backfill and the watchdog (on SQLite the"
        " one process always does; on PostgreSQL one replica at a time)"
    )
