"""The clients against a fake server (httpx.MockTransport): typed answers, the routing key
and read-your-writes token sent, retries only where they cannot do harm."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

import httpx
import pytest

from client import (
    AsyncSwitchoverClient,
    BadRequestError,
    Document,
    Query,
    RetryPolicy,
    SwitchoverClient,
    TransportError,
    UnavailableError,
)

Handler = Callable[[httpx.Request], httpx.Response]
FAST = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01, rng=random.Random(0))
HIT = {"hits": [{"id": "a", "score": 0.5, "text": None, "metadata": None}], "served_by": "v2"}


def sync_client(handler: Handler, **kw: object) -> SwitchoverClient:
    http = httpx.Client(base_url="http://switchover", transport=httpx.MockTransport(handler))
    return SwitchoverClient("http://switchover", http=http, retry=FAST, **kw)  # type: ignore[arg-type]


def test_answers_are_typed_and_the_token_and_key_travel() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "PUT":
            return httpx.Response(200, json={"written": 1, "seq": 41})
        if request.url.path == "/v1/search/batch":
            return httpx.Response(200, json={"results": [HIT, HIT]})
        return httpx.Response(200, json=HIT)

    api = sync_client(handler, routing_key="tenant-7")
    assert api.upsert([Document("a", "text", {"lang": "de"})]).seq == 41
    answer = api.search("q", 3, filter={"lang": "de"}, slice={"tenant": "acme"})
    assert answer.served_by == "v2"
    assert answer.ids == ["a"]
    assert answer.hits[0].score == 0.5
    assert [a.ids for a in api.search_batch(["q", Query("r", 2, routing_key="other")])] == [
        ["a"],
        ["a"],
    ]
    search = seen[1]
    assert search.headers["X-Routing-Key"] == "tenant-7"
    assert search.headers["X-Read-After-Seq"] == "41"
    assert json.loads(search.content)["filter"] == {"lang": "de"}
    assert json.loads(search.content)["slice"] == {"tenant": "acme"}
    batch = json.loads(seen[2].content)["queries"]
    assert batch[1] == {"query": "r", "k": 2, "routing_key": "other"}


def test_a_503_is_retried_after_its_retry_after_for_a_write_too() -> None:
    answers = iter([httpx.Response(503, headers={"Retry-After": "0"}, json={}), None])

    def handler(_request: httpx.Request) -> httpx.Response:
        return next(answers) or httpx.Response(200, json={"written": 1, "seq": 2})

    assert sync_client(handler).upsert([{"id": "a", "text": "t"}]).seq == 2


def test_a_write_that_timed_out_is_not_repeated() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(TransportError, match="ReadTimeout"):
        sync_client(handler).upsert([{"id": "a", "text": "t"}])
    assert calls == ["PUT"], "it may have landed: never sent twice"
    calls.clear()
    with pytest.raises(TransportError):
        sync_client(handler).search("q")
    assert calls == ["POST"] * 3, "a search changes nothing: retried up to the attempts"


def test_a_refused_connection_is_retried_for_any_call() -> None:
    tries = []

    def handler(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        if len(tries) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"deleted": True, "seq": 9})

    assert sync_client(handler).delete("a").deleted


def test_a_bad_request_is_raised_at_once_with_the_servers_message() -> None:
    tries = []

    def handler(_request: httpx.Request) -> httpx.Response:
        tries.append(1)
        error = {"type": "invalid_input", "message": "filter.lang.in: 'in' takes a list"}
        return httpx.Response(422, json={"error": error})

    with pytest.raises(BadRequestError, match=r"filter\.lang\.in") as raised:
        sync_client(handler).search("q", filter={"lang": {"in": []}})
    assert raised.value.status == 422
    assert raised.value.type == "invalid_input"
    assert tries == [1]


def test_retries_are_bounded_then_the_last_error_is_raised() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"type": "storage_unavailable", "message": "x"}})

    with pytest.raises(UnavailableError):
        sync_client(handler).search("q")


def test_the_async_client_does_the_same() -> None:
    tries = []

    def handler(request: httpx.Request) -> httpx.Response:
        tries.append(request.headers.get("X-Read-After-Seq"))
        if request.method == "PUT":
            return httpx.Response(200, json={"written": 1, "seq": 5})
        if len(tries) == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={})
        return httpx.Response(200, json=HIT)

    async def run() -> list[str]:
        transport = httpx.MockTransport(handler)
        http = httpx.AsyncClient(base_url="http://switchover", transport=transport)
        async with AsyncSwitchoverClient("http://switchover", http=http, retry=FAST) as api:
            await api.upsert([Document("a", "t")])
            return (await api.search("q")).ids

    assert asyncio.run(run()) == ["a"]
    assert tries == [None, "5", "5"]
