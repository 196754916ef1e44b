"""A fast path for a route's well-formed requests, with FastAPI's own handling as the rule.

FastAPI handles every request generically: it reads the body, decodes it with ``json.loads``,
solves the dependency tree (the body, each header parameter, the ``Service`` dependency, each
through its own validation and error bookkeeping) and then runs a sync route on a worker
thread. For the search routes that generic work was the larger part of what the app spends
per request around the search (benchmarks/results/search_profile.md, fourth pass).

A route of :class:`PrevalidatedRoute` with a fast path (:func:`fast_path`) tries that first:
the fast path validates the raw body once (``model_validate_json``) and the headers it
needs, and returns the route's call with the validated arguments, which runs on a worker
thread exactly as FastAPI would run it. Whenever the fast path is not certain to agree with
FastAPI (a content type other than plain JSON, a body pydantic refuses, a header that is not
in its plain form, a dependency override) it raises :class:`NotPlain`, and FastAPI's own
handler takes the request from the start: every error answer is FastAPI's, unchanged. The
route's declaration (body model, headers, ``response_model``) stays what the OpenAPI schema
shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

Model = TypeVar("Model", bound=BaseModel)
Call = Callable[[], Response]
FastPath = Callable[[Request, bytes], Call]
Endpoint = Callable[..., Any]

JSON_CONTENT_TYPE = "application/json"
# A non-negative integer as pydantic reads it from a header, in its one plain spelling (no
# sign, padding, leading zeros or underscores: those take FastAPI's path)
_PLAIN_INT = re.compile(r"0|[1-9][0-9]{0,18}")

_FAST_PATHS: dict[Endpoint, FastPath] = {}


class NotPlain(Exception):  # noqa: N818 - a signal to take FastAPI's path, not an error
    """The request is not in the plain form the fast path knows; FastAPI handles it."""


def fast_path(prepare: FastPath) -> Callable[[Endpoint], Endpoint]:
    """Give the decorated route's endpoint a fast path (apply below ``@router.post``)."""

    def register(endpoint: Endpoint) -> Endpoint:
        _FAST_PATHS[endpoint] = prepare
        return endpoint

    return register


class PrevalidatedRoute(APIRoute):
    """An ``APIRoute`` that runs its endpoint's fast path when it has one and it applies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()
        prepare = _FAST_PATHS.get(self.endpoint)
        if prepare is None:
            return standard

        async def handler(request: Request) -> Response:
            try:
                body = await request.body()
            except HTTPException:
                raise
            except Exception:  # FastAPI's own answer to a body it cannot read
                return await standard(request)
            try:
                call = prepare(request, body)
            except NotPlain:
                return await standard(request)  # the body is cached on the request
            return await run_in_threadpool(call)

        return handler


def json_body(model: type[Model], request: Request, body: bytes) -> Model:
    """``body`` as ``model``, if FastAPI would read it as JSON and pydantic accepts it as is.

    FastAPI decodes a JSON body with ``json.loads`` and validates the result; pydantic's own
    JSON parser accepts no body that ``json.loads`` refuses and gives the same values, so a
    body it accepts validates to the model FastAPI would build."""
    if request.app.dependency_overrides:
        raise NotPlain  # a test replaced a dependency: FastAPI resolves it
    if request.headers.get("content-type") != JSON_CONTENT_TYPE or not body:
        raise NotPlain
    try:
        return model.model_validate_json(body)
    except ValidationError:
        raise NotPlain from None


def text_header(request: Request, name: str, *, max_length: int) -> str | None:
    """A ``str | None`` header parameter with a ``max_length``: its first value."""
    value = request.headers.get(name)
    if value is not None and len(value) > max_length:
        raise NotPlain
    return value


def count_header(request: Request, name: str, *, le: int) -> int | None:
    """An ``int | None`` header parameter with ``ge=0`` and ``le``: its first value."""
    value = request.headers.get(name)
    if value is None:
        return None
    if not _PLAIN_INT.fullmatch(value) or int(value) > le:
        raise NotPlain
    return int(value)
