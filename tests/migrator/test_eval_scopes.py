"""Eval queries carry their filter: both sides (and an exact truth) search within it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evals import load_dataset
from migrator import DocumentIn, Switchover
from migrator.guardrails import RecallRule
from migrator.recall import RecallSession
from tests.conftest import SAMPLE_DIR


def filtered_eval_set(svc: Switchover, folder: Path) -> None:
    """q001 (answered by p001) asked three ways: unfiltered, within p001, and without it."""
    data = load_dataset(SAMPLE_DIR)
    svc.upsert([DocumentIn(d.id, d.embedding_text(), {"doc": d.id}) for d in data.corpus])
    folder.mkdir()
    shutil.copy(SAMPLE_DIR / "corpus.jsonl", folder / "corpus.jsonl")
    text = data.queries[0].text
    rows: list[dict[str, object]] = [
        {"id": "plain", "text": text},
        {"id": "within", "text": text, "filter": {"doc": "p001"}},
        {"id": "without", "text": text, "filter": {"not": {"doc": "p001"}}},
    ]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"{r['id']}\tp001\t1\n" for r in rows)
    (folder / "qrels.tsv").write_text(qrels)
    svc.add_eval_set("filtered", str(folder), sample=3, seed=1)


def session(svc: Switchover, target: str) -> RecallSession:
    return RecallSession(
        svc.store,
        svc.runtime("v1"),
        svc.runtime(target),
        svc.store.evals.get_set("filtered"),
        RecallRule(min_samples=2),
        select=svc.registry.metadata.select,
    )


def recall_by_query(s: RecallSession) -> dict[str, tuple[float, float]]:
    s.run_to_end()
    return {r.query_id: (r.source["recall@10"], r.target["recall@10"]) for r in s.results}


def test_an_eval_querys_filter_is_searched_on_both_sides(
    service: Switchover, tmp_path: Path
) -> None:
    filtered_eval_set(service, tmp_path / "filtered")
    found = recall_by_query(session(service, "v1"))
    assert found["within"] == (1.0, 1.0)  # the one document the filter allows
    assert found["without"] == (0.0, 0.0)  # the filter excludes the answer on both sides
    stored = service.store.evals.get_set("filtered").queries
    assert stored[0].get("filter") in (None, {"doc": "p001"}, {"not": {"doc": "p001"}})


def test_an_exact_truth_is_searched_within_the_querys_filter_too(
    service: Switchover, tmp_path: Path
) -> None:
    filtered_eval_set(service, tmp_path / "filtered")
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    shutil.copy(tmp_path / "filtered" / "queries.jsonl", folder / "queries.jsonl")
    service.add_eval_set("unlabelled", str(folder), sample=3, seed=1)
    s = RecallSession(
        service.store,
        service.runtime("v1"),
        service.runtime("v1"),
        service.store.evals.get_set("unlabelled"),
        RecallRule(min_samples=2),
        select=service.registry.metadata.select,
    )
    assert s.truth == "exact"
    # Flat against an exact truth within the same filter finds all of it, filter or not
    assert set(recall_by_query(s).values()) == {(1.0, 1.0)}
