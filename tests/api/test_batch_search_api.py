"""POST /v1/search/batch: many queries in one request, each answered as a single search
would be; a bad query or an oversized batch gets a 4xx and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import service_of

DOCS = [
    {"id": f"d{i}", "text": f"lamp tide gear number {i} word{i}", "metadata": {"n": i}}
    for i in range(40)
]


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    assert client.put("/v1/documents", json={"documents": DOCS}).status_code == 200
    return client


def single(client: TestClient, body: dict[str, Any]) -> list[str]:
    return [h["id"] for h in client.post("/v1/search", json=body).json()["hits"]]


def test_each_answer_equals_the_single_search_and_names_its_index(seeded: TestClient) -> None:
    queries: list[dict[str, Any]] = [
        {"query": "word3 gear", "k": 3},
        {"query": "lamp tide", "k": 5, "filter": {"n": {"gte": 30}}},
        {"query": "number 7", "routing_key": "tenant-a"},
    ]
    response = seeded.post("/v1/search/batch", json={"queries": queries})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 3
    for body, result in zip(queries, results, strict=True):
        assert result["served_by"] == "v1"
        assert [h["id"] for h in result["hits"]] == single(
            seeded, {k: v for k, v in body.items() if k != "routing_key"}
        )
    assert all(int(h["id"][1:]) >= 30 for h in results[1]["hits"])


def test_the_batch_is_embedded_in_one_encoder_call(seeded: TestClient) -> None:
    embedder = service_of(seeded).runtime("v1").embedder
    calls: list[int] = []
    original = embedder.embed_queries

    def counting(texts: Any) -> Any:
        calls.append(len(texts))
        return original(texts)

    embedder.embed_queries = counting  # type: ignore[method-assign]  # a counting wrapper
    try:
        body = {"queries": [{"query": f"lamp {i}"} for i in range(32)]}
        assert seeded.post("/v1/search/batch", json=body).status_code == 200
    finally:
        embedder.embed_queries = original  # type: ignore[method-assign]
    assert calls == [32]


def test_a_write_is_visible_to_the_next_batch(seeded: TestClient) -> None:
    doc = {"id": "fresh", "text": "zebra quartz violin", "metadata": {"n": 99}}
    seeded.put("/v1/documents", json={"documents": [doc]})
    body = {"queries": [{"query": "zebra quartz violin", "k": 1, "filter": {"n": 99}}]}
    assert seeded.post("/v1/search/batch", json=body).json()["results"][0]["hits"][0]["id"] == (
        "fresh"
    )


BAD: list[tuple[Any, str]] = [
    ({"queries": []}, "queries"),
    ({"queries": [{"query": "x"}] * 65}, "the batch has 65 queries; the limit is 64"),
    ({"queries": [{"query": "x"}, {"query": ""}]}, "queries"),
    ({"queries": [{"query": "x", "k": 101}]}, "k must be an integer from 1 to 100"),
    ({"queries": [{"query": "x", "filter": {"n": {"in": []}}}]}, "queries[0]: filter.n.in"),
    ({"queries": [{"query": "x", "extra": 1}]}, "extra"),
    ({"queries": "lamp"}, "queries"),
    ({"queries": [{"query": "x", "routing_key": "r" * 300}]}, "routing_key"),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_batch_gets_a_422_and_changes_nothing(
    seeded: TestClient, body: Any, message: str
) -> None:
    svc = service_of(seeded)
    before = (seeded.get("/healthz").json(), svc.traffic().served)
    response = seeded.post("/v1/search/batch", json=body)
    assert response.status_code == 422, response.text
    assert message in response.text
    assert (seeded.get("/healthz").json(), svc.traffic().served) == before


def test_a_read_after_a_write_not_in_the_log_yet_gets_a_409(seeded: TestClient) -> None:
    seq = seeded.put("/v1/documents", json={"documents": [DOCS[0]]}).json()["seq"]
    for path, body in (
        ("/v1/search", {"query": "lamp"}),
        ("/v1/search/batch", {"queries": [{"query": "lamp"}]}),
    ):
        ok = seeded.post(path, json=body, headers={"X-Read-After-Seq": str(seq)})
        assert ok.status_code == 200
        ahead = seeded.post(path, json=body, headers={"X-Read-After-Seq": str(seq + 1)})
        assert ahead.status_code == 409
        assert f"write {seq + 1} is not in the log yet" in ahead.json()["error"]["message"]
        bad = seeded.post(path, json=body, headers={"X-Read-After-Seq": "-1"})
        assert bad.status_code == 422
