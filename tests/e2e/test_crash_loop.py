"""The crash loop in CI: a few SIGKILLs through a migration, every invariant after each.

The same harness as ``stress/crashloop.py`` (whose full run is 50 kills, committed in
``stress/results/crashloop.md``), with the hash embedder so it fits in CI time: a real
server process, a writer streaming upserts, updates and deletes, an operator walking
the migration, a seeded SIGKILL, a restart, and the invariants checked after each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stress.crashloop import Harness

pytestmark = pytest.mark.slow


def test_crash_loop_keeps_every_invariant_through_a_migration(tmp_path: Path) -> None:
    harness = Harness(tmp_path, seed=3, embedder="hash", id_space=120, initial=80)
    result = harness.run(kills=4)
    assert result["restarts"] == 4
    for kill in result["rounds"]:
        failed = {n: c["detail"] for n, c in kill["checks"].items() if not c["ok"]}
        assert not failed, f"kill {kill['kill']} (seed {kill['kill_seed']}): {failed}"
        assert not kill["client_errors"], kill["client_errors"]
        assert set(kill["checks"]) >= {
            "no_reencode",
            "migration_state",
            "batch_atomic",
            "lag_zero",
            "documents",
            "index_counts",
            "index_members",
            "routing",
        }
    assert result["migrations_created"] >= 1, "the operator must have started a migration"
