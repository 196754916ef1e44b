"""SIGKILL in the middle of a stream of batch writes loses no acknowledged write.

Real process, real model, real SQLite file: the crash-loop harness (``stress/crashloop.py``)
without its operator. A writer streams batches of upserts, updates and deletes; the server
is killed at a seeded random moment and restarted, three times; after each restart every
acknowledged write is there exactly once with its newest text (by GET and in the index),
no deleted document comes back, the in-flight batch landed whole or not at all, the index
count equals the live documents, and replay re-encoded nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stress.crashloop import Harness

pytestmark = pytest.mark.slow


def test_sigkill_during_batch_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        seed=1234,
        embedder="minilm",
        id_space=60,
        initial=40,
        migrate=False,
        warmup_writes=6,
    )
    result = harness.run(kills=3)
    assert result["restarts"] == 3
    for kill in result["rounds"]:
        failed = {n: c["detail"] for n, c in kill["checks"].items() if not c["ok"]}
        assert not failed, f"kill {kill['kill']} (seed {kill['kill_seed']}): {failed}"
        assert not kill["client_errors"], kill["client_errors"]
        assert kill["acked_writes"] >= 6, "the kill must land in a stream of acknowledged writes"
        assert kill["checks"]["no_reencode"]["ok"], "replay must not re-encode"
