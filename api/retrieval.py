"""Retrieval routes: documents, search, pinned search, index listing, health."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Header, Request, Response

from migrator import DocumentIn, SearchQuery, WriteResult

from .deps import Service, service_of
from .errors import error_responses
from .prevalidated import Call, PrevalidatedRoute, count_header, fast_path, json_body, text_header
from .schemas import (
    BatchSearchBody,
    BatchSearchResponse,
    DeleteResponse,
    DocumentResponse,
    HealthResponse,
    IndexListResponse,
    IndexResponse,
    SearchBody,
    SearchResponse,
    UpsertBody,
    WriteResponse,
)
from .search_answers import batch_answer, search_answer

router = APIRouter(tags=["retrieval"], route_class=PrevalidatedRoute)

ROUTING_KEY_CHARS = 256
AFTER_SEQ_MAX = 2**63 - 1

RoutingKey = Annotated[
    str | None,
    Header(
        alias="X-Routing-Key",
        max_length=ROUTING_KEY_CHARS,
        description="Sticky routing: the same key reaches the same index during a canary",
    ),
]


AfterSeq = Annotated[
    int | None,
    Header(
        alias="X-Read-After-Seq",
        ge=0,
        le=AFTER_SEQ_MAX,
        description="Read your writes, on any replica: the answer includes this write's"
        " sequence (a write's `seq`, the token) and every write logged before it. The read"
        " waits up to 1 s for this replica to have applied it, then gets 503 with"
        " Retry-After; 409 if the log does not hold that sequence",
    ),
]


@router.get("/healthz", response_model=HealthResponse, responses=error_responses(503))
def healthz(svc: Service) -> HealthResponse:
    return HealthResponse.model_validate(svc.health().to_dict())


async def _on_write_threads(request: Request, write: Callable[[], WriteResult]) -> WriteResult:
    """Run a write on the app's write threads, never on the pool that serves reads."""
    limiter: anyio.CapacityLimiter = request.app.state.write_limiter
    return await anyio.to_thread.run_sync(write, limiter=limiter)


@router.put(
    "/v1/documents", response_model=WriteResponse, responses=error_responses(400, 413, 422, 503)
)
async def put_documents(body: UpsertBody, request: Request, svc: Service) -> WriteResponse:
    """Upsert a batch; acknowledged once its log records commit (one transaction)."""
    documents = [DocumentIn(d.id, d.text, d.metadata) for d in body.documents]
    result = await _on_write_threads(request, partial(svc.upsert, documents))
    return WriteResponse(written=result.written, seq=result.seq)


@router.get(
    "/v1/documents/{doc_id:path}",
    response_model=DocumentResponse,
    responses=error_responses(404, 422, 503),
)
def get_document(doc_id: str, svc: Service) -> DocumentResponse:
    doc = svc.get(doc_id)
    return DocumentResponse(id=doc.id, text=doc.text, metadata=doc.metadata, seq=doc.seq)


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=DeleteResponse,
    responses=error_responses(404, 422, 503),
)
async def delete_document(doc_id: str, request: Request, svc: Service) -> DeleteResponse:
    result = await _on_write_threads(request, partial(svc.delete, doc_id))
    return DeleteResponse(deleted=True, seq=result.seq)


def _plain_search(request: Request, body: bytes) -> Call:
    """``search`` with its arguments, read as FastAPI reads them (api/prevalidated.py)."""
    return partial(
        search,
        json_body(SearchBody, request, body),
        service_of(request),
        text_header(request, "x-routing-key", max_length=ROUTING_KEY_CHARS),
        count_header(request, "x-read-after-seq", le=AFTER_SEQ_MAX),
    )


def _plain_pinned_search(request: Request, body: bytes) -> Call:
    name: str = request.path_params["name"]
    return partial(search_pinned, name, json_body(SearchBody, request, body), service_of(request))


@router.post(
    "/v1/search", response_model=SearchResponse, responses=error_responses(400, 409, 413, 422, 503)
)
@fast_path(_plain_search)
def search(
    body: SearchBody, svc: Service, routing_key: RoutingKey = None, after_seq: AfterSeq = None
) -> Response:
    """Search the serving index; during a canary, a sticky share goes to the target."""
    result = svc.search(
        body.query,
        body.k,
        include_documents=body.include_documents,
        routing_key=routing_key,
        where=body.filter,
        after_seq=after_seq,
        slice_fields=body.slice,
    )
    return search_answer(result)


@router.post(
    "/v1/search/batch",
    response_model=BatchSearchResponse,
    responses=error_responses(400, 409, 413, 422, 503),
)
def search_batch(
    body: BatchSearchBody, svc: Service, routing_key: RoutingKey = None, after_seq: AfterSeq = None
) -> Response:
    """Several searches in one request, embedded together; each answer names its index.

    ``X-Routing-Key`` routes the whole batch; a query's own ``routing_key`` overrides it."""
    queries = [SearchQuery(q.query, q.k, q.filter, q.routing_key, q.slice) for q in body.queries]
    results = svc.search_batch(
        queries,
        include_documents=body.include_documents,
        routing_key=routing_key,
        after_seq=after_seq,
    )
    return batch_answer(results)


@router.post(
    "/v1/indexes/{name}/search",
    response_model=SearchResponse,
    responses=error_responses(400, 404, 409, 413, 422, 503),
)
@fast_path(_plain_pinned_search)
def search_pinned(name: str, body: SearchBody, svc: Service) -> Response:
    """Search one index version by name, bypassing routing (eval jobs, debugging)."""
    result = svc.search_pinned(
        name, body.query, body.k, include_documents=body.include_documents, where=body.filter
    )
    return search_answer(result)


@router.get("/v1/indexes", response_model=IndexListResponse, responses=error_responses(503))
def list_indexes(svc: Service) -> IndexListResponse:
    return IndexListResponse(
        indexes=[
            IndexResponse(
                name=i.name,
                role=i.role,
                spec=i.spec.to_dict(),
                fingerprint=i.fingerprint,
                dim=i.dim,
                count=i.count,
                applied_seq=i.applied_seq,
                lag_records=i.lag_records,
                lag_seconds=i.lag_seconds,
                search_params=i.search_params,
                stats=i.stats,
                last_snapshot_seq=i.last_snapshot_seq,
                encoded_since_start=i.encoded_since_start,
                last_error=i.last_error,
                recovery=i.recovery,
            )
            for i in svc.indexes()
        ],
        last_seq=svc.last_seq(),
    )
