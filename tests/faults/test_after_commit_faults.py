"""An operator move that committed never answers "nothing changed, retry".

Some moves do work after their transaction commits: ``finalize`` snapshots the new
primary and the retired source, ``create`` sets the target's search parameters and
opens it, ``backfill`` starts the copy. When that work fails (a full disk, a busy
database) the move has still happened: the answer is its 2xx with the new status, which
names the step that failed (``after_commit_errors``), and the retry an operator sends
finds the move done instead of a 409 for a move it was told had not happened.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexes import load_latest_snapshot
from indexes.errors import StorageError
from migrator import ActionRequest, Settings, Switchover
from migrator.store.catalog import CatalogTable
from tests.conftest import OPERATOR, open_client
from tests.faults.faults import assert_converged, docs, put_body, start_canary, text_of
from tests.faults.test_snapshot_faults import disk_full


@pytest.fixture
def cutover(settings: Settings) -> Iterator[tuple[Switchover, int]]:
    """A migration v1 -> v2 at cutover (layout change), 80 documents written."""
    svc = Switchover(settings)
    svc.upsert(docs(range(80)))
    mid, _ = start_canary(svc, 50, embedder=None)
    svc.migration_action(mid, "cutover", ActionRequest(override=True), "op")
    svc.upsert(docs(range(10), version=1))
    yield svc, mid
    svc.close(snapshot=False)


def test_finalize_whose_snapshots_hit_a_full_disk_after_the_commit_answers_finalized(
    settings: Settings, cutover: tuple[Switchover, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, mid = cutover
    with open_client(settings, svc) as client:
        refused = disk_full(monkeypatch)
        answer = client.post(f"/v1/migrations/{mid}/finalize", headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        assert refused, "the post-commit snapshots really ran into the full disk"
        status = answer.json()
        assert status["phase"] == "finalized"
        steps = {e["step"]: e["error"] for e in status["after_commit_errors"]}
        assert set(steps) == {"snapshot of v2", "snapshot of v1"}
        assert all("No space left on device" in error for error in steps.values())
        assert (
            client.get("/v1/migrations/current", headers=OPERATOR).json() == status
        )  # says so too

        # what committed holds: v2 is the primary, serves reads and takes writes
        indexes = {i["name"]: i["role"] for i in client.get("/v1/indexes").json()["indexes"]}
        assert indexes == {"v1": "retired", "v2": "primary"}
        assert client.put("/v1/documents", json=put_body(range(80, 85))).status_code == 200
        search = client.post("/v1/search", json={"query": text_of(82), "k": 1})
        assert search.json()["hits"][0]["id"] == "d0082"
        assert search.json()["served_by"] == "v2"
        again = client.post(f"/v1/migrations/{mid}/finalize", headers=OPERATOR)
        assert again.status_code == 409  # the move is done; it was never reported otherwise

        assert "periodic snapshotter" in status["after_commit_errors"][0]["then"]
        monkeypatch.undo()  # space freed: the next snapshot (here: at shutdown) writes it
        assert svc.registry.snapshot(svc.runtime("v2"), force=False, min_records=1) is not None
    entry = svc.runtime("v2").entry
    snapshot = load_latest_snapshot(settings.snapshot_dir("v2"), entry.spec, entry.fingerprint)
    assert snapshot is not None
    assert snapshot[1].applied_seq == svc.store.log.last_seq()
    assert_converged(svc, names=("v2",))


def test_a_migration_whose_search_parameters_fail_after_its_commit_is_created_and_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*_: object) -> None:  # CatalogTable.set_search_params(self, name, params)
        raise StorageError("database error: database is locked (injected after the commit)")

    with open_client(settings) as client:
        assert client.put("/v1/documents", json=put_body(range(20))).status_code == 200
        monkeypatch.setattr(CatalogTable, "set_search_params", busy)
        body = {
            "target": {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}}
        }
        answer = client.post("/v1/migrations", json=body, headers=OPERATOR)
        assert answer.status_code == 201, answer.text
        status = answer.json()
        assert status["phase"] == "planned"
        (error,) = status["after_commit_errors"]
        assert error["step"] == "search parameters of v2"
        assert "database is locked" in error["error"]
        monkeypatch.undo()

        # the migration exists and runs: the target is live and takes the dual writes
        mid = status["id"]
        assert client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR).status_code == 200
        svc = client.app.state.service  # type: ignore[attr-defined]
        assert isinstance(svc, Switchover)
        svc.wait_backfill()
        assert client.put("/v1/documents", json=put_body(range(20, 25))).status_code == 200
        assert_converged(svc)
