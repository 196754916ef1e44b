"""Structured logs: one JSON object per line, each tied to its request by a request id."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.logs import (
    JsonFormatter,
    RequestContextFilter,
    configure_json_logging,
    request_id_from,
)
from indexes.errors import InvalidInputError
from tests.conftest import OPERATOR

GENERATED = re.compile(r"[0-9a-f]{32}")


class JsonLines(logging.Handler):
    """Keeps what the JSON formatter writes, parsed back, one dict per line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestContextFilter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        assert "\n" not in line
        self.lines.append(json.loads(line))

    def by(self, logger: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["logger"] == logger]


@pytest.fixture
def lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture(autouse=True)
def _one_document(client: TestClient) -> None:
    assert (
        client.put(
            "/v1/documents", json={"documents": [{"id": "a", "text": "lamp keeper"}]}
        ).status_code
        == 200
    )


def test_the_formatter_writes_one_json_object_with_extras_and_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("api.test", logging.ERROR, __file__, 1, "n=%d", (3,), None)
        record.exc_info = sys.exc_info()
    record.request_id = "req-1"
    record.payload = {"when": object()}  # not JSON: written as its str()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "api.test"
    assert entry["message"] == "n=3"
    assert entry["request_id"] == "req-1"
    assert entry["ts"].endswith("+00:00")
    assert "ValueError: boom" in entry["exc_info"]
    assert entry["payload"]["when"].startswith("<object object at")
    assert "args" not in entry
    assert "msg" not in entry


def test_a_request_logs_one_access_line_with_its_context(
    client: TestClient, lines: JsonLines
) -> None:
    began = time.perf_counter()
    response = client.post("/v1/search", json={"query": "lamp"}, headers={"X-Request-Id": "t-42"})
    elapsed_ms = (time.perf_counter() - began) * 1000
    assert response.headers["x-request-id"] == "t-42"
    (access,) = [line for line in lines.by("api.access") if line["request_id"] == "t-42"]
    assert access["level"] == "INFO"
    assert access["method"] == "POST"
    assert access["route"] == "/v1/search"
    assert access["status"] == 200
    assert access["served_by"] == "v1"
    assert access["migration_id"] is None
    assert 0 < access["duration_ms"] <= elapsed_ms, "the server's own time, within the client's"


def test_log_lines_inside_a_request_carry_its_id_and_migration(
    client: TestClient, lines: JsonLines
) -> None:
    target = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
    created = client.post(
        "/v1/migrations", json=target, headers={**OPERATOR, "X-Request-Id": "create-1"}
    )
    mid = created.json()["id"]
    (created_line,) = [
        line for line in lines.by("migrator.targets") if "created" in line["message"]
    ]
    assert created_line["request_id"] == "create-1"  # logged in the endpoint's worker thread
    (access,) = [line for line in lines.by("api.access") if line["request_id"] == "create-1"]
    assert access["migration_id"] == mid
    client.get("/healthz", headers={"X-Request-Id": "after"})
    (health,) = [line for line in lines.by("api.access") if line["request_id"] == "after"]
    assert health["migration_id"] == mid


@pytest.mark.parametrize(
    "incoming",
    ["has spaces in it", "x" * 500, "x" * 65, "semi;colon", "-leading-dash", 'quote"d', ""],
)
def test_a_hostile_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": incoming})
    echoed = response.headers["x-request-id"]
    assert echoed != incoming
    assert GENERATED.fullmatch(echoed)


def test_a_sane_request_id_is_echoed_and_a_missing_one_is_made(client: TestClient) -> None:
    for incoming in ("abc", "0b7c6c4e-8f8e-4c61-a1c5-4f1f3b2f0a9e", "x" * 64, "svc.a:1_b"):
        response = client.get("/healthz", headers={"X-Request-Id": incoming})
        assert response.headers["x-request-id"] == incoming
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert GENERATED.fullmatch(first)
    assert first != second


def test_errors_and_unknown_routes_get_a_request_id_too(client: TestClient) -> None:
    assert "x-request-id" in client.get("/v1/documents/missing").headers
    assert "x-request-id" in client.get("/no/such/route").headers
    assert client.post("/v1/search", json={"query": ""}).headers["x-request-id"]


def test_request_ids_come_from_the_caller_only_when_sane() -> None:
    assert request_id_from("ok-1") == "ok-1"
    assert GENERATED.fullmatch(request_id_from(None))
    assert GENERATED.fullmatch(request_id_from("new\nline"))


def test_configure_json_logging_installs_one_handler_and_refuses_unknown_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_json_logging("debug")
        configure_json_logging("INFO")  # a second call replaces, never doubles
        added = [h for h in root.handlers if h not in handlers]
        assert len(added) == 1
        assert root.level == logging.INFO
        logging.getLogger("api.test").info("hello %s", "there", extra={"k": 5})
        written = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [(w["message"], w["k"]) for w in written] == [("hello there", 5)]
        with pytest.raises(InvalidInputError, match="unknown log level"):
            configure_json_logging("LOUD")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
