"""The watchdog with an eval set while the target's model hangs.

Each watchdog step draws eval-set queries on both indexes. The target's side runs on its
bounded workers, waited for at most the request timeout: a hung target fails the step
(a target error the error guardrail counts) instead of hanging it, so the watchdog keeps
ticking and rolls reads back by itself. The hang never piles up threads, writes keep
succeeding and reads go to the source.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from migrator import Switchover
from tests.faults.conftest import TARGET_TIMEOUT_S
from tests.faults.faults import (
    assert_converged,
    eval_set_of_the_corpus,
    put_body,
    start_canary,
    text_of,
)

ROLLBACK_WITHIN_S = 5.0  # a handful of watchdog ticks, each bounded by the target timeout


def test_a_hung_target_fails_the_watchdogs_recall_steps_and_it_rolls_back_by_itself(
    svc: Switchover, client: TestClient, tmp_path: Path
) -> None:
    svc.add_eval_set("faults", str(eval_set_of_the_corpus(tmp_path / "evalset")), 60, 1)
    guardrails = {"errors": {"min_samples": 3}, "recall": {"min_samples": 10}}
    mid, faulty = start_canary(svc, 50, eval_set="faults", guardrails=guardrails, shadow_sample=0)
    faulty.fail("hang")

    svc.watchdog.interval_s = 0.05
    started = time.monotonic()
    svc.watchdog.start()
    while svc.current_migration().phase != "rolled_back":
        assert time.monotonic() - started < ROLLBACK_WITHIN_S, (
            f"no automatic rollback within {ROLLBACK_WITHIN_S}s: the watchdog is stuck"
        )
        time.sleep(0.02)

    last = svc.migration_events(mid)[-1]
    assert last.actor == "watchdog"
    assert last.reason.startswith("guardrail breached: errors"), last.reason
    assert faulty.hung > 0, "the eval queries really hung on the target"
    assert faulty.hung <= 4, "a hang holds at most the target's bounded workers"

    for r in range(3):  # writes keep succeeding, quickly, and stay dual
        began = time.perf_counter()
        response = client.put("/v1/documents", json=put_body(range(r * 5, r * 5 + 5), 1))
        assert response.status_code == 200, response.text
        assert time.perf_counter() - began < TARGET_TIMEOUT_S + 1.0
    for i in range(20):  # reads go to the source and see those writes
        response = client.post(
            "/v1/search",
            json={"query": text_of(i % 15, 1), "k": 1},
            headers={"X-Routing-Key": f"k{i}"},
        )
        assert response.json()["served_by"] == "v1"
        assert response.json()["hits"][0]["id"] == f"d{i % 15:04d}"
    assert svc.watchdog.running, "the watchdog thread outlived the hang"

    faulty.heal()
    assert_converged(svc)
