"""Search answers are built as JSON where the search ran, byte for byte what the response
models would have made, and the OpenAPI schema still documents those models."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.schemas import BatchSearchResponse, HitResponse, SearchResponse
from api.search_answers import search_answer
from indexes import Hit
from migrator import SearchResult
from migrator.store import Document

DOCS = [
    {
        "id": "a",
        "text": "Leuchtturm lamp über the rocky coast",
        "metadata": {"n": 1, "t": ["ä", 2.5]},
    },
    {"id": "b", "text": "sourdough starter and wild yeast bread", "metadata": {}},
]


def the_models_own_json(model: type[BaseModel], body: bytes) -> bytes:
    """What FastAPI's response_model path makes of the same answer."""
    return model.model_validate_json(body).model_dump_json().encode()


@pytest.mark.parametrize("include_documents", [False, True])
def test_a_search_answer_is_the_response_models_json(
    client: TestClient, include_documents: bool
) -> None:
    client.put("/v1/documents", json={"documents": DOCS})

    response = client.post(
        "/v1/search", json={"query": "lamp", "k": 2, "include_documents": include_documents}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-served-by"] == "v1"
    assert response.content == the_models_own_json(SearchResponse, response.content)
    assert [h["id"] for h in response.json()["hits"]] == ["a", "b"]


def test_a_pinned_search_answer_is_the_response_models_json(client: TestClient) -> None:
    client.put("/v1/documents", json={"documents": DOCS})

    response = client.post("/v1/indexes/v1/search", json={"query": "bread", "k": 1})

    assert response.headers["x-served-by"] == "v1"
    assert response.content == the_models_own_json(SearchResponse, response.content)


def test_a_batch_answer_is_the_response_models_json(client: TestClient) -> None:
    client.put("/v1/documents", json={"documents": DOCS})
    queries = [{"query": "lamp", "k": 1}, {"query": "bread", "k": 2}]

    response = client.post("/v1/search/batch", json={"queries": queries, "include_documents": True})

    assert response.status_code == 200
    assert response.content == the_models_own_json(BatchSearchResponse, response.content)
    assert [len(r["hits"]) for r in response.json()["results"]] == [1, 2]


def test_a_non_finite_score_is_null_as_the_model_writes_it() -> None:
    result = SearchResult([Hit("a", float("nan")), Hit("b", float("inf"))], "v1")

    body = search_answer(result).body

    assert body == (
        b'{"hits":[{"id":"a","score":null,"text":null,"metadata":null},'
        b'{"id":"b","score":null,"text":null,"metadata":null}],"served_by":"v1"}'
    )
    model = SearchResponse(
        hits=[HitResponse(id="a", score=float("nan")), HitResponse(id="b", score=float("inf"))],
        served_by="v1",
    )
    assert body == model.model_dump_json().encode()


def test_a_documents_text_and_metadata_ride_along_when_asked() -> None:
    doc = Document("a", "text of a", {"k": "v"}, "hash", 7)
    result = SearchResult([Hit("a", 0.5)], "v2", {"a": doc})

    answer = search_answer(result)

    assert answer.headers["x-served-by"] == "v2"
    assert isinstance(answer.body, bytes)  # a rendered Response's body (typed bytes | memoryview)
    (hit,) = SearchResponse.model_validate_json(answer.body).hits
    assert (hit.text, hit.metadata, hit.score) == ("text of a", {"k": "v"}, 0.5)


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/search", "SearchResponse"),
        ("/v1/indexes/{name}/search", "SearchResponse"),
        ("/v1/search/batch", "BatchSearchResponse"),
    ],
)
def test_the_schema_still_documents_the_answer_models(
    client: TestClient, path: str, model: str
) -> None:
    operation = client.get("/openapi.json").json()["paths"][path]["post"]

    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]

    assert schema == {"$ref": f"#/components/schemas/{model}"}
