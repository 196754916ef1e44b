"""Migration benchmark: shadow overhead on the served p95, and rollback latency.

1. Shadow at a 100% sample vs off, on the same server and index, in alternating blocks
   of queries (so drift on a noisy machine hits both alike): served p95 ratio.
2. Rollback latency: the time from sending ``rollback`` to the routing flip, over
   repeated canary -> rollback -> resume cycles; the flip is checked with a routing
   key that the canary had sent to the target.

Writes ``benchmarks/results/migration.json`` and ``migration.md``. Run: ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals import load_dataset  # noqa: E402
from migrator.routing import routes_to_target  # noqa: E402
from tests.server import ServerProcess  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SQUAD = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--blocks", type=int, default=6, help="blocks per shadow setting")
    parser.add_argument("--block-size", type=int, default=60)
    parser.add_argument("--cycles", type=int, default=30, help="rollback cycles")
    args = parser.parse_args()
    data = load_dataset(SQUAD)
    docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus[: args.docs]]
    wanted = args.blocks * args.block_size * 2 + 30
    queries = [q.text for q in data.sample_queries(wanted, seed=9)]
    with tempfile.TemporaryDirectory(prefix="switchover-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "home").start()
        auth = {"Authorization": f"Bearer {server.token}"}
        try:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                results = run(http, auth, docs, queries, args)
        finally:
            server.stop()
    results["started"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    write(results)
    print(json.dumps(results, indent=2))


def run(
    http: httpx.Client,
    auth: dict[str, str],
    docs: list[dict[str, Any]],
    queries: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    for start in range(0, len(docs), 64):
        http.put("/v1/documents", json={"documents": docs[start : start + 64]}).raise_for_status()
    body = {
        "target": {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}},
        "shadow_sample": 0.0,
    }
    mid = http.post("/v1/migrations", json=body, headers=auth).json()["id"]
    t0 = time.perf_counter()
    http.post(f"/v1/migrations/{mid}/backfill", headers=auth).raise_for_status()
    while not http.get("/v1/migrations/current", headers=auth).json()["backfill"]["finished"]:
        time.sleep(0.05)
    backfill_s = time.perf_counter() - t0
    status = http.get("/v1/migrations/current", headers=auth).json()
    http.post(f"/v1/migrations/{mid}/shadow", headers=auth).raise_for_status()

    # 1. shadow overhead, alternating blocks
    latencies: dict[float, list[float]] = {0.0: [], 1.0: []}
    for q in queries[:30]:  # warm-up, measured by neither side
        http.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
    it = iter(queries[30:])
    for block in range(args.blocks):
        order = (0.0, 1.0) if block % 2 == 0 else (1.0, 0.0)  # ABBA: drift hits both alike
        for sample in order:
            http.patch(
                f"/v1/migrations/{mid}/plan", json={"shadow_sample": sample}, headers=auth
            ).raise_for_status()
            for _ in range(args.block_size):
                q = next(it)
                started = time.perf_counter()
                http.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
                latencies[sample].append((time.perf_counter() - started) * 1000)
    shadow_stats = http.get("/v1/migrations/current", headers=auth).json()["live"]["shadow"]

    # 2. rollback latency
    key = next(f"user{i}" for i in range(10_000) if routes_to_target(50.0, f"user{i}", mid))
    flips: list[float] = []
    for _ in range(args.cycles):
        http.post(
            f"/v1/migrations/{mid}/canary", json={"percent": 50, "override": True}, headers=auth
        ).raise_for_status()
        assert _served(http, key) == "v2"
        started = time.perf_counter()
        http.post(f"/v1/migrations/{mid}/rollback", json={"reason": "bench"}, headers=auth)
        flips.append((time.perf_counter() - started) * 1000)
        assert _served(http, key) == "v1", "routing must have flipped when rollback returns"
        http.post(f"/v1/migrations/{mid}/resume", headers=auth).raise_for_status()
    off, on = latencies[0.0], latencies[1.0]
    return {
        "docs": len(docs),
        "layout_only_backfill": {
            "seconds": round(backfill_s, 2),
            "docs_per_s": round(len(docs) / backfill_s, 1),
            "encoded": status["backfill"]["encoded"],
        },
        "shadow": {
            "queries_per_setting": len(off),
            "served_p50_ms_off": pct(off, 50),
            "served_p95_ms_off": pct(off, 95),
            "served_p50_ms_on": pct(on, 50),
            "served_p95_ms_on": pct(on, 95),
            "ratio_p95_on_vs_off": round(pct(on, 95) / pct(off, 95), 3),
            "shadow_completed": shadow_stats["completed"],
            "shadow_dropped": shadow_stats["dropped"],
            "mean_overlap_at_10": shadow_stats["mean_overlap"],
        },
        "rollback": {
            "cycles": len(flips),
            "p50_ms": pct(flips, 50),
            "p99_ms": pct(flips, 99),
            "max_ms": round(max(flips), 2),
        },
    }


def _served(http: httpx.Client, key: str) -> str:
    response = http.post(
        "/v1/search", json={"query": "history of the city", "k": 3}, headers={"X-Routing-Key": key}
    )
    return str(response.json()["served_by"])


def write(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "migration.json").write_text(json.dumps(results, indent=2) + "\n")
    s, r, b = results["shadow"], results["rollback"], results["layout_only_backfill"]
    lines = [
        "# Migration benchmark",
        "",
        f"Run {results['started']}; `make bench` (benchmarks/migration.py), real MiniLM model,"
        f" {results['docs']} SQuAD passages, source `Flat`, target `HNSW32,Flat` (efSearch 64).",
        "",
        "| figure | measured | baseline | ratio | goal |",
        "|---|---|---|---|---|",
        f"| served p95 with shadow at 100% ({s['queries_per_setting']} queries, alternating"
        f" blocks) | {s['served_p95_ms_on']} ms | shadow off: {s['served_p95_ms_off']} ms |"
        f" {s['ratio_p95_on_vs_off']} | <= 1.05 |",
        f"| served p50 with shadow at 100% | {s['served_p50_ms_on']} ms | shadow off:"
        f" {s['served_p50_ms_off']} ms | | |",
        f"| rollback, command sent to routing flipped ({r['cycles']} cycles) | p50"
        f" {r['p50_ms']} ms, p99 {r['p99_ms']} ms | | | p99 < 50 ms |",
        f"| layout-only backfill | {b['docs_per_s']} docs/s, {b['encoded']} texts encoded | | | |",
        "",
        f"Shadow reads completed: {s['shadow_completed']}, dropped (queue full):"
        f" {s['shadow_dropped']}, mean overlap@10 HNSW vs Flat: {s['mean_overlap_at_10']}.",
        "",
        "Rollback latency is the HTTP round trip of the rollback command; the routing flip"
        " commits before the response, and a search right after it (with a routing key the"
        " canary had sent to the target) is checked to be served by the source.",
    ]
    (RESULTS / "migration.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
