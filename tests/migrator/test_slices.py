"""Per-slice judgement and routing: one bad slice goes back to the source, the rest stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals import load_dataset
from indexes.errors import InvalidInputError
from migrator import Switchover
from tests.conftest import SAMPLE_DIR
from tests.migrator.slice_story import (
    advance,
    break_slice,
    load_sliced,
    served_by,
    start_backfilled,
    tick_until_slices_decided,
)

SLICES = {"keys": ["metadata.lang"], "min_samples": 10}
LOOSE = {"recall": {"margin": 0.15, "min_samples": 10}}  # 150 questions: a coarse judge


@pytest.fixture
def svc(service: Switchover, tmp_path: Path) -> Switchover:
    load_sliced(service, load_dataset(SAMPLE_DIR), tmp_path / "sliced")
    return service


def test_a_slice_worse_on_the_target_is_rolled_back_alone(svc: Switchover) -> None:
    mid = start_backfilled(svc, slices=SLICES, guardrails=LOOSE)
    data = load_dataset(Path(svc.store.evals.get_set("sliced").path))
    break_slice(svc, data, "v2", "de")
    advance(svc, mid, 25.0)
    tick_until_slices_decided(svc)
    status = svc.current_migration()
    assert status.phase == "canary"
    shares = {s.label: s.target_share for s in status.slices}
    assert shares["lang=de"] == 0.0
    assert shares["lang=en"] == shares["lang=fr"] == 25.0
    event = next(e for e in svc.migration_events(mid) if e.reason.startswith("slice lang=de"))
    assert event.actor == "watchdog"
    assert event.metrics["slice"] == "lang=de"
    assert event.metrics["n"] >= 10
    assert event.metrics["ci_high"] < -0.15
    assert event.to_phase == "canary"
    assert [e for e in svc.migration_events(mid) if "slice lang=en" in e.reason] == []


def test_a_rolled_back_slice_reads_only_the_source_and_the_others_keep_their_share(
    svc: Switchover,
) -> None:
    mid = start_backfilled(svc, slices={**SLICES, "rolled_back": ["lang=de"]})
    advance(svc, mid, 50.0)
    by_field = served_by(svc, "lighthouse lens", 200, slice_fields={"lang": "de"})
    by_filter = served_by(svc, "lighthouse lens", 200, where={"lang": "de"})
    others = served_by(svc, "lighthouse lens", 200, slice_fields={"lang": "en"})
    assert by_field == by_filter == {"v1": 200}
    assert 60 <= others["v2"] <= 140  # sticky keys, about half on the target
    again = served_by(svc, "lighthouse lens", 200, slice_fields={"lang": "en"})
    assert again == others  # sticky: the same keys land on the same side


def test_on_breach_all_rolls_the_whole_migration_back(svc: Switchover) -> None:
    mid = start_backfilled(svc, slices={**SLICES, "on_breach": "all"}, guardrails=LOOSE)
    data = load_dataset(Path(svc.store.evals.get_set("sliced").path))
    break_slice(svc, data, "v2", "de")
    advance(svc, mid, 25.0)
    tick_until_slices_decided(svc)
    assert svc.store.migrations.get(mid).phase.value == "rolled_back"
    reason = svc.migration_events(mid)[-1].reason
    assert "recall[lang=de]" in reason


def test_an_unbroken_target_rolls_back_no_slice(svc: Switchover) -> None:
    mid = start_backfilled(svc, slices=SLICES, guardrails=LOOSE)
    advance(svc, mid, 25.0)
    tick_until_slices_decided(svc)
    status = svc.current_migration()
    assert status.phase == "canary"
    assert {s.label for s in status.slices} == {"lang=de", "lang=en", "lang=fr"}
    assert all(not s.rolled_back and s.target_share == 25.0 for s in status.slices)


@pytest.mark.parametrize(
    ("slices", "message"),
    [
        ({"keys": ["lang"]}, "must be 'metadata.<key>'"),
        ({"keys": ["header.lang"]}, "unknown form 'header'"),
        ({"keys": ["metadata.a", "metadata.b", "metadata.c", "metadata.d"]}, "at most 3"),
        ({"keys": []}, "non-empty list"),
        ({"keys": ["metadata.lang"], "min_samples": 1}, "min_samples"),
        ({"keys": ["metadata.lang"], "on_breach": "some"}, "on_breach"),
        ({"keys": ["metadata.lang"], "rolled_back": ["de"]}, "slice label"),
        ({"keys": ["metadata.lang"], "extra": 1}, "unknown slices field"),
    ],
)
def test_a_bad_slice_plan_is_refused_and_creates_nothing(
    svc: Switchover, slices: object, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        start_backfilled(svc, slices=slices)
    assert svc.store.migrations.latest() is None


def test_bad_slice_fields_on_a_search_are_refused(svc: Switchover) -> None:
    with pytest.raises(InvalidInputError, match="at most 3 fields"):
        svc.search("lens", slice_fields={"a": "1", "b": "2", "c": "3", "d": "4"})
    with pytest.raises(InvalidInputError, match="must be a string"):
        svc.search("lens", slice_fields={"lang": "d e"})
