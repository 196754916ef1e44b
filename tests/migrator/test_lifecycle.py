"""The migration lifecycle on the facade: dual-write, backfill, routing, rollback, finalize."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from indexes import EmbedderSpec
from indexes.errors import ConflictError, EmbedderError, InvalidInputError, NotFoundError
from migrator import (
    ActionRequest,
    DocumentIn,
    MigrationRequest,
    MigrationStatus,
    Settings,
    Switchover,
)
from tests.conftest import HASH_EMBEDDER, hash_settings, migration

WORDS = [
    "lamp",
    "tide",
    "yeast",
    "hive",
    "basalt",
    "bishop",
    "glass",
    "gear",
    "star",
    "silt",
    "ribbon",
    "stamp",
]


def doc(i: int, version: int = 0) -> DocumentIn:
    words = " ".join(WORDS[(i + j + version) % len(WORDS)] for j in range(4))
    return DocumentIn(f"d{i:04d}", f"{words} document {i} revision r{version}")


def hnsw_target(name: str = "v2", **plan: Any) -> MigrationRequest:
    return migration(name, "HNSW32,Flat", **plan)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    service = Switchover(settings)
    service.upsert([doc(i) for i in range(200)])
    yield service
    service.close(snapshot=False)


def backfill(svc: Switchover, mid: int) -> MigrationStatus:
    svc.migration_action(mid, "backfill", ActionRequest(), "tester")
    svc.wait_backfill()
    return svc.current_migration()


def live_ids(svc: Switchover, name: str) -> set[str]:
    runtime = svc.runtime(name)
    runtime.catch_up(svc.store)
    return runtime.index.ids()


def test_creating_a_migration_registers_the_target_and_starts_dual_write(svc: Switchover) -> None:
    status = svc.create_migration(hnsw_target(), "alice")
    assert status.phase == "planned"
    assert (status.source, status.target) == ("v1", "v2")
    svc.upsert([DocumentIn("new", "written after the migration began")])
    svc.delete("d0001")
    assert live_ids(svc, "v2") == {"new"}, "only writes since creation; the rest is backfill"
    assert {i.name: i.role for i in svc.indexes()} == {"v1": "primary", "v2": "target"}


def test_the_target_defaults_to_the_source_embedder(svc: Switchover) -> None:
    svc.create_migration(hnsw_target(), "alice")
    assert svc.runtime("v2").entry.spec.embedder == HASH_EMBEDDER


def test_backfill_copies_every_document_and_a_layout_change_encodes_nothing(
    svc: Switchover,
) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    status = backfill(svc, mid)
    assert status.backfill.finished
    assert status.backfill.done == 200
    assert status.backfill.encoded == 0, "same fingerprint: vectors come from the cache"
    assert live_ids(svc, "v2") == live_ids(svc, "v1")


def test_backfill_with_a_new_embedder_encodes_and_trains_an_ivf_target(svc: Switchover) -> None:
    request = migration("v2", "IVF4,Flat", embedder=EmbedderSpec(kind="hash", dim=32))
    mid = svc.create_migration(request, "alice").id
    status = backfill(svc, mid)
    assert status.backfill.encoded == 200
    assert svc.runtime("v2").index.is_trained
    assert live_ids(svc, "v2") == live_ids(svc, "v1")


def test_live_writes_during_backfill_end_newest_and_deletes_stay_deleted(
    settings: Settings,
) -> None:
    svc = Switchover(settings)
    try:
        for start in range(0, 1500, 250):
            svc.upsert([doc(i) for i in range(start, start + 250)])
        mid = svc.create_migration(hnsw_target(backfill_batch=16), "alice").id
        svc.migration_action(mid, "backfill", ActionRequest(), "alice")
        for round_no in range(1, 6):  # race the backfill with updates and deletes
            svc.upsert([doc(i, version=round_no) for i in range(0, 1500, 7)][:250])
            svc.delete(f"d{round_no * 13:04d}")
        svc.wait_backfill()
        target = svc.runtime("v2")
        target.catch_up(svc.store)
        assert target.index.ids() == svc.store.log.document_ids()
        for i in (0, 7, 700, 1498):
            text = svc.store.log.document(f"d{i:04d}").text  # type: ignore[union-attr]
            assert svc.search_pinned("v2", text, 1).hits[0].id == f"d{i:04d}"
    finally:
        svc.close(snapshot=False)


def test_shadow_waits_for_the_backfill(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    with pytest.raises(ConflictError, match="cannot move to 'shadow' from phase 'planned'"):
        svc.migration_action(mid, "shadow", ActionRequest(), "alice")


def test_canary_routes_a_sticky_share_and_names_the_serving_index(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(shadow_sample=0.0), "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    svc.migration_action(mid, "canary", ActionRequest(percent=50, override=True), "alice")
    served = {svc.search("lamp tide", 3, routing_key=f"user{i}").served_by for i in range(200)}
    assert served == {"v1", "v2"}
    for key in ("u1", "u2", "u3"):
        assert len({svc.search("gear", 3, routing_key=key).served_by for _ in range(50)}) == 1


def test_canary_steps_follow_the_plan_and_never_shrink(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(canary_steps=[2, 10]), "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    step = ActionRequest(override=True)  # no percent: the plan's next step
    assert svc.migration_action(mid, "canary", step, "alice").canary_percent == 2
    assert svc.migration_action(mid, "canary", step, "alice").canary_percent == 10
    with pytest.raises(ConflictError, match="only grows"):
        svc.migration_action(mid, "canary", ActionRequest(percent=5, override=True), "alice")
    with pytest.raises(ConflictError, match="no canary step left"):
        svc.migration_action(mid, "canary", ActionRequest(override=True), "alice")
    with pytest.raises(InvalidInputError):
        svc.migration_action(mid, "canary", ActionRequest(percent=100, override=True), "alice")


def test_rollback_in_canary_moves_reads_to_the_source_and_keeps_dual_write(
    svc: Switchover,
) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    svc.migration_action(mid, "canary", ActionRequest(percent=50, override=True), "alice")
    with pytest.raises(InvalidInputError, match="reason"):
        svc.migration_action(mid, "rollback", ActionRequest(), "alice")
    status = svc.migration_action(mid, "rollback", ActionRequest(reason="recall dropped"), "bob")
    assert status.phase == "rolled_back"
    again = svc.migration_action(mid, "rollback", ActionRequest(reason="twice"), "bob")
    assert again.phase == "rolled_back", "rollback is idempotent"
    assert {svc.search("lamp", 3, routing_key=f"k{i}").served_by for i in range(300)} == {"v1"}
    svc.upsert([DocumentIn("after", "zeppelin hangar written after the rollback")])
    assert svc.search_pinned("v2", "zeppelin hangar", 1).hits[0].id == "after"
    events = svc.migration_events(mid)
    assert [e.to_phase for e in events].count("rolled_back") == 1
    rollback = events[-1]
    assert (rollback.actor, rollback.from_phase, rollback.reason) == (
        "bob",
        "canary",
        "recall dropped",
    )
    assert rollback.metrics["target_count"] == 200


def test_resume_after_rollback_goes_back_to_shadow(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    svc.migration_action(mid, "rollback", ActionRequest(reason="drill"), "alice")
    assert svc.migration_action(mid, "resume", ActionRequest(), "alice").phase == "shadow"


def test_finalize_makes_the_target_primary_and_stops_dual_write(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    backfill(svc, mid)
    for action, body in (
        ("shadow", ActionRequest()),
        ("canary", ActionRequest(percent=10, override=True)),
        ("cutover", ActionRequest(override=True)),
        ("finalize", ActionRequest()),
    ):
        svc.migration_action(mid, action, body, "alice")
    assert {i.name: i.role for i in svc.indexes()} == {"v1": "retired", "v2": "primary"}
    svc.upsert([DocumentIn("later", "written after finalize")])
    assert svc.search("written after finalize", 1).served_by == "v2"
    assert svc.settings.snapshot_dir("v1").exists(), "the retired source keeps its snapshot"
    with pytest.raises(ConflictError, match="finalized"):
        svc.migration_action(mid, "rollback", ActionRequest(reason="too late"), "alice")
    second = svc.create_migration(hnsw_target("v3"), "alice")
    assert second.source == "v2"


def test_one_migration_at_a_time(svc: Switchover) -> None:
    svc.create_migration(hnsw_target(), "alice")
    with pytest.raises(ConflictError, match="still planned"):
        svc.create_migration(hnsw_target("v3"), "alice")


def test_abort_drops_the_target(svc: Switchover) -> None:
    mid = svc.create_migration(hnsw_target(), "alice").id
    svc.migration_action(mid, "abort", ActionRequest(reason="wrong layout"), "alice")
    assert {i.name: i.role for i in svc.indexes()} == {"v1": "primary", "v2": "retired"}
    svc.upsert([DocumentIn("x", "after abort")])  # single-write again
    assert svc.current_migration().phase == "aborted"


@pytest.mark.parametrize(
    ("request_of", "error"),
    [
        (lambda: migration("../escape"), "index name '../escape' must match"),
        (lambda: migration("v2", "NotAFactory"), "'NotAFactory' is not buildable"),
        (lambda: migration("v2", "IDMap,Flat"), "leave out IDMap"),
        (lambda: migration("v2", metric="cosine"), "index metric must be one of"),
        (lambda: migration("v1"), "already exists"),
        (lambda: migration("v2", canary_steps=(50, 5)), "strictly increasing percentages"),
        (lambda: migration("v2", shadow_sample=2), "shadow_sample must be a finite number"),
        (lambda: migration("v2", guardrails={"recal": {}}), "recal"),
        (lambda: migration("v2", eval_set="missing"), "missing"),
    ],
    ids=["name", "factory", "idmap", "metric", "taken", "steps", "sample", "rule", "eval set"],
)
def test_a_bad_migration_request_changes_nothing(
    svc: Switchover, request_of: Callable[[], MigrationRequest], error: str
) -> None:
    """Refused by name, whether the request's own types or the core catch it."""
    with pytest.raises((InvalidInputError, ConflictError, NotFoundError), match=error):
        svc.create_migration(request_of(), "alice")
    assert [i.name for i in svc.indexes()] == ["v1"]
    assert svc.store.migrations.active() is None


