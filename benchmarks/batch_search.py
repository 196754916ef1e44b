"""Batch search vs single searches through a real server: per-query p50, ratio in one run.

A real ``switchover serve`` (MiniLM, Flat) holds SQuAD dev passages; SQuAD questions are
sent in alternating rounds: 32 single ``POST /v1/search`` requests one after another, then
the same 32 as one ``POST /v1/search/batch`` (the next round starts with the batch, so
drift on a busy machine hits both alike). Per query: a single request's latency, and a
batch's latency divided by 32. Sent through the typed client (``client.SwitchoverClient``).
Results: ``benchmarks/results/batch_search.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SQUAD, latency_summary, machine, now_utc, quick_mode, ratio, write_results

from client import Document, Query, SwitchoverClient
from evals import load_dataset
from tests.server import ServerProcess

BATCH = 32


def run(docs: list[str], questions: list[str], rounds: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="switchover-bench-") as tmp,
        ServerProcess(Path(tmp) / "home") as server,
        SwitchoverClient(server.url, timeout=600) as api,
    ):
        for start in range(0, len(docs), 128):
            chunk = docs[start : start + 128]
            api.upsert([Document(f"d{start + i}", t) for i, t in enumerate(chunk)])
        for q in questions[:BATCH]:  # warm-up both paths
            api.search(q, 10)
        api.search_batch([Query(q, 10) for q in questions[:BATCH]])
        return measure(api, questions, rounds)


def measure(api: SwitchoverClient, questions: list[str], rounds: int) -> dict[str, Any]:
    single_ms: list[float] = []
    batch_per_query_ms: list[float] = []
    for r in range(rounds):
        block = [questions[(r * BATCH + i) % len(questions)] for i in range(BATCH)]
        order = ("single", "batch") if r % 2 == 0 else ("batch", "single")
        for kind in order:
            if kind == "single":
                for q in block:
                    t0 = time.perf_counter()
                    api.search(q, 10)
                    single_ms.append((time.perf_counter() - t0) * 1000)
            else:
                t0 = time.perf_counter()
                answers = api.search_batch([Query(q, 10) for q in block])
                batch_per_query_ms.append((time.perf_counter() - t0) * 1000 / BATCH)
                if len(answers) != BATCH:
                    raise RuntimeError(f"a batch of {BATCH} got {len(answers)} answers")
    single, batch = latency_summary(single_ms), latency_summary(batch_per_query_ms)
    return {
        "batch": BATCH,
        "rounds": rounds,
        "single": single,
        "batch_per_query": batch,
        "ratio_p50_batch_vs_single": ratio(batch["p50_ms"], single["p50_ms"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.docs, args.rounds = 64, 4
    data = load_dataset(SQUAD)
    docs = [d.embedding_text() for d in data.corpus[: args.docs]]
    questions = [q.text for q in data.sample_queries(BATCH * args.rounds, seed=5)]
    started = now_utc()
    results = {"started": started, "machine": machine(), "docs": len(docs)}
    results.update(run(docs, questions, args.rounds))
    print(results, flush=True)
    write_results("batch_search", results, markdown(results))


def markdown(r: dict[str, Any]) -> list[str]:
    s, b = r["single"], r["batch_per_query"]
    return [
        f"# Batch search vs single searches ({r['started']}, {r['machine']})",
        "",
        f"{r['rounds']} rounds of {r['batch']} SQuAD questions over {r['docs']} passages,"
        " MiniLM, Flat, through a real server and the typed client; singles and batches"
        " alternate who goes first.",
        "",
        "| per query | p50 ms | p95 ms | mean ms |",
        "|---|---|---|---|",
        f"| {r['batch']} single requests | {s['p50_ms']} | {s['p95_ms']} | {s['mean_ms']} |",
        f"| one batch of {r['batch']} (its time / {r['batch']}) | {b['p50_ms']} |"
        f" {b['p95_ms']} | {b['mean_ms']} |",
        "",
        f"Ratio of the p50s, batch vs single: **{r['ratio_p50_batch_vs_single']}**.",
    ]


if __name__ == "__main__":
    main()
