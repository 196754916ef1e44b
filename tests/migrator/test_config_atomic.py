"""A config change is one transaction: it commits whole, or nothing of it is in effect.

Found in review: one ``PUT /v1/config`` was spread over several transactions (the initial
version, the catalog's search parameters, the migration's rejudge event, its plan event, the
new version), and the live FAISS wrappers changed between them. A SIGKILL in between left
``ef_search=100`` live with the newest history version saying 107 and no event.

The failure here is injected with a SQLite trigger that aborts one insert of the change,
the way a full disk or an I/O error would fail a statement mid-transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexes import SearchParams
from migrator import (
    ActionRequest,
    ConfigChange,
    DocumentIn,
    PlanUpdate,
    SearchParamsChange,
    Settings,
    Switchover,
)
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill
from tests.server import ServerProcess


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    """A live migration to ``v2`` (HNSW) in shadow, with one watchdog verdict in hand."""
    service = Switchover(settings)
    service.upsert([DocumentIn(f"d{i}", f"lamp tide gear number {i}") for i in range(40)])
    request = migration("v2", "HNSW32,Flat", search_params=SearchParams(ef_search=100))
    mid = int(service.create_migration(request, "op").id)
    backfill(service, mid)
    service.migration_action(mid, "shadow", ActionRequest(), "op")
    service.watchdog.tick()
    yield service
    service.close(snapshot=False)


def fail_inserts_into(db_path: Path, table: str) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute(
            f"CREATE TRIGGER injected_fault BEFORE INSERT ON {table}"
            " BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )


def allow_inserts(db_path: Path) -> None:
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TRIGGER injected_fault")


def state(svc: Switchover) -> dict[str, Any]:
    """Everything a config change touches, in the database and in the running service."""
    m = svc.moves.current
    assert m is not None
    return {
        "config": svc.config.current(),
        "history": svc.config.history(),
        "catalog": {e.name: e.search_params for e in svc.store.catalog.entries()},
        "live_params": {r.name: r.index.search_params for r in svc.registry.all()},
        "stored_plan": svc.store.migrations.get(m.id).plan,
        "live_plan": m.plan,
        "events": [(e.actor, e.reason) for e in svc.migration_events(m.id)],
        "epoch": svc.evidence.epoch,
        "checks": list(svc.evidence.checks),
    }


CHANGE = ConfigChange(
    indexes={"v2": SearchParamsChange.from_dict({"ef_search": 107})},
    migration=PlanUpdate(shadow_sample=0.5),
    reason="more recall",
)


@pytest.mark.parametrize("table", ["migration_events", "config_versions"])
@pytest.mark.parametrize("first", [True, False], ids=["first-change", "later-change"])
def test_a_change_whose_commit_fails_changes_nothing(
    svc: Switchover, settings: Settings, table: str, first: bool
) -> None:
    if not first:
        earlier = {"v2": SearchParamsChange.from_dict({"ef_search": 90})}
        svc.config.set(ConfigChange(earlier, reason="an earlier change"), "alice")
        svc.watchdog.tick()
    before = state(svc)
    assert before["checks"], "the watchdog's verdict is in hand"
    fail_inserts_into(settings.db_path, table)

    with pytest.raises(sqlite3.DatabaseError, match="injected fault"):
        svc.config.set(CHANGE, "bob")

    assert state(svc) == before
    allow_inserts(settings.db_path)
    svc.config.set(CHANGE, "bob")  # the same change then goes through whole
    after = state(svc)
    assert after["live_params"]["v2"].ef_search == after["catalog"]["v2"].ef_search == 107
    assert after["history"][0].config["indexes"]["v2"]["ef_search"] == 107
    assert after["live_plan"].shadow_sample == after["stored_plan"].shadow_sample == 0.5
    assert after["epoch"] == before["epoch"] + 1
    assert after["checks"] == []


HASH_HOME = """[default_index]
name = "v1"
factory = "Flat"
[default_index.embedder]
kind = "hash"
dim = 64
"""


@pytest.mark.slow
def test_a_server_killed_after_a_failed_config_commit_restarts_with_the_old_config(
    tmp_path: Path,
) -> None:
    """The SIGKILL case of the review, made deterministic: the change's commit fails (the
    audit event's insert aborts), then the server is SIGKILLed and started again."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(HASH_HOME)
    server = ServerProcess(home).start(timeout=120)
    try:
        http = operator_client(server)
        docs = [{"id": f"d{i}", "text": f"lamp tide gear number {i}"} for i in range(40)]
        assert http.put("/v1/documents", json={"documents": docs}).status_code == 200
        target = {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 100}}
        mid = http.post("/v1/migrations", json={"target": target}).json()["id"]
        assert http.post(f"/v1/migrations/{mid}/backfill").status_code == 200
        for _ in range(600):  # bounded: the hash embedder copies 40 documents in well under 60 s
            if http.get("/v1/migrations/current").json()["backfill"]["finished"]:
                break
            time.sleep(0.1)
        assert http.post(f"/v1/migrations/{mid}/shadow").status_code == 200
        events = http.get(f"/v1/migrations/{mid}/events").json()["events"]

        fail_inserts_into(home / "switchover.db", "migration_events")
        change = {"indexes": {"v2": {"ef_search": 107}}, "reason": "more recall"}
        assert http.put("/v1/config", json=change).status_code >= 500
        http = operator_client(server)  # the failed request's connection is closed
        assert ef_search(http) == 100, "the running index keeps what is recorded"
        server.kill()
        allow_inserts(home / "switchover.db")

        server = ServerProcess(home).start(timeout=120)
        http = operator_client(server)
        assert ef_search(http) == 100
        assert http.get("/v1/config/history").json()["versions"] == []
        assert http.get(f"/v1/migrations/{mid}/events").json()["events"] == events
    finally:
        server.kill()


def operator_client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.operator_header, timeout=60)


def ef_search(http: httpx.Client) -> int | None:
    indexes = http.get("/v1/indexes").json()["indexes"]
    value: int | None = next(i for i in indexes if i["name"] == "v2")["search_params"]["ef_search"]
    return value
