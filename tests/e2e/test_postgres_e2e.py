"""switchover on PostgreSQL, end to end: a real ``switchover serve --database postgresql://...``
process on a real PostgreSQL (``tests/pgserver.py``).

It ingests, walks a whole layout migration (``Flat`` -> ``HNSW32,Flat``: backfill, shadow,
canary, cutover, finalize) while a writer streams upserts, updates and deletes, and is
SIGKILLed twice (mid-canary with writes in flight, and after the finalize). After each
restart every acknowledged write is there with its newest text, in the database and in
every live index; a write in flight at the kill landed or not, never half. The crash loop
(``stress/crashloop.py``) runs on PostgreSQL too, with every invariant after each kill.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli.demo import distinct_note
from stress.crashloop import TOML, Harness
from tests.server import ServerProcess, operator_header

pytestmark = pytest.mark.slow

TOKEN = "pg-e2e-token"  # noqa: S105 - a throwaway token for a throwaway server
AUTH = operator_header(TOKEN)


class Model:
    """What the client was told: each id's acknowledged text (None: deleted), and the
    outcomes a write in flight at a kill may have had."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, str | None] = {}
        self.maybe: dict[str, set[str | None]] = {}

    def live(self) -> dict[str, str]:
        with self.lock:
            return {i: t for i, t in self.acked.items() if t is not None}

    def check_and_adopt(self, http: httpx.Client) -> int:
        """Every id reads back as acknowledged (or as a possible in-flight outcome);
        the server's state becomes the model. Returns the live documents."""
        for doc_id in sorted(set(self.acked) | set(self.maybe)):
            allowed = {self.acked.get(doc_id)} | self.maybe.get(doc_id, set())
            response = http.get(f"/v1/documents/{doc_id}")
            actual = response.json()["text"] if response.status_code == 200 else None
            assert response.status_code in (200, 404), response.text
            assert actual in allowed, f"{doc_id}: {actual!r} is none of {allowed!r}"
            self.acked[doc_id] = actual
        self.maybe.clear()
        return len(self.live())


