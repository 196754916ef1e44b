"""Snapshots that cannot be written (the disk is full) or rot on disk.

A snapshot only shortens a restart: the write log holds every write. So a snapshot
that hits ENOSPC is a 503 for the operator who asked for it and a logged warning for
the periodic writer, never a failed client write; the previous snapshot stays usable
and a restart, still on a full disk, recovers everything from it plus the log. A
snapshot corrupted on disk is skipped at start-up for an older one, and a target whose
backfill that older snapshot no longer covers copies it again before serving reads.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexes import load_latest_snapshot, snapshots
from indexes.errors import ConflictError
from migrator import ActionRequest, Settings, Switchover
from migrator.backfill import Backfiller
from migrator.migration import Backfill
from tests.conftest import OPERATOR, open_client
from tests.faults.faults import (
    assert_converged,
    docs,
    put_body,
    start_canary,
    text_of,
)


def disk_full(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every snapshot file write fails with ENOSPC; returns the paths it refused."""
    refused: list[Path] = []

    def no_space(path: Path, _data: bytes | memoryview) -> str:
        refused.append(path)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(snapshots, "write_synced", no_space)
    return refused


def service_of(client: TestClient) -> Switchover:
    svc = client.app.state.service  # type: ignore[attr-defined]
    assert isinstance(svc, Switchover)
    return svc


def test_a_snapshot_that_hits_enospc_fails_no_write_and_a_restart_recovers_everything(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot_dir = settings.snapshot_dir("v1")
    with open_client(settings) as client:
        assert client.put("/v1/documents", json=put_body(range(40))).status_code == 200
        good = client.post("/v1/indexes/v1/snapshot", headers=OPERATOR)
        assert good.status_code == 200
        good_seq = good.json()["snapshots"][0]["applied_seq"]

        refused = disk_full(monkeypatch)
        for r in range(3):  # updates, new documents and a delete: all acknowledged
            body = put_body(range(r * 10, r * 10 + 10), version=1)
            assert client.put("/v1/documents", json=body).status_code == 200
        assert client.put("/v1/documents", json=put_body(range(40, 50))).status_code == 200
        assert client.delete("/v1/documents/d0039").status_code == 200

        failed = client.post("/v1/indexes/v1/snapshot", headers=OPERATOR)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"]
        assert failed.json()["error"]["type"] == "snapshot_failed"
        assert "No space left on device" in failed.json()["error"]["message"]
        assert refused, "the snapshot writer really ran into the full disk"
        # nothing half-written; the previous snapshot is intact and loadable
        assert [p.name for p in snapshot_dir.iterdir() if p.name.startswith(".tmp-")] == []
        svc = service_of(client)
        entry = svc.runtime("v1").entry
        previous = load_latest_snapshot(snapshot_dir, entry.spec, entry.fingerprint)
        assert previous is not None
        assert previous[1].applied_seq == good_seq
        # reads are served, with the newest text
        hit = client.post("/v1/search", json={"query": text_of(12, 1), "k": 1}).json()["hits"][0]
        assert hit["id"] == "d0012"
        assert client.get("/healthz").json()["last_seq"] == 40 + 30 + 10 + 1
        caplog.clear()
    # leaving the block shut the service down: its final snapshot failed too, and said so
    assert "snapshot of v1 failed; the log still holds every write" in caplog.text

    with open_client(settings) as client:
        svc = service_of(client)  # restarted, the disk still full
        recovery = svc.registry.recovery["v1"]
        assert recovery["snapshot_seq"] == good_seq
        assert recovery["replayed_records"] == svc.store.log.last_seq() - good_seq
        assert recovery["encoded"] == 0, "replay comes from the embedding cache"
        assert_converged(svc, names=("v1",))
        assert client.get("/healthz").json()["documents"] == 49

        monkeypatch.undo()  # space freed: snapshots work again
        assert client.post("/v1/indexes/v1/snapshot", headers=OPERATOR).status_code == 200

    with open_client(settings) as client:
        svc = service_of(client)
        assert svc.registry.recovery["v1"]["replayed_records"] == 0
        assert_converged(svc, names=("v1",))


def test_a_target_snapshot_corrupted_on_disk_is_recopied_before_it_serves_a_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = Switchover(settings)
    try:
        svc.upsert(docs(range(120)))
        mid, _ = start_canary(svc, 50)
        svc.upsert(docs(range(10), version=1))
    finally:
        svc.close(snapshot=False)
    # the target's one snapshot, the backfill's checkpoint that its copies live in, rots
    (newest,) = settings.snapshot_dir("v2").iterdir()
    raw = bytearray((newest / "index.faiss").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (newest / "index.faiss").write_bytes(bytes(raw))

    gate = threading.Event()  # holds the re-run backfill so the test can look at the gap
    run = Backfiller.run

    def gated(self: Backfiller) -> Backfill:
        gate.wait(30)
        return run(self)

    monkeypatch.setattr(Backfiller, "run", gated)
    again = Switchover(settings)
    again.start()  # the backfill runs again (held at the gate)
    try:
        status = again.current_migration()
        assert (status.phase, status.backfill.finished) == ("canary", False)
        served = {again.search(text_of(i), 3, routing_key=f"k{i}").served_by for i in range(40)}
        assert served == {"v1"}, "an incomplete target serves no reads"
        again.upsert(docs(range(200, 205)))  # writes go on, to both sides
        assert again.get("d0200").text == text_of(200)
        again.migration_action(mid, "cutover", ActionRequest(override=True), "op")
        assert again.search(text_of(3), 3, routing_key="k3").served_by == "v1"
        with pytest.raises(ConflictError, match="backfill is running again"):
            again.migration_action(mid, "finalize", ActionRequest(), "op")

        gate.set()
        assert again.wait_backfill(timeout=30).finished
        assert_converged(again)
        served = {again.search(text_of(i), 3, routing_key=f"k{i}").served_by for i in range(40)}
        assert served == {"v2"}, "the whole target takes every read of the cutover"
        again.migration_action(mid, "finalize", ActionRequest(), "op")
        assert_converged(again, names=("v2",))
    finally:
        gate.set()
        again.close(snapshot=False)
