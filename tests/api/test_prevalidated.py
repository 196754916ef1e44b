"""The search routes' fast path (api/prevalidated.py) answers every request exactly as
FastAPI's own request handling does, and takes FastAPI's path for whatever is not plain.

Each request goes to two apps holding the same documents: the app as it is, and one whose
routes have no fast path (FastAPI reads the body, the headers and the dependency itself).
Status, body and the serving index must agree, for plain searches and for every kind of
malformed body, content type and header the fast path leaves to FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.dependencies.utils import solve_dependencies
from fastapi.testclient import TestClient

from api import prevalidated
from api.deps import get_service
from migrator import Switchover
from tests.conftest import hash_settings, open_client, seed_documents

JSON = {"content-type": "application/json"}

BODIES = {
    "plain": b'{"query": "lamp", "k": 2}',
    "every field": b'{"query": "lamp", "k": 3, "include_documents": true, "filter": null}',
    "a filter": b'{"query": "lamp", "filter": {"n": {"in": [1, 2]}}}',
    "a filter the core refuses": b'{"query": "lamp", "filter": {"n": {"near": 1}}}',
    "a huge k": b'{"query": "lamp", "k": 100000000000000000000000}',
    "a duplicate key": b'{"query": "gear", "query": "lamp"}',
    "cut short": b'{"query": "lamp", "k": 2',
    "trailing text": b'{"query": "lamp"} and more',
    "a trailing comma": b'{"query": "lamp",}',
    "a byte-order mark": b'\xef\xbb\xbf{"query": "lamp"}',
    "invalid UTF-8": b'{"query": "l\xffamp"}',
    "a control character": b'{"query": "la\x01mp"}',
    "an empty query": b'{"query": ""}',
    "k as a string": b'{"query": "lamp", "k": "2"}',
    "k as a float": b'{"query": "lamp", "k": 2.0}',
    "k zero": b'{"query": "lamp", "k": 0}',
    "an unknown field": b'{"query": "lamp", "colour": "red"}',
    "no query": b"{}",
    "an array": b"[]",
    "a string": b'"lamp"',
    "empty": b"",
}

CONTENT_TYPES = [
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/merge-patch+json",
    "text/plain",
    None,
]

HEADERS = [
    {"X-Read-After-Seq": "0"},
    {"X-Read-After-Seq": "1"},
    {"X-Read-After-Seq": "99999"},
    {"X-Read-After-Seq": "007"},
    {"X-Read-After-Seq": "+1"},
    {"X-Read-After-Seq": " 1"},
    {"X-Read-After-Seq": "-1"},
    {"X-Read-After-Seq": "1_0"},
    {"X-Read-After-Seq": "abc"},
    {"X-Read-After-Seq": ""},
    {"X-Read-After-Seq": str(2**63 - 1)},
    {"X-Read-After-Seq": str(2**63)},
    {"X-Routing-Key": ""},
    {"X-Routing-Key": "tenant-7"},
    {"X-Routing-Key": "k" * 256},
    {"X-Routing-Key": "k" * 257},
]

PATHS = ["/v1/search", "/v1/indexes/v1/search", "/v1/indexes/nope/search"]


@pytest.fixture
def apps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, TestClient]]:
    """(the app, the same app without fast paths), each with the same three documents."""
    with open_client(hash_settings(tmp_path / "fast"), documents=3) as fast:
        monkeypatch.setattr(prevalidated, "_FAST_PATHS", {})  # apps built from here: none
        with open_client(hash_settings(tmp_path / "generic"), documents=3) as generic:
            yield fast, generic


def answers_agree(
    apps: tuple[TestClient, TestClient], path: str, body: bytes, headers: dict[str, str]
) -> None:
    fast, generic = (client.post(path, content=body, headers=headers) for client in apps)
    assert (fast.status_code, fast.headers.get("x-served-by")) == (
        generic.status_code,
        generic.headers.get("x-served-by"),
    )
    assert fast.headers["content-type"] == generic.headers["content-type"]
    assert fast.json() == generic.json()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_every_body_gets_fastapis_own_answer(
    apps: tuple[TestClient, TestClient], path: str, body: bytes
) -> None:
    answers_agree(apps, path, body, JSON)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_content_type_gets_fastapis_own_answer(
    apps: tuple[TestClient, TestClient], content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    answers_agree(apps, "/v1/search", BODIES["plain"], headers)


@pytest.mark.parametrize(
    "header", HEADERS, ids=[f"{k}={v[:12]!r}" for h in HEADERS for k, v in h.items()]
)
def test_every_header_value_gets_fastapis_own_answer(
    apps: tuple[TestClient, TestClient], header: dict[str, str]
) -> None:
    answers_agree(apps, "/v1/search", BODIES["plain"], {**JSON, **header})


def test_a_refused_body_is_the_usual_problem_and_changes_nothing(client: TestClient) -> None:
    seed_documents(client, 3)
    before = client.get("/healthz").json()

    response = client.post("/v1/search", content=BODIES["k as a string"], headers=JSON)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert error["details"][0]["loc"] == "body.k"
    assert client.get("/healthz").json() == before


class CountingSolver:
    """Wraps FastAPI's dependency solver, counting the requests it handles."""

    def __init__(self, solve: Callable[..., Any]) -> None:
        self.solve = solve
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return await self.solve(*args, **kwargs)


@pytest.fixture
def solver(monkeypatch: pytest.MonkeyPatch) -> CountingSolver:
    counting = CountingSolver(solve_dependencies)  # the function fastapi.routing imported
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return counting


@pytest.mark.documents(3)
def test_a_plain_search_skips_fastapis_generic_handling(
    client: TestClient, solver: CountingSolver
) -> None:
    plain = client.post("/v1/search", content=BODIES["plain"], headers=JSON)
    pinned = client.post("/v1/indexes/v1/search", content=BODIES["plain"], headers=JSON)

    assert (plain.status_code, pinned.status_code) == (200, 200)
    assert solver.calls == 0


def test_the_reference_app_has_no_fast_path(
    apps: tuple[TestClient, TestClient], solver: CountingSolver
) -> None:
    _, generic = apps

    assert generic.post("/v1/search", content=BODIES["plain"], headers=JSON).status_code == 200
    assert solver.calls == 1


@pytest.mark.documents(3)
def test_a_request_that_is_not_plain_takes_fastapis_path(
    client: TestClient, solver: CountingSolver
) -> None:
    client.post("/v1/search", content=BODIES["k as a string"], headers=JSON)
    client.post("/v1/search", content=BODIES["plain"], headers={"content-type": "text/plain"})
    client.post("/v1/search", content=BODIES["plain"], headers={**JSON, "X-Read-After-Seq": "+1"})

    assert solver.calls == 3


@pytest.mark.documents(3)
def test_an_overridden_dependency_is_honoured(client: TestClient) -> None:
    served: list[Switchover] = []
    real: Switchover = client.app.state.service  # type: ignore[attr-defined]  # untyped state

    def counting_service() -> Switchover:
        served.append(real)
        return real

    client.app.dependency_overrides[get_service] = counting_service  # type: ignore[attr-defined]

    response = client.post("/v1/search", content=BODIES["plain"], headers=JSON)

    assert response.status_code == 200
    assert served == [real]
