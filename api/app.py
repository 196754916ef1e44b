"""The FastAPI adapter: translate HTTP to the ``Switchover`` facade and back. No rules here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response

from migrator import DocumentIn, Settings, Switchover

from .auth import Operator
from .body_limit import BodyLimitMiddleware
from .errors import install_error_handlers
from .schemas import (
    DeleteResponse,
    DocumentResponse,
    HealthResponse,
    HitResponse,
    IndexListResponse,
    IndexResponse,
    SearchBody,
    SearchResponse,
    SnapshotResponse,
    UpsertBody,
    WriteResponse,
)

log = logging.getLogger(__name__)


def get_service(request: Request) -> Switchover:
    service: Switchover = request.app.state.service
    return service


Service = Annotated[Switchover, Depends(get_service)]


def create_app(settings: Settings, service: Switchover | None = None) -> FastAPI:
    """Build the app; the service is opened in the lifespan unless one is passed in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = service is None
        app.state.service = service if service is not None else Switchover(settings)
        if owned:
            app.state.service.start_background()
        try:
            yield
        finally:
            if owned:
                app.state.service.close()

    app = FastAPI(
        title="switchover",
        version="0.1.0",
        summary="Migrate a vector index with no lost writes and no silent loss of recall.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.limits.max_body_bytes)
    install_error_handlers(app)

    @app.get("/healthz", response_model=HealthResponse, tags=["retrieval"])
    def healthz(svc: Service) -> HealthResponse:
        return HealthResponse(**svc.health())

    @app.put("/v1/documents", response_model=WriteResponse, tags=["retrieval"])
    def put_documents(body: UpsertBody, svc: Service) -> WriteResponse:
        docs = [DocumentIn(d.id, d.text, d.metadata) for d in body.documents]
        result = svc.upsert(docs)
        return WriteResponse(written=result.written, seq=result.seq)

    @app.get("/v1/documents/{doc_id:path}", response_model=DocumentResponse, tags=["retrieval"])
    def get_document(doc_id: str, svc: Service) -> DocumentResponse:
        doc = svc.get(doc_id)
        return DocumentResponse(id=doc.id, text=doc.text, metadata=doc.metadata, seq=doc.seq)

    @app.delete("/v1/documents/{doc_id:path}", response_model=DeleteResponse, tags=["retrieval"])
    def delete_document(doc_id: str, svc: Service) -> DeleteResponse:
        result = svc.delete(doc_id)
        return DeleteResponse(deleted=True, seq=result.seq)

    @app.post("/v1/search", response_model=SearchResponse, tags=["retrieval"])
    def search(body: SearchBody, svc: Service, response: Response) -> SearchResponse:
        result = svc.search(body.query, body.k, include_documents=body.include_documents)
        hits = []
        for hit in result.hits:
            doc = result.documents.get(hit.id) if result.documents is not None else None
            hits.append(
                HitResponse(
                    id=hit.id,
                    score=hit.score,
                    text=doc.text if doc else None,
                    metadata=doc.metadata if doc else None,
                )
            )
        response.headers["X-Served-By"] = result.served_by
        return SearchResponse(hits=hits, served_by=result.served_by)

    @app.get("/v1/indexes", response_model=IndexListResponse, tags=["retrieval"])
    def list_indexes(svc: Service) -> IndexListResponse:
        infos = svc.indexes()
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
                )
                for i in infos
            ],
            last_seq=svc.store.last_seq(),
        )

    @app.post("/v1/indexes/{name}/snapshot", response_model=SnapshotResponse, tags=["operator"])
    def snapshot(name: str, svc: Service, operator: Operator) -> SnapshotResponse:
        log.info("operator %s requested a snapshot of %s", operator, name)
        return SnapshotResponse(snapshots=svc.snapshot(name))

    return app
