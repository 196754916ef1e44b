"""What can be written can be read back: the write refuses what a read could not return.

Metadata nests at most ``limits.max_metadata_depth`` (32) objects and arrays deep, counting
the metadata object itself; the check is the core's (``migrator/validation.py``), so every
adapter refuses the same documents, over HTTP with a 422.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexes.errors import InvalidInputError
from migrator import DocumentIn, Settings, Switchover
from tests.conftest import OPERATOR


@pytest.fixture
def app_service(service: Switchover) -> Switchover:
    """The shared ``client`` serves ``service``, which the tests also read directly."""
    return service


def nested(depth: int) -> dict[str, Any]:
    """Metadata ``depth`` objects deep (the outermost counts): ``{"a": {"a": ... 1}}``."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    result: dict[str, Any] = value
    return result


def state(client: TestClient) -> tuple[int, int]:
    health = client.get("/healthz").json()
    return health["last_seq"], health["documents"]


def test_metadata_at_the_depth_limit_is_written_and_reads_back(
    client: TestClient, settings: Settings
) -> None:
    depth = settings.limits.max_metadata_depth
    assert depth == 32
    mixed: dict[str, Any] = {"l": [[{"x": [1]}]]}  # lists count as levels too: 5 deep
    body = {"documents": [{"id": "deep", "text": "a deep one", "metadata": nested(depth)}]}
    body["documents"].append({"id": "mixed", "text": "lists and objects", "metadata": mixed})
    assert client.put("/v1/documents", json=body).status_code == 200
    assert client.get("/v1/documents/deep").json()["metadata"] == nested(depth)
    assert client.get("/v1/documents/mixed").json()["metadata"] == mixed
    found = client.post("/v1/search", json={"query": "deep", "include_documents": True})
    assert found.status_code == 200
    assert {hit["id"] for hit in found.json()["hits"]} == {"deep", "mixed"}


