"""The load run on several replicas of one PostgreSQL, with an automatic rollback mid-flight.

``stress/load.py``'s scenario (real MiniLM model, ``v1`` ``Flat`` -> ``v2`` ``HNSW32,Flat`` in
a 50% canary, an operator config change that cripples ``v2`` part-way, no rollback ever sent
by the script) on ``--replicas`` ``switchover serve`` processes sharing one private
PostgreSQL (from the ``pgserver`` wheel, or ``--database``). Each simulated client talks to
one replica (client ``w`` to replica ``w mod n``); the bad config change goes through a
replica that does not lead, so the leader's watchdog must see it arrive and roll reads back
on its own, and every replica must follow.

Checked, besides every check of the single-server run: the rollback was made on the
replica that led, every replica saw it (the time each one's status poll first said
``rolled_back``), every read on each replica after it saw the rollback was served by
``v1``, no request failed on any replica, and every acknowledged write is in the store and
on both indexes of every replica (each replica's own FAISS copies, lag 0).

Writes ``stress/results/load_replicas.json`` and ``load_replicas.md``; exits non-zero if a
check fails. Run: ``make load-replicas`` (about 10 minutes) or
``python stress/load_replicas.py --duration 60``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stress import load  # noqa: E402
from stress.cluster import MINILM, Cluster, database  # noqa: E402
from tests.server import ServerProcess, operator_header  # noqa: E402

TOKEN = "load-replicas-token"  # noqa: S105 - a local run's token, not a secret
LAGGING = re.compile(r'^switchover_lagging_reads(?:_total)?\{index="([^"]+)"\} ([0-9.e+]+)$')


@dataclass
class Seen:
    """What the operator's polls saw on each replica."""

    phases: list[list[dict[str, Any]]]
    rollback_seen: list[float | None]
    timeline: load.Timeline = field(default_factory=load.Timeline)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    extra = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # --data is not --database
    extra.add_argument("--replicas", type=int, default=3)
    extra.add_argument("--database", help="a PostgreSQL 15+ (default: a private one)")
    mine, rest = extra.parse_known_args(argv)
    if "--url" in rest:
        raise SystemExit("--url is not for this script: it starts its own replicas")
    args = load.parse_args(rest)
    if not 2 <= mine.replicas <= 8:
        raise SystemExit("--replicas must be between 2 and 8")
    args.replicas, args.database = mine.replicas, mine.database
    return args


def toml_for(roots: list[Path]) -> str:
    """The replicas' ``switchover.toml``: MiniLM, ``v1`` Flat, the eval set's folders."""
    listed = ", ".join(json.dumps(str(r.resolve())) for r in roots)
    return MINILM + f"[server]\neval_data_roots = [{listed}]\n"


def leading(server: ServerProcess) -> bool:
    return bool(httpx.get(f"{server.url}/healthz", timeout=10).json()["leading"])


def wait_all_in(servers: list[ServerProcess], phase: str, timeout: float = 300) -> None:
    """Until every replica's status says ``phase``."""
    deadline = time.monotonic() + timeout
    auth = operator_header(TOKEN)
    while time.monotonic() < deadline:
        phases = [
            httpx.get(f"{s.url}/v1/migrations/current", headers=auth, timeout=30).json()["phase"]
            for s in servers
        ]
        if all(p == phase for p in phases):
            return
        time.sleep(0.5)
    raise load.LoadError(f"not every replica reached {phase}: {phases}")


# -- the load ----------------------------------------------------------------------------


