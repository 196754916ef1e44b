"""Read your writes while the target lags.

During canary and cutover the target applies a write only within the request's wait for
it; past that the write is acknowledged from the log and the target catches up later. A
read routed to the target meanwhile is answered by the source, so no search ever misses
an acknowledged write, returns an older text or a deleted document. Such a read costs
no wait and is no target error (it is counted as "lagging"). A healthy target applies
every write before the ack, so a steady write stream does not starve its share.
"""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from migrator import Switchover
from migrator.routing import routes_to_target
from tests.faults.conftest import TARGET_TIMEOUT_S
from tests.faults.faults import (
    assert_converged,
    docs,
    lags,
    put_body,
    start_canary,
    text_of,
    wait_until_caught_up,
)


def target_keys(mid: int, percent: float, n: int) -> list[str]:
    """``n`` routing keys this migration's canary sends to the target."""
    keys = (f"k{i}" for i in range(100_000))
    return [k for k in keys if routes_to_target(percent, k, mid)][:n]


def search(client: TestClient, query: str, key: str) -> tuple[str, list[str], float]:
    """(served_by, hit ids, seconds) of one search with a routing key."""
    started = time.perf_counter()
    response = client.post(
        "/v1/search", json={"query": query, "k": 5}, headers={"X-Routing-Key": key}
    )
    took = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()
    return body["served_by"], [h["id"] for h in body["hits"]], took


def test_a_target_that_lags_an_acknowledged_write_serves_no_read_until_it_has_caught_up(
    svc: Switchover, client: TestClient
) -> None:
    mid, faulty = start_canary(svc, 50, shadow_sample=0.0)
    keys = target_keys(mid, 50, 20)
    assert {search(client, text_of(1), k)[0] for k in keys} == {"v2"}, "these keys are v2's"
    svc.registry.start_background()  # the applier will hang on the target, holding its lock
    faulty.fail("hang")

    # three acknowledged writes the target does not have: a new document, a new text of
    # an old one, and a delete (skipped on the target: the hung applier holds its lock)
    assert client.put("/v1/documents", json=put_body(range(100, 101))).status_code == 200
    assert client.put("/v1/documents", json=put_body(range(5, 6), version=1)).status_code == 200
    assert client.delete("/v1/documents/d0007").status_code == 200
    assert lags(svc)["v2"] > 0
    assert lags(svc)["v1"] == 0
    errors_before = svc.traffic().errors["v2"]

    for key in keys:
        served, hits, took = search(client, text_of(100), key)
        assert served == "v1", f"{key}: the lagging target served a read"
        assert hits[0] == "d0100", f"{key}: the acknowledged new document is missing"
        assert took < TARGET_TIMEOUT_S, f"{key}: a read waited {took:.2f}s for the target"
        served, hits, _ = search(client, text_of(5, 1), key)
        assert (served, hits[0]) == ("v1", "d0005"), f"{key}: not found by its new text"
        served, hits, _ = search(client, text_of(7), key)
        assert served == "v1"
        assert "d0007" not in hits, f"{key}: a deleted document came back"
    assert svc.traffic().lagging["v2"] == 3 * len(keys)
    assert svc.traffic().errors["v2"] == errors_before, "lagging is not a target error"
    metrics = client.get("/metrics").text
    assert f'switchover_lagging_reads_total{{index="v2"}} {float(3 * len(keys))}' in metrics
    assert faulty.hung > 0, "the fault really fired"

    faulty.heal()  # the applier catches the target up from the log
    wait_until_caught_up(svc)
    for key in keys:
        assert search(client, text_of(100), key)[:2][0] == "v2", "caught up, it serves again"
        assert search(client, text_of(100), key)[1][0] == "d0100"
        assert search(client, text_of(5, 1), key)[1][0] == "d0005"
        assert "d0007" not in search(client, text_of(7), key)[1]
    assert_converged(svc)


def test_a_healthy_target_under_a_steady_write_stream_still_serves_its_share(
    svc: Switchover, client: TestClient
) -> None:
    mid, _ = start_canary(svc, 50, shadow_sample=0.0)
    keys = target_keys(mid, 50, 50)
    svc.registry.start_background()
    stop = threading.Event()
    written = [0]

    def write_stream() -> None:
        version = 1
        while not stop.is_set():
            for i in range(0, 60, 3):
                svc.upsert(docs(range(i, i + 3), version=version))
                written[0] += 1
                if stop.is_set():
                    return
            version += 1

    writer = threading.Thread(target=write_stream, daemon=True)
    writer.start()
    served: list[str] = []
    try:  # read until the stream has written enough (bounded: 2,000 reads at most)
        while (written[0] <= 50 or len(served) < 200) and len(served) < 2000:
            i = len(served)
            served.append(search(client, text_of(i % 60, 0), keys[i % len(keys)])[0])
    finally:
        stop.set()
        writer.join(timeout=10)
    assert written[0] > 50, "writes really streamed while the reads ran"
    on_target = served.count("v2") / len(served)
    assert on_target >= 0.9, f"the target served only {on_target:.0%} of its keys' reads"
    assert svc.traffic().errors["v2"] == 0
    wait_until_caught_up(svc)
    assert_converged(svc)
