"""Judgement in the loop: pass a good target, roll a bad one back, gate the canary."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from evals import load_dataset
from indexes import SearchParams
from indexes.errors import ConflictError, EmbedderError
from migrator import ActionRequest, DocumentIn, Settings, Switchover
from migrator.guardrails import Check
from tests.conftest import SAMPLE_DIR, migration
from tests.migrator.test_lifecycle import backfill


@pytest.fixture
def svc(sample_service: Switchover) -> Switchover:
    return sample_service


def start(svc: Switchover, factory: str, eval_set: str | None = "sample", **plan: Any) -> int:
    if eval_set is not None:
        plan["eval_set"] = eval_set
    mid = int(svc.create_migration(migration("v2", factory, **plan), "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    return mid


def tick_until_decided(svc: Switchover, name: str = "recall", ticks: int = 40) -> list[Check]:
    checks: list[Check] = []
    for _ in range(ticks):
        checks = svc.watchdog.tick()
        if not checks or any(c.name == name and c.state != "hold" for c in checks):
            break
    return checks


def state(checks: list[Check], name: str) -> str:
    return next(c.state for c in checks if c.name == name)


def test_a_good_target_passes_and_may_advance(svc: Switchover) -> None:
    mid = start(svc, "HNSW32,Flat")
    checks = tick_until_decided(svc)
    assert state(checks, "recall") == "ok"
    status = svc.migration_action(mid, "canary", ActionRequest(), "op")
    assert status.phase == "canary"
    event = svc.migration_events(mid)[-1]
    assert "override" not in event.reason
    recall = event.metrics["recall"]
    assert recall["judgement"]["decision"] == "pass"
    assert recall["eval_set_hash"] == svc.store.evals.get_set("sample").content_hash
    runs = svc.eval_runs(mid)
    assert runs[0].decision == "pass"
    assert runs[0].origin == "watchdog"


def test_a_bad_target_is_rolled_back_automatically_with_its_evidence(svc: Switchover) -> None:
    mid = start(svc, "IVF8,Flat", search_params=SearchParams(nprobe=1))
    tick_until_decided(svc)
    status = svc.current_migration()
    assert status.phase == "rolled_back"
    event = svc.migration_events(mid)[-1]
    assert event.actor == "watchdog"
    assert event.reason.startswith("guardrail breached: recall")
    recall = event.metrics["recall"]
    judgement = recall["judgement"]
    assert judgement["decision"] == "fail"
    assert judgement["ci_high"] < -0.02
    assert judgement["margin"] == 0.02
    assert recall["eval_set_hash"] == svc.store.evals.get_set("sample").content_hash
    assert set(recall["fingerprints"]) == {"v1", "v2"}
    run = svc.eval_run(event.metrics["eval_run"])  # the judgement's run, recorded with it
    assert (run.migration_id, run.origin, run.decision) == (mid, "watchdog-rollback", "fail")
    # writes stay dual after the automatic rollback
    svc.upsert([DocumentIn("late", "quasar spectroscopy written after the rollback")])
    svc.search_pinned("v2", "quasar spectroscopy", 1)  # a pinned read catches the target up
    assert "late" in svc.runtime("v2").index
    assert svc.search("quasar spectroscopy", 1).served_by == "v1"


def test_advancing_without_a_passing_judgement_needs_an_audited_override(
    svc: Switchover,
) -> None:
    mid = start(svc, "HNSW32,Flat")
    with pytest.raises(ConflictError, match="needs a passing recall judgement"):
        svc.migration_action(mid, "canary", ActionRequest(percent=5), "op")
    status = svc.migration_action(mid, "canary", ActionRequest(percent=5, override=True), "op")
    assert status.canary_percent == 5
    assert "operator override" in svc.migration_events(mid)[-1].reason


def test_no_eval_set_and_no_live_data_holds_never_passes(settings: Settings) -> None:
    svc = Switchover(settings)
    try:
        svc.upsert([DocumentIn(f"d{i}", f"document number {i}") for i in range(20)])
        mid = svc.create_migration(migration("v2", "HNSW32,Flat"), "op")
        backfill(svc, mid.id)
        svc.migration_action(mid.id, "shadow", ActionRequest(), "op")
        checks = svc.watchdog.tick()
        assert {c.name: c.state for c in checks}["recall"] == "hold"
        assert {c.name: c.state for c in checks}["live_recall"] == "hold"
        assert {c.name: c.state for c in checks}["latency"] == "hold"
        assert svc.current_migration().phase == "shadow"
    finally:
        svc.close(snapshot=False)


def test_live_shadow_traffic_judges_a_layout_change(svc: Switchover) -> None:
    mid = start(
        svc,
        "IVF8,Flat",
        eval_set=None,
        search_params=SearchParams(nprobe=1),
        shadow_sample=1.0,
        guardrails={"live_recall": {"min_samples": 40}},
    )
    data = load_dataset(SAMPLE_DIR)
    svc.reads.start()  # the shadow reader alone: this test ticks the watchdog by hand
    for query in data.queries[:80]:
        svc.search(query.text, 10)
    svc.reads.shadow.drain()
    checks = svc.watchdog.tick()
    live = next(c for c in checks if c.name == "live_recall")
    assert live.state == "breach", live.detail
    assert svc.current_migration().phase == "rolled_back"
    assert "live_recall" in svc.migration_events(mid)[-1].reason


def test_a_lagging_target_breaches_the_lag_guardrail(
    svc: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    mid = start(svc, "HNSW32,Flat", guardrails={"lag": {"max_records": 3}})
    target = svc.runtime("v2")

    def broken(_texts: object) -> object:
        raise EmbedderError("target model is down")

    monkeypatch.setattr(target, "embed_documents", broken)
    for i in range(5):
        svc.upsert([DocumentIn(f"new{i}", f"fresh document {i}")])
    svc.registry.catch_up_all()
    checks = svc.watchdog.tick()
    assert state(checks, "lag") == "breach"
    assert svc.current_migration().phase == "rolled_back"
    assert svc.migration_events(mid)[-1].reason.startswith("guardrail breached: lag")


def test_a_failing_target_breaches_the_error_guardrail(
    svc: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    mid = start(svc, "HNSW32,Flat", guardrails={"errors": {"min_samples": 20}})
    svc.migration_action(mid, "canary", ActionRequest(percent=90, override=True), "op")
    target = svc.runtime("v2")

    def broken(*_: object, **__: object) -> object:
        raise EmbedderError("target index is failing")

    monkeypatch.setattr(target, "search", broken)
    served = {svc.search("lighthouse lamp", 3, routing_key=f"k{i}").served_by for i in range(60)}
    assert served == {"v1"}, "every failed target read was answered by the source"
    checks = svc.watchdog.tick()
    assert state(checks, "errors") == "breach"
    assert svc.current_migration().phase == "rolled_back"


def test_a_slow_target_breaches_the_latency_guardrail(svc: Switchover) -> None:
    mid = start(svc, "HNSW32,Flat", guardrails={"latency": {"min_samples": 10}})
    obs = svc.reads.observations
    for _ in range(20):
        obs.search("v1", 5.0)
        obs.search("v2", 9.0)
    checks = svc.watchdog.tick()
    latency = next(c for c in checks if c.name == "latency")
    assert latency.state == "breach"
    assert latency.observed == pytest.approx(1.8)
    assert svc.migration_events(mid)[-1].actor == "watchdog"


def test_without_qrels_exact_search_is_the_truth(svc: Switchover, tmp_path: Path) -> None:
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):  # no qrels.tsv
        shutil.copy(SAMPLE_DIR / name, folder / name)
    record = svc.add_eval_set("unlabelled", str(folder), sample=150, seed=2)
    assert record.labelled is False
    mid = start(svc, "IVF8,Flat", eval_set="unlabelled", search_params=SearchParams(nprobe=1))
    tick_until_decided(svc)
    assert svc.current_migration().phase == "rolled_back"
    evidence = svc.migration_events(mid)[-1].metrics["recall"]
    assert evidence["truth"] == "exact"
    assert evidence["judgement"]["decision"] == "fail"
