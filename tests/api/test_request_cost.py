"""What one request may cost: every body within the byte limit is answered at a bounded cost.

A body is refused before anything parses it when its JSON nests deeper than 64 levels, holds
more than 1,000,000 values or more than 100,000 objects and arrays, or uses NaN/Infinity; a
batch over the configured ``max_batch`` is one problem, found before any document is checked;
a 422 lists at most 20 problems (and says how many there were) and every message is clipped,
so no error body grows with the input. Each pathological body here is within the default
16 MiB limit; the allocation it causes is measured with ``tracemalloc``.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from indexes import IndexSpec
from indexes.errors import InvalidInputError
from tests.api.conftest import seed_live_migration
from tests.conftest import OPERATOR, hash_settings, open_client

if TYPE_CHECKING:  # starlette's TestClient answers with httpx2's Response (starlette types it so)
    import httpx2

MIB = 1024 * 1024
LIMIT = 16 * MIB  # the default max_body_bytes: the point is that the default is safe
ERROR_BODY_BYTES = 64 * 1024  # no error body may be larger
ALLOCATED_BYTES = 160 * MIB  # Python allocations while one request is answered, at most


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the whole module, with a live migration (plan routes answer): its tests
    send bodies up to the 16 MiB limit that are refused, and the few writes use ids of their
    own, so they share it rather than start one app each (the shared ``client`` is per test)."""
    settings = hash_settings(tmp_path_factory.mktemp("cost") / "home")
    assert settings.limits.max_body_bytes == LIMIT
    with open_client(settings) as c:
        seed_live_migration(c, documents=10, sample=5)
        yield c


def send(http: TestClient, method: str, path: str, body: bytes) -> httpx2.Response:
    headers = {**OPERATOR, "content-type": "application/json"}
    return http.request(method, path, content=body, headers=headers)


def fill(prefix: str, item: str, suffix: str, size: int = LIMIT) -> bytes:
    """``prefix item,item,...,item suffix``: as many items as fit in ``size`` bytes."""
    count = (size - len(prefix) - len(suffix) + 1) // (len(item) + 1)
    return (prefix + ",".join([item] * count) + suffix).encode()


def keys(count: int, value: str = "0") -> str:
    """``"k0":0,"k1":0,...``: ``count`` distinct keys (a repeated key is one key in JSON)."""
    return ",".join(f'"k{i}":{value}' for i in range(count))


def nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def documents(metadata: str) -> bytes:
    return ('{"documents":[{"id":"m","text":"t","metadata":' + metadata + "}]}").encode()


DOCS, PLAN, CONFIG = "/v1/documents", "/v1/migrations/1/plan", "/v1/config"
MIGRATIONS, EVALS, SEARCH = "/v1/migrations", "/v1/evals", "/v1/search"
Make = Callable[[], bytes]


def array_metadata(item: str, count: int) -> bytes:
    return documents('{"a":[' + ",".join([item] * count) + "]}")


def one_document(fields: str) -> bytes:
    return ('{"documents":[{' + fields + "}]}").encode()


def field(name: str, value: str) -> str:
    """``{"name": value}`` where ``name`` may be a path ``a.b``: ``{"a": {"b": value}}``."""
    parts = name.split(".")
    return "".join(f'{{"{part}":' for part in parts) + value + "}" * len(parts)


def in_body(name: str, value: str) -> Make:
    return lambda: field(name, value).encode()


def wide(name: str, count: int = 450_000) -> Make:
    return in_body(name, "{" + keys(count) + "}")


# Each one is a few bytes per element; without bounds every one of them cost from hundreds of
# megabytes (the JSON parse) to gigabytes (one validation error per element, all reported).
PATHOLOGICAL: list[tuple[str, str, str, Make]] = [
    ("1M empty documents", "PUT", DOCS, lambda: fill('{"documents":[', "{}", "]}", 3 * MIB)),
    ("byte limit of empty documents", "PUT", DOCS, lambda: fill('{"documents":[', "{}", "]}")),
    ("byte limit of empty arrays", "PUT", DOCS, lambda: fill('{"documents":[', "[]", "]}")),
    ("byte limit of zeros", "PUT", DOCS, lambda: fill('{"documents":[', "0", "]}")),
    ("metadata of 1M keys", "PUT", DOCS, lambda: documents("{" + keys(1_000_000) + "}")),
    ("metadata of 200k objects", "PUT", DOCS, lambda: array_metadata("{}", 200_000)),
    ("metadata 100 deep", "PUT", DOCS, lambda: documents(nested(100))),
    ("metadata 1M deep", "PUT", DOCS, lambda: documents("[" * MIB + "]" * MIB)),
    ("the byte limit of [", "PUT", DOCS, lambda: b"[" * LIMIT),
    ("NaN metadata", "PUT", DOCS, lambda: documents('{"n":NaN}')),
    ("Infinity k", "POST", SEARCH, lambda: b'{"query":"q","k":-Infinity}'),
    ("a 15 MiB id", "PUT", DOCS, lambda: one_document(f'"id":"{"i" * 15 * MIB}","text":"t"')),
    ("400k canary steps", "PATCH", PLAN, lambda: fill('{"canary_steps":[', '"a"', "]}", 2 * MIB)),
    ("embedder 100 deep", "POST", MIGRATIONS, in_body("target.embedder", nested(100))),
    ("a 15 MiB eval set name", "POST", EVALS, in_body("eval_set", f'"{"e" * 15 * MIB}"')),
]

