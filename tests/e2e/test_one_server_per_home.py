"""Process level: a second ``switchover serve`` on a home in use exits at once, cleanly.

The first server holds ``HOME/switchover.lock``; the second prints one line naming the
home and the holder's pid and exits non-zero, without a traceback, and the first keeps
serving. A SIGKILLed holder leaves no stale lock: the next start succeeds.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.server import ServerProcess

pytestmark = pytest.mark.slow

HASH_HOME_TOML = """[default_index]
name = "v1"
[default_index.embedder]
kind = "hash"
dim = 64
"""


def test_a_second_server_on_one_home_exits_non_zero_and_a_killed_holder_frees_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(HASH_HOME_TOML)
    first = ServerProcess(home).start()
    second = ServerProcess(home)
    try:
        assert first.proc is not None
        with pytest.raises(RuntimeError, match="server exited early"):
            second.start(timeout=120)
        assert second.proc is not None
        assert second.proc.wait(timeout=30) != 0
        log = second.log_path.read_text()
        assert f"{home} is in use by another switchover process (pid {first.proc.pid})" in log
        assert "Traceback" not in log
        assert httpx.get(f"{first.url}/healthz", timeout=10).json()["status"] == "ok"

        first.kill()  # SIGKILL: no shutdown hook runs, the OS drops the lock
        third = ServerProcess(home).start(timeout=120)
        try:
            assert httpx.get(f"{third.url}/healthz", timeout=10).status_code == 200
        finally:
            third.stop()
    finally:
        second.kill()
        first.stop()
