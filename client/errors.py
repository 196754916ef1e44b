"""What a call can raise; every error is a :class:`ClientError`::

ClientError
├── TransportError            the server could not be reached, or did not answer in time
└── ApiError                  the server answered with an error (``status``, ``type``)
    ├── BadRequestError       400, 413, 422: the request is wrong; nothing changed
    ├── UnauthorizedError     401
    ├── NotFoundError         404
    ├── ConflictError         409 (a phase move, a read after a write not replicated yet)
    └── UnavailableError      503: nothing changed; retried when the policy allows
"""

from __future__ import annotations


class ClientError(Exception):
    """The root of every error this client raises."""


class TransportError(ClientError):
    """No answer: connection refused or dropped, or a timeout."""


class ApiError(ClientError):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(f"HTTP {status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message


class BadRequestError(ApiError):
    pass


class UnauthorizedError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class UnavailableError(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    413: BadRequestError,
    422: BadRequestError,
    503: UnavailableError,
}


def api_error(status: int, body: object, text: str) -> ApiError:
    """The error for a non-2xx answer, from its ``{"error": {"type", "message"}}`` body."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        type_, message = str(error.get("type", "error")), str(error.get("message", ""))
    else:
        type_, message = "error", text[:200]
    return _BY_STATUS.get(status, ApiError)(status, type_, message)
