"""One table from domain errors to HTTP statuses; nothing else in the API picks a status."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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

from .schemas import ErrorResponse

RETRY_AFTER_S = 1  # what a 503 tells the client to wait before retrying

# No error body grows with the input: a 422 lists the first MAX_DETAILS problems (and counts
# them all), and every message and detail is clipped (a message may quote the input).
MAX_DETAILS = 20
MAX_MESSAGE_CHARS = 500
MAX_DETAIL_CHARS = 200

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


# What each documented error status means, for the OpenAPI schema (``responses=``).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Request body that cannot be decoded (invalid_input)",
    401: "Operator route without a valid 'Authorization: Bearer <token>' (unauthorized)",
    404: "No such document, index, migration, eval set or eval run (not_found)",
    408: "Request body not received within 30 s of the first read (request_timeout)",
    409: "Not allowed in the current state, or it already exists (conflict)",
    413: "Request body over the byte limit (payload_too_large)",
    422: "Invalid input: malformed JSON, wrong types, out-of-range values (invalid_input)",
    503: "Embedder, snapshot or storage unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of a route: each status with the error body schema."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


# Errors raised by the framework itself (routing, body decoding): same body, their own status.
KIND_BY_HTTP_STATUS = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed"}


def status_for(exc: SwitchoverError) -> tuple[int, str]:
    for cls, status, kind in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal"  # unreachable: SwitchoverError is the last row


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text``, or its first ``limit`` characters and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def error_body(kind: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"type": kind, "message": clip(message), **extra}}


def validation_error_body(errors: Sequence[Any]) -> dict[str, object]:
    """The 422 body of request validation ``errors`` (pydantic's): the first few, counted."""
    details = [
        {
            "loc": clip(".".join(str(p) for p in err.get("loc", ())), MAX_DETAIL_CHARS),
            "msg": clip(str(err.get("msg", "")), MAX_DETAIL_CHARS),
        }
        for err in islice(errors, MAX_DETAILS)
    ]
    if not details:
        return error_body("invalid_input", "invalid request", details=[], problems=0)
    first = details[0]
    message = f"{first['loc']}: {first['msg']}" if first["loc"] else first["msg"]
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_body("invalid_input", message, details=details, problems=len(errors))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SwitchoverError)
    async def _domain(_: Request, exc: SwitchoverError) -> JSONResponse:
        status, kind = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status == 503:  # transient (a busy database, a model down): nothing changed, retry
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(error_body(kind, str(exc)), status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        kind = KIND_BY_HTTP_STATUS.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_error_body(exc.errors()), status_code=422)
