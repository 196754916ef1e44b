"""Security: what a client without an operator token can and cannot do, and the bounds that
hold for everyone.

(a) every route that is not on the public allowlist refuses a missing, malformed or wrong
    token with 401 and changes nothing; the route list comes from the app itself, so a new
    route is either public on purpose (added to the allowlist) or protected;
(b) retrieval clients cannot reach operator routes, and the token comparison is
    constant-time (``hmac.compare_digest``);
(c) request bodies and batches are bounded: over the byte limit is a 413 without reading the
    rest (with or without Content-Length); a batch, text, id, query or k over its limit is a
    422; nothing changes;
(d) index and eval-set names cannot leave the home folder: hostile names get a 4xx and
    nothing is created anywhere;
(e) SQL is always parametrised: hostile strings round-trip unchanged and every table survives;
    a static check of the modules with SQL refuses SQL built from non-constant values.
"""

from __future__ import annotations

import ast
import asyncio
import hmac
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

import api.auth
from api import create_app
from api.auth import OperatorRoute
from migrator import Settings
from tests.api.conftest import seed_live_migration, service_of
from tests.conftest import OPERATOR, OPERATOR_TOKEN, REPO, SAMPLE_DIR, hash_settings, open_client

# Routes anyone may call: retrieval, health, metrics, the status page and the schema itself.
PUBLIC = {
    ("GET", "/healthz"),
    ("PUT", "/v1/documents"),
    ("GET", "/v1/documents/{doc_id:path}"),
    ("DELETE", "/v1/documents/{doc_id:path}"),
    ("POST", "/v1/search"),
    ("POST", "/v1/search/batch"),
    ("POST", "/v1/indexes/{name}/search"),
    ("GET", "/v1/indexes"),
    ("GET", "/metrics"),
    ("GET", "/ui"),
    ("GET", "/ui/static/{name}"),
    ("GET", "/ui/status.json"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}

# A plausible request for each path parameter and each operator route's body: with a valid
# token most of these would succeed (and change state), so a refusal means the token check.
PATH_VALUES = {"migration_id": "1", "action": "backfill", "name": "v1", "run_id": "1"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/migrations"): {"target": {"name": "v3", "factory": "Flat"}},
    ("POST", "/v1/migrations/{migration_id}/{action}"): {"reason": "probe"},
    ("PATCH", "/v1/migrations/{migration_id}/plan"): {"shadow_sample": 0.5},
    ("PUT", "/v1/config"): {"indexes": {"v1": {"ef_search": 16}}},
    ("POST", "/v1/config/revert"): {},
    ("POST", "/v1/eval-sets"): {"name": "other", "path": str(SAMPLE_DIR), "sample": 5},
    ("POST", "/v1/evals"): {"eval_set": "sample", "source": "v1", "target": "v2"},
}

BAD_CREDENTIALS: list[dict[str, str]] = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Bearer {OPERATOR_TOKEN}x"},
    {"Authorization": f"Bearer {OPERATOR_TOKEN[:-1]}"},
    {"Authorization": f"Bearer {OPERATOR_TOKEN.upper()}"},
    {"Authorization": f"Basic {OPERATOR_TOKEN}"},  # the right secret in the wrong scheme
    {"Authorization": f"Token {OPERATOR_TOKEN}"},
    {"Authorization": OPERATOR_TOKEN},
    {"X-Operator-Token": OPERATOR_TOKEN},  # only the Authorization header counts
    {"Cookie": f"token={OPERATOR_TOKEN}"},
    {"X-Routing-Key": "user-1"},  # what a retrieval client sends
]


def route_table(app: FastAPI) -> dict[tuple[str, str], Any]:
    """(method, path) -> route for every route the app serves (HEAD is GET's shadow)."""
    table: dict[tuple[str, str], Any] = {}
    for context in iter_route_contexts(app.routes):
        for method in context.methods or ():
            if method != "HEAD" and context.path is not None:
                table[(method, context.path)] = context.original_route
    return table


