"""How fast a rollback sent to one replica reaches every replica's routing.

Three real ``switchover serve`` replicas on one private PostgreSQL 16 (the ``pgserver``
wheel, durable defaults). A migration ``v1`` -> ``v2`` is in canary at 50 %, and a set
of routing keys whose bucket sends them to the target is served by ``v2`` on every
replica. Each cycle sends a rollback to one replica (in turn) and measures, from the
moment the request is sent, until each replica answers a keyed search from ``v1`` (then
every probe key is checked on every replica: all on ``v1``). The figure is the slowest
replica's time: when every replica routes every keyed read to the source. Then the
migration resumes and goes back to canary 50 % through the next replica, and the
next cycle waits until every replica serves the probe keys from ``v2`` again.

A poll is one HTTP search per replica every ``POLL_S``, so times are upper bounds within
about that. Routing does not depend on the embedder: the hash embedder keeps each probe
cheap (``--embedder minilm`` for the real model).

    python benchmarks/replica_rollback.py --cycles 30
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _common import latency_summary, machine, now_utc, write_results

from api.cli.demo import distinct_note
from migrator.routing import routes_to_target
from stress.cluster import Cluster
from stress.crashloop import TOML
from tests.pgserver import running_server
from tests.server import ServerProcess, operator_header

TOKEN = "rollback-bench-token"  # noqa: S105 - a local benchmark's token, not a secret
AUTH = operator_header(TOKEN)
POLL_S = 0.005
KEYS = 20


def served_by(http: httpx.Client, server: ServerProcess, key: str) -> str:
    body = {"query": "a note about the tide", "k": 3}
    found = http.post(f"{server.url}/v1/search", json=body, headers={"X-Routing-Key": key})
    found.raise_for_status()
    return str(found.json()["served_by"])


def act(http: httpx.Client, server: ServerProcess, mid: int, action: str, **body: Any) -> None:
    url = f"{server.url}/v1/migrations/{mid}/{action}"
    http.post(url, json=body or None, headers=AUTH, timeout=120).raise_for_status()


def wait_all(http: httpx.Client, cluster: Cluster, keys: list[str], index: str) -> None:
    deadline = time.monotonic() + 60
    for server in cluster.replicas:
        while any(served_by(http, server, k) != index for k in keys):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.url} does not serve every probe key from {index}")
            time.sleep(0.05)


def time_to_source(server: ServerProcess, keys: list[str], sent: float, out: list[float]) -> None:
    with httpx.Client(timeout=30) as http:
        n = 0
        while served_by(http, server, keys[n % len(keys)]) != "v1":
            n += 1
            if time.perf_counter() - sent > 30:
                raise RuntimeError(f"{server.url} still routes to v2 after 30 s")
            time.sleep(POLL_S)
        out.append((time.perf_counter() - sent) * 1000)


def cycle(http: httpx.Client, cluster: Cluster, mid: int, n: int, keys: list[str]) -> list[float]:
    """One rollback through replica ``n % 3``: each replica's ms until it routes to v1."""
    wait_all(http, cluster, keys, "v2")
    times: list[float] = []
    sent = time.perf_counter()
    pollers = [
        threading.Thread(target=time_to_source, args=(s, keys, sent, times))
        for s in cluster.replicas
    ]
    for thread in pollers:
        thread.start()
    act(http, cluster.replicas[n % len(cluster.replicas)], mid, "rollback", reason=f"cycle {n}")
    for thread in pollers:
        thread.join()
    wait_all(http, cluster, keys, "v1")  # every probe key, on every replica
    nxt = cluster.replicas[(n + 1) % len(cluster.replicas)]
    act(http, nxt, mid, "resume")
    act(http, nxt, mid, "canary", percent=50, override=True)
    if len(times) != len(cluster.replicas):
        raise RuntimeError("a poller failed")
    return times


def setup(http: httpx.Client, cluster: Cluster) -> tuple[int, list[str]]:
    first = cluster.replicas[0]
    rng = random.Random(3)
    docs = [{"id": f"d{i}", "text": distinct_note(rng, i)} for i in range(200)]
    http.put(f"{first.url}/v1/documents", json={"documents": docs}).raise_for_status()
    target = {"target": {"name": "v2", "factory": "Flat"}}
    created = http.post(f"{first.url}/v1/migrations", json=target, headers=AUTH)
    created.raise_for_status()
    mid = int(created.json()["id"])
    act(http, first, mid, "backfill")
    deadline = time.monotonic() + 120
    while not http.get(f"{first.url}/v1/migrations/current", headers=AUTH).json()["backfill"][
        "finished"
    ]:
        if time.monotonic() > deadline:
            raise RuntimeError("the backfill did not finish")
        time.sleep(0.1)
    act(http, first, mid, "shadow")
    act(http, first, mid, "canary", percent=50, override=True)
    keys = [k for k in (f"user-{i}" for i in range(1000)) if routes_to_target(50, k, mid)]
    return mid, keys[:KEYS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--embedder", choices=sorted(TOML), default="hash")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="switchover-rollback-"))
    with running_server(power_safe=True) as pg, pg.database() as url:
        cluster = Cluster(root, url, 3, toml=TOML[args.embedder], token=TOKEN)
        try:
            cluster.start()
            with httpx.Client(timeout=60) as http:
                mid, keys = setup(http, cluster)
                cycles = [cycle(http, cluster, mid, n, keys) for n in range(args.cycles)]
        finally:
            cluster.stop()
    report(args, cycles)


def report(args: argparse.Namespace, cycles: list[list[float]]) -> None:
    slowest = [max(c) for c in cycles]
    fastest = [min(c) for c in cycles]
    every, first = latency_summary(slowest), latency_summary(fastest)
    results = {
        "when": now_utc(),
        "machine": machine(),
        "embedder": args.embedder,
        "cycles": len(cycles),
        "replicas": 3,
        "poll_s": POLL_S,
        "every_replica_on_source": every,
        "first_replica_on_source": first,
        "per_cycle_ms": [[round(t, 1) for t in sorted(c)] for c in cycles],
    }
    lines = [
        "# A rollback through one replica, seen by every replica",
        "",
        f"{now_utc()}, {machine()}. Three `switchover serve` replicas on one private"
        f" PostgreSQL 16 (pgserver), {args.embedder} embedder, a migration in canary at"
        f" 50 %, {len(cycles)} cycles, each rollback sent to the next replica in turn."
        f" Polled every {POLL_S * 1000:g} ms with keyed searches"
        " (`benchmarks/replica_rollback.py`).",
        "",
        "| from the rollback request sent until | p50 | p99 | max |",
        "|---|---|---|---|",
        f"| every replica routes every keyed read to the source | {every['p50_ms']:.0f} ms"
        f" | {every['p99_ms']:.0f} ms | {max(slowest):.0f} ms |",
        f"| the first replica does (the one that took it) | {first['p50_ms']:.0f} ms"
        f" | {first['p99_ms']:.0f} ms | {max(fastest):.0f} ms |",
        "",
        "Goal: p99 under 1 s " + ("(met)." if every["p99_ms"] < 1000 else "(NOT met)."),
    ]
    write_results("replica_rollback", results, lines)


if __name__ == "__main__":
    main()
