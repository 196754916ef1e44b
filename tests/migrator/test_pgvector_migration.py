"""Migrations between backends on a real PostgreSQL: FAISS Flat -> pgvector HNSW and back.

The whole lifecycle on the facade (dual-write, backfill, shadow, canary, rollback, resume,
cutover, finalize) with writes all along, a restart in the middle that keeps the pgvector
target's table and replays only the log after its applied sequence, and the refusals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexes import SearchParams
from indexes.errors import InvalidInputError
from migrator import (
    ActionRequest,
    ConfigChange,
    DocumentIn,
    MigrationRequest,
    Settings,
    Switchover,
)
from migrator.requests import SearchParamsChange, TargetRequest
from tests.conftest import hash_settings

GO = ActionRequest(override=True)


def to_pgvector(name: str = "v2", factory: str = "hnsw", **params: int) -> MigrationRequest:
    target = TargetRequest(name, factory, backend="pgvector", search_params=SearchParams(**params))
    return MigrationRequest(target)


def to_faiss(name: str) -> MigrationRequest:
    return MigrationRequest(TargetRequest(name, "Flat"))


def doc(i: int, rev: int = 0) -> DocumentIn:
    return DocumentIn(f"d{i}", f"lamp tide gear {i} revision {rev} {'star ' * (i % 5)}")


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    return hash_settings(tmp_path / "home", pgvector_url=pg_url)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    service = Switchover(settings)
    service.upsert([doc(i) for i in range(150)])
    yield service
    service.close(snapshot=False)


def walk(svc: Switchover, mid: int, *moves: str) -> None:
    for move in moves:
        svc.migration_action(
            mid, move, GO if move in {"canary", "cutover"} else ActionRequest(), "t"
        )
        if move == "backfill":
            svc.wait_backfill()


def live(svc: Switchover, name: str) -> set[str]:
    runtime = svc.runtime(name)
    runtime.catch_up(svc.store)
    return runtime.index.ids()


def expected(svc: Switchover) -> set[str]:
    return {d.id for d in svc.store.log.scan(None, 10_000)}


def test_faiss_flat_to_pgvector_hnsw_and_back_loses_no_write(svc: Switchover) -> None:
    mid = svc.create_migration(to_pgvector(ef_search=64), "alice").id
    svc.upsert([doc(i, 1) for i in range(140, 160)])  # dual-written before the backfill
    walk(svc, mid, "backfill", "shadow")
    svc.delete("d3")
    walk(svc, mid, "canary")
    svc.migration_action(mid, "rollback", ActionRequest(reason="drill"), "alice")
    svc.upsert([doc(500)])  # writes stay dual while rolled back
    walk(svc, mid, "resume", "canary", "cutover", "finalize")
    assert {i.name: i.role for i in svc.indexes() if i.role != "retired"} == {"v2": "primary"}
    assert live(svc, "v2") == expected(svc)
    assert "d3" not in live(svc, "v2")
    hits = svc.runtime("v2").search("lamp tide gear 500 revision 0", 1)
    assert [h.id for h in hits] == ["d500"]
    back = svc.create_migration(to_faiss("v3"), "alice").id
    svc.upsert([doc(501)])
    walk(svc, back, "backfill", "shadow", "canary", "cutover", "finalize")
    assert live(svc, "v3") == expected(svc)
    assert "d501" in live(svc, "v3")


def test_a_restart_mid_migration_keeps_the_table_and_replays_only_the_tail(
    settings: Settings, svc: Switchover
) -> None:
    mid = svc.create_migration(to_pgvector(), "alice").id
    walk(svc, mid, "backfill", "shadow")
    svc.upsert([doc(i, 2) for i in range(10)])
    svc.runtime("v2").catch_up(svc.store)
    held = svc.runtime("v2").index.applied_seq
    svc.close(snapshot=False)  # a crash: no snapshot of anything
    again = Switchover(settings)
    try:
        again.start()
        target = again.runtime("v2")
        assert target.index.persists_itself
        assert again.registry.recovery["v2"]["replayed_records"] == 0, "nothing after its seq"
        assert target.index.applied_seq == held
        again.upsert([doc(900)])
        assert live(again, "v2") == expected(again)
        walk(again, mid, "canary", "cutover", "finalize")
        assert live(again, "v2") == expected(again)
    finally:
        again.close(snapshot=False)


def test_pgvector_knobs_have_history_and_bounds(svc: Switchover) -> None:
    svc.create_migration(to_pgvector(ef_search=40), "alice")
    change = ConfigChange({"v2": SearchParamsChange.from_dict({"ef_search": 200})}, reason="up")
    svc.set_config(change, "alice")
    assert svc.runtime("v2").index.search_params.ef_search == 200
    too_far = ConfigChange({"v2": SearchParamsChange.from_dict({"ef_search": 1001})})
    with pytest.raises(InvalidInputError, match=r"hnsw\.ef_search"):
        svc.set_config(too_far, "alice")
    assert svc.runtime("v2").index.search_params.ef_search == 200


def test_bad_pgvector_targets_are_refused_and_create_nothing(svc: Switchover) -> None:
    for bad, says in [
        (to_pgvector(factory="HNSW32,Flat"), "is not one of"),
        (to_pgvector(factory="ivfflat"), "needs lists"),
        (to_pgvector(ef_search=2000), "hnsw.ef_search"),
    ]:
        with pytest.raises(InvalidInputError, match=says):
            svc.create_migration(bad, "alice")
    assert svc.latest_migration() is None


def test_a_pgvector_target_without_a_database_is_refused(tmp_path: Path) -> None:
    service = Switchover(hash_settings(tmp_path / "home"))
    try:
        with pytest.raises(InvalidInputError, match="SWITCHOVER_PGVECTOR_URL"):
            service.create_migration(to_pgvector(), "alice")
        assert service.latest_migration() is None
    finally:
        service.close(snapshot=False)