# Just under the shape bounds: parsed, then refused by the schema or the domain. These cost the
# most that a body can now cost (and take seconds under tracemalloc): ``-m slow``.
JUST_UNDER: list[tuple[str, str, str, Make]] = [
    ("metadata of 450k keys", "PUT", DOCS, lambda: documents("{" + keys(450_000) + "}")),
    ("metadata of 99k one-key objects", "PUT", DOCS, lambda: array_metadata('{"a":0}', 99_000)),
    ("metadata of 999k zeros", "PUT", DOCS, lambda: array_metadata("0", 999_000)),
    ("metadata of 999k short strings", "PUT", DOCS, lambda: array_metadata('"ab"', 999_000)),
    ("metadata of 999k floats", "PUT", DOCS, lambda: array_metadata("1.5", 999_000)),
    (
        "450k unknown fields",
        "PUT",
        DOCS,
        lambda: one_document('"id":"u","text":"t",' + keys(450_000)),
    ),
    ("guardrails of 450k keys", "PATCH", PLAN, wide("guardrails")),
    ("config of 450k indexes", "PUT", CONFIG, wide("indexes")),
    ("450k search parameters", "PUT", CONFIG, wide("indexes.v1")),
    ("450k migration knobs", "PUT", CONFIG, wide("migration")),
]


@pytest.mark.parametrize(
    ("method", "path", "make"),
    [pytest.param(m, p, make, id=case) for case, m, p, make in PATHOLOGICAL]
    + [
        pytest.param(m, p, make, id=case, marks=pytest.mark.slow) for case, m, p, make in JUST_UNDER
    ],
)
def test_a_pathological_body_within_the_byte_limit_is_refused_cheaply(
    live: TestClient, method: str, path: str, make: Callable[[], bytes]
) -> None:
    body = make()  # built here, not at collection: some are 16 MiB
    assert len(body) <= LIMIT
    before = live.get("/healthz").json()
    tracemalloc.start()
    try:
        response = send(live, method, path, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 400 <= response.status_code < 500, response.text[:500]
    assert len(response.content) < ERROR_BODY_BYTES
    error = response.json()["error"]
    assert error["type"] in {"invalid_input", "not_found"}
    assert error["message"]
    assert peak < ALLOCATED_BYTES, f"{peak / MIB:.0f} MiB allocated"
    assert live.get("/healthz").json() == before


def test_json_nesting_values_and_non_numbers_are_refused_before_parsing(live: TestClient) -> None:
    """The refusal names the bound the body broke (and the 422 is the usual error body)."""
    cases = {
        "nests deeper than 64": documents(nested(100)),
        "objects and arrays; the limit is 100000": fill('{"documents":[', "{}", "]}", MIB),
        "values; the limit is 1000000": fill('{"documents":[', "0", "]}", 3 * MIB),
        "NaN and Infinity are not JSON": documents('{"n":NaN}'),
    }
    for words, body in cases.items():
        response = send(live, "PUT", "/v1/documents", body)
        assert response.status_code == 422, response.text[:300]
        assert response.json()["error"]["type"] == "invalid_input"
        assert words in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "number", ["1e999999", "-1e400", "1.5E+309", "1" + "0" * 400, "-" + "9" * 320 + ".5"]
)
def test_a_number_beyond_the_range_of_a_64_bit_float_is_refused_before_parsing(
    live: TestClient, number: str
) -> None:
    """Python reads 1e999999 as inf and a 400-digit integer exactly; float() of that integer
    raises OverflowError wherever a number is checked or compared as a float (a 500)."""
    in_plan = field("guardrails.recall.min_samples", number).encode()
    for method, path, body in (
        ("PUT", DOCS, documents('{"n":' + number + "}")),
        ("PATCH", PLAN, in_plan),
    ):
        response = send(live, method, path, body)
        assert response.status_code == 422, response.text[:300]
        assert "beyond the range of a 64-bit float" in response.json()["error"]["message"]


def test_numbers_within_the_float_range_are_read_as_they_are(live: TestClient) -> None:
    metadata = {"big": 10**300, "small": 1e-300, "max": 1.7976931348623157e308, "tiny": 5e-324}
    body = {"documents": [{"id": "numbers", "text": "t", "metadata": metadata}]}
    assert live.put("/v1/documents", json=body).status_code == 200
    assert live.get("/v1/documents/numbers").json()["metadata"] == metadata


