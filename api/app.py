"""The FastAPI adapter: translate HTTP to the ``Switchover`` facade and back. No rules here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from migrator import Settings, Switchover

from . import evals, metrics, operator, retrieval, ui
from .body_limit import BodyLimitMiddleware
from .errors import install_error_handlers
from .logs import RequestContextMiddleware
from .metrics import install_metrics
from .openapi import install_openapi_limits

WRITE_THREADS_OVER_BOUND = 8  # write threads beyond limits.max_pending_writes: they refuse


def create_app(settings: Settings, service: Switchover | None = None) -> FastAPI:
    """Build the app; the service opens in the lifespan unless one is passed in (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Writes run on threads of their own, so however many wait for a lock, reads
        # (health, metrics, search, GET) keep the default pool; a few more threads than
        # writes may be in flight, so a write past that bound is refused without queueing.
        app.state.write_limiter = anyio.CapacityLimiter(
            settings.limits.max_pending_writes + WRITE_THREADS_OVER_BOUND
        )
        owned = service is None
        app.state.service = service if service is not None else Switchover(settings)
        if owned:
            app.state.service.start()
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
    app.add_middleware(BodyLimitMiddleware, limits=settings.limits)
    install_metrics(app)  # request timings, outside the body limit
    app.add_middleware(RequestContextMiddleware)  # outermost: request id for every log line
    install_error_handlers(app)
    app.include_router(retrieval.router)
    app.include_router(operator.router)
    app.include_router(evals.router)
    app.include_router(ui.router)  # GET /ui, the status page, and /ui/status.json
    app.include_router(metrics.router)  # GET /metrics, last: scrapes are rare, searches not
    install_openapi_limits(app, settings.limits)  # /openapi.json states the configured bounds
    return app