def test_a_failing_target_embedder_never_fails_a_write(
    svc: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_model = migration("v2", "HNSW32,Flat", embedder=EmbedderSpec(kind="hash", dim=32))
    mid = svc.create_migration(new_model, "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    svc.migration_action(mid, "canary", ActionRequest(percent=50, override=True), "alice")
    target = svc.runtime("v2")

    def broken(_texts: object, **_options: object) -> object:
        raise EmbedderError("target model is down")

    monkeypatch.setattr(target, "embed_keyed", broken)
    result = svc.upsert([DocumentIn("during-outage", "harbour pilot boats at dawn")])
    assert svc.store.log.document("during-outage") is not None
    assert result.seq == svc.store.log.last_seq()
    assert target.lag(svc.store)[0] >= 1
    served = {svc.search("harbour pilot", 3, routing_key=f"k{i}").served_by for i in range(50)}
    assert served == {"v1"}, "a target missing an acknowledged write serves no read"
    assert svc.traffic().lagging["v2"] > 0, "its reads went to the source because it lags"
    assert svc.traffic().errors["v2"] == 0, "lagging is not a failed read"
    assert svc.reads.observations.errors("v2", 60)[1] == 1, "the failed write counts"
    monkeypatch.undo()
    assert "during-outage" in live_ids(svc, "v2")


def test_restart_mid_migration_recovers_the_target(tmp_path: Path) -> None:
    settings = hash_settings(tmp_path / "home")
    svc = Switchover(settings)
    svc.upsert([doc(i) for i in range(250)])
    mid = svc.create_migration(hnsw_target(), "alice").id
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "alice")
    svc.upsert([DocumentIn("late", "written during shadow")])
    svc.close(snapshot=False)  # like a crash: only the backfill's checkpoint snapshots exist

    again = Switchover(settings)
    try:
        assert again.current_migration().phase == "shadow"
        assert again.runtime("v2").index.ids() == again.store.log.document_ids()
    finally:
        again.close(snapshot=False)


def test_concurrent_writer_through_every_phase(svc: Switchover) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                svc.upsert([doc(1000 + n % 50, version=n), doc(2000 + n)])
                if n % 5 == 0:
                    svc.delete(f"d{2000 + n - 3:04d}")
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)
                return

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        mid = svc.create_migration(hnsw_target(), "alice").id
        backfill(svc, mid)
        for action, body in (
            ("shadow", ActionRequest()),
            ("canary", ActionRequest(percent=5, override=True)),
            ("canary", ActionRequest(percent=50, override=True)),
            ("cutover", ActionRequest(override=True)),
            ("finalize", ActionRequest()),
        ):
            svc.migration_action(mid, action, body, "alice")
    finally:
        stop.set()
        thread.join()
    assert not errors
    served = svc.registry.primary()
    assert served.name == "v2"
    served.catch_up(svc.store)
    assert served.index.ids() == svc.store.log.document_ids()
    for doc_id in list(svc.store.log.document_ids())[:30]:
        text = svc.get(doc_id).text
        assert svc.search(text, 3).hits[0].id == doc_id
