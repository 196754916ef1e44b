"""The HTTP contract: routes, shapes, and bad input that gets a 4xx and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from migrator import Settings
from tests.conftest import OPERATOR, open_client

DOCS = [
    {"id": "a", "text": "lighthouse lamp keeper at the rocky coast", "metadata": {"n": 1}},
    {"id": "b", "text": "sourdough starter and wild yeast bread", "metadata": {}},
    {"id": "dir/with/slash", "text": "river delta silt and sediment", "metadata": {}},
]


def state(client: TestClient) -> tuple[int, int]:
    health = client.get("/healthz").json()
    return health["last_seq"], health["documents"]


def test_write_read_search_delete(client: TestClient) -> None:
    response = client.put("/v1/documents", json={"documents": DOCS})
    assert response.status_code == 200
    assert response.json() == {"written": 3, "seq": 3}

    doc = client.get("/v1/documents/dir/with/slash").json()
    assert doc == {"id": "dir/with/slash", "text": DOCS[2]["text"], "metadata": {}, "seq": 3}

    found = client.post("/v1/search", json={"query": "wild yeast bread", "k": 2}).json()
    assert found["served_by"] == "v1"
    assert found["hits"][0]["id"] == "b"
    assert set(found["hits"][0]) == {"id", "score", "text", "metadata"}
    assert found["hits"][0]["text"] is None

    rich = client.post(
        "/v1/search", json={"query": "lighthouse", "k": 1, "include_documents": True}
    ).json()
    assert rich["hits"][0]["text"] == DOCS[0]["text"]
    assert rich["hits"][0]["metadata"] == {"n": 1}

    assert client.delete("/v1/documents/b").json() == {"deleted": True, "seq": 4}
    assert client.get("/v1/documents/b").status_code == 404
    assert client.delete("/v1/documents/b").status_code == 404


def test_search_header_names_the_serving_index(client: TestClient) -> None:
    client.put("/v1/documents", json={"documents": DOCS})
    response = client.post("/v1/search", json={"query": "delta", "k": 1})
    assert response.headers["x-served-by"] == "v1"


def test_index_listing(client: TestClient) -> None:
    client.put("/v1/documents", json={"documents": DOCS})
    listing = client.get("/v1/indexes").json()
    assert listing["last_seq"] == 3
    (v1,) = listing["indexes"]
    assert v1["name"] == "v1"
    assert v1["role"] == "primary"
    assert v1["spec"]["factory"] == "Flat"
    assert v1["count"] == 3
    assert v1["applied_seq"] == 3
    assert v1["lag_records"] == 0
    assert len(v1["fingerprint"]) == 64


BAD_WRITES: list[tuple[str, Any]] = [
    ("not json", b"{not json"),
    ("wrong shape", {"docs": []}),
    ("empty batch", {"documents": []}),
    ("empty text", {"documents": [{"id": "x", "text": ""}]}),
    ("blank text", {"documents": [{"id": "x", "text": "   "}]}),
    ("text not a string", {"documents": [{"id": "x", "text": 5}]}),
    ("id missing", {"documents": [{"text": "hello"}]}),
    ("unknown field", {"documents": [{"id": "x", "text": "t", "vector": [1]}]}),
    ("oversized text", {"documents": [{"id": "x", "text": "y" * 40_000}]}),
    ("too large a batch", {"documents": [{"id": str(i), "text": "t"} for i in range(257)]}),
    ("duplicate ids", {"documents": [{"id": "x", "text": "t"}, {"id": "x", "text": "u"}]}),
    ("metadata not an object", {"documents": [{"id": "x", "text": "t", "metadata": [1]}]}),
    ("a list body", [1, 2, 3]),
]


@pytest.mark.parametrize(("case", "body"), BAD_WRITES, ids=[c for c, _ in BAD_WRITES])
def test_bad_writes_get_a_clear_4xx_and_change_nothing(
    client: TestClient, case: str, body: Any
) -> None:
    client.put("/v1/documents", json={"documents": DOCS[:1]})
    before = state(client)
    if isinstance(body, bytes):
        response = client.put(
            "/v1/documents", content=body, headers={"content-type": "application/json"}
        )
    else:
        response = client.put("/v1/documents", json=body)
    assert 400 <= response.status_code < 500, case
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert error["message"]
    assert state(client) == before


BAD_SEARCHES: list[Any] = [
    {"query": "", "k": 5},
    {"query": "  ", "k": 5},
    {"query": "x", "k": 0},
    {"query": "x", "k": 101},
    {"query": "x", "k": "10"},
    {"query": "x", "k": 2.5},
    {"query": 7, "k": 5},
    {"k": 5},
    {"query": "x" * 5000},
    {"query": "x", "extra": True},
]


@pytest.mark.parametrize("body", BAD_SEARCHES)
def test_bad_searches_get_422(client: TestClient, body: Any) -> None:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"]


def test_oversized_body_gets_413_and_changes_nothing(settings: Settings) -> None:
    small = replace(settings, limits=replace(settings.limits, max_body_bytes=1000))
    with open_client(small) as client:
        response = client.put(
            "/v1/documents", json={"documents": [{"id": "x", "text": "y" * 2000}]}
        )
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "payload_too_large"
        assert state(client) == (0, 0)


def test_unknown_routes_and_methods_are_4xx(client: TestClient) -> None:
    assert client.get("/v1/nope").status_code == 404
    assert client.post("/v1/documents").status_code == 405


def test_snapshot_needs_an_operator_token(client: TestClient) -> None:
    client.put("/v1/documents", json={"documents": DOCS})
    assert client.post("/v1/indexes/v1/snapshot").status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/v1/indexes/v1/snapshot", headers=wrong).status_code == 401
    response = client.post("/v1/indexes/v1/snapshot", headers=OPERATOR)
    assert response.status_code == 200
    assert response.json()["snapshots"][0]["applied_seq"] == 3
    assert client.post("/v1/indexes/nope/snapshot", headers=OPERATOR).status_code == 404


def test_openapi_schema_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/documents", "/v1/search", "/v1/indexes", "/healthz"} <= set(paths)
