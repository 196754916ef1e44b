"""Where a restart from a snapshot spends its time: each part of the load timed alone.

Builds (once, in ``--work``, kept for the next run) a home of ``--docs`` documents with
a snapshot at the log's end, as ``scale_restart.py`` does, then starts ``--rounds``
fresh processes that each time, wall and CPU: FAISS reading index.faiss, the sha256 of
it, parsing state.json into the id map, the restore (check_state, the id map), the whole
``load_latest_snapshot`` (in the same process, after the parts), the first ``add`` after
the load and two searches. The numbers behind ``benchmarks/results/restart_profile.md``;
nothing is written to the repo. The children run the code on ``PYTHONPATH`` when it is
set (to time another checkout), else this one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import REPO
from scale import DIM

from indexes import IndexSpec, QueryVectors, VectorIndex, load_latest_snapshot, use_faiss_threads
from indexes import index_state as state_module
from indexes import snapshots as snapshots_module
from indexes.durable import sha256_file


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(out: dict[str, Any], label: str, fn: Callable[[], Any]) -> Any:
    wall, cpu = time.perf_counter(), _cpu()
    value = fn()
    out[label] = (round(time.perf_counter() - wall, 3), round(_cpu() - cpu, 3))
    return value


def child(home: Path) -> dict[str, Any]:
    """One fresh process's timings for the newest snapshot of ``v1`` in ``home``."""
    use_faiss_threads(1)
    snapshots = home / "indexes" / "v1" / "snapshots"
    folder = snapshots_module._final_folders(snapshots)[0]
    manifest = snapshots_module._read_manifest(folder)
    spec = IndexSpec.from_dict(manifest["spec"])
    fingerprint = manifest["embedder_fingerprint"]
    out: dict[str, Any] = {"format": manifest["format"]}
    idmap = _timed(out, "faiss read_index", lambda: state_module.read_idmap(folder / "index.faiss"))
    _timed(out, "sha256 of index.faiss", lambda: sha256_file(folder / "index.faiss"))
    state = _timed(
        out,
        "state.json -> id map",
        lambda: snapshots_module._read_state(folder, manifest, spec, fingerprint),
    )
    _timed(out, "restore (check_state, IdMap)", lambda: VectorIndex.from_state(state, idmap=idmap))
    loaded = _timed(
        out, "load_latest_snapshot, all", lambda: load_latest_snapshot(snapshots, spec, fingerprint)
    )
    index = loaded[0]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2, 512, DIM)).astype(np.float32)
    for n, label in enumerate(("first add of 512", "second add of 512")):
        batch = {f"new{n}-{i}": v for i, v in enumerate(vectors[n])}

        def add(b: dict[str, np.ndarray] = batch, s: int = n) -> None:
            index.apply(index.applied_seq + 1 + s, b)

        _timed(out, label, add)
    query = QueryVectors(vectors[0][:1], fingerprint)
    _timed(out, "first search", lambda: index.search(query, 10))
    _timed(out, "second search", lambda: index.search(query, 10))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--work", type=Path, required=True, help="the home is built here once")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    home = args.work / "home"
    if not home.exists():
        from scale_restart import prepare  # noqa: PLC0415 - only when a home is built

        use_faiss_threads(1)
        prepare(args.docs, args.work)
    rows = []
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.setdefault("PYTHONPATH", str(REPO))
    for _ in range(args.rounds):
        command = [sys.executable, __file__, "--work", str(args.work), "--child", str(home)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{home}: format {rows[0]['format']}, load average {os.getloadavg()}")
    for label in (k for k in rows[0] if k != "format"):
        wall = statistics.median(r[label][0] for r in rows)
        cpu = statistics.median(r[label][1] for r in rows)
        print(f"  {label:32s} wall {wall:7.3f} s   cpu {cpu:7.3f} s   (median of {len(rows)})")


if __name__ == "__main__":
    main()
