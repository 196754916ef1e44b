"""The asyncio client: :class:`AsyncSwitchoverClient` over ``httpx.AsyncClient``, the same
calls, retries and session as :class:`~client.SwitchoverClient`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

from .answers import Document, Query, SearchAnswer, WriteAck
from .calls import Call, DocumentLike, Session
from .calls import delete as delete_call
from .calls import get as get_call
from .calls import health as health_call
from .calls import search as search_call
from .calls import search_batch as batch_call
from .calls import upsert as upsert_call
from .policy import RetryPolicy
from .sending import DEFAULT_TIMEOUT, Outcome, decide, outcome_of, raised_outcome

T = TypeVar("T")


class AsyncSwitchoverClient:
    """The retrieval API for one service: typed answers, its routing key, read-your-writes.

    Every write's sequence is remembered and sent with later searches
    (``X-Read-After-Seq``), so a search sees this client's writes even through another
    replica. Calls time out (``timeout`` seconds, 10 by default) and are retried as
    :class:`RetryPolicy` allows; pass ``http`` to reuse or inject an ``httpx.AsyncClient``.
    """

    def __init__(
        self,
        url: str,
        *,
        routing_key: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        read_your_writes: bool = True,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.session = Session(routing_key, read_your_writes)
        self.retry = retry or RetryPolicy()
        self._http = http or httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    async def __aenter__(self) -> AsyncSwitchoverClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def last_seq(self) -> int:
        """The newest write this client saw acknowledged (0 before any)."""
        return self.session.last_seq

    async def upsert(self, documents: Iterable[DocumentLike]) -> WriteAck:
        return await self.send(upsert_call(self.session, documents))

    async def delete(self, doc_id: str) -> WriteAck:
        return await self.send(delete_call(self.session, doc_id))

    async def get(self, doc_id: str) -> Document:
        return await self.send(get_call(doc_id))

    async def search(
        self,
        query: str,
        k: int = 10,
        *,
        filter: Mapping[str, Any] | None = None,
        include_documents: bool = False,
        routing_key: str | None = None,
        index: str | None = None,
        slice: Mapping[str, str] | None = None,
    ) -> SearchAnswer:
        """Top ``k``; ``index`` pins one version (eval jobs), bypassing routing; ``slice``
        names the query's slice ({"tenant": "acme"}) for a migration judged per slice."""
        call = search_call(
            self.session, query, k, filter=filter, include_documents=include_documents,
            routing_key=routing_key, index=index, slice_fields=slice,
        )  # fmt: skip
        return await self.send(call)

    async def search_batch(
        self,
        queries: Iterable[Query | str],
        *,
        include_documents: bool = False,
        routing_key: str | None = None,
    ) -> list[SearchAnswer]:
        call = batch_call(
            self.session, queries, include_documents=include_documents, routing_key=routing_key
        )
        return await self.send(call)

    async def health(self) -> dict[str, Any]:
        return await self.send(health_call())

    async def send(self, call: Call[T]) -> T:
        """Send ``call``, retrying as the policy allows; its parsed answer or a ClientError."""
        attempt = 1
        while True:
            outcome = await self._once(call)
            wait = decide(self.retry, call, attempt, outcome)
            if wait is None:
                return outcome.result(call)
            await asyncio.sleep(wait)
            attempt += 1

    async def _once(self, call: Call[Any]) -> Outcome:
        try:
            response = await self._http.request(
                call.method, call.path, json=call.body, headers=call.headers
            )
        except httpx.HTTPError as exc:
            return raised_outcome(exc)
        return outcome_of(response)
