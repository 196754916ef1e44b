"""Structured logs: one JSON object per line, each carrying the request it belongs to.

``RequestContextMiddleware`` gives every request an id (an incoming ``X-Request-Id`` if it
is a sane token, else a fresh one), echoes it in the response, keeps it with the serving
index and the current migration in a contextvar that ``RequestContextFilter`` copies onto
log records, and writes one access line per request. ``configure_json_logging`` installs
the formatter and the filter on the root logger (the CLI calls it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexes.errors import InvalidInputError
from migrator import Switchover

access_log = logging.getLogger("api.access")

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# What every LogRecord has; anything else on a record came from ``extra=`` or the filter.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_CONTEXT_FIELDS = ("request_id", "served_by", "migration_id")


@dataclass
class RequestContext:
    """What log lines of one request share; ``served_by`` is known once the answer starts."""

    request_id: str
    migration_id: int | None = None
    served_by: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("switchover_request", default=None)


def current_request() -> RequestContext | None:
    return _current.get()


def request_id_from(incoming: str | None) -> str:
    """The caller's id if it is a plain token of at most 64 characters, else a new one."""
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/documents/{doc_id}``), never the raw path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else "unmatched"


def method_label(scope: Scope) -> str:
    """The HTTP method, or "other" so a client cannot invent label values."""
    method = str(scope.get("method", "")).upper()
    return method if method in _KNOWN_METHODS else "other"


def header(message: Message | Scope, name: bytes) -> str | None:
    """The first value of a header in an ASGI scope or response-start message."""
    for key, value in message.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class RequestContextFilter(logging.Filter):
    """Copies the current request's id, serving index and migration onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None:  # outside a request the record carries no context keys
            for name in _CONTEXT_FIELDS:
                if not hasattr(record, name):
                    setattr(record, name, getattr(context, name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler[Any]):
    """Marks the handler ``configure_json_logging`` installed, so a second call replaces it."""


def configure_json_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as one JSON line, with the request context."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise InvalidInputError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(old)
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    root.setLevel(numeric)


class RequestContextMiddleware:
    """Request id in and out, the context for log records, one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(
            request_id_from(header(scope, b"x-request-id")),
            migration_id=_migration_id(scope),
        )
        token = _current.set(context)
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception escaping it becomes a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                context.served_by = header(message, b"x-served-by")
                message["headers"] = [
                    *(message.get("headers") or ()),
                    (REQUEST_ID_HEADER.lower().encode(), context.request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # a request that creates a migration logs the new one; one that ends it, the old
            context.migration_id = context.migration_id or _migration_id(scope)
            _log_access(scope, status, started, context)
            _current.reset(token)


def _migration_id(scope: Scope) -> int | None:
    """The live migration's id, if the service is up and one is running."""
    service = getattr(getattr(scope.get("app"), "state", None), "service", None)
    if not isinstance(service, Switchover):
        return None
    migration = service.live_migration()
    return None if migration is None else migration.id


def _log_access(scope: Scope, status: int, started: float, context: RequestContext) -> None:
    method, route = method_label(scope), route_template(scope)
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    access_log.info(
        "%s %s %d %.1fms",
        method,
        route,
        status,
        duration_ms,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": context.request_id,
            "served_by": context.served_by,
            "migration_id": context.migration_id,
        },
    )
