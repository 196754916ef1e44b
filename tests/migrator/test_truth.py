"""What judges a migration: qrels, known-item queries or exact search, named in the evidence.

A layout change on an unlabelled eval set keeps exact search with the shared embedder as its
truth; a model change never does (the old model's neighbours would score an equally good new
model as a loss), so it is judged on known-item queries from the eval set's corpus, or
refused at ``migrate start`` when there is no corpus to build them from.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexes import EmbedderSpec, InvalidInputError
from migrator import ActionRequest, DocumentIn, Settings, Switchover
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill
from tests.migrator.test_watchdog import tick_until_decided

OTHER_MODEL = EmbedderSpec(kind="hash", dim=128)  # as good as the source, ranks differently


DOCUMENTS = 400  # enough known items for the judge to decide on a zero delta


def _unlabelled(tmp_path: Path, *, corpus: bool = True) -> Path:
    """A seeded corpus of 400 three-sentence documents and 150 queries, without qrels."""
    rng = random.Random(11)
    vocabulary = [f"w{i}" for i in range(3000)]

    def sentence() -> str:
        return " ".join(rng.choices(vocabulary, k=9)) + "."

    folder = tmp_path / ("unlabelled" if corpus else "queries-only")
    folder.mkdir()
    docs = [
        {"id": f"doc{i}", "text": " ".join(sentence() for _ in range(3))} for i in range(DOCUMENTS)
    ]
    queries = [{"id": f"q{i}", "text": " ".join(rng.choices(vocabulary, k=6))} for i in range(150)]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    if corpus:
        (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    return folder


@pytest.fixture
def svc(settings: Settings, tmp_path: Path) -> Iterator[Switchover]:
    service = Switchover(settings)
    folder = _unlabelled(tmp_path)
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    docs = [DocumentIn(d["id"], d["text"]) for d in map(json.loads, lines)]
    for start in range(0, len(docs), 200):
        service.upsert(docs[start : start + 200])
    service.add_eval_set("plain", str(folder), sample=DOCUMENTS, seed=1)
    service.add_eval_set("bare", str(_unlabelled(tmp_path, corpus=False)), sample=1000, seed=1)
    yield service
    service.close(snapshot=False)


def _shadow(svc: Switchover, eval_set: str, embedder: EmbedderSpec | None, factory: str) -> int:
    request = migration("v2", factory, embedder=embedder, eval_set=eval_set)
    mid = int(svc.create_migration(request, "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    return mid


def test_an_unlabelled_set_with_a_corpus_stores_seeded_known_items(svc: Switchover) -> None:
    record = svc.store.evals.get_set("plain")
    assert not record.labelled
    assert len(record.known_items) == DOCUMENTS  # one per document, up to the sample
    assert record.summary()["known_items"] == DOCUMENTS
    assert svc.store.evals.get_set("bare").known_items == []
    info = {i.name: i.known_items for i in svc.eval_sets()}
    assert info == {"plain": DOCUMENTS, "bare": 0}


def test_a_layout_change_keeps_exact_search_as_its_truth(svc: Switchover) -> None:
    _shadow(svc, "plain", None, "HNSW32,Flat")
    checks = tick_until_decided(svc)
    recall = next(c for c in checks if c.name == "recall")
    assert recall.detail.startswith("truth: exact;")
    judgement = svc.current_migration().judgement
    assert judgement is not None
    assert judgement.truth == "exact"


def test_a_model_change_is_judged_on_known_items_and_an_equal_model_passes(
    svc: Switchover,
) -> None:
    mid = _shadow(svc, "plain", OTHER_MODEL, "Flat")
    checks = tick_until_decided(svc)
    recall = next(c for c in checks if c.name == "recall")
    assert recall.state == "ok", recall.detail
    assert recall.detail.startswith("truth: known-item;")
    status = svc.current_migration()
    assert status.phase == "shadow"  # not rolled back for ranking differently
    assert status.judgement is not None
    assert status.judgement.truth == "known-item"
    assert "400 of 400 sentences" in status.judgement.truth_detail
    report = svc.eval_runs(mid)[0].report
    assert report["summary"]["truth"] == "known-item"
    assert report["meta"]["truth"] == "known-item"
    advanced = svc.migration_action(mid, "canary", ActionRequest(), "op")
    assert advanced.phase == "canary"
    event = svc.migration_events(mid)[-1]
    assert event.metrics["recall"]["truth"] == "known-item"


def test_the_old_models_neighbours_would_have_scored_that_equal_model_as_a_loss(
    svc: Switchover,
) -> None:
    """Why exact truth is refused for a model change: the bias, measured on the same pair."""
    _shadow(svc, "plain", OTHER_MODEL, "Flat")
    source, target = svc.registry.get("v1"), svc.registry.get("v2")
    queries = [q["text"] for q in svc.store.evals.get_set("plain").queries]
    overlap = [
        len({h.id for h in source.search(q, 10)} & {h.id for h in target.search(q, 10)}) / 10
        for q in queries
    ]
    # recall@10 of the target against the source's own top 10 is its overlap with it
    assert float(np.mean(overlap)) < 0.9


def test_known_items_whose_document_changed_or_went_are_not_asked(svc: Switchover) -> None:
    items = svc.store.evals.get_set("plain").known_items
    svc.delete(items[0]["doc_id"])
    svc.upsert([DocumentIn(items[1]["doc_id"], "rewritten: nothing of the old sentence")])
    _shadow(svc, "plain", OTHER_MODEL, "Flat")
    svc.watchdog.tick()
    status = svc.current_migration()
    assert status.judgement is not None
    assert "398 of 400 sentences" in status.judgement.truth_detail
    assert status.judgement.pool == 398


def test_a_model_change_with_neither_qrels_nor_a_corpus_is_refused_at_start(
    svc: Switchover,
) -> None:
    with pytest.raises(InvalidInputError, match=r"no qrels\.tsv and no corpus\.jsonl"):
        svc.create_migration(migration("v2", embedder=OTHER_MODEL, eval_set="bare"), "op")
    assert svc.store.migrations.active() is None
    assert [e.name for e in svc.store.catalog.entries()] == ["v1"]


def test_a_layout_change_on_that_set_still_judges_on_exact_search(svc: Switchover) -> None:
    _shadow(svc, "bare", None, "HNSW32,Flat")
    checks = tick_until_decided(svc)
    assert next(c for c in checks if c.name == "recall").detail.startswith("truth: exact;")


def test_a_labelled_set_judges_on_its_qrels_whatever_changes(sample_service: Switchover) -> None:
    _shadow(sample_service, "sample", OTHER_MODEL, "Flat")
    sample_service.watchdog.tick()
    judgement = sample_service.current_migration().judgement
    assert judgement is not None
    assert judgement.truth == "qrels"
