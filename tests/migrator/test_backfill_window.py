"""A re-encoding backfill reads a window of documents and encodes them shortest first.

In id order a batch's texts have any lengths, and the encoder pads every text of a batch to
its longest one; sorted by length over a window, each batch holds texts of about one length.
The cursor still moves in id order, a whole window at a time, so a stop inside a window
resumes at that window's start and nothing is lost or counted twice.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from indexes import EmbedderSpec
from migrator import DocumentIn, Settings, Switchover
from migrator import backfill as backfill_module
from migrator.backfill import Backfiller
from tests.conftest import migration

DOCS = 400
NEW_MODEL = EmbedderSpec(kind="hash", dim=32)  # every text is encoded again


def varied_corpus(svc: Switchover) -> None:
    """Documents whose text lengths are shuffled against their id order."""
    rng = random.Random(5)
    words = [f"w{n}" for n in range(DOCS)]
    docs = [
        DocumentIn(f"d{i:04d}", " ".join(words[: rng.randint(1, 60)]) + f" {i}")
        for i in range(DOCS)
    ]
    for start in range(0, DOCS, 100):
        svc.upsert(docs[start : start + 100])


def recorded_batches(
    monkeypatch: pytest.MonkeyPatch, svc: Switchover, name: str, after: int | None = None
) -> tuple[list[list[str]], threading.Event]:
    """Every text batch the target's encoder is given; the event is set once ``after``
    batches went by (a stop request arriving then)."""
    target = svc.runtime(name)
    embed = target.embed_documents
    batches: list[list[str]] = []
    stop = threading.Event()

    def spy(texts: Sequence[str]) -> Any:
        batches.append(list(texts))
        if after is not None and len(batches) >= after:
            stop.set()
        return embed(texts)

    monkeypatch.setattr(target, "embed_documents", spy)
    return batches, stop


def backfiller(svc: Switchover, mid: int, stop: threading.Event) -> Backfiller:
    return Backfiller(svc.store, svc.runtime("v2"), mid, 10, lambda: None, stop)


@pytest.fixture
def migrating(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Switchover, int]]:
    """A service over :func:`varied_corpus` and the id of a migration to a new embedder
    (batches of 10, windows of 100), its backfill not started."""
    monkeypatch.setattr(backfill_module, "ENCODE_WINDOW", 100)
    svc = Switchover(settings)
    try:
        varied_corpus(svc)
        request = migration("v2", embedder=NEW_MODEL, backfill_batch=10)
        yield svc, svc.create_migration(request, "tester").id
    finally:
        svc.close(snapshot=False)


def test_each_window_is_encoded_shortest_text_first_a_batch_at_a_time(
    migrating: tuple[Switchover, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, mid = migrating
    batches, stop = recorded_batches(monkeypatch, svc, "v2")
    state = backfiller(svc, mid, stop).run()
    assert state.finished
    assert state.done == DOCS
    assert state.encoded == DOCS
    assert all(len(b) == 10 for b in batches)
    assert len(batches) == DOCS // 10
    for window in range(DOCS // 100):
        lengths = [len(t) for b in batches[window * 10 : window * 10 + 10] for t in b]
        assert lengths == sorted(lengths), f"window {window} is not shortest first"
    first_window = {t for b in batches[:10] for t in b}
    assert first_window == {d.text for d in svc.store.log.scan(None, 100)}
    assert svc.runtime("v2").index.ids() == svc.store.log.document_ids()


def test_a_stop_inside_a_window_resumes_at_its_start_and_counts_each_document_once(
    migrating: tuple[Switchover, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, mid = migrating
    _batches, stop = recorded_batches(monkeypatch, svc, "v2", after=15)  # inside window 2
    state = backfiller(svc, mid, stop).run()
    assert not state.finished
    assert (state.done, state.cursor) == (100, "d0099"), "the first window only"
    assert svc.store.migrations.get(mid).backfill == state, "what a restart resumes from"
    assert state.encoded == 150, "the stopped window's 50 texts were encoded (and cached)"

    resumed = backfiller(svc, mid, threading.Event()).run()
    assert resumed.finished
    assert resumed.done == DOCS
    assert resumed.encoded == DOCS, "the 50 came from the cache the second time"
    assert svc.runtime("v2").index.ids() == svc.store.log.document_ids()


def test_a_document_changed_while_its_window_is_encoded_comes_through_the_log(
    migrating: tuple[Switchover, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc, mid = migrating
    svc.start()  # dual-write: writes reach v2 through the log
    target = svc.runtime("v2")
    embed = target.embed_documents
    calls = 0

    def write_during_the_first_window(texts: Sequence[str]) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:  # d0099 sits in the first window, read before this write
            svc.upsert([DocumentIn("d0099", "rewritten while its window was encoded")])
            svc.delete("d0098")
        return embed(texts)

    monkeypatch.setattr(target, "embed_documents", write_during_the_first_window)
    state = backfiller(svc, mid, threading.Event()).run()
    assert state.finished
    hits = target.index.ids()
    assert "d0098" not in hits
    assert hits == svc.store.log.document_ids()
    query = target.embedder.embed_queries(["rewritten while its window was encoded"])
    top = target.index.search(query, 1)[0][0]
    assert top.id == "d0099", top
    assert top.score == pytest.approx(1.0, abs=1e-5), "the new text's vector, not the old"
