"""PostgreSQL restarted under load, with two replicas on it (real processes, real server).

While it is down, every write gets a 503 with Retry-After (a write whose commit was in
flight may have landed: the client cannot know, and either outcome is allowed); nothing
acknowledged is lost; once it is back both replicas take writes again by themselves,
without a restart, and each serves every acknowledged document from its index.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from stress.crashloop import TOML
from tests.pgserver import PgServer, running_server
from tests.server import ServerProcess

pytestmark = pytest.mark.slow


class Writer(threading.Thread):
    """Single-document upserts through one replica until stopped, each outcome kept."""

    def __init__(self, server: ServerProcess, prefix: str) -> None:
        super().__init__(daemon=True)
        self.server, self.prefix = server, prefix
        self.stop = threading.Event()
        self.acked: dict[str, str] = {}
        self.acked_at: list[float] = []
        self.refused: list[tuple[int, str | None]] = []  # (status, Retry-After)
        self.unexpected: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.server.url, timeout=60) as http:
            n = 0
            while not self.stop.is_set():
                n += 1
                doc = {"id": f"{self.prefix}{n}", "text": f"{self.prefix} note {n} tide lamp"}
                try:
                    response = http.put("/v1/documents", json={"documents": [doc]})
                except httpx.HTTPError as exc:
                    self.unexpected.append(f"{doc['id']}: {exc!r}")
                    continue
                if response.status_code == 200:
                    self.acked[doc["id"]] = doc["text"]
                    self.acked_at.append(time.monotonic())
                elif response.status_code == 503:
                    self.refused.append((503, response.headers.get("Retry-After")))
                    time.sleep(0.2)
                else:
                    self.unexpected.append(f"{doc['id']}: {response.status_code} {response.text}")
                time.sleep(0.02)


def restart(pg: PgServer, down_s: float) -> tuple[float, float]:
    """Stop PostgreSQL (fast shutdown: sessions cut), wait, start it; (stopped, started)."""
    import pgserver._commands  # noqa: PLC0415 - the wheel's own pg_ctl

    # pgserver._commands makes one function per binary at import (setattr on the module), so
    # no stub names them; pg_ctl is one of those: (args, pgdata=..., **subprocess kwargs) -> stdout
    pg_ctl: Callable[..., str] = vars(pgserver._commands)["pg_ctl"]
    server = pg._server
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    stopped = time.monotonic()
    time.sleep(down_s)
    server.ensure_postgres_running()
    return stopped, time.monotonic()


def test_postgresql_restarted_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    with running_server() as pg, pg.database() as url:
        replicas = []
        for name in ("a", "b"):
            home = tmp_path / name
            home.mkdir()
            (home / "switchover.toml").write_text(
                TOML["hash"] + "[server]\ndb_busy_timeout_seconds = 2\n", encoding="utf-8"
            )
            replicas.append(ServerProcess(home, database_url=url).start())
        writers = [Writer(server, prefix) for server, prefix in zip(replicas, "ab", strict=True)]
        try:
            for writer in writers:
                writer.start()
            time.sleep(2)
            stopped, started = restart(pg, down_s=4)
            assert pg.url("x").split("?")[1] == url.split("?")[1], "back on the same socket"
            time.sleep(6)
            for writer in writers:
                writer.stop.set()
                writer.join(timeout=60)
            for writer in writers:
                assert not writer.unexpected, writer.unexpected
                assert writer.refused, "no write was refused while PostgreSQL was down"
                assert {r for _, r in writer.refused} == {"1"}, writer.refused
                resumed = [t for t in writer.acked_at if t > started]
                assert resumed, "no write was acknowledged after PostgreSQL came back"
                assert not [t for t in writer.acked_at if stopped + 0.5 < t < started]
            acked = {**writers[0].acked, **writers[1].acked}
            for server in replicas:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    for doc_id, text in acked.items():
                        got = http.get(f"/v1/documents/{doc_id}")
                        assert (got.status_code, got.json().get("text")) == (200, text)
                    wait_for_counts(http, minimum=len(acked))
        finally:
            for server in replicas:
                server.kill()


def wait_for_counts(http: httpx.Client, minimum: int) -> None:
    """The replica's index holds every logged document (acked ones, and maybe a 503'd one)."""
    deadline = time.monotonic() + 30
    while True:
        health = http.get("/healthz").json()
        if health["applied_seq"] == health["last_seq"] and health["documents"] >= minimum:
            count = http.get("/v1/indexes").json()["indexes"][0]["count"]
            assert count == health["documents"]
            return
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
