"""Operator authentication: ``Authorization: Bearer <token>`` against the configured tokens."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from indexes.errors import AuthError
from migrator import Settings

# Declares the scheme in the OpenAPI schema only; ``operator_name`` reads the header itself,
# so a missing or malformed header gets this API's own 401 body, never FastAPI's 403.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="operatorToken",
    description="An operator token (SWITCHOVER_OPERATOR_TOKEN, [operators] in switchover.toml,"
    " or HOME/operator-token)",
)


def operator_name(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
) -> str:
    """The name of the operator whose token the request carries; AuthError otherwise."""
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("operator route: send 'Authorization: Bearer <operator token>'")
    if not settings.operator_tokens:
        raise AuthError("no operator tokens are configured on this server")
    for name, expected in settings.operator_tokens.items():
        if hmac.compare_digest(token.strip().encode(), expected.encode()):
            return name
    raise AuthError("operator token not recognised")


Operator = Annotated[str, Depends(operator_name)]


class OperatorRoute(APIRoute):
    """A route that checks the token before anything else, the body included.

    FastAPI reads and decodes the body before it resolves dependencies, so a request without
    a token but with malformed JSON would get a 400 or 422 (and a description of what is
    wrong with it) instead of the 401. The dependency still names the operator and declares
    the scheme in the OpenAPI schema.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            operator_name(request)  # AuthError -> 401, before the body is read
            return await handler(request)

        return guarded
