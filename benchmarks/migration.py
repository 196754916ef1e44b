"""Migration benchmark: backfill, shadow and rollback costs, real MiniLM model.

Two servers hold the same SQuAD passages:

* ``layout``: a layout-only migration, ``Flat`` -> ``HNSW32,Flat`` (same embedder);
* ``reencode``: a migration to a new embedder (MiniLM with ``truncate_dim`` 256: a new
  fingerprint, so every document is encoded again; the model's work per text is the same).

Figures, each a ratio of two things measured side by side in this one run:

1. full re-encode backfill docs/s vs raw ``SentenceTransformer.encode`` of the same texts
   (timed just before and just after the backfill, the mean taken);
2. layout-only backfill docs/s vs the full re-encode backfill (server-side times);
3. served p95 with shadow reads at 100% vs off, alternating blocks (``layout`` server);
4. rollback latency: sending ``rollback`` to the routing flip, over canary -> rollback ->
   resume cycles, checked with a routing key the canary had sent to the target.

Dual-write write latency is ``dual_write.py`` (same server, alternating blocks). Writes
``benchmarks/results/migration.json`` and ``migration.md``. Run: ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from _common import (
    SQUAD,
    latency_summary,
    machine,
    now_utc,
    quick_mode,
    ratio,
    raw_encode_docs_per_s,
    raw_model,
    write_results,
)

from evals import load_dataset
from migrator.routing import routes_to_target
from tests.server import ServerProcess

TARGETS = {
    "layout": {"name": "v2", "factory": "HNSW32,Flat", "search_params": {"ef_search": 64}},
    "reencode": {"name": "v2-256", "factory": "Flat", "embedder": {"truncate_dim": 256}},
}


class Server:
    """One running server and an HTTP client with the operator token."""

    def __init__(self, name: str, proc: ServerProcess) -> None:
        self.name = name
        self.http = httpx.Client(base_url=proc.url, timeout=600)
        self.auth = proc.operator_header
        self.migration: int | None = None

    def put(self, docs: list[dict[str, Any]]) -> None:
        self.http.put("/v1/documents", json={"documents": docs}).raise_for_status()

    def act(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(
            f"/v1/migrations/{self.migration}/{action}", json=body or {}, headers=self.auth
        )
        response.raise_for_status()
        return dict(response.json())

    def status(self) -> dict[str, Any]:
        return dict(self.http.get("/v1/migrations/current", headers=self.auth).json())

    def search(self, query: str, key: str | None = None) -> dict[str, Any]:
        headers = {"X-Routing-Key": key} if key else {}
        response = self.http.post("/v1/search", json={"query": query, "k": 10}, headers=headers)
        response.raise_for_status()
        return dict(response.json())


def ingest(server: Server, docs: list[dict[str, Any]]) -> None:
    for start in range(0, len(docs), 64):
        server.put(docs[start : start + 64])


def migrate_and_backfill(server: Server, target: dict[str, Any]) -> dict[str, Any]:
    """Create the migration, run its backfill, and report the server-side backfill time."""
    body = {"target": target, "shadow_sample": 0.0}
    response = server.http.post("/v1/migrations", json=body, headers=server.auth)
    response.raise_for_status()
    server.migration = response.json()["id"]
    server.act("backfill")
    while not (status := server.status())["backfill"]["finished"]:
        time.sleep(0.05)
    bf = status["backfill"]
    seconds = bf["finished_at"] - bf["started_at"]
    server.act("shadow")
    return {
        "target": target,
        "docs": bf["done"],
        "encoded": bf["encoded"],
        "seconds": round(seconds, 3),
        "docs_per_s": round(bf["done"] / seconds, 1),
    }


def reencode_backfill(server: Server, texts: list[str], model: Any) -> dict[str, Any]:
    model.encode(texts[:16], batch_size=32)  # warm-up
    raw_before = raw_encode_docs_per_s(model, texts)
    out = migrate_and_backfill(server, TARGETS["reencode"])
    raw_after = raw_encode_docs_per_s(model, texts)
    raw = (raw_before + raw_after) / 2
    out |= {
        "raw_encode_docs_per_s_before": round(raw_before, 2),
        "raw_encode_docs_per_s_after": round(raw_after, 2),
        "ratio_backfill_vs_raw_encode": ratio(out["docs_per_s"], raw),
    }
    return out


def shadow_overhead(server: Server, queries: list[str], blocks: int, size: int) -> dict[str, Any]:
    latencies: dict[float, list[float]] = {0.0: [], 1.0: []}
    for q in queries[:30]:  # warm-up, measured by neither side
        server.search(q)
    it = iter(queries[30:])
    for block in range(blocks):
        order = (0.0, 1.0) if block % 2 == 0 else (1.0, 0.0)  # ABBA: drift hits both alike
        for sample in order:
            server.http.patch(
                f"/v1/migrations/{server.migration}/plan",
                json={"shadow_sample": sample},
                headers=server.auth,
            ).raise_for_status()
            for _ in range(size):
                q = next(it)
                started = time.perf_counter()
                server.search(q)
                latencies[sample].append((time.perf_counter() - started) * 1000)
    shadow = server.status()["live"]["shadow"]
    off, on = latency_summary(latencies[0.0]), latency_summary(latencies[1.0])
    return {
        "queries_per_setting": off["n"],
        "off": off,
        "on": on,
        "ratio_p95_on_vs_off": ratio(on["p95_ms"], off["p95_ms"]),
        "ratio_p50_on_vs_off": ratio(on["p50_ms"], off["p50_ms"]),
        "shadow_completed": shadow["completed"],
        "shadow_dropped": shadow["dropped"],
        "mean_overlap_at_10": shadow["mean_overlap"],
    }


def rollback_latency(server: Server, cycles: int) -> dict[str, Any]:
    mid = server.migration
    assert mid is not None, "migrate_and_backfill() names the migration first"
    key = next(f"user{i}" for i in range(10_000) if routes_to_target(50.0, f"user{i}", mid))
    flips: list[float] = []
    for _ in range(cycles):
        server.act("canary", {"percent": 50, "override": True})
        assert server.search("history of the city", key)["served_by"] == "v2"
        started = time.perf_counter()
        server.act("rollback", {"reason": "bench"})
        flips.append((time.perf_counter() - started) * 1000)
        served = server.search("history of the city", key)["served_by"]
        assert served == "v1", "routing must have flipped when rollback returns"
        server.act("resume")
    summary = latency_summary(flips)
    return {"cycles": cycles, **summary, "max_ms": round(max(flips), 2)}


def markdown(results: dict[str, Any]) -> list[str]:
    re_, lo = results["reencode_backfill"], results["layout_backfill"]
    s, r = results["shadow"], results["rollback"]
    lines = [
        "# Migration benchmark",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench`"
        f" (benchmarks/migration.py), {results['minutes']} min. Real MiniLM model,"
        f" {results['docs']} SQuAD passages per server; source `Flat`. Every ratio compares"
        " two measurements taken side by side in this run.",
        "",
        "| figure | measured | baseline | ratio | goal |",
        "|---|---|---|---|---|",
        f"| full re-encode backfill (new embedder: MiniLM, truncate_dim 256),"
        f" {re_['docs']} docs, {re_['encoded']} encoded | {re_['docs_per_s']} docs/s |"
        f" raw encode of the same texts: {re_['raw_encode_docs_per_s_before']} (before) /"
        f" {re_['raw_encode_docs_per_s_after']} (after) docs/s |"
        f" {re_['ratio_backfill_vs_raw_encode']} | |",
        f"| layout-only backfill (`HNSW32,Flat`, same embedder), {lo['docs']} docs,"
        f" {lo['encoded']} encoded | {lo['docs_per_s']} docs/s ({lo['seconds']} s) |"
        f" full re-encode backfill: {re_['docs_per_s']} docs/s ({re_['seconds']} s) |"
        f" {results['ratio_layout_vs_reencode_backfill']} | |",
    ]
    lines += [
        f"| served p95 with shadow at 100% ({s['queries_per_setting']} queries, alternating"
        f" blocks) | {s['on']['p95_ms']} ms | shadow off: {s['off']['p95_ms']} ms |"
        f" {s['ratio_p95_on_vs_off']} | <= 1.05 |",
        f"| served p50 with shadow at 100% | {s['on']['p50_ms']} ms | shadow off:"
        f" {s['off']['p50_ms']} ms | {s['ratio_p50_on_vs_off']} | |",
        f"| rollback, command sent to routing flipped ({r['cycles']} cycles) | p50"
        f" {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms | | | p99 < 50 ms |",
        "",
        "Dual-write write latency: [dual_write.md](dual_write.md)."
        + (
            " (A three-server version of it in this run, superseded, is kept in"
            " migration.json under `dual_write`: its single-index baseline server was slower"
            " than both migration servers even on writes that encode twice, so it did not"
            " measure dual-write.)"
            if "dual_write" in results
            else ""
        ),
        "",
        f"Shadow reads completed: {s['shadow_completed']}, dropped (queue full):"
        f" {s['shadow_dropped']}, mean overlap@10 HNSW vs Flat: {s['mean_overlap_at_10']}.",
        "",
        "Backfill times are the server's own (`finished_at - started_at`). Rollback latency"
        " is the HTTP round trip of the rollback command; the routing flip commits before the"
        " response, and a search right after it (with a routing key the canary had sent to"
        " the target) is checked to be served by the source.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=240)
    parser.add_argument("--blocks", type=int, default=6, help="blocks per shadow setting")
    parser.add_argument("--block-size", type=int, default=60)
    parser.add_argument("--cycles", type=int, default=30, help="rollback cycles")
    parser.add_argument("--quick", action="store_true", help="a smoke run, small counts")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.docs, args.blocks, args.block_size, args.cycles = 64, 2, 10, 5
    started = time.time()
    data = load_dataset(SQUAD)
    docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus[: args.docs]]
    queries = [q.text for q in data.sample_queries(args.blocks * args.block_size * 2 + 30, 9)]
    results: dict[str, Any] = {"started": now_utc(), "machine": machine(), "docs": len(docs)}
    with tempfile.TemporaryDirectory(prefix="switchover-bench-") as tmp, ExitStack() as stack:
        servers = []
        for name in ("layout", "reencode"):
            proc = ServerProcess(Path(tmp) / name).start()
            stack.callback(proc.stop)
            servers.append(Server(name, proc))
        layout, reencode = servers
        for server in servers:
            print(f"ingest into {server.name} ...", flush=True)
            ingest(server, docs)
        print("backfills ...", flush=True)
        results["layout_backfill"] = migrate_and_backfill(layout, TARGETS["layout"])
        results["reencode_backfill"] = reencode_backfill(
            reencode, [d["text"] for d in docs], raw_model()
        )
        results["ratio_layout_vs_reencode_backfill"] = ratio(
            results["layout_backfill"]["docs_per_s"], results["reencode_backfill"]["docs_per_s"]
        )
        print(results["layout_backfill"], results["reencode_backfill"], flush=True)
        print("shadow ...", flush=True)
        results["shadow"] = shadow_overhead(layout, queries, args.blocks, args.block_size)
        print("rollback ...", flush=True)
        results["rollback"] = rollback_latency(layout, args.cycles)
    results["minutes"] = round((time.time() - started) / 60, 1)
    write_results("migration", results, markdown(results))


if __name__ == "__main__":
    main()
