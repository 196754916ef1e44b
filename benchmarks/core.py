"""Core benchmark: every figure is a ratio of two things measured side by side in one run.

1. ingest docs/s through the HTTP API vs raw ``SentenceTransformer.encode`` on the same texts;
2. search p50/p95/p99 through HTTP vs embed + FAISS search in-process, same queries, same
   index, interleaved query by query;
3. restart time with 10,000 log records to replay, and how many texts were re-encoded.

Writes ``benchmarks/results/core.json`` and ``core.md``. Run: ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import httpx
from _common import (
    SQUAD,
    machine,
    now_utc,
    percentile,
    quick_mode,
    raw_encode_docs_per_s,
    raw_model,
    write_results,
)

from evals import load_dataset
from tests.server import ServerProcess


def bench_ingest(texts: list[str], batch: int, work: Path) -> dict[str, Any]:
    model = raw_model()
    model.encode(texts[:16], batch_size=32)  # warm-up
    raw_one_call = raw_encode_docs_per_s(model, texts)
    raw_batched = raw_encode_docs_per_s(model, texts, batch)
    with (
        ServerProcess(work / "ingest-home") as server,
        httpx.Client(base_url=server.url, timeout=600) as http,
    ):
        http.put("/v1/documents", json={"documents": [{"id": "warm", "text": "warm up"}]})
        t0 = time.perf_counter()
        for start in range(0, len(texts), batch):
            docs = [
                {"id": f"d{start + i}", "text": t}
                for i, t in enumerate(texts[start : start + batch])
            ]
            response = http.put("/v1/documents", json={"documents": docs})
            response.raise_for_status()
        api = len(texts) / (time.perf_counter() - t0)
    return {
        "docs": len(texts),
        "client_batch": batch,
        "raw_encode_one_call_docs_per_s": round(raw_one_call, 2),
        "raw_encode_same_batches_docs_per_s": round(raw_batched, 2),
        "api_ingest_docs_per_s": round(api, 2),
        "ratio_api_vs_raw_one_call": round(api / raw_one_call, 3),
        "ratio_api_vs_raw_same_batches": round(api / raw_batched, 3),
    }


def bench_search(docs: list[str], queries: list[str], work: Path) -> dict[str, Any]:
    model = raw_model()
    vectors = model.encode(docs, batch_size=32, normalize_embeddings=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    home = work / "search-home"
    with ServerProcess(home) as server, httpx.Client(base_url=server.url, timeout=600) as http:
        for start in range(0, len(docs), 128):
            chunk = [
                {"id": f"d{start + i}", "text": t} for i, t in enumerate(docs[start : start + 128])
            ]
            http.put("/v1/documents", json={"documents": chunk}).raise_for_status()
        for q in queries[:20]:  # warm-up both paths
            http.post("/v1/search", json={"query": q, "k": 10})
            index.search(model.encode([q], normalize_embeddings=True), 10)
        http_ms: list[float] = []
        local_ms: list[float] = []
        for q in queries:  # interleaved, so drift on a noisy machine hits both alike
            t0 = time.perf_counter()
            http.post("/v1/search", json={"query": q, "k": 10}).raise_for_status()
            http_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            index.search(model.encode([q], normalize_embeddings=True), 10)
            local_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "docs": len(docs),
        "queries": len(queries),
        "http_p50_ms": round(percentile(http_ms, 50), 2),
        "http_p95_ms": round(percentile(http_ms, 95), 2),
        "http_p99_ms": round(percentile(http_ms, 99), 2),
        "in_process_p50_ms": round(percentile(local_ms, 50), 2),
        "in_process_p95_ms": round(percentile(local_ms, 95), 2),
        "in_process_p99_ms": round(percentile(local_ms, 99), 2),
        "ratio_p50_http_vs_in_process": round(
            percentile(http_ms, 50) / percentile(local_ms, 50), 3
        ),
        "ratio_p95_http_vs_in_process": round(
            percentile(http_ms, 95) / percentile(local_ms, 95), 3
        ),
        "ratio_p99_http_vs_in_process": round(
            percentile(http_ms, 99) / percentile(local_ms, 99), 3
        ),
        "in_process_mean_ms": round(statistics.fmean(local_ms), 2),
    }


def bench_restart(records: int, work: Path) -> dict[str, Any]:
    home = work / "restart-home"
    texts = [
        f"restart benchmark record {i} about tides, bees and lighthouses" for i in range(records)
    ]
    model = raw_model()
    t0 = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    encode_s = time.perf_counter() - t0  # what a replay that re-encoded would pay, at least
    del model
    server = ServerProcess(home).start()
    with httpx.Client(base_url=server.url, timeout=600) as http:
        t0 = time.perf_counter()
        for start in range(0, records, 256):
            docs = [
                {"id": f"r{start + i}", "text": t} for i, t in enumerate(texts[start : start + 256])
            ]
            http.put("/v1/documents", json={"documents": docs}).raise_for_status()
        write_s = time.perf_counter() - t0
    server.kill()  # no shutdown snapshot
    shutil.rmtree(home / "indexes", ignore_errors=True)  # and no periodic one: replay it all
    t0 = time.perf_counter()
    server.start()
    replay_s = time.perf_counter() - t0
    info = httpx.get(f"{server.url}/v1/indexes").json()["indexes"][0]
    server.stop()  # graceful: writes a snapshot
    t0 = time.perf_counter()
    server.start()
    snapshot_s = time.perf_counter() - t0
    snap_info = httpx.get(f"{server.url}/v1/indexes").json()["indexes"][0]
    server.stop()
    return {
        "log_records": records,
        "first_write_s_including_encode": round(write_s, 2),
        "raw_encode_same_texts_s": round(encode_s, 2),
        "restart_replay_all_s": round(replay_s, 2),
        "server_replay_s": info["recovery"]["replay_seconds"],
        "replayed_records": info["recovery"]["replayed_records"],
        "restart_from_snapshot_s": round(snapshot_s, 2),
        "server_replay_after_snapshot_s": snap_info["recovery"]["replay_seconds"],
        "encoded_during_replay": info["encoded_since_start"],
        "index_count_after_replay": info["count"],
        "ratio_replay_vs_raw_encode": round(info["recovery"]["replay_seconds"] / encode_s, 3),
    }


def markdown(results: dict[str, Any]) -> list[str]:
    ing, srch, rst = results["ingest"], results["search"], results["restart"]
    return [
        "# Core benchmark",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench` (benchmarks/core.py).",
        "Each ratio compares two measurements taken side by side in this one run.",
        "",
        "| figure | measured | baseline | ratio | goal |",
        "|---|---|---|---|---|",
        f"| ingest through HTTP, {ing['docs']} SQuAD passages, batches of {ing['client_batch']} "
        f"| {ing['api_ingest_docs_per_s']} docs/s | raw encode, one call: "
        f"{ing['raw_encode_one_call_docs_per_s']} docs/s | "
        f"{ing['ratio_api_vs_raw_one_call']} | >= 0.9 |",
        f"| ingest through HTTP (same) | {ing['api_ingest_docs_per_s']} docs/s | raw encode, same "
        f"batches: {ing['raw_encode_same_batches_docs_per_s']} docs/s | "
        f"{ing['ratio_api_vs_raw_same_batches']} | >= 0.9 |",
        f"| search p50, {srch['queries']} queries, {srch['docs']} docs | {srch['http_p50_ms']} ms "
        f"HTTP | {srch['in_process_p50_ms']} ms embed+search in-process | "
        f"{srch['ratio_p50_http_vs_in_process']} | |",
        f"| search p95 | {srch['http_p95_ms']} ms HTTP | {srch['in_process_p95_ms']} ms in-process "
        f"| {srch['ratio_p95_http_vs_in_process']} | <= 1.25 |",
        f"| search p99 | {srch['http_p99_ms']} ms HTTP | {srch['in_process_p99_ms']} ms in-process "
        f"| {srch['ratio_p99_http_vs_in_process']} | |",
        f"| replay of {rst['replayed_records']} log records at start-up, no snapshot "
        f"(server-side) | {rst['server_replay_s']} s | raw encode of the same texts: "
        f"{rst['raw_encode_same_texts_s']} s | {rst['ratio_replay_vs_raw_encode']} | "
        "no re-encoding |",
        f"| whole restart (process start, imports, model load, replay) | "
        f"{rst['restart_replay_all_s']} s | from a snapshot: {rst['restart_from_snapshot_s']} s "
        f"(replay {rst['server_replay_after_snapshot_s']} s) | | |",
        "",
        f"Texts re-encoded during the replay: **{rst['encoded_during_replay']}** "
        f"(index count after replay: {rst['index_count_after_replay']}).",
        "",
        "Whole-restart times are dominated by importing torch and sentence-transformers and"
        " loading the model; the replay itself is the server-side figure (`GET /v1/indexes`,"
        " field `recovery`).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=512, help="SQuAD passages to ingest")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="64 docs, 60 queries, 500 records")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.docs, args.queries, args.records = 64, 60, 500
    data = load_dataset(SQUAD)
    texts = [d.embedding_text() for d in data.corpus[: args.docs]]
    queries = [q.text for q in data.sample_queries(args.queries, seed=3)]
    # the in-process baseline runs FAISS as `switchover serve` does (api/cli/serve.py): one
    # OpenMP thread; with two on a busy 2-core machine a one-query search waits on a core
    faiss.omp_set_num_threads(1)
    results: dict[str, Any] = {"started": now_utc(), "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="switchover-bench-") as tmp:
        work = Path(tmp)
        print("ingest ...", flush=True)
        results["ingest"] = bench_ingest(texts, 256, work)
        print(results["ingest"], flush=True)
        print("search ...", flush=True)
        results["search"] = bench_search(texts, queries, work)
        print(results["search"], flush=True)
        print("restart ...", flush=True)
        results["restart"] = bench_restart(args.records, work)
        print(results["restart"], flush=True)
    write_results("core", results, markdown(results))


if __name__ == "__main__":
    main()
