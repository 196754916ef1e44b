"""This checkout against an earlier commit, side by side in one run: ingest and search.

On a 2-core machine shared with other work, two runs an hour apart cannot be compared; two
servers measured in alternation can. The script checks the baseline commit out into a
temporary git worktree, starts a real server from each tree (MiniLM, ``Flat``, 127.0.0.1)
and, in alternating blocks, ingests the same SQuAD passages into both (ABBA order, fresh
texts in each block) and sends the same questions to both, one query at a time, the order
alternating query by query. Ratios are this checkout over the baseline (1.0 = no change).

    python benchmarks/versions.py --baseline 8bc6815
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import REPO, SQUAD, latency_summary, machine, now_utc, ratio, write_results

sys.path.insert(0, str(REPO))
from evals import load_dataset
from tests.server import free_port

TOKEN = "versions-bench-token"  # noqa: S105 - a local benchmark's token, not a secret


class Server:
    """``serve`` from one source tree: its own entry module (``api.cli``, or before the
    adapters moved out of the core, ``migrator``)."""

    def __init__(self, tree: Path, home: Path) -> None:
        self.tree, self.home, self.port = tree, home, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        entry = "api.cli" if (tree / "api" / "cli" / "__main__.py").exists() else "migrator"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SWITCHOVER_OPERATOR_TOKEN": TOKEN}
        env["PYTHONPATH"] = str(tree)
        home.mkdir(parents=True)
        command = [sys.executable, "-m", entry, "serve", "--home", str(home)]
        command += ["--port", str(self.port), "--log-level", "warning"]
        log = (home.parent / f"{home.name}.log").open("ab")
        self.proc = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server from {tree} did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def ingest_blocks(servers: dict[str, Server], docs: list[str], block: int) -> dict[str, float]:
    """docs/s per server, the same passages to each, in ABBA-ordered blocks."""
    spent = dict.fromkeys(servers, 0.0)
    names = list(servers)
    for n, start in enumerate(range(0, len(docs), block)):
        body = {
            "documents": [
                {"id": f"d{start + i}", "text": t}
                for i, t in enumerate(docs[start : start + block])
            ]
        }
        for name in names if n % 2 == 0 else reversed(names):
            started = time.perf_counter()
            httpx.put(
                f"{servers[name].url}/v1/documents", json=body, timeout=600
            ).raise_for_status()
            spent[name] += time.perf_counter() - started
    return {name: len(docs) / seconds for name, seconds in spent.items()}


def search_alternating(servers: dict[str, Server], queries: list[str]) -> dict[str, list[float]]:
    """Milliseconds per query per server, one kept-alive connection each, order alternating."""
    clients = {name: httpx.Client(base_url=s.url, timeout=600) for name, s in servers.items()}
    ms: dict[str, list[float]] = {name: [] for name in servers}
    names = list(servers)
    try:
        for q in queries[:20]:  # warm-up
            for client in clients.values():
                client.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
        for n, q in enumerate(queries[20:]):
            for name in names if n % 2 == 0 else reversed(names):
                started = time.perf_counter()
                clients[name].post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
                ms[name].append((time.perf_counter() - started) * 1000)
    finally:
        for client in clients.values():
            client.close()
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare against")
    parser.add_argument("--docs", type=int, default=384)
    parser.add_argument("--block", type=int, default=64)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    data = load_dataset(SQUAD)
    rng = random.Random(7)
    docs = [d.text for d in data.corpus[: args.docs]]
    queries = [q.text for q in rng.sample(data.queries, args.queries + 20)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="switchover-versions-") as tmp:
        base_tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_tree), args.baseline],
            check=True,
            capture_output=True,
        )
        servers: dict[str, Server] = {}
        try:
            servers["this"] = Server(REPO, Path(tmp) / "this-home")
            servers["baseline"] = Server(base_tree, Path(tmp) / "baseline-home")
            rates = ingest_blocks(servers, docs, args.block)
            ms = search_alternating(servers, queries)
        finally:
            for server in servers.values():
                server.stop()
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
                check=False,
                capture_output=True,
            )
            shutil.rmtree(base_tree, ignore_errors=True)
    summary = {name: latency_summary(values) for name, values in ms.items()}
    results: dict[str, Any] = {
        "baseline": args.baseline,
        "this": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "docs": args.docs,
        "block": args.block,
        "queries": args.queries,
        "ingest_docs_per_s": {k: round(v, 2) for k, v in rates.items()},
        "ratio_ingest": ratio(rates["this"], rates["baseline"]),
        "search": summary,
        "ratio_search_p50": ratio(summary["this"]["p50_ms"], summary["baseline"]["p50_ms"]),
        "ratio_search_p95": ratio(summary["this"]["p95_ms"], summary["baseline"]["p95_ms"]),
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    this, base = results["this"], args.baseline
    lines = [
        "# This checkout against an earlier commit",
        "",
        f"Run {now_utc()} on {machine()}; `python benchmarks/versions.py --baseline {base}`,"
        f" {results['minutes']} min. Two real servers (MiniLM, `Flat`), one from `{this}` and"
        f" one from `{base}`, measured in alternation in this one run.",
        "",
        "| figure | this checkout | baseline | ratio (this / baseline) |",
        "|---|---:|---:|---:|",
        f"| ingest, {args.docs} SQuAD passages in blocks of {args.block} (ABBA), docs/s |"
        f" {rates['this']:.2f} | {rates['baseline']:.2f} | {results['ratio_ingest']} |",
        f"| search p50, {args.queries} queries alternating, ms | {summary['this']['p50_ms']} |"
        f" {summary['baseline']['p50_ms']} | {results['ratio_search_p50']} |",
        f"| search p95, ms | {summary['this']['p95_ms']} | {summary['baseline']['p95_ms']} |"
        f" {results['ratio_search_p95']} |",
    ]
    write_results("versions", results, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
