"""A slow target during a canary.

Slow but inside the request's wait for it, the target answers its share of reads and
the latency guardrail rolls reads back to the source. Slower than that wait, no client
waits longer than it: writes are acknowledged from the log, the target's reads are
answered by the source, and the error guardrail rolls back. Either way, writes stay
dual and, once the target is quick again, both indexes hold every write.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from migrator import Switchover
from tests.faults.conftest import TARGET_TIMEOUT_S
from tests.faults.faults import assert_converged, put_body, start_canary, timed_searches


def writes(client: TestClient, rounds: int, version: int) -> float:
    """Update ``rounds`` batches of five documents; returns the slowest write in seconds."""
    slowest = 0.0
    for r in range(rounds):
        started = time.perf_counter()
        body = put_body(range(r * 5, r * 5 + 5), version=version)
        assert client.put("/v1/documents", json=body).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def test_a_slow_target_serves_its_share_then_the_latency_guardrail_rolls_it_back(
    svc: Switchover, client: TestClient
) -> None:
    delay = TARGET_TIMEOUT_S / 5
    mid, faulty = start_canary(
        svc, 50, guardrails={"latency": {"min_samples": 5}}, shadow_sample=0.0
    )
    faulty.fail("slow", delay_s=delay)
    assert writes(client, 4, version=1) < TARGET_TIMEOUT_S + 1.0
    served, slowest = timed_searches(client, 24)
    assert set(served) == {"v1", "v2"}, "slow is not failing: the target answers its share"
    assert slowest < TARGET_TIMEOUT_S + 1.0

    checks = {c.name: c for c in svc.watchdog.tick()}
    assert checks["latency"].state == "breach"
    assert svc.current_migration().phase == "rolled_back"
    assert svc.migration_events(mid)[-1].actor == "watchdog"
    assert timed_searches(client, 24)[0] == {"v1": 24}, (
        "after the rollback no read is on the target"
    )

    assert writes(client, 2, version=2) < TARGET_TIMEOUT_S + 1.0  # still dual
    faulty.heal()
    assert_converged(svc)


def test_a_target_slower_than_the_wait_delays_no_client_and_the_error_guardrail_rolls_back(
    svc: Switchover, client: TestClient
) -> None:
    mid, faulty = start_canary(svc, 50, guardrails={"errors": {"min_samples": 3}})
    faulty.fail("slow", delay_s=TARGET_TIMEOUT_S * 4)
    slowest_write = writes(client, 3, version=1)
    served, slowest_read = timed_searches(client, 16)
    assert slowest_write < TARGET_TIMEOUT_S + 1.0
    assert slowest_read < TARGET_TIMEOUT_S + 1.0
    assert served == {"v1": 16}, "the source answered every read the target was too slow for"

    checks = {c.name: c for c in svc.watchdog.tick()}
    assert checks["errors"].state == "breach"
    assert svc.current_migration().phase == "rolled_back"
    assert svc.migration_events(mid)[-1].reason.startswith("guardrail breached: errors")

    faulty.heal()
    assert_converged(svc)
