"""Per-slice judgement on real data: SQuAD dev with a synthetic ``lang`` label, MiniLM, FAISS.

180 SQuAD passages (300 in ``make test-full``) each get a seeded ``lang`` (en, de or fr);
each question is asked with its passage's language as its filter (so a client's slice is
what it filters on). The
target is a Flat copy of the source whose vectors for the German passages are replaced
by random ones (a target worse on one slice only). In a 25% canary the watchdog rolls
back ``lang=de`` alone, with its sample size and interval in the audit event, while
``en`` and ``fr`` keep their share; an A/A target (the same Flat, unbroken) loses no slice.
The 20-seed A/A count is ``make bench-slices`` (benchmarks/results/slice_decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evals import Dataset, load_dataset
from migrator import ActionRequest, Settings, Switchover
from tests.conftest import squad_dir
from tests.forms import size
from tests.migrator.slice_story import (
    advance,
    break_slice,
    load_sliced,
    served_by,
    start_backfilled,
    tick_until_slices_decided,
)

pytestmark = pytest.mark.slow

SLICES = {"keys": ["metadata.lang"], "min_samples": 30}
DOCS = size(180, 300)
SAMPLE = 480  # questions in the eval set (of about 900 on 180 passages, 1,500 on 300)


@pytest.fixture(scope="module")
def squad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Switchover, Dataset]]:
    """A MiniLM service over DOCS labelled SQuAD passages, 480 of their questions as eval set."""
    root = tmp_path_factory.mktemp("slices")
    svc = Switchover(Settings(home=root / "home", eval_data_roots=(root,)))
    sliced = load_sliced(svc, load_dataset(squad_dir()), root / "sliced", docs=DOCS, sample=SAMPLE)
    yield svc, sliced
    svc.close(snapshot=False)


def test_a_target_worse_on_one_language_loses_that_slice_only(
    squad: tuple[Switchover, Dataset],
) -> None:
    svc, data = squad
    mid = start_backfilled(svc, slices=SLICES)
    broken = break_slice(svc, data, "v2", "de")
    advance(svc, mid, 25.0)
    tick_until_slices_decided(svc, ticks=400, until="lang=de")
    status = svc.current_migration()
    assert status.phase == "canary"
    by_label = {s.label: s for s in status.slices}
    assert by_label["lang=de"].rolled_back
    assert by_label["lang=de"].target_share == 0.0
    for kept in ("lang=en", "lang=fr"):
        assert not by_label[kept].rolled_back
        assert by_label[kept].target_share == 25.0
    (event,) = [e for e in svc.migration_events(mid) if e.reason.startswith("slice ")]
    assert event.actor == "watchdog"
    assert event.metrics["slice"] == "lang=de"
    assert event.metrics["n"] >= 30
    assert event.metrics["ci_low"] <= event.metrics["mean_delta"] <= event.metrics["ci_high"]
    assert event.metrics["ci_high"] < -0.02
    # reads of the German slice stay on the source; the others keep their sticky 25%
    question = data.queries[0].text
    assert served_by(svc, question, 100, where={"lang": "de"}) == {"v1": 100}
    english = served_by(svc, question, 100, where={"lang": "en"})
    assert 10 <= english["v2"] <= 40
    assert served_by(svc, question, 100, slice_fields={"lang": "en"}) == english  # sticky
    print(
        f"slice lang=de rolled back on {event.metrics['n']} pairs: delta"
        f" {event.metrics['mean_delta']:.3f} [{event.metrics['ci_low']:.3f},"
        f" {event.metrics['ci_high']:.3f}]; {len(broken)} German passages broken"
    )
    svc.migration_action(mid, "abort", ActionRequest(reason="the next story"), "op")


def test_an_a_a_migration_with_slices_rolls_back_no_slice(
    squad: tuple[Switchover, Dataset],
) -> None:
    svc, _ = squad
    mid = start_backfilled(svc, "v3", slices=SLICES)
    advance(svc, mid, 25.0)
    tick_until_slices_decided(svc, ticks=400)
    status = svc.current_migration()
    assert status.phase == "canary"
    assert status.judgement is not None
    assert status.judgement.finished
    assert {s.label for s in status.slices} == {"lang=de", "lang=en", "lang=fr"}
    assert not any(s.rolled_back for s in status.slices)
    assert all(s.target_share == 25.0 for s in status.slices)
    assert not [e for e in svc.migration_events(mid) if e.reason.startswith("slice ")]
