"""Restart at scale: process start to first served search, from a snapshot plus the log tail.

A home of ``--docs`` documents is filled through ``SqliteStore`` (the write path's SQL,
seeded random unit vectors as cached embeddings, as ``scale.py`` does), the Flat primary
is rebuilt by replaying the whole log once and snapshotted, and then a fresh Python
process is started per case and timed from its spawn to its first served search
(``Switchover.search``), with its parts: interpreter and imports, the embedder's load
(reported apart: the hash embedder has no model), opening the store and the index (the
snapshot's load and checks, the tail's replay) and the first search. Cases:

* ``snapshot``: the snapshot covers the whole log (no tail);
* ``worst tail``: ``snapshot_max_tail_records`` log records (the most a periodic
  snapshot cadence leaves behind: migrator/registry.py ``snapshot_due``) written after
  the snapshot, new documents each, so the restart replays them from the embedding cache;
* ``no snapshot``: the snapshots moved away, the whole log replayed (the old start-up).

Writes ``benchmarks/results/scale_restart.json`` and ``scale_restart.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import REPO, machine, now_utc, quick_mode, write_results
from scale import DEFERRED, DIM, EMBEDDER, bulk_load, synthetic_texts

from indexes import IndexSpec, content_hash, load_embedder, use_faiss_threads
from migrator.service import Switchover
from migrator.settings import Settings
from migrator.store import DocumentIn, SqliteStore

CHILD = """
import json, sys, time
from pathlib import Path
t_ready = time.time()
from indexes import IndexSpec, load_embedder, use_faiss_threads
from migrator.service import Switchover
from migrator.settings import Settings
sys.path.insert(0, "benchmarks")
from scale import DEFERRED, EMBEDDER
use_faiss_threads(1)  # as `switchover serve` does
t0 = time.time()
load_embedder(EMBEDDER)  # the model load, reported apart (none for the hash embedder)
t1 = time.time()
settings = Settings(home=Path(sys.argv[1]), default_index=IndexSpec(name="v1", embedder=EMBEDDER),
                    **DEFERRED)
svc = Switchover(settings)
t2 = time.time()
hits = svc.search("w1 w2 w3 w4 w5 w6", 10).hits
t3 = time.time()
print(json.dumps({"interpreter_ready": t_ready, "imports_end": t0, "embedder_s": t1 - t0,
                  "open_s": t2 - t1, "first_search_s": t3 - t2, "served_at": t3,
                  "hits": len(hits), "recovery": svc.registry.recovery["v1"]}))
svc.close(snapshot=False)
"""


def settings_for(home: Path) -> Settings:
    return Settings(home=home, default_index=IndexSpec(name="v1", embedder=EMBEDDER), **DEFERRED)


def append_tail(home: Path, n: int, first: int) -> float:
    """``n`` new documents written to the log and the embedding cache after the snapshot."""
    fingerprint = load_embedder(EMBEDDER).fingerprint
    rng = np.random.default_rng(first)
    store = SqliteStore(settings_for(home).db_path)
    t0 = time.perf_counter()
    try:
        for start in range(0, n, 10_000):
            texts = synthetic_texts(min(10_000, n - start), seed=first + start)
            texts = [f"tail{first + start} {t}" for t in texts]
            vectors = rng.standard_normal((len(texts), DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [f"t{first + start + i:08d}" for i in range(len(texts))]
            store.log.append_upserts([DocumentIn(i, t) for i, t in zip(ids, texts, strict=True)])
            store.cache.put_many(
                fingerprint, {content_hash(t): v for t, v in zip(texts, vectors, strict=True)}
            )
    finally:
        store.close()
    return round(time.perf_counter() - t0, 2)


def restart(home: Path) -> dict[str, Any]:
    """One fresh process: spawn to first served search, and its parts."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    spawned = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(home)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the restarted process failed:\n{out.stderr[-3000:]}")
    child = json.loads(out.stdout.strip().splitlines()[-1])
    total = child["served_at"] - spawned
    return {
        "spawn_to_first_search_s": round(total, 2),
        "excluding_model_load_s": round(total - child["embedder_s"], 2),
        "interpreter_and_imports_s": round(child["imports_end"] - spawned, 2),
        "model_load_s": round(child["embedder_s"], 3),
        "open_s": round(child["open_s"], 2),
        "first_search_ms": round(child["first_search_s"] * 1000, 1),
        "hits": child["hits"],
        **child["recovery"],
        "load_average": os.getloadavg(),
    }


