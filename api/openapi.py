"""The OpenAPI schema states this server's configured limits.

The request models hold types only (the bounds live in the domain and are configurable), so
the schema FastAPI generates says nothing about how long a text may be or how large a batch.
``document_limits`` writes the bounds of this app's ``Limits`` into it, and the index-name
pattern where a name becomes a folder: clients and fuzzers see what the server enforces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from indexes import INDEX_NAME_PATTERN
from migrator.settings import Limits

NAMED_PATHS = ("/v1/indexes/{name}/search", "/v1/indexes/{name}/snapshot")
DOCUMENT_PATH = "/v1/documents/{doc_id}"


def install_openapi_limits(app: FastAPI, limits: Limits) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI caches it; the edits below are idempotent
        document_limits(schema, limits)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def document_limits(schema: dict[str, Any], limits: Limits) -> None:
    models = schema["components"]["schemas"]

    def bound(model: str, field: str, **keywords: Any) -> None:
        models[model]["properties"][field].update(keywords)

    bound("DocumentBody", "id", maxLength=limits.max_id_chars)
    bound("DocumentBody", "text", maxLength=limits.max_text_chars)
    bound("UpsertBody", "documents", maxItems=limits.max_batch)
    bound("SearchBody", "query", maxLength=limits.max_query_chars)
    bound("SearchBody", "k", maximum=limits.max_k)
    bound("BatchQueryBody", "query", maxLength=limits.max_query_chars)
    bound("BatchQueryBody", "k", maximum=limits.max_k)
    bound("BatchSearchBody", "queries", maxItems=limits.max_search_batch)
    bound("TargetBody", "name", pattern=INDEX_NAME_PATTERN)
    bound("EvalSetBody", "name", pattern=INDEX_NAME_PATTERN)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if path in NAMED_PATHS and parameter["name"] == "name":
                    parameter["schema"]["pattern"] = INDEX_NAME_PATTERN
                if path == DOCUMENT_PATH and parameter["name"] == "doc_id":
                    parameter["schema"]["maxLength"] = limits.max_id_chars
