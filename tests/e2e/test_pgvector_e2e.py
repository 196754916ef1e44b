"""FAISS ``Flat`` -> pgvector HNSW -> FAISS ``Flat`` on a real ``switchover serve``.

The store stays SQLite in the home; the pgvector version lives in a real PostgreSQL
(``tests/pgserver.py``) named by ``SWITCHOVER_PGVECTOR_URL``. A writer streams upserts,
updates and deletes all along; the server is SIGKILLed mid-canary with writes in flight.
After the restart the pgvector target comes back from its own table (nothing replayed
twice, nothing missed): every acknowledged write is in both indexes, found by its newest
text. Then the way back to FAISS, finalized, with the same checks.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli.demo import distinct_note
from stress.crashloop import TOML
from tests.e2e.test_postgres_e2e import AUTH, TOKEN, Model, Writer, assert_indexes_hold, wait_until
from tests.server import ServerProcess

pytestmark = pytest.mark.slow


def act(http: httpx.Client, mid: int, action: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/v1/migrations/{mid}/{action}", json=body or None, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def create(http: httpx.Client, target: dict[str, Any]) -> int:
    created = http.post("/v1/migrations", json={"target": target}, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def backfilled(http: httpx.Client, mid: int) -> None:
    act(http, mid, "backfill")

    def status() -> dict[str, Any]:
        current: dict[str, Any] = http.get("/v1/migrations/current", headers=AUTH).json()
        return current

    wait_until(lambda: status()["backfill"]["finished"], "the backfill")


def run(tmp_path: Path, pg_url: str, embedder: str, initial: int, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("SWITCHOVER_PGVECTOR_URL", pg_url)
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(TOML[embedder], encoding="utf-8")
    server, model, rng = ServerProcess(home, token=TOKEN), Model(), random.Random(3)
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as http:
            docs = [{"id": f"d{i}", "text": distinct_note(rng, i)} for i in range(initial)]
            for start in range(0, initial, 50):
                batch = docs[start : start + 50]
                http.put("/v1/documents", json={"documents": batch}).raise_for_status()
            model.acked.update({d["id"]: d["text"] for d in docs})
            bad = http.post(
                "/v1/migrations",
                json={"target": {"name": "v2", "factory": "hnsw(m=1)", "backend": "pgvector"}},
                headers=AUTH,
            )
            assert bad.status_code == 422, bad.text
            writer = Writer(server.url, model, seed=1)
            writer.start()
            target = {"name": "v2", "factory": "hnsw", "backend": "pgvector"}
            mid = create(http, {**target, "search_params": {"ef_search": 64}})
            backfilled(http, mid)
            act(http, mid, "shadow")
            act(http, mid, "canary", percent=50, override=True)
            wait_until(lambda: writer.acked >= 40, "writes during the canary")
        server.kill()  # mid-canary, a write in flight or about to be
        writer.join(timeout=60)
        assert not [f for f in writer.failures if f[:1].isdigit()], writer.failures

        server.start()
        with httpx.Client(base_url=server.url, timeout=300) as http:
            model.check_and_adopt(http)
            assert_indexes_hold(http, model.live(), ("v1", "v2"))
            spec = {i["name"]: i["spec"] for i in http.get("/v1/indexes").json()["indexes"]}
            assert spec["v2"]["backend"] == "pgvector"
            writer = Writer(server.url, model, seed=2)
            writer.start()
            act(http, mid, "rollback", reason="drill")
            act(http, mid, "resume")
            act(http, mid, "canary", percent=50, override=True)
            act(http, mid, "cutover", override=True)
            wait_until(lambda: writer.acked >= 20, "writes through the cutover")
            assert act(http, mid, "finalize")["phase"] == "finalized"
            back = create(http, {"name": "v3", "factory": "Flat"})
            backfilled(http, back)
            for step in ("shadow", "canary", "cutover"):
                act(http, back, step, **({} if step == "shadow" else {"override": True}))
            writer.stop.set()
            writer.join(timeout=60)
            assert not writer.failures, writer.failures
            assert act(http, back, "finalize")["phase"] == "finalized"
            model.check_and_adopt(http)
            assert_indexes_hold(http, model.live(), ("v3",))
    finally:
        server.kill()


def test_faiss_to_pgvector_and_back_survives_a_sigkill_with_no_write_lost(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path, pg_url, "hash", 200, monkeypatch)


def test_the_same_on_the_real_minilm_model(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(tmp_path, pg_url, "minilm", 120, monkeypatch)
