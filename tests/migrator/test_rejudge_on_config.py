"""A search-parameter change on a live migration's index makes the watchdog judge afresh.

Found by the load run (stress/load.py): after ``PUT /v1/config`` crippled the canaried
target, the recall check still said "ok" (the judgement of the old parameters), so the
gate would have let the canary grow, and only the live shadow reads, diluted by the samples
taken before the change, could catch it.
"""

from __future__ import annotations

import pytest

from indexes import SearchParams
from indexes.errors import ConflictError
from migrator import ActionRequest, ConfigChange, MigrationRequest, SearchParamsChange, Switchover
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill


@pytest.fixture
def svc(sample_service: Switchover) -> Switchover:
    return sample_service


def ivf_migration() -> MigrationRequest:
    """To IVF8 probing every list (exact search), judged on the sample eval set."""
    return migration("v2", "IVF8,Flat", search_params=SearchParams(nprobe=8), eval_set="sample")


def nprobe_of_v2(nprobe: int, reason: str) -> ConfigChange:
    return ConfigChange({"v2": SearchParamsChange.from_dict({"nprobe": nprobe})}, reason=reason)


def recall_state(svc: Switchover) -> str:
    return next((c.state for c in svc.evidence.checks if c.name == "recall"), "none")


def tick_until_recall_decided(svc: Switchover) -> None:
    for _ in range(40):
        svc.watchdog.tick()
        if svc.current_migration().phase == "rolled_back" or recall_state(svc) != "hold":
            return


def test_crippling_the_canaried_target_is_judged_afresh_and_rolled_back(
    svc: Switchover,
) -> None:
    mid = int(svc.create_migration(ivf_migration(), "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    tick_until_recall_decided(svc)
    assert recall_state(svc) == "ok", "probing every list is exact search: it passes"
    svc.migration_action(mid, "canary", ActionRequest(percent=25), "op")

    svc.config.set(nprobe_of_v2(1, "cut latency"), "alice")

    event = svc.migration_events(mid)[-1]
    assert (event.from_phase, event.to_phase, event.actor) == ("canary", "canary", "alice")
    assert "v2 nprobe=1" in event.reason
    assert "judged afresh" in event.reason
    with pytest.raises(ConflictError, match="needs a passing recall judgement"):
        svc.migration_action(mid, "canary", ActionRequest(percent=50), "op")  # no stale pass
    tick_until_recall_decided(svc)
    assert svc.current_migration().phase == "rolled_back"
    rollback = svc.migration_events(mid)[-1]
    assert rollback.actor == "watchdog"
    assert rollback.reason.startswith("guardrail breached: recall")


def test_an_unchanged_or_unrelated_setting_keeps_the_judgement(svc: Switchover) -> None:
    mid = int(svc.create_migration(ivf_migration(), "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    tick_until_recall_decided(svc)
    events = len(svc.migration_events(mid))
    svc.config.set(nprobe_of_v2(8, "same value"), "alice")
    assert len(svc.migration_events(mid)) == events
    assert recall_state(svc) == "ok"
    svc.migration_action(mid, "canary", ActionRequest(percent=25), "op")
