"""Search through HTTP against embed + FAISS in-process, query by query, in one run.

SQuAD dev (every passage), the packaged MiniLM, ``Flat`` (inner product). The in-process
baseline is bare ``SentenceTransformer.encode`` plus ``faiss.IndexFlatIP.search`` in this
process; each server under test is a real process on 127.0.0.1 holding the same passages,
asked the same seeded questions one at a time on one kept-alive connection (the standard
library's ``http.client``, so the client adds as little as it can, the same for every
server). The contenders take turns on every query, in an order drawn at random per query
(seeded), in several rounds, and the load average is recorded for each round: on a 2-core
machine shared with other work only ratios measured side by side mean anything.

Peers (``--peers embedflow``) are installed from PyPI into their own virtualenvs under a
scratch folder (``benchmarks/peers.py``) and served by their own HTTP servers.

    python benchmarks/search.py [--queries 500] [--rounds 3] [--peers embedflow]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# OpenMP's wait policy as `switchover serve` sets it (api/cli/serve.py), for the baseline
# here and for every server started from here: the comparison is of the HTTP paths, not of
# spinning threads (set before faiss and torch load their OpenMP runtimes)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss
import httpx
import numpy as np
from _common import SQUAD, latency_summary, machine, now_utc, quick_mode, ratio, raw_model
from _common import write_results as write_result_files

from evals import load_dataset
from tests.server import ServerProcess

Search = Callable[[str], Sequence[str]]  # a query -> the ids of its top 10
WARM_UP = 20
BASELINE = "in-process"


class KeptAliveJson:
    """``POST path`` with a JSON body on one persistent connection (standard library)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = self._send(path, body)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed a connection left idle past its keep-alive timeout (between
            # the measured rounds and the overlap check): open it again, once
            self.conn.close()
            response = self._send(path, body)
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST {path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    def _send(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        return self.conn.getresponse()

    def close(self) -> None:
        self.conn.close()


def in_process(model: Any, vectors: np.ndarray, ids: Sequence[str]) -> Search:
    """The baseline: bare encode + ``IndexFlatIP`` over the same passages, in this process."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.asarray(vectors, dtype=np.float32))

    def search(query: str) -> list[str]:
        _, rows = index.search(model.encode([query], normalize_embeddings=True), 10)
        return [ids[r] for r in rows[0] if r >= 0]

    return search


def switchover_search(url: str) -> tuple[Search, Callable[[], None]]:
    client = KeptAliveJson(url)

    def search(query: str) -> list[str]:
        return [h["id"] for h in client.post("/v1/search", {"query": query, "k": 10})["hits"]]

    return search, client.close


def ingest_switchover(url: str, texts: Sequence[str], ids: Sequence[str]) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=600) as http:
        for start in range(0, len(texts), 128):
            docs = [
                {"id": ids[i], "text": texts[i]} for i in range(start, min(start + 128, len(texts)))
            ]
            http.put("/v1/documents", json={"documents": docs}).raise_for_status()
    return len(texts) / (time.perf_counter() - started)


@dataclass
class Round:
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ms: dict[str, list[float]] = field(default_factory=dict)


def measure(
    contenders: dict[str, Search], queries: Sequence[str], rounds: int, seed: int = 0
) -> list[Round]:
    """Every query on every contender, ``rounds`` times, in an order drawn at random per query.

    Random (seeded), not rotating: with three contenders a rotation (ABC, BCA, CAB) puts
    the same contender before another every time it runs (the in-process baseline came
    right before switchover in two queries of three and never right before embedflow),
    and whoever runs right after another process's encode finds its caches cold. Drawn
    at random, each contender follows each other as often as chance gives."""
    names = list(contenders)
    draw = random.Random(seed)
    for q in queries[:WARM_UP]:
        for search in contenders.values():
            search(q)
    done: list[Round] = []
    for _ in range(rounds):
        current = Round(os.getloadavg(), ms={name: [] for name in names})
        for q in queries:
            for name in draw.sample(names, len(names)):
                started = time.perf_counter()
                contenders[name](q)
                current.ms[name].append((time.perf_counter() - started) * 1000)
        current.load_after = os.getloadavg()
        done.append(current)
    return done


def overlap_at_10(contenders: dict[str, Search], queries: Sequence[str]) -> dict[str, float]:
    """Mean share of the baseline's top 10 each contender returns: all serve the same index."""
    base = [set(contenders[BASELINE](q)) for q in queries]
    return {
        name: round(
            float(
                np.mean([len(b & set(search(q))) / 10 for b, q in zip(base, queries, strict=True)])
            ),
            4,
        )
        for name, search in contenders.items()
        if name != BASELINE
    }


def summarise(rounds: list[Round]) -> dict[str, Any]:
    names = list(rounds[0].ms)
    per_round = []
    for r in rounds:
        lat = {name: latency_summary(r.ms[name]) for name in names}
        per_round.append(
            {
                "load_before": [round(x, 2) for x in r.load_before],
                "load_after": [round(x, 2) for x in r.load_after],
                "latency": lat,
                "ratios": _ratios(lat),
            }
        )
    pooled = {name: latency_summary([x for r in rounds for x in r.ms[name]]) for name in names}
    return {"rounds": per_round, "pooled": pooled, "pooled_ratios": _ratios(pooled)}


def _ratios(lat: dict[str, dict[str, float]]) -> dict[str, dict[str, float | None]]:
    base = lat[BASELINE]
    return {
        name: {
            "p50": ratio(s["p50_ms"], base["p50_ms"]),
            "p95": ratio(s["p95_ms"], base["p95_ms"]),
        }
        for name, s in lat.items()
        if name != BASELINE
    }


def markdown(results: dict[str, Any]) -> list[str]:
    s = results["summary"]
    names = list(s["pooled"])
    lines = [
        "# Search through HTTP against embed + FAISS in-process",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench-search`"
        f" (benchmarks/search.py{results['args']}). SQuAD dev, {results['docs']} passages, the"
        f" packaged MiniLM, `Flat`; {results['queries']} seeded questions one at a time on one"
        " kept-alive connection per server, every contender taking its turn on every query"
        f" (in an order drawn at random per query, seeded), {len(s['rounds'])} rounds. The"
        " baseline is bare `SentenceTransformer.encode` + `IndexFlatIP.search` in the"
        " benchmark's process.",
        "",
        "| contender | p50 ms | p95 ms | p99 ms | p50 ratio | p95 ratio | overlap@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        lat, r = s["pooled"][name], s["pooled_ratios"].get(name, {"p50": 1.0, "p95": 1.0})
        overlap = results["overlap_at_10"].get(name, 1.0)
        lines.append(
            f"| {name} | {lat['p50_ms']} | {lat['p95_ms']} | {lat['p99_ms']} |"
            f" {r['p50']} | {r['p95']} | {overlap} |"
        )
    lines += ["", "Per round (ratios to the in-process baseline of the same round):", ""]
    lines += ["| round | load avg 1 min before / after | " + " | ".join(
        f"{n} p50 / p95" for n in names if n != BASELINE
    ) + " |", "|---|---|" + "---|" * (len(names) - 1)]  # fmt: skip
    for i, r in enumerate(s["rounds"], 1):
        cells = [f"{r['ratios'][n]['p50']} / {r['ratios'][n]['p95']}" for n in names[1:]]
        load = f"{r['load_before'][0]} / {r['load_after'][0]}"
        lines.append(f"| {i} | {load} | " + " | ".join(cells) + " |")
    lines += ["", *results.get("notes", [])]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=0, help="passages (0: all of SQuAD dev)")
    parser.add_argument("--peers", nargs="*", default=[], choices=["embedflow"])
    parser.add_argument(
        "--scratch",
        type=Path,
        default=Path(tempfile.gettempdir()) / "switchover-bench-peers",
        help="where the peers' virtualenvs are made (kept between runs)",
    )
    parser.add_argument("--quick", action="store_true", help="200 passages, 60 queries, 1 round")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.docs, args.queries, args.rounds = 200, 60, 1
    data = load_dataset(SQUAD)
    corpus = data.corpus[: args.docs] if args.docs else data.corpus
    texts, ids = [d.embedding_text() for d in corpus], [d.id for d in corpus]
    queries = [q.text for q in data.sample_queries(args.queries, seed=3)]
    faiss.omp_set_num_threads(1)  # as `switchover serve` runs FAISS
    results: dict[str, Any] = {
        "started": now_utc(),
        "machine": machine(),
        "args": "".join(
            f" --{k} {v}" for k, v in vars(args).items() if k not in ("quick", "scratch")
        ),
        "docs": len(texts),
        "queries": len(queries),
    }
    closers: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="switchover-bench-search-") as tmp:
        work = Path(tmp)
        print("in-process baseline: encoding the passages ...", flush=True)
        model = raw_model()
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
        contenders: dict[str, Search] = {BASELINE: in_process(model, vectors, ids)}
        server = ServerProcess(work / "switchover-home").start()
        try:
            print("switchover: ingesting ...", flush=True)
            results["switchover_ingest_docs_per_s"] = round(
                ingest_switchover(server.url, texts, ids), 2
            )
            contenders["switchover"], close = switchover_search(server.url)
            closers.append(close)
            for peer in args.peers:
                from peers import start_peer  # noqa: PLC0415 - only when peers are asked for

                try:
                    search, close, notes = start_peer(peer, work, texts, ids, vectors, args.scratch)
                except RuntimeError as exc:  # reported, and switchover is still measured
                    results.setdefault("notes", []).append(f"{peer} did not start: {exc}")
                    continue
                contenders[peer] = search
                closers.append(close)
                results.setdefault("notes", []).extend(notes)
            print("measuring ...", flush=True)
            results["summary"] = summarise(measure(contenders, queries, args.rounds))
            results["overlap_at_10"] = overlap_at_10(contenders, queries[:100])
        finally:
            for close in closers:
                close()
            server.stop()
    write_result_files("search", results, markdown(results))
    print("\n".join(markdown(results)))


if __name__ == "__main__":
    main()
