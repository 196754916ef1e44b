"""A deadline on doubt: the inconclusive policy, pure, and in the watchdog's loop."""

from __future__ import annotations

import time
from typing import Any

import pytest

from indexes.errors import ConflictError, InvalidInputError
from migrator import ActionRequest, PlanUpdate, Switchover
from migrator.guardrails import Check
from migrator.inconclusive import Doubt, InconclusivePolicy, decide, judge_state
from migrator.migration import Plan
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill

HOLD = Doubt(judge="hold", pool_exhausted=False, reads_on_target=True, on_target_s=10.0)


def test_the_default_policy_rolls_back_at_the_pool_s_end_or_after_an_hour() -> None:
    policy = InconclusivePolicy()
    assert (policy.action, policy.deadline_s, policy.on_pool_exhausted) == (
        "rollback",
        3600.0,
        True,
    )
    assert Plan().inconclusive == policy
    assert Plan().to_dict()["inconclusive"] == policy.to_dict()


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"action": "pause"}, "inconclusive.action"),
        ({"action": None}, "inconclusive.action"),
        ({"deadline_s": 0}, "inconclusive.deadline_s"),
        ({"deadline_s": -5}, "inconclusive.deadline_s"),
        ({"deadline_s": float("inf")}, "inconclusive.deadline_s"),
        ({"deadline_s": "60"}, "inconclusive.deadline_s"),
        ({"deadline_s": True}, "inconclusive.deadline_s"),
        ({"deadline_s": 8 * 86400}, "inconclusive.deadline_s"),
        ({"on_pool_exhausted": 1}, "inconclusive.on_pool_exhausted"),
        ({"max_holds": 3}, "no setting"),
        ("rollback", "must be an object"),
    ],
)
def test_a_bad_policy_is_refused_by_name(value: object, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        InconclusivePolicy.from_value(value)
    with pytest.raises(InvalidInputError, match=named):
        Plan(inconclusive=value)  # type: ignore[arg-type]  # what an adapter may send


def test_a_policy_given_in_part_keeps_the_defaults_of_the_rest() -> None:
    policy = InconclusivePolicy.from_value({"action": "freeze", "deadline_s": None})
    assert policy == InconclusivePolicy("freeze", None, True)
    assert Plan.from_stored(Plan(inconclusive=policy).to_dict()).inconclusive == policy


def test_a_plan_stored_before_the_policy_existed_gets_the_default() -> None:
    stored = Plan().to_dict()
    del stored["inconclusive"]
    assert Plan.from_stored(stored).inconclusive == InconclusivePolicy()


def test_no_doubt_means_nothing_to_do() -> None:
    for judged in ("ok", "breach"):
        outcome = decide(InconclusivePolicy(), Doubt(judged, True, True, 1e6))
        assert outcome.act == "none"
        assert not outcome.acts


def test_a_hold_within_its_limits_waits_and_says_how_long_is_left() -> None:
    outcome = decide(InconclusivePolicy(deadline_s=60), HOLD)
    assert outcome.act == "wait"
    assert "50s left before the rollback" in outcome.reason


def test_a_hold_past_the_deadline_with_reads_on_the_target_rolls_back() -> None:
    outcome = decide(InconclusivePolicy(deadline_s=5), HOLD)
    assert outcome.act == "rollback"
    assert outcome.reason.startswith("inconclusive: ")
    assert "deadline 5s" in outcome.reason
    assert "rolled back" in outcome.reason


def test_an_exhausted_pool_with_reads_on_the_target_acts_at_once() -> None:
    doubt = Doubt("hold", True, True, 0.0, judged=150, pool=150)
    assert decide(InconclusivePolicy(), doubt).act == "rollback"
    frozen = decide(InconclusivePolicy(action="freeze"), doubt)
    assert frozen.act == "freeze"
    assert "frozen at 0%" in frozen.reason
    assert "150 of 150 queries" in frozen.reason
    assert decide(InconclusivePolicy(on_pool_exhausted=False, deadline_s=None), doubt).act == "wait"


def test_in_shadow_it_only_blocks_advancing() -> None:
    doubt = Doubt("hold", True, False, 0.0)
    outcome = decide(InconclusivePolicy(), doubt)
    assert outcome.act == "block"
    assert not outcome.acts
    assert "only blocks advancing" in outcome.reason
    # no reads on the target: no deadline runs
    assert decide(InconclusivePolicy(deadline_s=1), Doubt("hold", False, False, 99.0)).act == "wait"


def test_the_outcome_as_a_check_breaches_only_when_it_acts() -> None:
    policy = InconclusivePolicy()
    states = {
        act: decide(policy, doubt).check(policy).state
        for act, doubt in {
            "none": Doubt("ok", False, True),
            "wait": HOLD,
            "block": Doubt("hold", True, False),
            "rollback": Doubt("hold", True, True),
        }.items()
    }
    assert states == {"none": "ok", "wait": "hold", "block": "hold", "rollback": "breach"}


def test_either_recall_judge_passing_ends_the_doubt() -> None:
    def check(name: str, state: Any) -> Check:
        return Check(name, state, None, -0.02, 0, "")

    assert judge_state([check("recall", "hold"), check("live_recall", "ok")]) == "ok"
    assert judge_state([check("recall", "hold"), check("latency", "ok")]) == "hold"
    assert judge_state([check("recall", "breach"), check("live_recall", "ok")]) == "breach"


# -- in the watchdog's loop (hash embedder, the sample corpus) ---------------------------------

# An identical target judged with no margin at all: every delta is 0 and the interval
# always straddles 0, so the judgement holds until its pool of 60 queries is used up.
UNDECIDABLE: dict[str, Any] = {"recall": {"margin": 0.0, "pool": 60, "min_samples": 50}}


def start(svc: Switchover, **plan: Any) -> int:
    request = migration("v2", "Flat", eval_set="sample", guardrails=UNDECIDABLE, **plan)
    mid = int(svc.create_migration(request, "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    return mid


def tick(svc: Switchover, times: int = 6) -> list[Check]:
    checks: list[Check] = []
    for _ in range(times):
        checks = svc.watchdog.tick()
    return checks


def inconclusive(checks: list[Check]) -> Check:
    return next(c for c in checks if c.name == "inconclusive")


def test_in_shadow_an_exhausted_pool_blocks_advancing_and_moves_nothing(
    sample_service: Switchover,
) -> None:
    svc = sample_service
    mid = start(svc)
    check = inconclusive(tick(svc))
    assert (check.state, svc.current_migration().phase) == ("hold", "shadow")
    assert "only blocks advancing" in check.detail
    with pytest.raises(ConflictError, match="needs a passing recall judgement"):
        svc.migration_action(mid, "canary", ActionRequest(), "op")
    status = svc.current_migration()
    assert any(c.name == "inconclusive" for c in status.guardrails or ())


def test_a_canary_on_an_undecidable_target_is_rolled_back_with_its_evidence(
    sample_service: Switchover,
) -> None:
    svc = sample_service
    mid = start(svc)
    tick(svc)
    svc.migration_action(mid, "canary", ActionRequest(override=True), "op")
    svc.watchdog.tick()
    assert svc.current_migration().phase == "rolled_back"
    event = svc.migration_events(mid)[-1]
    assert event.actor == "watchdog"
    assert event.reason.startswith("inconclusive: the recall judgement still holds after 60")
    assert "pool is exhausted" in event.reason
    assert event.metrics["recall"]["judgement"]["decision"] == "hold"
    states = {g["name"]: g["state"] for g in event.metrics["guardrails"]}
    assert states["inconclusive"] == "breach"
    assert states["recall"] == "hold"
    run = svc.eval_run(event.metrics["eval_run"])
    assert (run.migration_id, run.decision) == (mid, "hold")


def test_freeze_puts_the_canary_at_zero_and_advancing_needs_the_operator(
    sample_service: Switchover,
) -> None:
    svc = sample_service
    mid = start(svc, inconclusive={"action": "freeze"})
    tick(svc)
    svc.migration_action(mid, "canary", ActionRequest(percent=5.0, override=True), "op")
    svc.watchdog.tick()
    status = svc.current_migration()
    assert (status.phase, status.canary_percent, status.target_share) == ("canary", 0.0, 0.0)
    event = svc.migration_events(mid)[-1]
    assert event.actor == "watchdog"
    assert "canary frozen at 0%" in event.reason
    assert "only blocks advancing" in inconclusive(svc.watchdog.tick()).detail
    with pytest.raises(ConflictError, match="needs a passing recall judgement"):
        svc.migration_action(mid, "canary", ActionRequest(), "op")
    assert svc.current_migration().phase == "canary"


def test_a_deadline_rolls_back_a_hold_that_has_not_used_its_pool(
    sample_service: Switchover,
) -> None:
    svc = sample_service
    rails = {"recall": {"margin": 0.0, "min_samples": 50}}
    policy = {"deadline_s": 0.3, "on_pool_exhausted": False}
    request = migration("v2", "Flat", eval_set="sample", guardrails=rails, inconclusive=policy)
    mid = int(svc.create_migration(request, "op").id)
    backfill(svc, mid)
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    svc.migration_action(mid, "canary", ActionRequest(override=True), "op")
    assert inconclusive(svc.watchdog.tick()).state == "hold"  # the clock starts
    assert svc.current_migration().phase == "canary"
    time.sleep(0.4)
    svc.watchdog.tick()
    assert svc.current_migration().phase == "rolled_back"
    assert "deadline 0.3s" in svc.migration_events(mid)[-1].reason


def test_a_bad_policy_edit_is_refused_and_changes_nothing(sample_service: Switchover) -> None:
    svc = sample_service
    mid = start(svc)
    events = len(svc.migration_events(mid))
    with pytest.raises(InvalidInputError, match=r"inconclusive\.action"):
        svc.update_migration_plan(mid, PlanUpdate(inconclusive={"action": "maybe"}), "op")
    assert svc.current_migration().plan.inconclusive == InconclusivePolicy()
    assert len(svc.migration_events(mid)) == events
    svc.update_migration_plan(mid, PlanUpdate(inconclusive={"action": "freeze"}), "op")
    assert svc.current_migration().plan.inconclusive.action == "freeze"
    assert "inconclusive=" in svc.migration_events(mid)[-1].reason


def test_a_cutover_on_doubt_freezes_back_to_a_canary_at_zero_which_no_operator_can_do(
    sample_service: Switchover,
) -> None:
    svc = sample_service
    mid = start(svc, inconclusive={"action": "freeze"})
    tick(svc)
    svc.migration_action(mid, "canary", ActionRequest(override=True), "op")
    svc.migration_action(mid, "cutover", ActionRequest(override=True), "op")
    with pytest.raises(ConflictError, match="roll back to lower the share"):
        svc.migration_action(mid, "canary", ActionRequest(percent=50.0, override=True), "op")
    svc.watchdog.tick()
    status = svc.current_migration()
    assert (status.phase, status.target_share) == ("canary", 0.0)
