"""Filters over HTTP: ``filter`` on /v1/search and on the pinned search; bad ones get a 422
that names the problem and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

DOCS = [
    {"id": f"d{i}", "text": f"lamp tide gear number {i}", "metadata": {"lang": lang, "n": i}}
    for i, lang in enumerate(["de", "en", "fr"] * 10)
]


@pytest.fixture
def seeded(client: TestClient) -> TestClient:
    assert client.put("/v1/documents", json={"documents": DOCS}).status_code == 200
    return client


def test_a_filtered_search_returns_only_matching_documents(seeded: TestClient) -> None:
    body = {"query": "lamp", "k": 5, "include_documents": True, "filter": {"lang": "fr"}}
    found = seeded.post("/v1/search", json=body).json()
    assert len(found["hits"]) == 5
    assert {h["metadata"]["lang"] for h in found["hits"]} == {"fr"}
    ranged = {"query": "lamp", "k": 10, "filter": {"n": {"gte": 3, "lt": 6}}}
    assert sorted(h["id"] for h in seeded.post("/v1/search", json=ranged).json()["hits"]) == [
        "d3",
        "d4",
        "d5",
    ]
    pinned = seeded.post("/v1/indexes/v1/search", json=ranged).json()
    assert len(pinned["hits"]) == 3


BAD_FILTERS: list[tuple[Any, str]] = [
    ({"lang": {"in": []}}, "filter.lang.in: 'in' takes a non-empty list of values"),
    ({"lang": None}, "filter.lang: a value is a string, a number or a boolean, not null"),
    ({"n": {"gt": "3"}}, "filter.n.gt: a range bound is a number, not a string"),
    ({"n": {"between": [1, 2]}}, "filter.n: unknown operator 'between'"),
    ({"or": []}, "filter.or: 'or' takes a non-empty list of filters"),
    ({"or": [{"n": i} for i in range(70)]}, "filter.or[63].n: the filter has more than 64"),
    ({"n": {"in": list(range(2000))}}, "filter.n.in: the filter holds more than 1024 values"),
    ({}, "filter: a filter is a non-empty JSON object"),
]


def nest(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"lang": "de"}
    for _ in range(depth):
        node = {"not": node}
    return node


@pytest.mark.parametrize(("bad", "message"), [*BAD_FILTERS, (nest(9), "filter.not.not")])
def test_a_bad_filter_gets_a_422_naming_the_problem(
    seeded: TestClient, bad: Any, message: str
) -> None:
    before = seeded.get("/healthz").json()
    response = seeded.post("/v1/search", json={"query": "lamp", "filter": bad})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert error["message"].startswith(message)
    assert seeded.get("/healthz").json() == before


@pytest.mark.parametrize("bad", [[{"lang": "de"}], "lang=de", 3])
def test_a_filter_that_is_no_object_gets_a_422(seeded: TestClient, bad: Any) -> None:
    response = seeded.post("/v1/search", json={"query": "lamp", "filter": bad})
    assert response.status_code == 422
    assert "filter" in response.text
