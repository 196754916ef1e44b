"""``migrate plan`` with an eval set: the paired queries the judge would ask this pair (with
the truth ``migrate start`` would choose) against the number the recall margin needs, the
per-query sd measured from the set's stored runs of the same kind, else the default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evals import load_dataset
from indexes import EmbedderSpec, InvalidInputError
from indexes.errors import NotFoundError
from migrator import DocumentIn, PowerRequest, Settings, Switchover, TargetRequest
from migrator.eval_power import DEFAULT_SD, MIN_RUN_PAIRS
from tests.conftest import SAMPLE_DIR
from tests.migrator.test_truth import _unlabelled

NEW_MODEL = EmbedderSpec(kind="hash", dim=96)
TO_NEW_MODEL = TargetRequest("v2", "Flat", embedder=NEW_MODEL)
LAYOUT_ONLY = TargetRequest("v2", "HNSW32,Flat")


@pytest.fixture
def svc(settings: Settings, tmp_path: Path) -> Iterator[Switchover]:
    """The sample's corpus and the unlabelled corpus stored; three eval sets registered."""
    service = Switchover(settings)
    folder = _unlabelled(tmp_path)
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    docs = [DocumentIn(d["id"], d["text"]) for d in map(json.loads, lines)]
    docs += [DocumentIn(d.id, d.embedding_text()) for d in load_dataset(SAMPLE_DIR).corpus]
    for start in range(0, len(docs), 200):
        service.upsert(docs[start : start + 200])
    service.add_eval_set("labelled", str(SAMPLE_DIR), sample=100, seed=3)
    service.add_eval_set("plain", str(folder), sample=300, seed=1)
    service.add_eval_set("bare", str(_unlabelled(tmp_path, corpus=False)), sample=1000, seed=1)
    yield service
    service.close(snapshot=False)


def power_of(svc: Switchover, target: TargetRequest, request: PowerRequest) -> dict[str, object]:
    found = svc.plan_migration(target, sample=8, power=request).eval_power
    assert found is not None
    return found.to_dict()


def store_run(svc: Switchover, eval_set: str, truth: str, fingerprints: list[str], sd: int) -> None:
    """A finished run whose recall@10 deltas are ``sd`` pairs of +1/-1 among zeros."""
    rows = [(1.0, 1.0)] * (MIN_RUN_PAIRS * 2 - 2 * sd) + [(1.0, 0.0), (0.0, 1.0)] * sd
    sides = dict(zip(["v1", "v2"], fingerprints, strict=True))
    report = {
        "meta": {"truth": truth, "fingerprints": sides},
        "queries": [{"source": {"recall@10": s}, "target": {"recall@10": t}} for s, t in rows],
    }
    svc.store.evals.add_run(eval_set, "v1", "v2", None, "job", "pass", report)


def test_a_labelled_set_counts_its_sampled_judged_queries(svc: Switchover) -> None:
    found = power_of(svc, TO_NEW_MODEL, PowerRequest("labelled"))
    assert (found["truth"], found["queries"]) == ("qrels", 100)
    assert (found["margin"], found["power"], found["sd"]) == (0.02, 0.8, DEFAULT_SD)
    assert found["enough"] is False
    assert "default" in str(found["sd_source"])


def test_a_model_change_without_qrels_counts_the_live_known_items(svc: Switchover) -> None:
    found = power_of(svc, TO_NEW_MODEL, PowerRequest("plain"))
    assert (found["truth"], found["queries"]) == ("known-item", 300)
    for doc_id in ("doc0", "doc1", "doc2"):
        svc.delete(doc_id)
    record = svc.store.evals.get_set("plain")
    gone = sum(item["doc_id"] in {"doc0", "doc1", "doc2"} for item in record.known_items)
    assert gone > 0
    assert power_of(svc, TO_NEW_MODEL, PowerRequest("plain"))["queries"] == 300 - gone


def test_a_layout_change_without_qrels_asks_every_sampled_query(svc: Switchover) -> None:
    found = power_of(svc, LAYOUT_ONLY, PowerRequest("plain"))
    assert (found["truth"], found["queries"]) == ("exact", 150)


def test_the_margin_and_power_come_from_the_request(svc: Switchover) -> None:
    default = power_of(svc, TO_NEW_MODEL, PowerRequest("labelled"))
    wider = power_of(
        svc, TO_NEW_MODEL, PowerRequest("labelled", {"recall": {"margin": 0.1}}, power=0.9)
    )
    assert (wider["margin"], wider["power"]) == (0.1, 0.9)
    assert int(str(wider["needed"])) < int(str(default["needed"]))


def test_the_sd_is_measured_from_stored_runs_of_the_same_kind_only(svc: Switchover) -> None:
    fingerprint = svc.registry.primary().entry.fingerprint
    store_run(svc, "labelled", "qrels", ["a", "b"], sd=3)  # a model change judged on qrels
    store_run(svc, "labelled", "qrels", [fingerprint, fingerprint], sd=20)  # a layout change
    store_run(svc, "plain", "qrels", ["a", "b"], sd=25)  # another eval set
    found = power_of(svc, TO_NEW_MODEL, PowerRequest("labelled"))
    assert found["sd_source"] == "measured: the largest of 1 stored run(s) of this kind"
    assert found["sd"] == pytest.approx(((6 * 1.0) / (MIN_RUN_PAIRS * 2 - 1)) ** 0.5, abs=1e-4)
    layout_sd, found_sd = power_of(svc, LAYOUT_ONLY, PowerRequest("labelled"))["sd"], found["sd"]
    assert isinstance(layout_sd, float | int)  # EvalPower.sd, through to_dict
    assert isinstance(found_sd, float | int)
    assert layout_sd > found_sd


def test_an_eval_set_that_cannot_judge_the_pair_is_refused_as_at_start(svc: Switchover) -> None:
    with pytest.raises(InvalidInputError, match=r"no qrels\.tsv and no corpus\.jsonl"):
        svc.plan_migration(TO_NEW_MODEL, sample=8, power=PowerRequest("bare"))
    assert power_of(svc, LAYOUT_ONLY, PowerRequest("bare"))["truth"] == "exact"


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (PowerRequest("nope"), NotFoundError),
        (PowerRequest("labelled", {"recall": {"margin": 2}}), InvalidInputError),
        (PowerRequest("labelled", {"recal": {}}), InvalidInputError),
        (PowerRequest("labelled", power=1.0), InvalidInputError),
        (PowerRequest("labelled", power=True), InvalidInputError),
    ],
)
def test_a_bad_question_is_refused_before_anything_is_timed(
    svc: Switchover, request_: PowerRequest, error: type[Exception]
) -> None:
    with pytest.raises(error):
        svc.plan_migration(TO_NEW_MODEL, sample=8, power=request_)
    assert svc.live_migration() is None
