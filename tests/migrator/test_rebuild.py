"""Rebuilding an index whose replaced and deleted vectors piled up as tombstones.

HNSW and IVF cannot remove a vector, so every rewrite or delete leaves a dead one behind:
500 documents rewritten 40 times hold 20,500 vectors, 20,000 of them dead. The index
info and ``/metrics`` show the dead count and ratio, and ``POST /v1/indexes/{name}/rebuild``
starts a layout-only migration to the same spec under a new name (``v1-r2``): it copies
only the live documents from the store, from the embedding cache, and goes through
backfill, shadow, judgement, canary and cutover like any other migration, with writes
dual all along.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api import create_app
from api.cli import main
from migrator import DocumentIn, Settings, Switchover
from migrator.registry import rebuild_name
from tests.conftest import OPERATOR, OPERATOR_TOKEN, hash_settings
from tests.faults.faults import assert_converged
from tests.server import free_port

DOCS, REWRITES = 500, 40
HNSW = "HNSW32,Flat"


def text_of(i: int, version: int) -> str:
    return f"document {i} revision {version} about topic{i % 7} and item{i}x{version}"


def write_all(svc: Switchover, version: int) -> None:
    for start in range(0, DOCS, 250):
        ids = range(start, min(DOCS, start + 250))
        svc.upsert([DocumentIn(f"d{i:04d}", text_of(i, version)) for i in ids])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An HNSW primary (its deletes leave dead vectors); the shared ``client`` uses it."""
    return hash_settings(tmp_path / "home", factory=HNSW)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    """An empty HNSW primary."""
    service = Switchover(settings)
    yield service
    service.close(snapshot=False)


@pytest.fixture
def app_service(svc: Switchover) -> Switchover:
    """The shared ``client`` serves ``svc``, which the tests also drive directly."""
    return svc


def churn(svc: Switchover) -> None:
    """500 documents, each written 41 times: 20,500 vectors, 20,000 of them dead."""
    for version in range(REWRITES + 1):
        write_all(svc, version)


def index_info(client: TestClient, name: str) -> dict[str, Any]:
    found = [i for i in client.get("/v1/indexes").json()["indexes"] if i["name"] == name]
    assert found, f"no index {name}"
    info: dict[str, Any] = found[0]
    return info


def eval_folder(folder: Path, svc: Switchover) -> Path:
    """A labelled BEIR folder: each live document's newest text finds it."""
    live = svc.store.log.documents(sorted(svc.store.log.document_ids()))
    folder.mkdir()
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"id": f"q-{i}", "text": d.text}) + "\n" for i, d in live.items())
    )
    rows = ["query-id\tcorpus-id\tscore"] + [f"q-{i}\t{i}\t1" for i in live]
    (folder / "qrels.tsv").write_text("\n".join(rows) + "\n")
    return folder


def write_while_held(client: TestClient, n: int) -> int:
    """``n`` rewrites and deletes through the API; returns how many were deletes."""
    deletes = 0
    for w in range(n):
        i = w % DOCS
        if w % 10 == 3:
            assert client.delete(f"/v1/documents/d{i:04d}").status_code == 200
            deletes += 1
        else:
            body = {"documents": [{"id": f"d{i:04d}", "text": text_of(i, REWRITES + 1 + w)}]}
            assert client.put("/v1/documents", json=body).status_code == 200
    return deletes


def judge(svc: Switchover, ticks: int = 40) -> str:
    """Tick the watchdog until the recall judgement decides; its state."""
    for _ in range(ticks):
        recall = next(c for c in svc.watchdog.tick() if c.name == "recall")
        if recall.state != "hold":
            return recall.state
    return "hold"


