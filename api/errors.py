"""One table from domain errors to HTTP statuses; nothing else in the API picks a status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from indexes.errors import (
    AuthError,
    ConflictError,
    EmbedderError,
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
    SnapshotError,
    StorageError,
    SwitchoverError,
)

# Most specific first: the first matching class decides.
STATUS_BY_ERROR: tuple[tuple[type[SwitchoverError], int, str], ...] = (
    (InvalidInputError, 422, "invalid_input"),
    (NotFoundError, 404, "not_found"),
    (EmbedderMismatchError, 409, "embedder_mismatch"),
    (ConflictError, 409, "conflict"),
    (AuthError, 401, "unauthorized"),
    (EmbedderError, 503, "embedder_unavailable"),
    (SnapshotError, 503, "snapshot_failed"),
    (StorageError, 503, "storage_unavailable"),
    (SwitchoverError, 500, "internal"),
)


def status_for(exc: SwitchoverError) -> tuple[int, str]:
    for cls, status, kind in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"  # unreachable: SwitchoverError is the last row


def error_body(kind: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"type": kind, "message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SwitchoverError)
    async def _domain(_: Request, exc: SwitchoverError) -> JSONResponse:
        status, kind = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(kind, str(exc)), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            (".".join(str(p) for p in err.get("loc", ())), str(err.get("msg", "")))
            for err in exc.errors()
        ]
        where, what = problems[0] if problems else ("", "invalid request")
        details = [{"loc": loc, "msg": msg} for loc, msg in problems]
        message = f"{where}: {what}" if where else what
        return JSONResponse(error_body("invalid_input", message, details=details), status_code=422)
