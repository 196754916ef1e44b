"""The database is locked by another process (a backup tool, a stray sqlite3 shell).

Held for less than the busy timeout, writes wait for it and succeed. Held longer, a
write gets a clear 503 with Retry-After and changes nothing: no log record, no
document, no index entry. Reads never wait for it (WAL). Once the lock is gone the
same writes succeed and every index converges.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import httpx
import pytest
from fastapi.testclient import TestClient

from api import create_app
from migrator import Settings, Switchover
from tests.faults.faults import AUTH, assert_converged, put_body, text_of
from tests.server import ServerProcess

BUSY_TIMEOUT_S = 0.5

_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
"""


class LockedByAnotherProcess:
    """A child process holding the database's write lock until ``release()``."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> LockedByAnotherProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(self.db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"
        return self

    def release(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        proc.wait(timeout=10)

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def locked_settings(fault_settings: Settings) -> Settings:
    return replace(fault_settings, db_busy_timeout_s=BUSY_TIMEOUT_S)


@pytest.fixture
def api(locked_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(locked_settings)) as http:
        assert http.put("/v1/documents", json=put_body(range(30))).status_code == 200
        yield http


def svc_of(client: TestClient) -> Switchover:
    svc = client.app.state.service  # type: ignore[attr-defined]
    assert isinstance(svc, Switchover)
    return svc


def reads_are_served(client: TestClient) -> float:
    """A GET and a search answered correctly; returns the slower one's seconds."""
    started = time.perf_counter()
    assert client.get("/v1/documents/d0007").json()["text"] == text_of(7)
    hits = client.post("/v1/search", json={"query": text_of(12), "k": 1}).json()["hits"]
    assert hits[0]["id"] == "d0012"
    return time.perf_counter() - started


def test_a_lock_shorter_than_the_busy_timeout_delays_writes_which_then_succeed(
    api: TestClient, locked_settings: Settings
) -> None:
    with LockedByAnotherProcess(locked_settings.db_path) as lock:
        assert reads_are_served(api) < BUSY_TIMEOUT_S / 2, "reads never wait for the lock"
        timer = lock.release_after(BUSY_TIMEOUT_S / 3)
        started = time.perf_counter()
        response = api.put("/v1/documents", json=put_body(range(30, 40)))
        waited = time.perf_counter() - started
        timer.join()
    assert response.status_code == 200, response.text
    assert BUSY_TIMEOUT_S / 4 < waited < BUSY_TIMEOUT_S * 2
    with LockedByAnotherProcess(locked_settings.db_path) as lock:
        timer = lock.release_after(BUSY_TIMEOUT_S / 3)
        assert api.delete("/v1/documents/d0001").status_code == 200  # a read-then-write too
        timer.join()
    assert api.get("/v1/documents/d0001").status_code == 404
    assert api.get("/v1/documents/d0035").json()["text"] == text_of(35)
    assert_converged(svc_of(api), names=("v1",))


def test_a_lock_held_past_the_busy_timeout_is_a_clean_503_and_changes_nothing(
    api: TestClient, locked_settings: Settings
) -> None:
    before = api.get("/healthz").json()
    new = put_body(range(100, 105))
    with LockedByAnotherProcess(locked_settings.db_path):
        started = time.perf_counter()
        refused = api.put("/v1/documents", json=new)
        waited = time.perf_counter() - started
        refused_delete = api.delete("/v1/documents/d0002")
        refused_update = api.put("/v1/documents", json=put_body(range(3, 6), version=1))
        assert reads_are_served(api) < BUSY_TIMEOUT_S / 2
        snapshot = api.post("/v1/indexes/v1/snapshot", headers=AUTH)  # no database write
    for response in (refused, refused_delete, refused_update):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"]["type"] == "storage_unavailable"
        assert "database is locked" in response.json()["error"]["message"]
    assert BUSY_TIMEOUT_S * 0.8 < waited < BUSY_TIMEOUT_S * 4, "it waited the busy timeout"
    assert snapshot.status_code == 200
    # nothing changed: no log record, no document, no index entry, the old text stays
    assert api.get("/healthz").json() == before
    assert api.get("/v1/documents/d0100").status_code == 404
    assert api.get("/v1/documents/d0003").json()["text"] == text_of(3)
    assert "d0100" not in svc_of(api).runtime("v1").index

    # the lock is gone: the client's retries succeed
    assert api.put("/v1/documents", json=new).status_code == 200
    assert api.delete("/v1/documents/d0002").status_code == 200
    assert api.put("/v1/documents", json=put_body(range(3, 6), version=1)).status_code == 200
    assert api.get("/healthz").json()["documents"] == 30 + 5 - 1
    assert_converged(svc_of(api), names=("v1",))


@pytest.mark.slow
def test_a_locked_database_on_the_real_server_and_model(tmp_path: Path) -> None:
    """Process level: MiniLM, `switchover serve`, the lock held from this test's process."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text("[server]\ndb_busy_timeout_seconds = 1.0\n")
    with ServerProcess(home) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        docs = put_body(range(20))
        assert http.put("/v1/documents", json=docs).status_code == 200
        holder = sqlite3.connect(home / "switchover.db", isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            refused = http.put("/v1/documents", json=put_body(range(20, 25)))
            hits = http.post("/v1/search", json={"query": text_of(4), "k": 1}).json()["hits"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert hits[0]["id"] == "d0004", "reads are served while the database is locked"
        assert http.get("/healthz").json()["documents"] == 20

        assert http.put("/v1/documents", json=put_body(range(20, 25))).status_code == 200
        server.kill()  # and a crash right after loses nothing
        server.start()
        assert http.get("/healthz").json()["documents"] == 25
        hits = http.post("/v1/search", json={"query": text_of(22), "k": 1}).json()["hits"]
        assert hits[0]["id"] == "d0022"
        (index,) = http.get("/v1/indexes").json()["indexes"]
        assert index["lag_records"] == 0