def prepare(docs: int, work: Path) -> tuple[Path, dict[str, Any]]:
    """A home of ``docs`` documents whose Flat primary has a snapshot at the log's end."""
    home = work / "home"
    texts = synthetic_texts(docs, docs)
    out: dict[str, Any] = {"bulk_load": bulk_load(settings_for(home), texts, docs)}
    print(f"bulk load {out['bulk_load']}", flush=True)
    t0 = time.perf_counter()
    svc = Switchover(settings_for(home))
    out["replay_in_process_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    written = svc.snapshot("v1")[0]
    out["snapshot_write_s"] = round(time.perf_counter() - t0, 2)
    svc.close(snapshot=False)
    folder = Path(written.path)
    out["snapshot_mb"] = round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1)
    print(f"snapshot {out}", flush=True)
    return home, out


def run(docs: int, tail: int) -> dict[str, Any]:
    started = time.time()
    results: dict[str, Any] = {
        "started": now_utc(),
        "machine": machine(),
        "docs": docs,
        "worst_tail_records": tail,
        "load_average_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="switchover-restart-") as tmp:
        home, results["prepare"] = prepare(docs, Path(tmp))
        cases: dict[str, Any] = {}
        cases["snapshot"] = restart(home)
        print("snapshot", cases["snapshot"], flush=True)
        results["tail_write_s"] = append_tail(home, tail, first=docs)
        cases["worst tail"] = restart(home)
        print("worst tail", cases["worst tail"], flush=True)
        snapshots = settings_for(home).snapshot_dir("v1")
        shutil.move(snapshots, Path(tmp) / "moved-away")
        cases["no snapshot"] = restart(home)
        print("no snapshot", cases["no snapshot"], flush=True)
        results["cases"] = cases
    results["minutes"] = round((time.time() - started) / 60, 1)
    results["load_average_end"] = os.getloadavg()
    return results


def markdown(r: dict[str, Any]) -> list[str]:
    p = r["prepare"]
    load = " / ".join(f"{v:.2f}" for v in r["load_average_start"])
    end = " / ".join(f"{v:.2f}" for v in r["load_average_end"])
    lines = [
        "# Restart at scale",
        "",
        f"Run {r['started']} on {r['machine']}; `make bench-restart` (benchmarks/scale_restart.py),"
        f" {r['minutes']} min, load average {load} at the start and {end} at the end.",
        f" {r['docs']:,} documents (hash embedder, 384 d, Flat primary), bulk-loaded through"
        f" `SqliteStore` in {p['bulk_load']['seconds']} s; the whole log replayed in process in"
        f" {p['replay_in_process_s']} s, then a snapshot written in {p['snapshot_write_s']} s"
        f" ({p['snapshot_mb']:,} MB).",
        "",
        "Each case is a fresh Python process, timed from its spawn to its first served search"
        " (`Switchover.search`, k 10); the model load is timed apart and excluded (the hash"
        " embedder has none).",
        "",
        "| case | tail replayed | spawn to first search (excl. model) | interpreter + imports |"
        " open: store, snapshot, replay | snapshot load | replay | first search | model load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in r["cases"].items():
        lines.append(
            f"| {name} | {c['replayed_records']:,} records | **{c['excluding_model_load_s']} s** |"
            f" {c['interpreter_and_imports_s']} s | {c['open_s']} s |"
            f" {c['snapshot_load_seconds']} s | {c['replay_seconds']} s |"
            f" {c['first_search_ms']} ms | {c['model_load_s']} s |"
        )
    lines += [
        "",
        f"The worst tail is {r['worst_tail_records']:,} records, `[snapshots] max_tail_records`:"
        " a periodic snapshot is due once that many log records arrived since the last one,"
        " whatever the other rules say (migrator/registry.py `snapshot_due`), so a restart"
        " replays at most that many plus what arrives while that snapshot is being written"
        " and the snapshot thread's 1 s tick. Its documents were written after the snapshot"
        f" ({r['tail_write_s']} s) as new documents with cached vectors, replayed without"
        " encoding.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=None, help="default: the cadence's bound")
    parser.add_argument("--quick", action="store_true", help="20k documents")
    args = parser.parse_args()
    use_faiss_threads(1)
    docs = 20_000 if quick_mode(args.quick) else args.docs
    cap = Settings(home=Path(".")).snapshot_max_tail_records
    tail = args.tail if args.tail is not None else cap
    if quick_mode(args.quick):
        tail = min(tail, docs // 4)
    results = run(docs, tail)
    write_results("scale_restart", results, markdown(results))


if __name__ == "__main__":
    main()
