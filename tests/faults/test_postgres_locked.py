"""The write log on PostgreSQL held by another session (a long transaction, another process).

Held for less than the busy timeout, a write waits for it and succeeds. Held longer, the
write gets a clear 503 with Retry-After and changes nothing: no log record, no document,
no index entry. Reads do not wait for it. Once it is released the same write succeeds.
Real PostgreSQL (``tests/pgserver.py``), the real HTTP app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import create_app
from migrator.store.postgres.write_log import LOG_LOCK
from tests.conftest import hash_settings
from tests.faults.faults import put_body

BUSY_TIMEOUT_S = 0.5


@pytest.fixture
def api(tmp_path: Path, pg_url: str) -> Iterator[TestClient]:
    settings = hash_settings(
        tmp_path / "home", database_url=pg_url, db_busy_timeout_s=BUSY_TIMEOUT_S
    )
    with TestClient(create_app(settings)) as http:
        assert http.put("/v1/documents", json=put_body(range(20))).status_code == 200
        yield http


def hold_the_log(url: str) -> psycopg.Connection[object]:
    holder: psycopg.Connection[object] = psycopg.connect(url)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOG_LOCK])
    return holder


def test_a_write_behind_a_longer_lock_gets_a_503_and_changes_nothing(
    api: TestClient, pg_url: str
) -> None:
    before = api.get("/healthz").json()
    holder = hold_the_log(pg_url)
    try:
        started = time.monotonic()
        refused = api.put("/v1/documents", json=put_body(range(100, 103)))
        waited = time.monotonic() - started
        refused_delete = api.delete("/v1/documents/d0001")
        hits = api.post("/v1/search", json={"query": "anything", "k": 3})
    finally:
        holder.rollback()
        holder.close()
    for response in (refused, refused_delete):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"]["type"] == "storage_unavailable"
        assert "database is locked" in response.json()["error"]["message"]
    assert BUSY_TIMEOUT_S * 0.8 < waited < BUSY_TIMEOUT_S + 2.0
    assert hits.status_code == 200, "reads are served while the log is locked"
    assert api.get("/healthz").json()["documents"] == before["documents"]
    assert api.get("/v1/documents/d0100").status_code == 404
    again = api.put("/v1/documents", json=put_body(range(100, 103)))
    assert again.status_code == 200, "once released, the same write succeeds"
    assert api.get("/healthz").json()["documents"] == before["documents"] + 3


def test_a_write_behind_a_shorter_lock_waits_and_succeeds(api: TestClient, pg_url: str) -> None:
    holder = hold_the_log(pg_url)
    release = threading.Timer(BUSY_TIMEOUT_S / 3, holder.rollback)
    release.start()
    try:
        answer = api.put("/v1/documents", json=put_body(range(200, 202)))
    finally:
        release.join()
        holder.close()
    assert answer.status_code == 200, answer.text
    assert api.get("/v1/documents/d0200").status_code == 200
