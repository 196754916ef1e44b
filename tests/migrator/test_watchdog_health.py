"""A watchdog that cannot judge says so, and fails safe: reads go back to the source.

Found in review: a float ``guardrails.recall.pool`` made every tick raise ``TypeError`` and
``errors.min_samples = 0`` a ``ZeroDivisionError``; the loop logged it and went on, the status
kept showing the last good checks, and a canary went on serving a target nobody judged.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from migrator import ActionRequest, Settings, Switchover
from migrator.guardrails import FAILSAFE_AFTER
from tests.conftest import OPERATOR, migration, open_client
from tests.migrator.test_lifecycle import backfill
from tests.migrator.test_watchdog import start


class WindowReadError(RuntimeError):
    pass


ERROR = "WindowReadError: the error window cannot be read"


def break_the_error_window(svc: Switchover, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tick reads the target's error window, and only the watchdog does: make it fail."""

    def broken(*_: object) -> tuple[int, int]:
        raise WindowReadError("the error window cannot be read")

    monkeypatch.setattr(svc.reads.observations, "errors", broken)


def test_a_failing_tick_is_reported_and_the_stale_checks_are_cleared(
    sample_service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sample_service
    start(svc, "HNSW32,Flat")
    assert svc.watchdog.tick(), "a healthy tick judges"
    healthy = svc.current_migration()
    assert healthy.watchdog is not None
    assert healthy.watchdog.state == "ok"
    assert healthy.guardrails

    break_the_error_window(svc, monkeypatch)
    assert svc.watchdog.tick() == []
    status = svc.current_migration()
    watchdog = status.watchdog
    assert watchdog is not None
    assert watchdog.state == "failing"
    assert watchdog.consecutive_failures == 1
    assert watchdog.last_error == ERROR
    assert watchdog.last_tick_at is not None
    assert healthy.watchdog.last_tick_at is not None
    assert watchdog.last_tick_at >= healthy.watchdog.last_tick_at
    assert status.guardrails == [], "checks of an earlier tick are not shown as current"
    assert status.phase == "shadow", "in shadow the source serves every read already"


def test_reads_roll_back_after_a_few_failed_ticks_on_the_canary(
    sample_service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sample_service
    mid = start(svc, "HNSW32,Flat")
    svc.migration_action(mid, "canary", ActionRequest(percent=25, override=True), "op")
    break_the_error_window(svc, monkeypatch)
    for _ in range(FAILSAFE_AFTER - 1):
        svc.watchdog.tick()
    assert svc.current_migration().phase == "canary", "one bad tick is not yet a pattern"
    svc.watchdog.tick()
    status = svc.current_migration()
    assert status.phase == "rolled_back"
    event = svc.migration_events(mid)[-1]
    assert event.actor == "watchdog"
    assert event.reason.startswith(f"watchdog failing: {FAILSAFE_AFTER} ticks in a row")
    assert ERROR in event.reason
    assert event.metrics["watchdog"]["consecutive_failures"] == FAILSAFE_AFTER
    assert svc.search("lighthouse lamp", 3, routing_key="k1").served_by == "v1"


def test_a_good_tick_after_failures_is_healthy_again(
    sample_service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sample_service
    start(svc, "HNSW32,Flat")
    with monkeypatch.context() as patch:
        break_the_error_window(svc, patch)
        svc.watchdog.tick()
    assert svc.watchdog.tick()
    watchdog = svc.current_migration().watchdog
    assert watchdog is not None
    assert watchdog.state == "ok"
    assert watchdog.consecutive_failures == 0
    assert watchdog.failures_total == 1
    assert watchdog.last_error == ERROR


def test_a_stored_plan_with_a_guardrail_no_longer_accepted_fails_safe(
    settings: Settings,
) -> None:
    """A plan stored before the guardrail settings were checked strictly still loads; the
    watchdog reports the setting by name and rolls the canary back."""
    svc = Switchover(settings)
    try:
        mid = int(svc.create_migration(migration("v2"), "op").id)
        backfill(svc, mid)
        svc.migration_action(mid, "shadow", ActionRequest(), "op")
        svc.migration_action(mid, "canary", ActionRequest(percent=10, override=True), "op")
    finally:
        svc.close(snapshot=False)
    with sqlite3.connect(settings.db_path) as db:
        (plan,) = db.execute("SELECT plan FROM migrations WHERE id = ?", [mid]).fetchone()
        legacy = {**json.loads(plan), "guardrails": {"recall": {"pool": 100.0}}}
        db.execute("UPDATE migrations SET plan = ? WHERE id = ?", [json.dumps(legacy), mid])

    svc = Switchover(settings)
    try:
        assert svc.current_migration().phase == "canary"
        for _ in range(FAILSAFE_AFTER):
            svc.watchdog.tick()
        assert svc.current_migration().phase == "rolled_back"
        reason = svc.migration_events(mid)[-1].reason
        assert "guardrails.recall.pool must be an integer" in reason
    finally:
        svc.close(snapshot=False)


def test_metrics_and_the_status_page_show_a_failing_watchdog(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_client(settings) as client:
        svc: Switchover = client.app.state.service  # type: ignore[attr-defined]
        svc.watchdog.stop()  # this test ticks by hand
        docs = [{"id": f"d{i}", "text": f"lamp tide gear number {i}"} for i in range(30)]
        client.put("/v1/documents", json={"documents": docs})
        body = {"target": {"name": "v2", "factory": "Flat"}}
        mid = client.post("/v1/migrations", json=body, headers=OPERATOR).json()["id"]
        client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR)
        svc.wait_backfill()
        client.post(f"/v1/migrations/{mid}/shadow", headers=OPERATOR)
        svc.watchdog.tick()
        assert gauge(client, "switchover_watchdog_healthy") == 1.0
        assert gauge(client, "switchover_watchdog_failures_total") == 0.0

        break_the_error_window(svc, monkeypatch)
        svc.watchdog.tick()
        svc.watchdog.tick()
        assert gauge(client, "switchover_watchdog_healthy") == 0.0
        assert gauge(client, "switchover_watchdog_failures_total") == 2.0
        assert gauge(client, "switchover_watchdog_consecutive_failures") == 2.0
        page = client.get("/ui/status.json").json()["migration"]
        assert page["watchdog"]["state"] == "failing"
        assert page["guardrails"] == []
        script = client.get("/ui/static/ui.js").text
        assert "renderWatchdog" in script


def gauge(client: TestClient, name: str) -> float:
    text = client.get("/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))