@pytest.mark.parametrize("depth", [33, 60])
def test_metadata_deeper_than_the_limit_is_refused_and_changes_nothing(
    client: TestClient, depth: int
) -> None:
    client.put("/v1/documents", json={"documents": [{"id": "a", "text": "first"}]})
    before = state(client)
    body = {"documents": [{"id": "deep", "text": "t", "metadata": nested(depth)}]}
    response = client.put("/v1/documents", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert "metadata nests deeper than 32 levels" in error["message"]
    assert state(client) == before
    assert client.get("/v1/documents/deep").status_code == 404


def test_lists_count_as_levels(client: TestClient) -> None:
    metadata: Any = 1
    for _ in range(32):
        metadata = [metadata]
    body = {"documents": [{"id": "l", "text": "t", "metadata": {"l": metadata}}]}
    assert client.put("/v1/documents", json=body).status_code == 422


def test_the_core_refuses_the_256_deep_metadata_that_no_read_could_return(
    service: Switchover,
) -> None:
    """Before: acknowledged, then every GET and every search returning it answered 500."""
    with pytest.raises(InvalidInputError, match="metadata nests deeper than 32 levels"):
        service.upsert([DocumentIn("deep", "t", nested(256))])
    with pytest.raises(InvalidInputError, match="metadata nests deeper"):
        service.upsert([DocumentIn("deeper", "t", nested(5_000))])  # no RecursionError
    assert service.health().documents == 0


# A lone surrogate is not a character: UTF-8 cannot encode it, so the store either replaced
# it (a key came back as U+FFFD, silently) or could not return it (a value: every read 500).
LONE_SURROGATES = {
    "a metadata key": '{"\\ud800": 1}',
    "a metadata value": '{"k": "\\udfff"}',
    "a key deep down": '{"k": [{"x": {"\\ud83d": 1}}]}',
    "a value in a list": '{"k": [1, "a\\ud800b"]}',
}


@pytest.mark.parametrize("metadata", LONE_SURROGATES.values(), ids=LONE_SURROGATES.keys())
def test_a_lone_surrogate_in_metadata_is_refused_and_changes_nothing(
    client: TestClient, metadata: str
) -> None:
    client.put("/v1/documents", json={"documents": [{"id": "a", "text": "first"}]})
    before = state(client)
    body = '{"documents": [{"id": "s", "text": "t", "metadata": ' + metadata + "}]}"
    response = client.put(
        "/v1/documents", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "invalid_input"
    assert "lone surrogate" in response.json()["error"]["message"]
    assert state(client) == before


def test_a_surrogate_pair_is_one_character_and_round_trips(client: TestClient) -> None:
    pair = "\\ud83d\\ude00"  # as JSON escapes: one character, U+1F600
    metadata = '{"' + pair + '": "' + pair + '"}'
    body = '{"documents": [{"id": "p", "text": "t", "metadata": ' + metadata + "}]}"
    response = client.put(
        "/v1/documents", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert client.get("/v1/documents/p").json()["metadata"] == {"\U0001f600": "\U0001f600"}


@pytest.mark.parametrize(
    "document",
    [
        DocumentIn("id\ud800", "t"),
        DocumentIn("x", "text \udc00"),
        DocumentIn("x", "t", {"\ud800": 1}),
        DocumentIn("x", "t", {"k": ["\ud800"]}),
    ],
    ids=["id", "text", "metadata key", "metadata value"],
)
def test_the_core_refuses_lone_surrogates_in_ids_texts_and_metadata(
    service: Switchover, document: DocumentIn
) -> None:
    """The API's schema refuses them in ids and texts already; the core check is the one every
    adapter shares, and it covers metadata keys and values too."""
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        service.upsert([document])
    assert service.health().documents == 0


def test_the_core_refuses_a_lone_surrogate_in_a_query(service: Switchover) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        service.search("lamp \ud800", 3)


def test_metadata_with_more_values_than_its_byte_limit_is_refused_without_walking_it_all(
    service: Switchover,
) -> None:
    """Each value takes at least a byte of JSON: past max_metadata_bytes values the walk (depth,
    Unicode) stops, and the error says why the metadata cannot fit."""
    with pytest.raises(InvalidInputError, match="holds more than 16384 values"):
        service.upsert([DocumentIn("wide", "t", {"a": [0] * 1_000_000})])


# HTTP clients remove the dot segments "." and ".." from a URL's path (RFC 3986, 5.2.4), so
# GET /v1/documents/{id} could never reach a document whose id has one.
DOT_SEGMENT_IDS = [".", "..", "./a", "../a", "a/.", "a/..", "a/./b", "a/../b", "a/b/..", "./"]
DOTTED_IDS = ["...", ".a", "a.", "a..b", ".a/b.", "a/.../b", "a/.b/c", "..a", "a/..b", "v1.2"]


@pytest.mark.parametrize("doc_id", DOT_SEGMENT_IDS)
def test_an_id_with_a_dot_segment_is_refused_on_write(client: TestClient, doc_id: str) -> None:
    before = state(client)
    response = client.put("/v1/documents", json={"documents": [{"id": doc_id, "text": "t"}]})
    assert response.status_code == 422, response.text
    assert "'.' or '..' as a path segment" in response.json()["error"]["message"]
    assert state(client) == before


def test_ids_with_dots_that_are_not_dot_segments_are_written_and_read_back(
    client: TestClient,
) -> None:
    body = {"documents": [{"id": doc_id, "text": f"text of {doc_id}"} for doc_id in DOTTED_IDS]}
    assert client.put("/v1/documents", json=body).status_code == 200
    for doc_id in DOTTED_IDS:  # through an ordinary HTTP client, which normalises the path
        response = client.get(f"/v1/documents/{doc_id}")
        assert response.status_code == 200, doc_id
        assert response.json()["text"] == f"text of {doc_id}"
        assert client.delete(f"/v1/documents/{doc_id}").status_code == 200, doc_id


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/config", '{"indexes": {"v1": {"ef_search": 16}}, "reason": "\\ud800"}'),
        ("POST", "/v1/eval-sets", '{"name": "\\udfff", "path": "x"}'),
        ("POST", "/v1/migrations", '{"target": {"name": "v3", "factory": "Flat\\ud83d"}}'),
        ("POST", "/v1/search", '{"query": "lamp", "x\\ud800": 1}'),
    ],
    ids=["config reason", "eval set name", "factory", "unknown field name"],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_422(
    client: TestClient, method: str, path: str, body: str
) -> None:
    """Only strings with a length bound were refused by the schema; a config reason with one
    reached the store, which could not encode it (a 500)."""
    headers = {**OPERATOR, "content-type": "application/json"}
    response = client.request(method, path, content=body.encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert "lone surrogate" in response.json()["error"]["message"]
    assert client.get("/v1/config/history", headers=headers).json()["versions"] == []


def test_an_escaped_backslash_before_u_d800_is_text_not_a_surrogate(client: TestClient) -> None:
    body = '{"documents": [{"id": "b", "text": "a \\\\ud800 b", "metadata": {"\\\\udc00": 1}}]}'
    response = client.put(
        "/v1/documents", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    doc = client.get("/v1/documents/b").json()
    assert (doc["text"], doc["metadata"]) == ("a \\ud800 b", {"\\udc00": 1})
