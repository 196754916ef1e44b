"""The replica load run, short: three replicas of one PostgreSQL under load, a rollback
made by the leader's watchdog after a bad config change sent through a follower.

Runs ``stress/load_replicas.py`` for 30 s (three real servers with the real MiniLM model,
a private PostgreSQL from the ``pgserver`` wheel) and checks what the full run
(``make load-replicas``) shows: zero failed requests on every replica, one automatic
rollback, every replica's reads on the source once it saw it, and zero lost writes on the
store and on both indexes of every replica. It takes 2.5 to 8 minutes (three model loads
on a busy 2-core machine), not the usual one: the cluster cannot be made smaller.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, squad_dir

pytestmark = pytest.mark.slow


def test_load_on_three_replicas_with_a_mid_flight_automatic_rollback(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "stress/load_replicas.py", "--duration", "30"]
    command += ["--degrade-after", "10", "--docs", "120", "--data", str(squad_dir())]
    command += ["--out", str(out)]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    assert (out / "load_replicas.json").is_file(), done.stdout + done.stderr
    result = json.loads((out / "load_replicas.json").read_text())
    assert result["failures"] == 0, result["failure_examples"]
    assert result["rollback"]["automatic"], result["rollback"]
    assert result["rollback"]["rollback_events"] == 1
    assert result["degraded_via"] not in result["leaders_before"]
    for row in result["replicas"]:
        assert row["failures"] == 0, row
        assert set(row["served_by_after_it_saw_the_rollback"]) == {"v1"}, row
    for writes in result["writes_per_replica"]:
        assert writes["lost_writes"] == 0, writes
        assert not any(writes["index_lag_records"].values()), writes
    assert all(result["checks"].values()), result["checks"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
