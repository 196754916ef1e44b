"""The store on PostgreSQL against the store on SQLite: write throughput and search latency.

Two real servers from this checkout, side by side in one run: one on SQLite in its home
(WAL, ``synchronous=FULL``), one with ``--database`` on a private PostgreSQL 16 (the
``pgserver`` wheel, its durable defaults: ``fsync`` on, ``synchronous_commit`` on; a Unix
socket on the same machine). Both use the same embedder, so the ratios are the stores'.
Writes go in alternating blocks (ABBA): single-document writes one after another (each
its own commit), batches of 64, and 4 concurrent writers of single documents. Searches
alternate query by query between the servers, plain and with each hit's document read
from the store (``include_documents``). Ratios are PostgreSQL over SQLite.

    python benchmarks/postgres.py                 # hash embedder: the stores' own costs
    python benchmarks/postgres.py --embedder minilm   # the real model (encoding dominates)
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from _common import latency_summary, machine, now_utc, quick_mode, ratio, write_results

from api.cli.demo import distinct_note
from stress.crashloop import TOML
from tests.pgserver import running_server
from tests.server import ServerProcess

TOKEN = "postgres-bench-token"  # noqa: S105 - a local benchmark's token, not a secret
NAMES = ("sqlite", "postgresql")


class Texts:
    """Fresh, distinct document texts and ids for every write of the run."""

    def __init__(self, seed: int) -> None:
        self.rng, self.n = random.Random(seed), 0

    def docs(self, count: int) -> list[dict[str, str]]:
        out = []
        for _ in range(count):
            self.n += 1
            out.append({"id": f"b{self.n}", "text": distinct_note(self.rng, self.n)})
        return out


def abba(blocks: int, run: Callable[[str], float]) -> dict[str, float]:
    """Seconds each server spent on ``blocks`` blocks, the order A B B A ..."""
    spent = dict.fromkeys(NAMES, 0.0)
    for n in range(blocks):
        for name in NAMES if n % 2 == 0 else tuple(reversed(NAMES)):
            spent[name] += run(name)
    return spent


def write_block(client: httpx.Client, docs: list[dict[str, str]], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(docs), batch):
        body = {"documents": docs[start : start + batch]}
        client.put("/v1/documents", json=body).raise_for_status()
    return time.perf_counter() - started


def concurrent_block(url: str, docs: list[dict[str, str]], writers: int) -> float:
    def one_writer(part: list[dict[str, str]]) -> None:
        with httpx.Client(base_url=url, timeout=600) as client:
            write_block(client, part, 1)

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(one_writer, [docs[w::writers] for w in range(writers)]))
    return time.perf_counter() - started


def measure_writes(
    servers: dict[str, ServerProcess], clients: dict[str, httpx.Client], texts: Texts, scale: int
) -> dict[str, Any]:
    """docs/s per server for each write shape, and PostgreSQL's ratio."""
    shapes: dict[str, tuple[int, Callable[[str, list[dict[str, str]]], float]]] = {
        "single": (8 * scale, lambda name, docs: write_block(clients[name], docs, 1)),
        "batch64": (128 * scale, lambda name, docs: write_block(clients[name], docs, 64)),
        "concurrent4": (8 * scale, lambda name, docs: concurrent_block(servers[name].url, docs, 4)),
    }
    out: dict[str, Any] = {}
    for shape, (per_block, run) in shapes.items():
        blocks = 6

        def block(name: str, run: Any = run, per_block: int = per_block) -> float:
            return float(run(name, texts.docs(per_block)))

        spent = abba(blocks, block)
        rates = {name: blocks * per_block / seconds for name, seconds in spent.items()}
        out[shape] = {
            "docs": blocks * per_block,
            "docs_per_s": {k: round(v, 1) for k, v in rates.items()},
            "ratio": ratio(rates["postgresql"], rates["sqlite"]),
        }
        print(shape, out[shape], flush=True)
    return out


def measure_searches(
    clients: dict[str, httpx.Client], queries: list[str], include_documents: bool
) -> dict[str, Any]:
    ms: dict[str, list[float]] = {name: [] for name in NAMES}
    for q in queries[:20]:  # warm-up
        for client in clients.values():
            client.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
    for n, q in enumerate(queries[20:]):
        body = {"query": q, "k": 10, "include_documents": include_documents}
        for name in NAMES if n % 2 == 0 else tuple(reversed(NAMES)):
            started = time.perf_counter()
            clients[name].post("/v1/search", json=body).raise_for_status()
            ms[name].append((time.perf_counter() - started) * 1000)
    summary = {name: latency_summary(values) for name, values in ms.items()}
    result = {
        "latency": summary,
        "ratio_p50": ratio(summary["postgresql"]["p50_ms"], summary["sqlite"]["p50_ms"]),
        "ratio_p95": ratio(summary["postgresql"]["p95_ms"], summary["sqlite"]["p95_ms"]),
    }
    print("search", include_documents, result, flush=True)
    return result


