"""The target's embedder fails during a canary: it raises, or it hangs.

Clients see no failed, lost or slow write and every read answered (by the source when
the target cannot); the target's lag and error show in /v1/indexes; once the model is
back the target catches up from the log and holds every write with its newest text.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from migrator import Settings, Switchover
from tests.conftest import OPERATOR_TOKEN, open_client
from tests.faults.conftest import TARGET_TIMEOUT_S
from tests.faults.faults import (
    FaultyEmbedder,
    assert_converged,
    docs,
    put_body,
    start_canary,
    text_of,
    timed_searches,
)

BUDGET_S = TARGET_TIMEOUT_S + 1.0  # the most any request may take while the target is down


def timed_put(client: TestClient, body: dict[str, object]) -> float:
    started = time.perf_counter()
    response = client.put("/v1/documents", json=body)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started


def index_status(client: TestClient, name: str) -> dict[str, Any]:
    found = [i for i in client.get("/v1/indexes").json()["indexes"] if i["name"] == name]
    return dict(found[0])


@pytest.mark.parametrize("fault", ["raise", "hang"])
def test_a_failing_target_embedder_during_canary_fails_no_write_and_no_read(
    svc: Switchover, client: TestClient, fault: str
) -> None:
    _, faulty = start_canary(svc, 50)
    assert set(timed_searches(client)[0]) == {"v1", "v2"}, "the canary really serves from v2"
    svc.registry.start_background()  # the applier too will run into the fault
    faulty.fail("raise" if fault == "raise" else "hang")

    took = [timed_put(client, put_body(range(r * 10, r * 10 + 10), version=1)) for r in range(4)]
    took.append(timed_put(client, put_body(range(100, 110))))  # new documents
    took.append(timed_put(client, put_body(range(5), version=1)))  # same texts: cached vectors
    assert client.delete("/v1/documents/d0059").status_code == 200
    served, slowest_read = timed_searches(client)

    assert max(took) < BUDGET_S, f"a write waited {max(took):.2f}s for the failing target"
    assert set(served) == {"v1"}, "every read the target could not answer was answered by v1"
    assert slowest_read < BUDGET_S, f"a read waited {slowest_read:.2f}s"
    for i in (3, 37, 105):  # acknowledged means readable at once
        assert client.get(f"/v1/documents/d{i:04d}").json()["text"] == text_of(
            i, 0 if i >= 100 else 1
        )
    status = index_status(client, "v2")
    assert status["lag_records"] > 0
    assert status["last_error"]
    assert index_status(client, "v1")["lag_records"] == 0
    assert faulty.hung > 0 if fault == "hang" else faulty.calls > 0, "the fault really fired"

    faulty.heal()  # the model is back: the applier catches the target up from the log
    assert_converged(svc)
    assert set(timed_searches(client)[0]) == {"v1", "v2"}, "the canary share is served by v2 again"
    assert client.get("/healthz").json()["documents"] == 69  # 60 + 10 new - 1 deleted


@pytest.mark.slow
def test_a_hanging_target_on_the_real_model_holds_up_no_client(tmp_path: Path) -> None:
    """MiniLM on both sides (v1 Flat, v2 HNSW): v2's model hangs mid-canary, then recovers."""
    settings = Settings(
        home=tmp_path / "home",
        target_timeout_s=1.0,
        operator_tokens={"tester": OPERATOR_TOKEN},
    )
    svc = Switchover(settings)
    try:
        svc.upsert(docs(range(60)))
        _, faulty = start_canary(svc, 50, factory="HNSW32,Flat", embedder=None)
        with open_client(settings, svc) as client:
            assert set(timed_searches(client)[0]) == {"v1", "v2"}
            svc.registry.start_background()
            faulty.fail("hang")
            took = [timed_put(client, put_body(range(r * 10, r * 10 + 10), 1)) for r in range(3)]
            took.append(timed_put(client, put_body(range(100, 110))))
            served, slowest_read = timed_searches(client)
            assert max(took) < 1.0 + 2.0, f"a write waited {max(took):.2f}s for a hung target"
            assert slowest_read < 1.0 + 2.0
            assert set(served) == {"v1"}
            # (writes still reach v2: with the source's model it finds their vectors in the
            # embedding cache, so only its query embedding is stuck)

            faulty.heal()
            assert_converged(svc)
            assert set(timed_searches(client)[0]) == {"v1", "v2"}
    finally:
        for runtime in svc.registry.all():
            if isinstance(runtime.embedder, FaultyEmbedder):
                runtime.embedder.heal()
        svc.close(snapshot=False)
