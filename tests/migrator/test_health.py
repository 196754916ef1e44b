"""``/healthz`` tells the truth about writes: ``degraded`` with reasons while they fail.

A home whose database refuses writes (read-only, disk full, I/O errors) still serves
every read, so the status stays HTTP 200 (a load balancer keeps sending reads) but says
``"degraded"`` and why, from the last write's outcome and cheap checks of the files and
the filesystem. A successful write clears it. A database locked by another process is a
transient wait (writes get a 503 with Retry-After), not a degraded home.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from migrator.health import storage_reasons
from migrator.store import SqliteStore
from tests.api.conftest import service_of

DOC = {"documents": [{"id": "a", "text": "lighthouses rotate their lamps"}]}


def make_database_read_only(client: TestClient, on: bool) -> None:
    """The fault: SQLite refuses every write on the service's own connection, as it does on
    a read-only database (tests run as root, where a read-only file mode stops no write)."""
    store = service_of(client).store
    assert isinstance(store, SqliteStore)
    store.refuse_writes(on)


def test_a_home_that_refuses_writes_is_degraded_while_reads_work(client: TestClient) -> None:
    assert client.put("/v1/documents", json=DOC).status_code == 200
    healthy = client.get("/healthz").json()
    assert (healthy["status"], healthy["reasons"]) == ("ok", [])

    make_database_read_only(client, True)
    refused = client.put("/v1/documents", json={"documents": [{"id": "b", "text": "new"}]})
    assert refused.status_code == 503
    health = client.get("/healthz")
    assert health.status_code == 200, "reads still work: keep receiving them"
    body = health.json()
    assert body["status"] == "degraded"
    assert len(body["reasons"]) == 1
    assert "writes are failing" in body["reasons"][0]
    assert "readonly database" in body["reasons"][0]
    assert client.post("/v1/search", json={"query": "lamps", "k": 1}).json()["hits"][0]["id"] == "a"
    assert client.delete("/v1/documents/a").status_code == 503
    assert client.get("/healthz").json()["status"] == "degraded"

    make_database_read_only(client, False)
    assert client.put("/v1/documents", json=DOC).status_code == 200
    assert client.get("/healthz").json() == {**healthy, "last_seq": 2, "applied_seq": 2}


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        ({}, []),
        ({"last_write_error": "disk I/O error"}, ["writes are failing: disk I/O error"]),
        ({"db_writable": False}, ["the database file or its folder is not writable"]),
        ({"read_only_filesystem": True}, ["the home's filesystem is mounted read-only"]),
        ({"free_bytes": 0}, ["the home's filesystem has no free space"]),
        (
            {"free_bytes": 0, "last_write_error": "database or disk is full"},
            [
                "writes are failing: database or disk is full",
                "the home's filesystem has no free space",
            ],
        ),
    ],
)
def test_each_storage_problem_is_a_reason(observed: dict[str, object], expected: list[str]) -> None:
    facts: dict[str, object] = {
        "last_write_error": None,
        "db_writable": True,
        "read_only_filesystem": False,
        "free_bytes": 10**9,
    }
    assert storage_reasons(**{**facts, **observed}) == expected  # type: ignore[arg-type]