def start(home: Path, embedder: str, database_url: str | None) -> ServerProcess:
    home.mkdir(parents=True)
    (home / "switchover.toml").write_text(TOML[embedder], encoding="utf-8")
    return ServerProcess(home, token=TOKEN, database_url=database_url).start()


def run(embedder: str, scale: int, queries: int) -> dict[str, Any]:
    texts = Texts(7)
    started, started_utc = time.monotonic(), now_utc()
    with (
        tempfile.TemporaryDirectory(prefix="switchover-pgbench-") as tmp,
        running_server(power_safe=True) as pg,
        pg.database() as url,
    ):
        servers = {
            "sqlite": start(Path(tmp) / "sqlite-home", embedder, None),
            "postgresql": start(Path(tmp) / "pg-home", embedder, url),
        }
        clients = {n: httpx.Client(base_url=s.url, timeout=600) for n, s in servers.items()}
        try:
            corpus = texts.docs(500 * scale)
            for client in clients.values():  # the same corpus in both, for the searches
                write_block(client, corpus, 100)
            writes = measure_writes(servers, clients, texts, scale)
            rng = random.Random(3)
            asked = [distinct_note(rng, 10**6 + i) for i in range(queries + 20)]
            plain = measure_searches(clients, asked, include_documents=False)
            with_docs = measure_searches(clients, asked, include_documents=True)
        finally:
            for client in clients.values():
                client.close()
            for server in servers.values():
                server.stop()
    return {
        "started": started_utc,
        "embedder": embedder,
        "corpus_docs": 500 * scale,
        "writes": writes,
        "search": plain,
        "search_with_documents": with_docs,
        "queries": queries,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }


def markdown(r: dict[str, Any]) -> list[str]:
    w, s, d = r["writes"], r["search"]["latency"], r["search_with_documents"]["latency"]
    rows = [
        ("single-document writes, one after another", w["single"]),
        ("batches of 64 documents", w["batch64"]),
        ("single-document writes from 4 concurrent clients", w["concurrent4"]),
    ]
    lines = [
        "# The store on PostgreSQL vs SQLite",
        "",
        f"Run {r['started']} on {machine()}; `python benchmarks/postgres.py --embedder"
        f" {r['embedder']}`, {r['minutes']} min. Two real servers from this checkout, one on"
        " SQLite in its home (WAL, `synchronous=FULL`), one on a private PostgreSQL 16 on the"
        " same machine (Unix socket; `fsync` and `synchronous_commit` on), the same"
        f" `{r['embedder']}` embedder and a corpus of {r['corpus_docs']} documents in each;"
        " writes in ABBA blocks, searches alternating query by query. Ratio: PostgreSQL over"
        " SQLite (throughput: above 1 is faster; latency: below 1 is faster).",
        "",
        "| figure | SQLite | PostgreSQL | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, figure in rows:
        rates = figure["docs_per_s"]
        lines.append(
            f"| {label}, docs/s ({figure['docs']} docs each) | {rates['sqlite']} |"
            f" {rates['postgresql']} | **{figure['ratio']}** |"
        )
    for label, lat, res in (
        ("search", s, r["search"]),
        ("search with each hit's document", d, r["search_with_documents"]),
    ):
        lines.append(
            f"| {label}, p50 ms ({r['queries']} queries) | {lat['sqlite']['p50_ms']} |"
            f" {lat['postgresql']['p50_ms']} | {res['ratio_p50']} |"
        )
        lines.append(
            f"| {label}, p95 ms | {lat['sqlite']['p95_ms']} | {lat['postgresql']['p95_ms']} |"
            f" **{res['ratio_p95']}** |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", choices=sorted(TOML), default="hash")
    parser.add_argument("--scale", type=int, default=4, help="corpus 500 x scale; writes too")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.scale, args.queries = 1, 60
    name = "postgres" if args.embedder == "hash" else f"postgres_{args.embedder}"
    results = run(args.embedder, args.scale, args.queries)
    lines = markdown(results)
    write_results(name, results, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
