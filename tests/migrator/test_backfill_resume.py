"""Found by the crash loop (stress/crashloop.py, kill mode "commit"): a SIGKILL right after
the ``backfill`` move commits, before the backfill thread saved its start, left the
migration in ``backfilling`` with no backfill running after the restart."""

from __future__ import annotations

from migrator import DocumentIn, Settings, Switchover
from migrator.phases import Phase
from tests.conftest import migration


def test_a_backfill_whose_start_was_never_saved_resumes_after_a_restart(
    settings: Settings,
) -> None:
    svc = Switchover(settings)
    svc.upsert([DocumentIn(f"d{i:03d}", f"lamp tide basalt note {i}") for i in range(50)])
    mid = svc.create_migration(migration("v2", "HNSW32,Flat"), "tester").id
    # the move's commit, and nothing after it: the process dies before the backfill starts
    svc.store.migrations.transition(
        mid, Phase.PLANNED, Phase.BACKFILLING, 0.0, "tester", "backfill", {}
    )
    svc.close(snapshot=False)

    again = Switchover(settings)
    again.start()  # the backfill resumes
    try:
        again.wait_backfill(timeout=60)
        status = again.current_migration()
        assert status.phase == "backfilling"
        assert status.backfill.finished, status.backfill
        assert status.backfill.done == 50
        assert len(again.runtime("v2").index) == 50
    finally:
        again.close(snapshot=False)