class Writer(threading.Thread):
    """New documents, updates of live ones and deletes, one request at a time, until
    stopped or until a request fails (the server was killed): that one is a "maybe"."""

    def __init__(self, url: str, model: Model, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.model, self.rng = url, model, random.Random(seed)
        self.stop = threading.Event()
        self.acked = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                doc_id, text = self._next()
                try:
                    ok = self._send(http, doc_id, text)
                except httpx.HTTPError as exc:  # killed mid-request: either outcome
                    with self.model.lock:
                        self.model.maybe.setdefault(doc_id, set()).add(text)
                    self.failures.append(type(exc).__name__)
                    return
                if not ok:
                    return
                time.sleep(0.01)

    def _next(self) -> tuple[str, str | None]:
        live = sorted(self.model.live())
        roll = self.rng.random()
        if live and roll < 0.15:
            return self.rng.choice(live), None
        if live and roll < 0.35:
            return self.rng.choice(live), distinct_note(self.rng, self.rng.randrange(10**9))
        return f"w{self.rng.randrange(10**9)}", distinct_note(self.rng, self.rng.randrange(10**9))

    def _send(self, http: httpx.Client, doc_id: str, text: str | None) -> bool:
        if text is None:
            response = http.delete(f"/v1/documents/{doc_id}")
        else:
            body = {"documents": [{"id": doc_id, "text": text}]}
            response = http.put("/v1/documents", json=body)
        if response.status_code != 200:
            self.failures.append(f"{response.status_code}: {response.text[:200]}")
            return False
        with self.model.lock:
            self.model.acked[doc_id] = text
        self.acked += 1
        return True


def move(http: httpx.Client, action: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/v1/migrations/1/{action}", json=body or None, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def current(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/v1/migrations/current", headers=AUTH)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def wait_until(check: Any, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def assert_indexes_hold(http: httpx.Client, live: dict[str, str], names: tuple[str, ...]) -> None:
    """Each live index holds exactly the live documents, each found by its newest text."""

    def counts() -> dict[str, int]:
        found = http.get("/v1/indexes").json()["indexes"]
        return {i["name"]: i["count"] for i in found if i["name"] in names}

    wait_until(lambda: counts() == dict.fromkeys(names, len(live)), f"index counts {counts()}")
    assert http.get("/healthz").json()["documents"] == len(live)
    for doc_id, text in live.items():
        for name in names:
            hits = http.post(f"/v1/indexes/{name}/search", json={"query": text, "k": 3}).json()
            assert doc_id in [h["id"] for h in hits["hits"]], (name, doc_id)


def run_migration_with_kills(tmp_path: Path, pg_url: str, embedder: str, initial: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(TOML[embedder], encoding="utf-8")
    server = ServerProcess(home, token=TOKEN, database_url=pg_url)
    model = Model()
    rng = random.Random(21)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as http:
            docs = [{"id": f"d{i}", "text": distinct_note(rng, i)} for i in range(initial)]
            for start in range(0, initial, 50):
                batch = docs[start : start + 50]
                http.put("/v1/documents", json={"documents": batch}).raise_for_status()
            model.acked.update({d["id"]: d["text"] for d in docs})
            writer = Writer(server.url, model, seed=1)
            writer.start()
            target = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
            created = http.post("/v1/migrations", json=target, headers=AUTH)
            assert created.status_code == 201, created.text
            move(http, "backfill")
            wait_until(lambda: current(http)["backfill"]["finished"], "the backfill")
            move(http, "shadow")
            move(http, "canary", percent=50, override=True)
            wait_until(lambda: writer.acked >= 40, "writes during the canary")
        server.kill()  # mid-canary, a write in flight or about to be
        writer.join(timeout=60)
        assert not [f for f in writer.failures if f[:1].isdigit()], writer.failures

        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as http:
            status = current(http)
            assert (status["phase"], status["target_share"]) == ("canary", 50)
            model.check_and_adopt(http)
            assert_indexes_hold(http, model.live(), ("v1", "v2"))
            writer = Writer(server.url, model, seed=2)
            writer.start()
            move(http, "cutover", override=True)
            wait_until(lambda: writer.acked >= 20, "writes through the cutover")
            writer.stop.set()
            writer.join(timeout=60)
            assert not writer.failures, writer.failures
            assert move(http, "finalize")["phase"] == "finalized"
        server.kill()

        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as http:
            roles = {i["name"]: i["role"] for i in http.get("/v1/indexes").json()["indexes"]}
            assert roles == {"v1": "retired", "v2": "primary"}
            model.check_and_adopt(http)
            assert_indexes_hold(http, model.live(), ("v2",))
            hit = http.post("/v1/search", json={"query": docs[0]["text"], "k": 1}).json()
            assert hit["served_by"] == "v2"
            events = http.get("/v1/migrations/1/events", headers=AUTH).json()["events"]
            phases = [e["to_phase"] for e in events]
            assert phases == ["planned", "backfilling", "shadow", "canary", "cutover", "finalized"]
        assert not (home / "switchover.db").exists(), "the store was PostgreSQL only"
    finally:
        server.kill()


def test_a_layout_migration_on_postgresql_survives_sigkills_with_no_acknowledged_write_lost(
    tmp_path: Path, pg_url: str
) -> None:
    run_migration_with_kills(tmp_path, pg_url, "hash", initial=200)


def test_the_same_on_the_real_minilm_model(tmp_path: Path, pg_url: str) -> None:
    run_migration_with_kills(tmp_path, pg_url, "minilm", initial=120)


def test_the_crash_loop_on_postgresql_keeps_every_invariant(tmp_path: Path, pg_url: str) -> None:
    harness = Harness(
        tmp_path, seed=5, embedder="hash", id_space=100, initial=60, database_url=pg_url
    )
    result = harness.run(kills=3)
    assert result["restarts"] == 3
    assert result["store"] == "postgresql"
    for kill in result["rounds"]:
        failed = {n: c["detail"] for n, c in kill["checks"].items() if not c["ok"]}
        assert not failed, f"kill {kill['kill']} (seed {kill['kill_seed']}): {failed}"
        assert not kill["client_errors"], kill["client_errors"]
    assert result["migrations_created"] >= 1