def test_bounds_count_json_structure_not_characters_inside_strings(live: TestClient) -> None:
    """Brackets, commas, colons, escaped quotes and the words NaN and Infinity inside strings
    are text: a document made of them is written and reads back unchanged."""
    text = '[[[{{{ ,,,:::"\\"NaN Infinity ' * 1_000 + "\\" * 3
    metadata = {"k" * 3: "]]]}}}" * 100, "\\": '"', "q": "NaN"}
    body = {"documents": [{"id": "brackets", "text": text, "metadata": metadata}]}
    assert live.put("/v1/documents", json=body).status_code == 200
    doc = live.get("/v1/documents/brackets").json()
    assert (doc["text"], doc["metadata"]) == (text, metadata)


def test_a_batch_over_the_configured_limit_is_one_problem_found_before_its_documents(
    tmp_path: Path,
) -> None:
    settings = hash_settings(tmp_path / "home")
    settings = replace(settings, limits=replace(settings.limits, max_batch=4))
    with open_client(settings) as client:
        over = client.put("/v1/documents", json={"documents": [{}] * 5})
        assert over.status_code == 422
        error = over.json()["error"]
        assert [d["loc"] for d in error["details"]] == ["body.documents"]
        assert "the batch has 5 documents; the limit is 4" in error["message"]
        within = client.put("/v1/documents", json={"documents": [{}] * 4}).json()["error"]
        assert within["problems"] == 8  # id and text missing in each: the documents are checked


def test_a_422_lists_at_most_20_problems_and_counts_them(live: TestClient) -> None:
    body = {"documents": [{"id": i, "text": i} for i in range(256)]}  # 512 problems
    response = live.put("/v1/documents", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["problems"] == 512
    assert len(error["details"]) == 20
    assert error["details"][0]["loc"] == "body.documents.0.id"
    assert error["message"].endswith("(and 511 more)")


def test_error_messages_are_clipped_however_long_the_input_they_quote(live: TestClient) -> None:
    name = "e" * 100_000
    response = live.post("/v1/evals", json={"eval_set": name}, headers=OPERATOR)
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert message.startswith("eval set 'eee")
    assert len(message) < 1_000
    assert "characters)" in message  # says it was clipped, and from how long


def test_a_validation_detail_quoting_a_huge_key_is_clipped(live: TestClient) -> None:
    key = "k" * 100_000
    body = json.dumps({"documents": [{"id": "x", "text": "t", key: 1}]}).encode()
    response = send(live, "PUT", "/v1/documents", body)
    assert response.status_code == 422
    assert len(response.content) < 2_000
    (detail,) = response.json()["error"]["details"]
    assert detail["loc"].startswith("body.documents.0.kkk")


def test_many_unknown_fields_are_one_problem(live: TestClient) -> None:
    document: dict[str, Any] = {"id": "x", "text": "t"} | {f"x{i}": i for i in range(1_000)}
    response = live.put("/v1/documents", json={"documents": [document]})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["problems"] == 1
    assert "1000 unknown fields" in error["message"]
    few = live.put("/v1/documents", json={"documents": [{"id": "x", "text": "t", "y": 1}]})
    assert few.json()["error"]["details"] == [
        {"loc": "body.documents.0.y", "msg": "Extra inputs are not permitted"}
    ]


def test_the_schema_states_the_collection_bounds(live: TestClient) -> None:
    models = live.get("/openapi.json").json()["components"]["schemas"]
    assert models["UpsertBody"]["properties"]["documents"]["maxItems"] == 256
    for model in ("MigrationBody", "PlanBody"):
        steps = models[model]["properties"]["canary_steps"]["anyOf"][0]
        assert steps["maxItems"] == 100
    assert models["ConfigBody"]["properties"]["indexes"]["anyOf"][0]["maxProperties"] == 64


# FAISS parses a factory string with std::regex, which recurses per character: from about
# 20,000 characters it overflows the stack and the whole server dies (SIGSEGV).
LONG_FACTORY = "x" * 30_000


def test_a_long_index_factory_is_refused_before_faiss_parses_it() -> None:
    with pytest.raises(InvalidInputError, match="index factory is 30000 characters"):
        IndexSpec(name="v3", factory=LONG_FACTORY)


def test_a_long_index_factory_in_a_migration_is_a_422_and_the_server_lives(
    live: TestClient,
) -> None:
    body = {"target": {"name": "v3", "factory": LONG_FACTORY}}
    response = live.post("/v1/migrations", json=body, headers=OPERATOR)
    assert response.status_code == 422
    assert "the limit is 256" in response.json()["error"]["message"]
    assert live.get("/healthz").status_code == 200
