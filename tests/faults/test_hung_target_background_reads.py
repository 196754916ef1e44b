"""Shadow reads and one-shot eval jobs while the target's model hangs.

Both run off the request path, so nobody waits for them, but each is bounded by the
request timeout all the same: a shadow read on a hung target fails within it (a shadow
failure and a target error the error guardrail counts) and the shadow worker goes on with
the next job instead of stalling behind the hang while the queue fills and drops; a
one-shot eval job ends ``failed`` with the reason instead of staying ``running``, while
one slow call (contention, not a hang) costs the job a retried step, not its verdict.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from indexes import Embedder
from migrator import ActionRequest, Switchover
from migrator.evaljobs import STEP_ATTEMPTS
from tests.conftest import OPERATOR, migration
from tests.faults.conftest import TARGET_TIMEOUT_S
from tests.faults.faults import (
    NEW_MODEL,
    FaultyEmbedder,
    assert_converged,
    eval_set_of_the_corpus,
    start_canary,
    text_of,
)

SETTLE_S = 5.0  # far more than the handful of timeouts the work below may take


def start_shadow(svc: Switchover, **plan: Any) -> tuple[int, FaultyEmbedder]:
    """Migrate v1 -> v2 (a new model) up to shadow; returns its id and v2's embedder."""
    mid = int(svc.create_migration(migration("v2", embedder=NEW_MODEL, **plan), "op").id)
    svc.migration_action(mid, "backfill", ActionRequest(), "op")
    svc.wait_backfill()
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    svc.reads.start()  # the shadow reader alone: the tests tick the watchdog by hand
    target = svc.runtime("v2")
    inner: Embedder = target.embedder
    faulty = FaultyEmbedder(inner)
    target.embedder = faulty
    return mid, faulty


def search(client: TestClient, i: int) -> str:
    response = client.post("/v1/search", json={"query": text_of(i), "k": 3})
    assert response.status_code == 200, response.text
    return str(response.json()["served_by"])


def test_shadow_reads_on_a_hung_target_time_out_as_shadow_failures_and_target_errors(
    svc: Switchover, client: TestClient
) -> None:
    mid, faulty = start_shadow(svc, shadow_sample=1.0, guardrails={"errors": {"min_samples": 3}})
    faulty.fail("hang")

    assert [search(client, i) for i in range(6)] == ["v1"] * 6
    started = time.monotonic()
    svc.reads.shadow.drain(timeout=SETTLE_S)
    drained_in = time.monotonic() - started

    live = svc.current_migration().live
    assert live is not None
    shadow = live.shadow
    assert shadow.completed == 6, f"the shadow worker stalled behind the hang: {shadow}"
    assert shadow.errors == 6, shadow
    assert shadow.dropped == 0, shadow
    assert drained_in < 6 * TARGET_TIMEOUT_S + 1.0, "each shadow read waits one timeout at most"
    assert faulty.hung == 1, "after one timed-out read the next fail at once, none piles up"

    checks = {c.name: c for c in svc.watchdog.tick()}
    assert checks["errors"].state == "breach", checks["errors"]
    last = svc.migration_events(mid)[-1]
    assert (last.to_phase, last.actor) == ("rolled_back", "watchdog")
    assert last.reason.startswith("guardrail breached: errors"), last.reason

    faulty.heal()  # the hung call returns; shadowing (still on after the rollback) recovers
    # A read sent just as the hung call returns may still find its slot taken and fail at
    # once; recovery means a shadow read succeeds again, however many tries that takes.
    deadline = time.monotonic() + SETTLE_S
    recovered = svc.reads.shadow.stats()
    while recovered.completed == recovered.errors:
        assert time.monotonic() < deadline, f"shadow reads did not recover: {recovered}"
        search(client, 7)
        svc.reads.shadow.drain(timeout=SETTLE_S)
        recovered = svc.reads.shadow.stats()
    assert faulty.hung == 0
    assert_converged(svc)


def test_an_eval_job_on_a_hung_target_ends_failed_with_the_reason(
    svc: Switchover, client: TestClient, tmp_path: Path
) -> None:
    svc.add_eval_set("faults", str(eval_set_of_the_corpus(tmp_path / "evalset")), 60, 1)
    _, faulty = start_canary(svc, 50, shadow_sample=0.0)
    faulty.fail("hang")

    started = client.post("/v1/evals", json={"eval_set": "faults"}, headers=OPERATOR)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + SETTLE_S
    while (report := client.get(f"/v1/evals/{run_id}", headers=OPERATOR).json()["report"])[
        "status"
    ] == "running":
        assert time.monotonic() < deadline, f"the eval job still runs on a hung target: {report}"
        time.sleep(0.05)

    assert report["status"] == "failed", report
    assert report["error"].startswith("stopped after 0 of 60 queries"), report
    assert f"index v2 did not answer within {TARGET_TIMEOUT_S:g}s" in report["error"], report
    assert faulty.hung == STEP_ATTEMPTS, "each try of the step left one call hung, no more"

    faulty.heal()
    rerun = client.post("/v1/evals", json={"eval_set": "faults"}, headers=OPERATOR).json()["id"]
    report = finished_report(client, rerun)  # once the target healed
    assert report["summary"]["n"] == 60, report
    assert_converged(svc)


def finished_report(client: TestClient, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + SETTLE_S
    while (report := client.get(f"/v1/evals/{run_id}", headers=OPERATOR).json()["report"]).get(
        "status"
    ) == "running":
        assert time.monotonic() < deadline, f"the eval job did not finish: {report}"
        time.sleep(0.05)
    return dict(report)


def test_an_eval_job_tries_a_step_again_when_one_target_call_was_too_slow(
    svc: Switchover, client: TestClient, tmp_path: Path
) -> None:
    svc.add_eval_set("faults", str(eval_set_of_the_corpus(tmp_path / "evalset")), 60, 1)
    _, faulty = start_canary(svc, 50, shadow_sample=0.0)
    faulty.fail("slow", delay_s=4 * TARGET_TIMEOUT_S, times=1)  # one call past the timeout

    started = client.post("/v1/evals", json={"eval_set": "faults"}, headers=OPERATOR)
    assert started.status_code == 202, started.text
    report = finished_report(client, started.json()["id"])

    assert report.get("status") != "failed", report
    assert report["summary"]["n"] == 60, report
    assert report["meta"]["retried_steps"] == 1, report
    assert_converged(svc)
