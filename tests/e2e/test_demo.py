"""The README's main job: ``switchover demo`` on the real model, as a newcomer runs it.

On the bundled sample and on SQuAD: a good target (HNSW32, efSearch 64) is judged,
canaried and finalized; a bad one (MiniLM cut to 16 dimensions) is rolled back by the
watchdog before its canary starts, while a writer keeps writing; every write ends on both
indexes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE_DIR, squad_dir
from tests.forms import full_only
from tests.server import free_port

pytestmark = pytest.mark.slow


def run_demo(data: Path, report: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "demo",
            "--data",
            str(data),
            "--port",
            str(free_port()),
            "--report",
            str(report),
        ],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def check_story(out: str, report: Path) -> None:
    lines = out.splitlines()
    assert any("shadow -> canary" in line for line in lines)
    assert any("cutover -> finalized" in line for line in lines)
    rollback = [line for line in lines if "-> rolled_back by watchdog" in line]
    assert len(rollback) == 1, out
    assert "shadow -> rolled_back" in rollback[0], "caught before its canary started"
    assert "recall" in rollback[0]
    assert any("none lost" in line for line in lines)
    assert any(", 0 failed" in line for line in lines)
    html = sorted(report.glob("*.html"))
    assert len(html) == 2
    assert "<svg" in html[0].read_text()


def test_demo_on_the_bundled_sample(tmp_path: Path) -> None:
    out = run_demo(SAMPLE_DIR, tmp_path / "report")
    check_story(out, tmp_path / "report")


@full_only  # the suite's short form: the demo on the bundled sample, above
def test_demo_on_squad_passes_hnsw_and_rolls_back_a_16_dimension_cut(tmp_path: Path) -> None:
    out = run_demo(squad_dir(), tmp_path / "report")
    check_story(out, tmp_path / "report")
    assert "truncate_dim=16" in out
    print(out)
