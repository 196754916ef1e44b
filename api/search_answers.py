"""Search answers as JSON bytes, built where the search ran.

A route that returns a model has FastAPI validate it against ``response_model`` on a
worker thread of its own (a second thread hand-off after the one that ran the route) and
then serialise it. The search routes return these prebuilt responses instead: the same
bytes as :class:`~api.schemas.SearchResponse` serialised (non-finite scores as ``null``),
made in the request's worker thread, while the routes keep ``response_model`` for the
OpenAPI schema (tests/api pin the answers to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pydantic_core
from fastapi import Response

from migrator import SearchResult

SERVED_BY = "X-Served-By"


def search_answer(result: SearchResult) -> Response:
    """One search's answer (``SearchResponse``), naming its index in ``X-Served-By``."""
    response = _json(_answer(result))
    response.headers[SERVED_BY] = result.served_by
    return response


def batch_answer(results: Sequence[SearchResult]) -> Response:
    """A batch's answers in order (``BatchSearchResponse``); each names its own index."""
    return _json({"results": [_answer(r) for r in results]})


def _answer(result: SearchResult) -> dict[str, Any]:
    docs = result.documents
    hits = []
    for hit in result.hits:
        doc = docs.get(hit.id) if docs is not None else None
        hits.append(
            {
                "id": hit.id,
                "score": hit.score,
                "text": doc.text if doc else None,
                "metadata": doc.metadata if doc else None,
            }
        )
    return {"hits": hits, "served_by": result.served_by}


def _json(content: dict[str, Any]) -> Response:
    body = pydantic_core.to_json(content, inf_nan_mode="null")
    return Response(body, media_type="application/json")
