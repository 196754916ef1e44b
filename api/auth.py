"""Operator authentication: ``Authorization: Bearer <token>`` against the configured tokens."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from indexes.errors import AuthError
from migrator import Settings


def operator_name(request: Request) -> str:
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
