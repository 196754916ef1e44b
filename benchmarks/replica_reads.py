"""Read throughput of three replicas against one, with the CPU time each request costs.

Three real ``switchover serve`` replicas on one private PostgreSQL 16 (the ``pgserver``
wheel), hash embedder (so the figure is the server's own read path, not a model), the same
documents on each replica's FAISS ``Flat`` index. One client process (asyncio + httpx,
closed loop: ``--clients`` requests in flight at all times) sends ``POST /v1/search``
either all to replica 1 ("1 replica"; the other two stay up, idle) or round-robin to all
three ("3 replicas"), in alternating rounds of ``--seconds`` each, so both settings see
the same machine load. Measured per round: requests completed, requests/s, client-side
p50 / p95, and the CPU time (user + system, from ``/proc/<pid>/stat``) of every replica
process and of the client, divided by the requests.

    python benchmarks/replica_reads.py --rounds 2 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import latency_summary, machine, now_utc, write_results

from api.cli.demo import distinct_note
from stress.cluster import Cluster
from stress.crashloop import TOML
from tests.pgserver import running_server
from tests.server import ServerProcess

TOKEN = "reads-bench-token"  # noqa: S105 - a local benchmark's token, not a secret
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def replica_cpu(cluster: Cluster) -> list[float]:
    return [cpu_s(s.proc.pid) for s in cluster.replicas if s.proc is not None]


def ingest(cluster: Cluster, docs: int) -> list[str]:
    """``docs`` notes through replica 1; returns texts to query with, once every replica
    has applied them."""
    rng = random.Random(5)
    texts = [distinct_note(rng, i) for i in range(docs)]
    with httpx.Client(base_url=cluster.replicas[0].url, timeout=120) as http:
        for start in range(0, docs, 200):
            ids = range(start, min(start + 200, docs))
            batch = [{"id": f"n{i}", "text": texts[i]} for i in ids]
            http.put("/v1/documents", json={"documents": batch}).raise_for_status()
        last = http.get("/healthz").json()["last_seq"]
    for server in cluster.replicas:
        wait_applied(server, int(last))
    return texts


def wait_applied(server: ServerProcess, seq: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        listing = httpx.get(f"{server.url}/v1/indexes", timeout=30).json()["indexes"]
        if all(int(i["lag_records"]) == 0 for i in listing) and listing:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{server.url} did not apply the log up to {seq}")


async def closed_loop(
    urls: list[str], clients: int, seconds: float, queries: list[str]
) -> tuple[int, list[float], int]:
    """``clients`` requests in flight until ``seconds`` pass; (completed, ms, failed)."""
    ms: list[float] = []
    failed = 0
    turn = itertools.cycle(range(len(urls)))
    limits = httpx.Limits(max_connections=clients)
    pools = [httpx.AsyncClient(base_url=u, timeout=60, limits=limits) for u in urls]
    deadline = time.monotonic() + seconds
    rng = random.Random(9)

    async def one() -> None:
        nonlocal failed
        while time.monotonic() < deadline:
            http = pools[next(turn)]
            t0 = time.perf_counter()
            body = {"query": rng.choice(queries), "k": 10}
            response = await http.post("/v1/search", json=body)
            ms.append((time.perf_counter() - t0) * 1000)
            failed += not response.is_success

    try:
        await asyncio.gather(*(one() for _ in range(clients)))
    finally:
        for http in pools:
            await http.aclose()
    return len(ms), ms, failed


def measure_round(
    cluster: Cluster, serving: int, args: argparse.Namespace, queries: list[str]
) -> dict[str, Any]:
    urls = [s.url for s in cluster.replicas[:serving]]
    before, client_before, wall = replica_cpu(cluster), time.process_time(), time.monotonic()
    done, ms, failed = asyncio.run(closed_loop(urls, args.clients, args.seconds, queries))
    wall = time.monotonic() - wall
    spent = [a - b for a, b in zip(replica_cpu(cluster), before, strict=True)]
    client = time.process_time() - client_before
    return {
        "replicas_serving": serving,
        "seconds": round(wall, 2),
        "requests": done,
        "failed": failed,
        "requests_per_s": round(done / wall, 1),
        "latency": latency_summary(ms),
        "replica_cpu_s": [round(s, 2) for s in spent],
        "replica_cpu_ms_per_request": round(sum(spent) * 1000 / max(done, 1), 3),
        "serving_cpu_ms_per_request": round(sum(spent[:serving]) * 1000 / max(done, 1), 3),
        "client_cpu_ms_per_request": round(client * 1000 / max(done, 1), 3),
        "cores_busy": round((sum(spent) + client) / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=15.0, help="per round")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of (1 replica, 3)")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 5 and 1 <= args.seconds <= 60 and 1 <= args.clients <= 64):
        parser.error("bounded: --rounds 1-5, --seconds 1-60, --clients 1-64")
    root = Path(tempfile.mkdtemp(prefix="switchover-reads-"))
    with running_server(power_safe=True) as pg, pg.database() as url:
        cluster = Cluster(root, url, 3, toml=TOML["hash"], token=TOKEN)
        try:
            cluster.start()
            queries = ingest(cluster, args.docs)
            asyncio.run(closed_loop([s.url for s in cluster.replicas], 4, 3, queries))  # warm
            rounds = [
                measure_round(cluster, serving, args, queries)
                for _ in range(args.rounds)
                for serving in (1, 3)
            ]
        finally:
            cluster.stop()
    report(args, rounds)


def totals(rounds: list[dict[str, Any]], serving: int) -> dict[str, float]:
    mine = [r for r in rounds if r["replicas_serving"] == serving]
    done = sum(r["requests"] for r in mine)
    wall = sum(r["seconds"] for r in mine)
    cpu = sum(sum(r["replica_cpu_s"]) for r in mine)
    return {
        "requests": done,
        "requests_per_s": round(done / wall, 1),
        "replica_cpu_ms_per_request": round(cpu * 1000 / done, 3),
        "client_cpu_ms_per_request": round(
            sum(r["client_cpu_ms_per_request"] * r["requests"] for r in mine) / done, 3
        ),
        "cores_busy": round(sum(r["cores_busy"] * r["seconds"] for r in mine) / wall, 2),
    }


def report(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> None:
    one, three = totals(rounds, 1), totals(rounds, 3)
    gain = three["requests_per_s"] / one["requests_per_s"]
    results = {
        "when": now_utc(),
        "machine": machine(),
        "embedder": "hash (64 dimensions)",
        "docs": args.docs,
        "clients": args.clients,
        "rounds": rounds,
        "one_replica": one,
        "three_replicas": three,
        "throughput_ratio_3_to_1": round(gain, 3),
    }
    lines = [
        "# Read throughput: three replicas against one, with CPU per request",
        "",
        f"{now_utc()}, {machine()} (shared with other work). Three `switchover serve`"
        f" replicas on one private PostgreSQL 16 (pgserver), hash embedder, {args.docs}"
        " documents on each replica's FAISS `Flat` index. One client process, closed loop"
        f" with {args.clients} searches (`POST /v1/search`, k 10) in flight, sends them all"
        " to replica 1 or round-robin to all three, in alternating rounds of"
        f" {args.seconds:g} s ({args.rounds} of each; `benchmarks/replica_reads.py`). CPU is"
        " user + system time from `/proc/<pid>/stat`, summed over all three replica"
        " processes (idle ones included), divided by the requests completed.",
        "",
        "| serving | requests | requests/s | replica CPU ms / request | client CPU ms /"
        " request | cores busy (replicas + client) |",
        "|---|---|---|---|---|---|",
        _row("1 replica", one),
        _row("3 replicas", three),
        "",
        f"Throughput 3 replicas / 1: **{gain:.2f}x**; replica CPU per request 3 / 1:"
        f" {three['replica_cpu_ms_per_request'] / one['replica_cpu_ms_per_request']:.2f}x.",
        "",
        "| round | serving | requests/s | p50 / p95 ms | CPU s per replica | failed |",
        "|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rounds, 1):
        lat = r["latency"]
        lines.append(
            f"| {n} | {r['replicas_serving']} | {r['requests_per_s']} | {lat['p50_ms']:.1f} /"
            f" {lat['p95_ms']:.1f} | {r['replica_cpu_s']} | {r['failed']} |"
        )
    write_results("replica_reads", results, lines)


def _row(name: str, t: dict[str, float]) -> str:
    return (
        f"| {name} | {t['requests']:.0f} | {t['requests_per_s']} |"
        f" {t['replica_cpu_ms_per_request']} | {t['client_cpu_ms_per_request']} |"
        f" {t['cores_busy']} |"
    )


if __name__ == "__main__":
    main()
