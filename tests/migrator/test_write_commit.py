"""A write's log record, its documents and its freshly encoded vectors commit together."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexes import content_hash
from indexes.errors import StorageError
from migrator import ActionRequest, DocumentIn, Switchover
from migrator.settings import Settings
from tests.conftest import migration


@pytest.fixture
def svc(settings: Settings) -> Iterator[Switchover]:
    service = Switchover(settings)
    yield service
    service.close(snapshot=False)


def _cached(svc: Switchover, text: str) -> bool:
    fingerprint = svc.runtime("v1").embedder.fingerprint
    return bool(svc.store.cache.get_many(fingerprint, [content_hash(text)]))


def test_an_acknowledged_write_has_its_vectors_cached(svc: Switchover) -> None:
    svc.upsert([DocumentIn("a", "lighthouse lamps rotate at night")])
    assert _cached(svc, "lighthouse lamps rotate at night")


def test_a_write_whose_log_record_fails_caches_nothing_and_changes_nothing(
    svc: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*_args: object) -> object:
        raise StorageError("database error: disk is full")

    before = svc.store.log.last_seq()
    monkeypatch.setattr(svc.store.log, "append_upserts", full_disk)
    with pytest.raises(StorageError):
        svc.upsert([DocumentIn("b", "harbour pilot boats at dawn")])
    monkeypatch.undo()
    assert not _cached(svc, "harbour pilot boats at dawn"), "rolled back with the log record"
    assert svc.store.log.last_seq() == before
    assert svc.store.log.document("b") is None
    assert "b" not in svc.runtime("v1").index.ids()


def test_a_write_whose_vectors_cannot_be_cached_is_refused_and_changes_nothing(
    svc: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vectors go to their files inside the log record's transaction, before it commits:
    a failure there rolls the log record back."""

    def full_disk(*_args: object) -> None:
        raise StorageError("cannot write the embedding cache: No space left on device")

    before = svc.store.log.last_seq()
    monkeypatch.setattr(svc.store.cache, "put_many", full_disk)
    with pytest.raises(StorageError, match="No space left"):
        svc.upsert([DocumentIn("c", "tugboats push the tanker off the quay")])
    monkeypatch.undo()
    assert svc.store.log.last_seq() == before
    assert svc.store.log.document("c") is None
    assert "c" not in svc.runtime("v1").index.ids()
    svc.upsert([DocumentIn("c", "tugboats push the tanker off the quay")])  # and then it works
    assert _cached(svc, "tugboats push the tanker off the quay")


def test_a_layout_only_target_takes_the_primarys_vectors_without_encoding(
    svc: Switchover,
) -> None:
    svc.upsert([DocumentIn(f"d{i}", f"passage number {i} about tides") for i in range(20)])
    mid = svc.create_migration(migration("v2", "HNSW32,Flat"), "alice").id
    svc.migration_action(mid, "backfill", ActionRequest(), "alice")
    svc.wait_backfill()
    target = svc.runtime("v2")
    encoded = target.encoded_total
    svc.upsert([DocumentIn("new", "a write during dual-write")])
    target.catch_up(svc.store)
    assert "new" in target.index.ids()
    assert target.encoded_total == encoded