def test_a_rebuild_holds_only_the_live_vectors_judged_like_any_migration_and_loses_no_write(
    client: TestClient, svc: Switchover, tmp_path: Path
) -> None:
    churn(svc)
    stats = index_info(client, "v1")["stats"]
    assert (stats["live"], stats["ntotal"]) == (DOCS, DOCS * (REWRITES + 1))
    assert stats["dead_vectors"] == DOCS * REWRITES
    assert stats["dead_ratio"] == pytest.approx(REWRITES / (REWRITES + 1))
    assert stats["rebuild_needed"] is True
    metrics = client.get("/metrics").text
    assert 'switchover_index_dead_vectors{index="v1",role="primary"} 20000.0' in metrics
    assert f'switchover_index_dead_ratio{{index="v1",role="primary"}} {REWRITES / 41!r}' in metrics

    svc.add_eval_set("live", str(eval_folder(tmp_path / "live", svc)), 400, 1)
    body = {"eval_set": "live", "backfill_batch": 20}
    started = client.post("/v1/indexes/v1/rebuild", json=body, headers=OPERATOR)
    assert started.status_code == 201, started.text
    status = started.json()
    assert (status["source"], status["target"], status["phase"]) == ("v1", "v1-r2", "planned")
    rebuilt = index_info(client, "v1-r2")
    assert rebuilt["spec"] == {**index_info(client, "v1")["spec"], "name": "v1-r2"}
    assert rebuilt["search_params"] == index_info(client, "v1")["search_params"]
    mid = status["id"]

    writes = 60
    with svc.runtime("v1-r2").apply_lock:  # the backfill's first copy waits here ...
        assert client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).status_code == 200
        deletes = write_while_held(client, writes)  # ... while these writes are acknowledged
        assert (
            client.get("/v1/migrations/current", headers=OPERATOR).json()["phase"] == "backfilling"
        )
    svc.wait_backfill()

    live = svc.store.log.document_ids()
    assert len(live) == DOCS - deletes
    assert_converged(svc, ("v1-r2",))  # every acknowledged write, with its newest text
    assert svc.runtime("v1").index.ids() == live
    stats = index_info(client, "v1-r2")["stats"]
    assert stats["ntotal"] - stats["dead_vectors"] == stats["live"] == len(live)
    assert stats["dead_vectors"] <= writes, f"only the writes made during the rebuild: {stats}"
    assert stats["rebuild_needed"] is False
    assert index_info(client, "v1-r2")["encoded_since_start"] == 0, "from the embedding cache"

    assert client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR).status_code == 200
    refused = client.post(f"/v1/migrations/{mid}/canary", json={"percent": 50}, headers=OPERATOR)
    assert refused.status_code == 409, "a rebuild needs a passing judgement like any migration"
    assert judge(svc) == "ok", "the recall judgement passes"
    run = svc.eval_runs(mid)[0].report["summary"]
    # 97.6% dead vectors cost the old graph some recall; the rebuilt one is exact again
    assert run["target"]["recall@10"] >= run["source"]["recall@10"], run
    for action, payload in (("canary", {"percent": 50}), ("cutover", {}), ("finalize", {})):
        response = client.post(f"/v1/migrations/{mid}/{action}", json=payload, headers=OPERATOR)
        assert response.status_code == 200, response.text
    roles = {i["name"]: i["role"] for i in client.get("/v1/indexes").json()["indexes"]}
    assert roles == {"v1": "retired", "v1-r2": "primary"}
    assert_converged(svc, ("v1-r2",))
    again = client.post("/v1/indexes/v1-r2/rebuild", headers=OPERATOR).json()
    assert (again["source"], again["target"]) == ("v1-r2", "v1-r3"), "the next free name"


@pytest.mark.parametrize(
    ("name", "taken", "expected"),
    [
        ("v1", {"v1"}, "v1-r2"),
        ("v1", {"v1", "v1-r2", "v1-r3"}, "v1-r4"),
        ("v1-r2", {"v1", "v1-r2"}, "v1-r3"),
        ("v1-r9", {"v1-r9"}, "v1-r10"),
        ("squad-r", {"squad-r"}, "squad-r-r2"),
    ],
)
def test_a_rebuild_is_named_after_its_source_with_the_next_free_number(
    name: str, taken: set[str], expected: str
) -> None:
    assert rebuild_name(name, taken) == expected


def test_a_rebuild_takes_the_name_given(client: TestClient) -> None:
    named = client.post("/v1/indexes/v1/rebuild", json={"target": "v1-fresh"}, headers=OPERATOR)
    assert named.status_code == 201, named.text
    assert named.json()["target"] == "v1-fresh"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/indexes/nope/rebuild", {}, 404),
        ("/v1/indexes/v1/rebuild", {"target": "Bad Name"}, 422),
        ("/v1/indexes/v1/rebuild", {"target": "v1"}, 409),
        ("/v1/indexes/v1/rebuild", {"factory": "IVF8,Flat"}, 422),
        ("/v1/indexes/v1/rebuild", {"eval_set": "missing"}, 404),
    ],
)
def test_bad_rebuilds_are_refused_and_change_nothing(
    client: TestClient, path: str, body: dict[str, Any], status: int
) -> None:
    before = client.get("/v1/indexes").json()["indexes"]
    response = client.post(path, json=body, headers=OPERATOR)
    assert response.status_code == status, response.text
    assert {"type", "message"} <= set(response.json()["error"])
    assert client.get("/v1/indexes").json()["indexes"] == before
    assert client.post(path, json=body).status_code == 401


def test_only_the_primary_is_rebuilt_and_one_migration_at_a_time(client: TestClient) -> None:
    mid = client.post("/v1/indexes/v1/rebuild", headers=OPERATOR).json()["id"]
    again = client.post("/v1/indexes/v1/rebuild", headers=OPERATOR)
    assert again.status_code == 409, again.text
    target = client.post("/v1/indexes/v1-r2/rebuild", headers=OPERATOR)
    assert target.status_code == 409, target.text
    assert "primary" in target.json()["error"]["message"]
    assert client.get("/v1/migrations/current", headers=OPERATOR).json()["id"] == mid


@pytest.fixture
def served(settings: Settings, svc: Switchover) -> Iterator[str]:
    """The app over ``svc`` on a loopback port, for the command line; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, service=svc), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_the_command_line_starts_a_rebuild(served: str, svc: Switchover) -> None:
    args = ["indexes", "rebuild", "v1", "--canary-steps", "10,50", "--url", served]
    result = CliRunner().invoke(main, [*args, "--token", OPERATOR_TOKEN])
    assert result.exit_code == 0, result.output
    assert "v1 -> v1-r2" in result.output
    status = svc.current_migration()
    assert (status.target, list(status.plan.canary_steps)) == ("v1-r2", [10.0, 50.0])
    listed = CliRunner().invoke(main, ["indexes", "list", "--url", served])
    assert "dead=0" in listed.output, listed.output
