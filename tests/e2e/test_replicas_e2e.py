"""Several replicas, end to end: real ``switchover serve`` processes on one real PostgreSQL,
on the real MiniLM model.

A write acknowledged by one replica is read back through another with its token
(``X-Read-After-Seq``); a migration walked through one replica is followed by the others,
and a rollback sent to one routes every keyed read of another back to the source; one
replica leads, and when it is SIGKILLed another takes the leader lock and runs the
backfill a follower was asked for; the killed one comes back as a follower with every
acknowledged write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from stress.crashloop import FAISS_LAYOUTS, PG_LAYOUTS, TOML, Harness
from tests.pgserver import PgServer
from tests.server import ServerProcess, operator_header

pytestmark = pytest.mark.slow

TOKEN = "replica-e2e-token"  # noqa: S105 - a throwaway token for throwaway servers
AUTH = operator_header(TOKEN)


def replica(tmp_path: Path, name: str, url: str, embedder: str = "minilm") -> ServerProcess:
    home = tmp_path / name
    home.mkdir()
    (home / "switchover.toml").write_text(TOML[embedder], encoding="utf-8")
    return ServerProcess(home, token=TOKEN, database_url=url)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def health(server: ServerProcess) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{server.url}/healthz", timeout=10).json()
    return found


def move(server: ServerProcess, action: str, **body: Any) -> dict[str, Any]:
    url = f"{server.url}/v1/migrations/1/{action}"
    response = httpx.post(url, json=body or None, headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def phase(server: ServerProcess) -> str:
    found = httpx.get(f"{server.url}/v1/migrations/current", headers=AUTH, timeout=10)
    return str(found.json()["phase"])


def served_by(server: ServerProcess, key: str) -> str:
    body = {"query": "a note about the tide", "k": 3}
    headers = {"X-Routing-Key": key}
    found = httpx.post(f"{server.url}/v1/search", json=body, headers=headers, timeout=30)
    return str(found.json()["served_by"])


@pytest.fixture
def database(pg_server: PgServer) -> Iterator[str]:
    with pg_server.database() as url:
        yield url


def test_three_replicas_share_writes_state_and_one_leader(tmp_path: Path, database: str) -> None:
    a, b, c = (replica(tmp_path, name, database) for name in "abc")
    try:
        a.start()
        wait_until(lambda: health(a)["leading"], "a to lead")
        b.start()
        c.start()
        written = {f"n{i}": f"note {i}: the tide turns at the {i}th lamp" for i in range(40)}
        docs = [{"id": i, "text": t} for i, t in written.items()]
        ack = httpx.put(f"{a.url}/v1/documents", json={"documents": docs}, timeout=120).json()
        # read your writes on another replica, at once, with the write's token
        token = {"X-Read-After-Seq": str(ack["seq"])}
        for doc_id in ("n7", "n39"):
            body = {"query": written[doc_id], "k": 1}
            hit = httpx.post(f"{b.url}/v1/search", json=body, headers=token, timeout=30).json()
            assert hit["hits"][0]["id"] == doc_id
        ahead = {"X-Read-After-Seq": str(ack["seq"] + 1000)}
        late = httpx.post(f"{c.url}/v1/search", json={"query": "tide"}, headers=ahead, timeout=30)
        assert late.status_code == 409, late.text  # no such write in the shared log
        assert [health(s)["leading"] for s in (a, b, c)] == [True, False, False]

        target = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
        created = httpx.post(f"{b.url}/v1/migrations", json=target, headers=AUTH, timeout=60)
        assert created.status_code == 201, created.text
        a.kill()  # the leader dies before anyone starts the backfill
        move(b, "backfill")  # a follower is asked: whoever leads next runs it
        took = wait_until(lambda: health(b)["leading"] or health(c)["leading"], "a new leader")
        leader = b if health(b)["leading"] else c
        wait_until(lambda: current_backfill(leader)["finished"], "the backfill, taken over")
        assert [health(s)["leading"] for s in (b, c)].count(True) == 1, took

        move(c, "shadow")
        move(c, "canary", percent=50, override=True)
        keys = [f"user-{i}" for i in range(40)]
        wait_until(lambda: "v2" in {served_by(b, k) for k in keys}, "b routing keys to v2")
        move(c, "rollback", reason="drill")
        wait_until(lambda: all(served_by(b, k) == "v1" for k in keys), "b back on v1", 5)
        assert phase(b) == "rolled_back"

        a.start()  # back as a follower, with every acknowledged write
        assert not health(a)["leading"]
        assert phase(a) == "rolled_back"
        counts = {i["name"]: i["count"] for i in indexes(a)}
        wait_until(lambda: counts_of(a) == {"v1": 40, "v2": 40}, f"a's indexes {counts}")
    finally:
        for server in (a, b, c):
            server.kill()


def current_backfill(server: ServerProcess) -> dict[str, Any]:
    found = httpx.get(f"{server.url}/v1/migrations/current", headers=AUTH, timeout=10)
    return dict(found.json()["backfill"])


def indexes(server: ServerProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/v1/indexes", timeout=10).json()["indexes"])


def counts_of(server: ServerProcess) -> dict[str, int]:
    return {i["name"]: i["count"] for i in indexes(server)}


def test_the_crash_loop_with_three_replicas_keeps_every_invariant_on_each(
    tmp_path: Path, database: str
) -> None:
    """The short form of ``make crashloop-replicas``: a random replica (the leader too)
    SIGKILLed mid-walk, every invariant checked on every replica after each restart. Its
    operator migrates FAISS ``Flat`` -> pgvector HNSW first (the full run's third layout)."""
    harness = Harness(
        tmp_path, seed=11, embedder="hash", id_space=60, initial=30, database_url=database,
        replicas=3, layouts=(FAISS_LAYOUTS[0], PG_LAYOUTS[-1]),
    )  # fmt: skip
    result = harness.run(kills=3)
    assert (result["restarts"], result["replicas"]) == (3, 3)
    assert result["migrations_walked"][0]["to"] == "pgvector hnsw", result["migrations_walked"]
    for kill in result["rounds"]:
        failed = {n: c["detail"] for n, c in kill["checks"].items() if not c["ok"]}
        assert not failed, f"kill {kill['kill']} (seed {kill['kill_seed']}): {failed}"
        assert not kill["client_errors"], kill["client_errors"]
        assert {f"r{n}:documents" for n in (1, 2, 3)} <= set(kill["checks"])
        assert kill["checks"]["one_leader"]["ok"]


def test_a_replica_older_than_the_database_refuses_to_start(tmp_path: Path, database: str) -> None:
    first = replica(tmp_path, "a", database, embedder="hash")
    first.start()
    first.stop()
    with psycopg.connect(database, autocommit=True) as conn:  # a newer switchover upgraded it
        conn.execute("INSERT INTO schema_versions VALUES (999, 'from_the_future', 0)")
    stale = replica(tmp_path, "b", database, embedder="hash")
    with pytest.raises(RuntimeError, match="server exited early"):
        stale.start(timeout=120)
    assert stale.proc is not None
    assert stale.proc.wait(timeout=30) != 0
    assert "written by a newer switchover" in stale.log_path.read_text()
