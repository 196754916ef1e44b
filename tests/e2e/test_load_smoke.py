"""The load script, short: load during a canary, an automatic rollback in the middle.

Runs ``stress/load.py`` for 40 s against a real server (real MiniLM model) and checks
what the full run (``make load``) shows: zero failed requests, a rollback made by the
watchdog (not by the script) after the degradation, every read after it on the source,
and zero lost writes on the store and on both indexes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, squad_dir

pytestmark = pytest.mark.slow


def test_load_with_a_mid_flight_automatic_rollback(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [
        sys.executable,
        "stress/load.py",
        "--duration",
        "40",
        "--degrade-after",
        "15",
        "--docs",
        "120",
        "--data",
        str(squad_dir()),
        "--out",
        str(out),
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    assert (out / "load.json").is_file(), done.stdout + done.stderr
    result = json.loads((out / "load.json").read_text())
    assert result["failures"] == 0, result["failure_examples"]
    rollback = result["rollback"]
    assert rollback["automatic"], rollback
    assert rollback["evidence"]["actor"] == "watchdog"
    assert rollback["rollback_events"] == 1
    assert rollback["seconds_from_degradation_to_rollback"] > 0
    assert set(result["windows"]["after"]["served_by"]) == {"v1"}
    assert result["windows"]["after"]["upsert"]["n"] > 0, "writes went on after the rollback"
    writes = result["writes"]
    assert writes["lost_writes"] == 0, writes
    assert writes["acknowledged_upserts"] > 0
    assert not any(writes["index_lag_records"].values())
    assert all(result["checks"].values()), result["checks"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