@cache
def unstarted_app() -> FastAPI:
    """An app that is never started: its routes and schema only."""
    return create_app(hash_settings(Path("/nonexistent")))


def _operator_routes() -> list[tuple[str, str]]:
    return sorted(set(route_table(unstarted_app())) - PUBLIC)


OPERATOR_ROUTES = _operator_routes()


def fill(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", value)
    return path.replace(":path}", "}")


def state(client: TestClient, home: Path) -> dict[str, Any]:
    """Everything an operator route could change, read with the token, and the home's files."""
    reads = [
        "/healthz",
        "/v1/indexes",
        "/v1/migrations/current",
        "/v1/migrations/1/events",
        "/v1/config",
        "/v1/config/history",
        "/v1/eval-sets",
        "/v1/evals",
    ]
    seen: dict[str, Any] = {path: client.get(path, headers=OPERATOR).json() for path in reads}
    for index in seen["/v1/indexes"]["indexes"]:
        index.pop("lag_seconds")  # time passes
    migration = seen["/v1/migrations/current"]
    migration.pop("live", None)  # rates and timings move on their own
    migration.pop("backfill", None)
    seen["files"] = files_under(home)
    return seen


def files_under(root: Path) -> set[str]:
    """Every file and folder below ``root``, without SQLite's own WAL and shared-memory files."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if not p.name.endswith(("-wal", "-shm", "-journal"))
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """One seeded app for the refusal tests: none of them may change it."""
    home = tmp_path_factory.mktemp("security") / "home"
    with open_client(hash_settings(home)) as client:
        seed_live_migration(client, documents=30, sample=10)
        yield client, home


# -- (a) every non-public route needs the token --------------------------------------------


def test_the_public_allowlist_names_only_real_routes() -> None:
    table = route_table(unstarted_app())
    assert set(table) >= PUBLIC, sorted(PUBLIC - set(table))
    assert len(OPERATOR_ROUTES) >= 15  # the migration, config, snapshot and eval routes


def test_every_operator_route_checks_the_token_first_and_declares_it() -> None:
    table, paths = route_table(unstarted_app()), unstarted_app().openapi()["paths"]
    for method, path in OPERATOR_ROUTES:
        route = table[(method, path)]
        assert isinstance(route, OperatorRoute), f"{method} {path} does not check the token first"
        operation = paths[path.replace(":path}", "}")][method.lower()]
        assert operation["security"] == [{"operatorToken": []}], f"{method} {path}"
        assert "401" in operation["responses"], f"{method} {path}"


def test_public_routes_declare_no_token() -> None:
    table, paths = route_table(unstarted_app()), unstarted_app().openapi()["paths"]
    for method, path in PUBLIC:
        route = table[(method, path)]
        assert not isinstance(route, OperatorRoute), f"{method} {path}"
        if isinstance(route, APIRoute) and route.include_in_schema:
            operation = paths[path.replace(":path}", "}")][method.lower()]
            assert "security" not in operation, f"{method} {path}"


@pytest.mark.parametrize(
    "headers", BAD_CREDENTIALS, ids=[str(sorted(h.items()))[:40] for h in BAD_CREDENTIALS]
)
def test_operator_routes_refuse_missing_malformed_and_wrong_tokens_and_change_nothing(
    shared: tuple[TestClient, Path], headers: dict[str, str]
) -> None:
    client, home = shared
    before = state(client, home)
    answers = {}
    for method, path in OPERATOR_ROUTES:
        body = BODIES.get((method, path))
        response = client.request(method, fill(path), json=body, headers=headers)
        answers[(method, path)] = (
            response.status_code,
            response.json()["error"]["type"],
            response.headers.get("www-authenticate"),
        )
    refused = (401, "unauthorized", "Bearer")
    assert {route: a for route, a in answers.items() if a != refused} == {}
    assert state(client, home) == before


@pytest.mark.parametrize(("method", "path"), [r for r in OPERATOR_ROUTES if r in BODIES])
@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b"[" * 5000])
def test_without_a_token_even_a_malformed_body_gets_401(
    shared: tuple[TestClient, Path], method: str, path: str, raw: bytes
) -> None:
    """Regression: FastAPI decodes the body before dependencies, so an anonymous client got
    400/422 (and a description of its body) instead of 401. The token is checked first."""
    client, _ = shared
    response = client.request(
        method, fill(path), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401, response.text


# -- (b) retrieval clients cannot reach operator routes; constant-time comparison ----------


def test_a_retrieval_client_reaches_retrieval_but_no_operator_route(
    shared: tuple[TestClient, Path],
) -> None:
    client, home = shared
    retrieval = {"X-Routing-Key": "user-7"}
    found = client.post("/v1/search", json={"query": "lamp", "k": 3}, headers=retrieval)
    assert found.status_code == 200
    before = state(client, home)
    for method, path in OPERATOR_ROUTES:
        body = BODIES.get((method, path), {"query": "lamp", "k": 3})
        response = client.request(method, fill(path), json=body, headers=retrieval)
        assert response.status_code == 401, (method, path)
    assert state(client, home) == before


def test_tokens_are_compared_in_constant_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module api.auth calls
    assert client.get("/v1/config", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert compared == [(b"guess", OPERATOR_TOKEN.encode())]
    assert client.get("/v1/config", headers=OPERATOR).status_code == 200
    # No other comparison touches the token: no ==, !=, in or startswith on it.
    source = Path(api.auth.__file__).read_text(encoding="utf-8")
    function = next(
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name == "operator_name"
    )
    for node in ast.walk(function):
        if isinstance(node, ast.Compare):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            assert not names & {"token", "expected"}, ast.unparse(node)
        if isinstance(node, ast.Attribute) and node.attr in ("startswith", "endswith"):
            raise AssertionError(ast.unparse(node))


def test_each_operator_token_names_its_operator(tmp_path: Path) -> None:
    tokens = {"alice": "alice-token", "bob": "bob-token"}
    with open_client(hash_settings(tmp_path / "home", operator_tokens=tokens)) as c:
        c.put("/v1/documents", json={"documents": [{"id": "a", "text": "lamp"}]})
        for name, token in tokens.items():
            body = {"indexes": {"v1": {}}, "reason": f"by {name}"}
            put = c.put("/v1/config", json=body, headers={"Authorization": f"Bearer {token}"})
            assert put.status_code == 200
        history = c.get("/v1/config/history", headers={"Authorization": "Bearer bob-token"})
        assert [v["actor"] for v in history.json()["versions"]][:2] == ["bob", "alice"]


def test_a_server_with_no_tokens_refuses_every_operator_call(tmp_path: Path) -> None:
    with open_client(hash_settings(tmp_path / "home", operator_tokens={})) as c:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x"}):
            assert c.get("/v1/config", headers=headers).status_code == 401


# -- (c) bodies, batches and fields are bounded --------------------------------------------

SMALL = {"max_body_bytes": 65_536, "max_batch": 4, "max_text_chars": 50, "max_id_chars": 10}


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = hash_settings(tmp_path / "home")
    settings = replace(
        settings,
        limits=replace(settings.limits, max_query_chars=20, max_k=5, **SMALL),
    )
    with open_client(settings) as c:
        c.put("/v1/documents", json={"documents": [{"id": "a", "text": "lamp"}]})
        yield c, settings


def health(client: TestClient) -> tuple[int, int]:
    h = client.get("/healthz").json()
    return h["last_seq"], h["documents"]


def docs(n: int, text: str = "t", prefix: str = "x") -> dict[str, Any]:
    return {"documents": [{"id": f"{prefix}{i}", "text": text} for i in range(n)]}


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (docs(4), True),
        (docs(5), False),  # max_batch + 1
        (docs(1, text="y" * 50), True),
        (docs(1, text="y" * 51), False),
        ({"documents": [{"id": "i" * 10, "text": "t"}]}, True),
        ({"documents": [{"id": "i" * 11, "text": "t"}]}, False),
        ({"documents": [{"id": "m", "text": "t", "metadata": {"k": "v" * 17_000}}]}, False),
    ],
)
def test_batches_texts_ids_and_metadata_are_bounded_exactly(
    small: tuple[TestClient, Settings], body: dict[str, Any], accepted: bool
) -> None:
    client, _ = small
    before = health(client)
    response = client.put("/v1/documents", json=body)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code in (413, 422), response.text
        assert health(client) == before


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"query": "q" * 20, "k": 5}, True),
        ({"query": "q" * 21, "k": 5}, False),
        ({"query": "lamp", "k": 6}, False),
        ({"query": "lamp", "k": 0}, False),
        ({"query": "lamp", "k": 10**30}, False),
        ({"query": "lamp", "k": -(10**30)}, False),
    ],
)
def test_queries_and_k_are_bounded_exactly(
    small: tuple[TestClient, Settings], body: dict[str, Any], accepted: bool
) -> None:
    client, _ = small
    for path in ("/v1/search", "/v1/indexes/v1/search"):
        response = client.post(path, json=body)
        assert response.status_code == (200 if accepted else 422), response.text


def test_the_schema_states_the_configured_limits(small: tuple[TestClient, Settings]) -> None:
    client, _ = small
    models = client.get("/openapi.json").json()["components"]["schemas"]
    assert models["UpsertBody"]["properties"]["documents"]["maxItems"] == 4
    assert models["DocumentBody"]["properties"]["text"]["maxLength"] == 50
    assert models["SearchBody"]["properties"]["k"]["maximum"] == 5
    assert models["SearchBody"]["properties"]["query"]["maxLength"] == 20


def test_an_over_limit_body_with_content_length_is_refused_unread(
    small: tuple[TestClient, Settings],
) -> None:
    client, _ = small
    app = client.app
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    status, body = asyncio.run(call(app, receive, content_length=10**9))
    assert status == 413
    assert b"payload_too_large" in body
    assert reads == 0  # refused from the header alone: not one byte read


def test_an_over_limit_chunked_body_is_refused_after_the_limit(
    small: tuple[TestClient, Settings],
) -> None:
    """Regression: without Content-Length the limit tripped inside FastAPI's body reader,
    which turned it into a 400 "error parsing the body". Now it is a 413, and reading stops
    at the first chunk past the limit."""
    client, settings = small
    limit = settings.limits.max_body_bytes
    chunk = 1024
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        body = b'{"documents": [' if reads == 1 else b" " * chunk
        return {"type": "http.request", "body": body, "more_body": True}  # never ends

    before = health(client)
    status, body = asyncio.run(call(client.app, receive, content_length=None))
    assert status == 413
    assert b"payload_too_large" in body
    assert reads <= limit // chunk + 2
    assert health(client) == before
    # Through the test client too (it sends Transfer-Encoding: chunked).
    chunks = (b" " * chunk for _ in range(limit // chunk + 10))
    response = client.put(
        "/v1/documents", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "payload_too_large"


async def call(app: Any, receive: Any, content_length: int | None) -> tuple[int, bytes]:
    headers = [(b"content-type", b"application/json"), (b"host", b"testserver")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/v1/documents",
        "raw_path": b"/v1/documents",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body


# -- (d) names cannot leave the home folder -------------------------------------------------

HOSTILE_NAMES = [
    "..",
    ".",
    "../escape",
    "../../../../tmp/escape",
    "v2/../../escape",
    "v2/x",
    "/tmp/escape",  # noqa: S108 - a hostile name, never created
    "/",
    "v2\x00",
    "v2\n",
    "\\..\\escape",
    "%2e%2e%2fescape",
    "v\uff12",  # fullwidth digit two: NFKC would make it "v2"
    "\uff562",  # fullwidth small v
    "v2\u202e",  # right-to-left override
    "\ufb01le",  # the "fi" ligature: NFKC turns it into "file"
    "V2",
    " v2",
    "-v2",
    "v" * 64,
    "",
    "a..b",
]


@pytest.fixture
def jail(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    home = tmp_path / "jail" / "home"
    with open_client(hash_settings(home)) as c:
        c.put("/v1/documents", json={"documents": [{"id": "a", "text": "lamp"}]})
        yield c, tmp_path


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=ascii)
def test_hostile_index_and_eval_set_names_are_refused_and_create_nothing(
    jail: tuple[TestClient, Path], name: str
) -> None:
    client, root = jail
    before = files_under(root)
    target = {"target": {"name": name, "factory": "Flat"}}
    response = client.post("/v1/migrations", json=target, headers=OPERATOR)
    assert 400 <= response.status_code < 500, response.text
    body = {"name": name, "path": str(SAMPLE_DIR), "sample": 5}
    if name != "a..b":  # a legal eval-set name (no slash): it names a row, never a path
        response = client.post("/v1/eval-sets", json=body, headers=OPERATOR)
        assert 400 <= response.status_code < 500, response.text
    for method, path in (("POST", "/v1/indexes/{}/snapshot"), ("POST", "/v1/indexes/{}/search")):
        # Percent-encoded, dots too, so the client sends the name as is (no dot-segment folding).
        url = path.format(quote(name, safe="").replace(".", "%2E"))
        response = client.request(method, url, json={"query": "lamp"}, headers=OPERATOR)
        assert 400 <= response.status_code < 500, (url, response.text)
    assert files_under(root) == before
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]


def test_snapshots_land_only_under_the_home(jail: tuple[TestClient, Path]) -> None:
    client, root = jail
    before = files_under(root)
    assert client.post("/v1/indexes/v1/snapshot", headers=OPERATOR).status_code == 200
    created = files_under(root) - before
    assert created
    assert all(path.startswith("jail/home/indexes") for path in created), created
    assert any(path.startswith("jail/home/indexes/v1/snapshots/") for path in created), created


# -- (e) SQL is always parametrised ---------------------------------------------------------

HOSTILE_STRINGS = [
    "'; DROP TABLE documents; --",
    '"; DROP TABLE write_log; --',
    "' OR '1'='1",
    "x'); DELETE FROM documents; --",
    "Robert'); DROP TABLE eval_sets;--",
    "a\x00b",
    "%s %d {0} ?",
    "\\'; --",
    "ünïcödé ✓ \U0001d518",  # and a fraktur U outside the BMP
]


def tables(db: Path) -> set[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def test_hostile_strings_round_trip_and_every_table_survives(
    client: TestClient, settings: Settings
) -> None:
    before = tables(settings.db_path)
    documents = [
        {
            "id": f"id-{i}-{text.replace(chr(0), '')}",  # ids refuse control characters
            "text": text,
            "metadata": {text: text, "nested": [text, {"k": text}]},
        }
        for i, text in enumerate(HOSTILE_STRINGS)
    ]
    assert client.put("/v1/documents", json={"documents": documents}).status_code == 200
    for doc in documents:
        stored = client.get(f"/v1/documents/{quote(str(doc['id']), safe='')}").json()
        assert (stored["id"], stored["text"], stored["metadata"]) == (
            doc["id"],
            doc["text"],
            doc["metadata"],
        )
        found = client.post("/v1/search", json={"query": doc["text"], "k": 20}).json()
        assert doc["id"] in {hit["id"] for hit in found["hits"]}
    # Hostile names where the store looks things up by name: refused or not found, never SQL.
    for text in HOSTILE_STRINGS:
        missing = quote(text.replace(chr(0), ""), safe="")
        assert client.get(f"/v1/documents/{missing}").status_code == 404
        run = {"eval_set": text, "source": "v1", "target": "v1"}
        assert client.post("/v1/evals", json=run, headers=OPERATOR).status_code in (404, 422)
        body = {"name": text, "path": str(SAMPLE_DIR), "sample": 5}
        assert client.post("/v1/eval-sets", json=body, headers=OPERATOR).status_code == 422
    # Free text that is stored: config reasons and migration reasons come back unchanged.
    for text in HOSTILE_STRINGS:
        body = {"indexes": {"v1": {}}, "reason": text}
        assert client.put("/v1/config", json=body, headers=OPERATOR).status_code == 200
    history = client.get("/v1/config/history", headers=OPERATOR).json()["versions"]
    assert [v["reason"] for v in history[: len(HOSTILE_STRINGS)]] == HOSTILE_STRINGS[::-1]
    target = {"target": {"name": "v2", "factory": "Flat"}}
    mid = client.post("/v1/migrations", json=target, headers=OPERATOR).json()["id"]
    for text in HOSTILE_STRINGS:
        client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR)
        service_of(client).wait_backfill()
        client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
        answer = client.post(
            f"/v1/migrations/{mid}/rollback", json={"reason": text}, headers=OPERATOR
        )
        assert answer.status_code == 200, answer.text
        client.post(f"/v1/migrations/{mid}/resume", headers=OPERATOR)
    events = client.get(f"/v1/migrations/{mid}/events", headers=OPERATOR).json()["events"]
    reasons = [e["reason"] for e in events if e["to_phase"] == "rolled_back"]
    assert reasons == HOSTILE_STRINGS
    assert tables(settings.db_path) == before
    assert client.get("/healthz").json()["documents"] == len(documents)


STORE_DIR = REPO / "migrator" / "store"
SQL_MODULES = sorted(STORE_DIR.rglob("*.py"))  # SQLite's modules and postgres/ too
# Calls that take SQL text (or a table name), and which of their positional arguments do;
# their keyword arguments in SQL_KEYWORDS are SQL text too (sqlite-utils interpolates them).
SQL_ARGS = {
    "execute": (0,),
    "executemany": (0,),
    "executescript": (0,),
    "query": (0,),
    "table": (0,),
    "rows_where": (0,),
    "count_where": (0,),
    "_fetch": (0,),
    "fetch": (0,),
    "rows": (0, 1),
    "one": (0, 1),
    "insert_row": (0,),
    "insert_rows": (0,),
    "update_row": (0,),
}
SQL_KEYWORDS = {"where", "order_by", "select"}

# The only non-constant pieces of SQL text, each checked by its exact source: a list of "?"
# placeholders sized to the values (the values themselves are bound). Any other
# interpolation fails the test until reviewed here.
ALLOWED_LOCALS = {
    ("documents", "marks"): '",".join("?" * len(doc_ids))',
    ("versions", "marks"): '",".join("?" * len(doc_ids))',
    ("get_many", "marks"): '",".join("?" * len(chunk))',
}
# The store's own SQL helpers pass these parameters on; every call of them is checked above.
PASS_THROUGH = {
    ("_fetch", "sql"),
    ("fetch", "query"),
    ("rows", "table"),
    ("rows", "where"),
    ("rows", "order_by"),
    ("one", "table"),
    ("one", "where"),
    ("insert_row", "table"),
    ("insert_rows", "table"),
    ("update_row", "table"),
}
# Reviewed by module: SQL composed with psycopg.sql (table and column names quoted by
# sql.Identifier, values bound as parameters, the where/order_by pieces passed on from the
# calls checked above), and the schema's constant DDL applied in a loop.
REVIEWED = {
    "postgres/connection.py": {
        ("rows", "query"),
        ("insert_row", "query"),
        ("insert_rows", "<_insert(table, columns)>"),
        ("update_row", "query"),
    },
    "postgres/schema.py": {("apply_schema", "statement")},
}


def sql_arguments(call: ast.Call) -> list[ast.expr]:
    """The arguments of ``call`` that are SQL text, if it is a call that takes SQL."""
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in SQL_ARGS:
        return []
    positional = [call.args[i] for i in SQL_ARGS[call.func.attr] if i < len(call.args)]
    return positional + [k.value for k in call.keywords if k.arg in SQL_KEYWORDS]


def sql_problems(source: str, reviewed: set[tuple[str, str]] | None = None) -> list[str]:
    """Where SQL passed to execute() and friends is built from anything but constants
    (apart from the ``reviewed`` (function, piece) pairs)."""
    tree = ast.parse(source)
    constants = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.lstrip("_").isupper()
    }
    problems: list[str] = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assigned = {
            name.id: node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            for target in node.targets
            for name in ast.walk(target)
            if isinstance(name, ast.Name)
        }
        parameters = {a.arg for a in [*function.args.args, *function.args.kwonlyargs]}
        for call in ast.walk(function):
            if not isinstance(call, ast.Call):
                continue
            for argument in sql_arguments(call):
                for part in unsafe_parts(argument, constants):
                    local = (function.name, part)
                    if local in PASS_THROUGH and part in parameters:
                        continue
                    if local in (reviewed or set()):
                        continue
                    expected = ALLOWED_LOCALS.get(local)
                    value = assigned.get(part)
                    if (
                        expected is not None
                        and value is not None
                        and ast.unparse(value) == ast.unparse(ast.parse(expected, mode="eval").body)
                    ):
                        continue
                    problems.append(f"{function.name}:{call.lineno}: {part}")
    return problems


def unsafe_parts(node: ast.expr, constants: set[str]) -> list[str]:
    """The pieces of an SQL expression that are not constant text: names to review, or a
    description of a construct that is never allowed (%, .format, calls)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return []
    if isinstance(node, ast.Name):
        return [] if node.id in constants else [node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return unsafe_parts(node.left, constants) + unsafe_parts(node.right, constants)
    if isinstance(node, ast.JoinedStr):
        found: list[str] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = value.value
                is_int = (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id == "int"
                )
                if not is_int:  # int(...) cannot carry SQL
                    found += unsafe_parts(inner, constants)
        return found
    return [f"<{ast.unparse(node)}>"]


def test_sql_is_built_from_constants_and_placeholders_only() -> None:
    for module in SQL_MODULES:
        reviewed = REVIEWED.get(module.relative_to(STORE_DIR).as_posix())
        problems = sql_problems(module.read_text(encoding="utf-8"), reviewed)
        assert problems == [], f"{module.name}: SQL built from non-constant values: {problems}"


def test_the_sql_check_catches_interpolation() -> None:
    bad = """
def f(db, name, n):
    db.execute(f"SELECT * FROM t WHERE name = '{name}'")
    db.execute("SELECT * FROM t WHERE name = '%s'" % name)
    db.execute("SELECT * FROM t WHERE name = '{}'".format(name))
    sql = "DELETE FROM t WHERE id = " + name
    db.execute(sql)
    db.execute(TABLE + " WHERE x = ?", [name])
    db.execute(f"PRAGMA busy_timeout = {int(n)}")
"""
    # S608: deliberately unsafe SQL, parsed by the checker and never executed.
    problems = sql_problems("TABLE = 'SELECT * FROM t'\n" + bad)  # noqa: S608
    assert len(problems) == 4, problems
    assert any("name" in p for p in problems)
    assert any("sql" in p for p in problems)


def test_the_sql_check_reads_every_store_module_and_the_sqlite_utils_calls() -> None:
    names = {module.name for module in SQL_MODULES}
    assert {"connection.py", "schema.py", "write_log.py", "migrations.py"} <= names
    assert STORE_DIR / "postgres" / "write_log.py" in SQL_MODULES, "the PostgreSQL store too"
    bad = """
def g(db, conns, name, key):
    db.table(name).rows_where("x = ?", [key])
    db.table("t").rows_where(f"name = '{name}'")
    conns.rows("t", "x = ?", [key], order_by=name)
    conns.one("t", "name = " + name, [])
    conns.insert_row(name, {"x": key})
"""
    problems = sql_problems(bad)
    assert len(problems) == 5, problems
