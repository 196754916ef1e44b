"""The facade's contract: writes are logged before they are acknowledged, indexes follow the log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexes.errors import EmbedderError, InvalidInputError, NotFoundError
from migrator import DocumentIn, Settings, Switchover
from tests.conftest import hash_settings

DOCS = [
    DocumentIn(
        "lighthouse", "the lighthouse keeper trimmed the lamp wick at dusk", {"topic": "sea"}
    ),
    DocumentIn("bread", "sourdough bread rises slowly with a wild yeast starter", {}),
    DocumentIn("bees", "honeybee colonies swarm in spring when the hive is crowded", {}),
    DocumentIn("delta", "river deltas build land from silt carried downstream", {}),
]


def ids(svc: Switchover, query: str, k: int = 4) -> list[str]:
    return [h.id for h in svc.search(query, k).hits]


def test_upsert_is_logged_then_searchable(service: Switchover) -> None:
    result = service.upsert(DOCS)
    assert result.written == 4
    assert result.seq == service.store.log.last_seq() == 4
    assert ids(service, "wild yeast sourdough starter")[0] == "bread"
    assert service.get("lighthouse").metadata == {"topic": "sea"}


def test_search_reports_which_index_served_it(service: Switchover) -> None:
    service.upsert(DOCS)
    assert service.search("bees", 2).served_by == "v1"


def test_update_replaces_the_text_and_the_vector(service: Switchover) -> None:
    service.upsert(DOCS)
    service.upsert([DocumentIn("bread", "glass blowing furnace shapes molten glass", {})])
    assert service.get("bread").text.startswith("glass blowing")
    assert ids(service, "molten glass furnace")[0] == "bread"
    assert len(service.registry.primary().index) == 4


def test_delete_removes_from_store_and_index(service: Switchover) -> None:
    service.upsert(DOCS)
    result = service.delete("bees")
    assert result.seq == 5
    assert "bees" not in ids(service, "honeybee colonies swarm")
    with pytest.raises(NotFoundError):
        service.get("bees")


def test_deleting_an_unknown_document_is_not_found_and_logs_nothing(service: Switchover) -> None:
    with pytest.raises(NotFoundError):
        service.delete("nope")
    assert service.store.log.last_seq() == 0


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ([], "empty"),
        ([DocumentIn("a", "   ")], "text"),
        ([DocumentIn("", "text")], "id"),
        ([DocumentIn("a\x00b", "text")], "control"),
        ([DocumentIn("a", "x" * 40_000)], "limit"),
        ([DocumentIn("a", "one"), DocumentIn("a", "two")], "twice"),
        ([DocumentIn("a", "t", {"big": "x" * 20_000})], "metadata"),
        ([DocumentIn(str(i), "t") for i in range(300)], "batch"),
    ],
)
def test_a_bad_batch_is_rejected_whole_and_changes_nothing(
    service: Switchover, docs: list[DocumentIn], message: str
) -> None:
    service.upsert(DOCS[:1])
    batch = [DOCS[1], *docs] if docs else []  # a good document does not save a bad batch
    with pytest.raises(InvalidInputError, match=message):
        service.upsert(batch)
    assert service.store.log.last_seq() == 1
    assert service.store.log.document_count() == 1
    assert len(service.registry.primary().index) == 1


@pytest.mark.parametrize(
    ("query", "k"), [("", 5), ("   ", 5), ("q", 0), ("q", 101), ("x" * 5000, 5)]
)
def test_bad_queries_are_refused(service: Switchover, query: str, k: int) -> None:
    with pytest.raises(InvalidInputError):
        service.search(query, k)


def test_restart_replays_the_log_without_re_encoding(settings: Settings) -> None:
    first = Switchover(settings)
    first.upsert(DOCS)
    first.delete("delta")
    first.close(snapshot=False)  # as if it died: no snapshot, only the log

    second = Switchover(settings)
    try:
        runtime = second.registry.primary()
        assert runtime.index.applied_seq == 5
        assert runtime.index.ids() == {"lighthouse", "bread", "bees"}
        assert runtime.encoded_total == 0, "replay must come from the embedding cache"
        assert ids(second, "honeybee colonies")[0] == "bees"
    finally:
        second.close(snapshot=False)


def test_restart_loads_the_snapshot_then_replays_only_the_tail(settings: Settings) -> None:
    first = Switchover(settings)
    first.upsert(DOCS[:2])
    first.snapshot("v1")
    first.upsert(DOCS[2:])
    first.close(snapshot=False)

    second = Switchover(settings)
    try:
        assert second.indexes()[0].last_snapshot_seq == 2
        assert second.registry.primary().index.ids() == {d.id for d in DOCS}
    finally:
        second.close(snapshot=False)


def test_a_corrupt_snapshot_means_a_rebuild_from_the_log(settings: Settings) -> None:
    first = Switchover(settings)
    first.upsert(DOCS)
    first.snapshot("v1")
    first.close(snapshot=False)
    for path in settings.snapshot_dir("v1").rglob("index.faiss"):
        path.write_bytes(b"not a faiss index")

    second = Switchover(settings)
    try:
        assert second.registry.primary().index.ids() == {d.id for d in DOCS}
        assert ids(second, "river deltas silt")[0] == "delta"
    finally:
        second.close(snapshot=False)


def test_a_missing_snapshot_folder_means_a_rebuild_from_the_log(settings: Settings) -> None:
    first = Switchover(settings)
    first.upsert(DOCS)
    first.close()  # graceful: writes a snapshot
    shutil.rmtree(settings.home / "indexes")
    second = Switchover(settings)
    try:
        assert len(second.registry.primary().index) == 4
    finally:
        second.close(snapshot=False)


def test_a_failed_apply_does_not_lose_the_acknowledged_write(
    service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = service.registry.primary()

    def broken(*_: object, **__: object) -> None:
        raise EmbedderError("simulated failure while applying")

    monkeypatch.setattr(runtime, "apply", broken)
    result = service.upsert(DOCS[:2])
    assert result.seq == 2
    assert "simulated failure while applying" in (runtime.last_error or "")
    monkeypatch.undo()
    # the next read closes the gap from the log before answering
    assert ids(service, "sourdough bread", 2)[0] == "bread"
    assert runtime.index.applied_seq == 2


@pytest.mark.parametrize("factory", ["HNSW32,Flat", "IVF4,Flat"])
def test_every_layout_serves_upserts_and_deletes(tmp_path: Path, factory: str) -> None:
    svc = Switchover(hash_settings(tmp_path / "home", factory=factory))
    try:
        svc.upsert(DOCS)
        svc.upsert([DocumentIn("bees", "typewriter keys strike an inked ribbon", {})])
        svc.delete("delta")
        assert svc.registry.primary().index.ids() == {"lighthouse", "bread", "bees"}
        assert ids(svc, "typewriter inked ribbon")[0] == "bees"
        assert "delta" not in ids(svc, "river deltas silt")
    finally:
        svc.close(snapshot=False)