async def operator(
    clients: list[httpx.AsyncClient], via: int, degrade_at: float, deadline: float, seen: Seen
) -> None:
    """Polls every replica's phase; makes the one bad config change through replica ``via``."""
    auth = operator_header(TOKEN)
    last: list[str | None] = [None] * len(clients)
    timeline = seen.timeline
    while time.monotonic() < deadline:
        if timeline.degrade_sent is None and time.monotonic() >= degrade_at:
            timeline.degrade_sent = time.time()
            body = {**load.DEGRADE, "reason": "load: lower v2 efSearch to 1 (a mistake)"}
            response = await clients[via].put("/v1/config", json=body, headers=auth)
            response.raise_for_status()
            timeline.degraded = time.time()
            timeline.degrade_response = response.json()
        for n, http in enumerate(clients):
            response = await http.get("/v1/migrations/current", headers=auth)
            response.raise_for_status()
            phase = response.json()["phase"]
            if phase != last[n]:
                last[n] = phase
                seen.phases[n].append({"at": time.time(), "phase": phase})
                if phase == "rolled_back" and seen.rollback_seen[n] is None:
                    seen.rollback_seen[n] = time.time()
        await asyncio.sleep(0.25)


async def run_load(
    urls: list[str], via: int, args: argparse.Namespace, queries: list[str]
) -> tuple[list[load.Ledger], Seen]:
    """Client ``w`` on replica ``w mod n``; one ledger per replica."""
    ledgers = [load.Ledger() for _ in urls]
    seen = Seen([[] for _ in urls], [None] * len(urls))
    per = max(2, args.concurrency // len(urls) + 2)
    limits = httpx.Limits(max_connections=per)
    clients = [httpx.AsyncClient(base_url=u, timeout=args.timeout, limits=limits) for u in urls]
    try:
        pacer = load.Pacer(args.rate)
        start = time.monotonic()
        seen.timeline.started = time.time()
        deadline = start + args.duration
        n = len(urls)
        tasks = [
            load.worker(w, clients[w % n], pacer, deadline, args, queries, ledgers[w % n])
            for w in range(args.concurrency)
        ]
        tasks.append(operator(clients, via, start + args.degrade_after, deadline, seen))
        await asyncio.gather(*tasks)
    finally:
        for http in clients:
            await http.aclose()
    return ledgers, seen


def merged(ledgers: list[load.Ledger]) -> load.Ledger:
    """One ledger of every replica's calls (each client owns its ids: no overlaps)."""
    out = load.Ledger()
    for ledger in ledgers:
        out.calls += ledger.calls
        out.docs.update(ledger.docs)
        out.uncertain |= ledger.uncertain
        out.acked_upserts += ledger.acked_upserts
        out.acked_deletes += ledger.acked_deletes
    out.calls.sort(key=lambda c: c.started)
    return out


# -- per replica -------------------------------------------------------------------------


def lagging_reads(server: ServerProcess) -> dict[str, float]:
    """The replica's reads diverted to the source because the target lagged (``/metrics``)."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found = (LAGGING.match(line) for line in text.splitlines())
    return {m.group(1): float(m.group(2)) for m in found if m}


def replica_rows(
    ledgers: list[load.Ledger], seen: Seen, degraded: float | None
) -> list[dict[str, Any]]:
    rows = []
    for n, ledger in enumerate(ledgers):
        at = seen.rollback_seen[n]
        after = [c for c in ledger.calls if at is not None and c.started >= at]
        rows.append(
            {
                "replica": n + 1,
                "requests": len(ledger.calls),
                "failures": sum(not c.ok for c in ledger.calls),
                "rollback_seen_s_after_degradation": load._minus(at, degraded),
                "served_by_after_it_saw_the_rollback": dict(
                    Counter(c.served_by for c in after if c.kind == "search")
                ),
                "writes_after_it_saw_the_rollback": sum(c.kind != "search" for c in after),
            }
        )
    return rows


def verify_all(
    servers: list[ServerProcess], ledger: load.Ledger, base_docs: int
) -> list[dict[str, Any]]:
    """The single-server write check on every replica (the first one reverts the config)."""
    results = []
    for n, server in enumerate(servers):
        if n > 0:
            wait_config(server, "v2", {"ef_search": 64})
        results.append(
            asyncio.run(
                load.verify_writes(
                    server.url, TOKEN, ledger, ("v1", "v2"), base_docs, revert=n == 0
                )
            )
        )
    return results


def wait_config(server: ServerProcess, index: str, wanted: dict[str, Any]) -> None:
    deadline = time.monotonic() + 60
    auth = operator_header(TOKEN)
    while time.monotonic() < deadline:
        config = httpx.get(f"{server.url}/v1/config", headers=auth, timeout=30).json()
        if all(config["indexes"].get(index, {}).get(k) == v for k, v in wanted.items()):
            return
        time.sleep(0.25)
    raise load.LoadError(f"{server.url} never saw the reverted config")


def replica_checks(r: dict[str, Any]) -> dict[str, bool]:
    rows, writes = r["replicas"], r["writes_per_replica"]
    return {
        "one replica led throughout (the watchdog runs only there)": (
            len(r["leaders_before"]) == 1 and r["leaders_before"] == r["leaders_after"]
        ),
        "the bad config change went through a replica that did not lead": (
            r["degraded_via"] not in r["leaders_before"]
        ),
        "every replica saw the rollback": all(
            row["rollback_seen_s_after_degradation"] is not None for row in rows
        ),
        "zero failed requests on every replica": all(row["failures"] == 0 for row in rows),
        "every read on each replica after it saw the rollback served by v1": all(
            set(row["served_by_after_it_saw_the_rollback"]) == {"v1"} for row in rows
        ),
        "zero lost writes on every replica (store and both indexes)": all(
            w["lost_writes"] == 0 and not w["uncertain"] for w in writes
        ),
        "both indexes caught up on every replica (lag 0)": all(
            not any(w["index_lag_records"].values()) for w in writes
        ),
    }


# -- the run -----------------------------------------------------------------------------


def scenario(cluster: Cluster, args: argparse.Namespace, scratch: Path, say: Any) -> dict[str, Any]:
    servers = cluster.replicas
    auth = operator_header(TOKEN)
    leaders = [n + 1 for n, s in enumerate(servers) if leading(s)]
    via = next(n for n in range(len(servers)) if n + 1 not in leaders)
    with httpx.Client(base_url=servers[0].url, timeout=600) as http:
        mid, queries, setup = load.set_up(http, auth, args, scratch, say)
    wait_all_in(servers, "canary")
    say(f"every replica in canary; leader {leaders}; degradation through replica {via + 1}")
    ledgers, seen = asyncio.run(run_load([s.url for s in servers], via, args, queries))
    ledger = merged(ledgers)
    say(f"load done: {len(ledger.calls)} requests, {sum(not c.ok for c in ledger.calls)} failed")
    known = [t for t in seen.rollback_seen if t is not None]
    seen.timeline.rollback_seen = max(known) if len(known) == len(servers) else None
    seen.timeline.phases = seen.phases[0]
    with httpx.Client(base_url=servers[0].url, timeout=600) as http:
        events = http.get(f"/v1/migrations/{mid}/events", headers=auth).json()["events"]
    result = load.analyse(ledger, seen.timeline, events, mid, args.canary)
    lagging: Counter[str] = Counter()
    for server in servers:
        lagging.update(lagging_reads(server))
    result["sticky"]["server_lag_diversions_at_rollback"] = dict(lagging)
    result["replicas"] = replica_rows(ledgers, seen, seen.timeline.degraded)
    result["writes_per_replica"] = verify_all(servers, ledger, load.len_docs(setup))
    result["writes"] = result["writes_per_replica"][0]
    say(f"writes lost per replica: {[w['lost_writes'] for w in result['writes_per_replica']]}")
    result["leaders_before"] = leaders
    result["leaders_after"] = [n + 1 for n, s in enumerate(servers) if leading(s)]
    result["degraded_via"] = via + 1
    result.update(setup=setup, migration_id=mid, cores=os.cpu_count(), code=load.code_version())
    result["run"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seen.timeline.started))
    result["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    result["args"].pop("token", None)
    result["args"]["data"] = load._short(args.data)
    result["checks"] = {**load.judge_run(result), **replica_checks(result)}
    return result


def markdown(r: dict[str, Any]) -> str:
    a = r["args"]
    body = load.markdown(r).split("## Result", 1)[1]
    lines = [
        "# Load on three replicas of one PostgreSQL, with an automatic rollback mid-flight",
        "",
        f"Run {r['run']} on {r['cores']} cores (shared with other work; load average"
        f" {r['uptime_before']} before, {r['uptime_after']} after); `{r['command']}`;"
        f" server code {r['code']}.",
        "",
        f"{a['replicas']} real `switchover serve` replicas (real MiniLM model, each with its own"
        " FAISS copies of `v1` and `v2`) on one private PostgreSQL 16 (`pgserver` wheel, Unix"
        f" socket, fsync on), on loopback; {r['setup']['documents']} documents from"
        f" `{a['data']}`; eval set of {r['setup']['eval_queries']} questions. Migration `v1`"
        " (`Flat`) -> `v2` (`HNSW32,Flat`, efSearch 64), recall judgement passed, canary at"
        f" {a['canary']:g}% (sticky per `X-Routing-Key`, {a['users']} simulated users), shadow"
        f" sample {a['shadow_sample']}. Load: {a['duration']:g} s, {a['concurrency']} concurrent"
        f" clients (client w on replica w mod {a['replicas']}), at most {a['rate']:g} requests/s"
        f" in all, write ratio {a['write_ratio']}.",
        "",
        f"At {r['degradation']['seconds_into_load']} s an operator config change set `v2`"
        f" efSearch 64 -> 1 (`PUT /v1/config`) through replica {r['degraded_via']}, which did"
        f" not lead (replica {r['leaders_before']} led: it holds the advisory lock and runs the"
        ' watchdog). The script never sends a rollback. The windows below end the "during"'
        " window when the last replica's status poll showed `rolled_back`.",
        "",
        "## Result",
        body.replace("on both indexes", "on both indexes of replica 1"),
        "## Every replica",
        "",
        "| replica | requests | failed | saw the rollback (s after the change) | reads after"
        " it saw it, served by | writes after | lost writes | index counts | lag |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row, w in zip(r["replicas"], r["writes_per_replica"], strict=True):
        after = row["served_by_after_it_saw_the_rollback"]
        served = ", ".join(f"{k} {v}" for k, v in after.items())
        lines.append(
            f"| {row['replica']} | {row['requests']} | {row['failures']}"
            f" | {row['rollback_seen_s_after_degradation']} | {served or '-'}"
            f" | {row['writes_after_it_saw_the_rollback']} | {w['lost_writes']}"
            f" | {w['index_counts']} | {w['index_lag_records']} |"
        )
    lines += [
        "",
        "Each replica's write check is the single-server one: every written id read back"
        " through that replica, and a pinned search per written document on its own `v1` and"
        " `v2`. The seen-times are the operator's status polls (every 0.25 s, one replica"
        " after another), so they are an upper bound on the propagation. The lag diversions in"
        " the sticky line are summed over the replicas' `/metrics`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {text}", flush=True)

    before = load_average()
    with tempfile.TemporaryDirectory(prefix="switchover-load-replicas-") as tmp:
        scratch = Path(tmp)
        with database(args.database) as url:
            toml = toml_for([args.data, scratch])
            cluster = Cluster(scratch / "cluster", url, args.replicas, toml=toml, token=TOKEN)
            try:
                cluster.start()
                say(f"{args.replicas} replicas: {[s.url for s in cluster.replicas]}")
                result = scenario(cluster, args, scratch, say)
            finally:
                cluster.stop()
    result.update(uptime_before=before, uptime_after=load_average())
    result["command"] = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load_replicas.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "load_replicas.md").write_text(markdown(result))
    for name, ok in result["checks"].items():
        say(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(result["checks"].values()) else 1


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    raise SystemExit(main())
