"""Filtered vs unfiltered search at 100k documents, per selectivity: IDSelector vs over-fetch.

In process, on one FAISS thread as ``switchover serve`` runs it, over seeded random unit
vectors (384-d) and seeded random metadata (``bucket`` uniform in 0..999, so
``bucket < 1000 s`` selects a share ``s``). Per query, in rotating order: the unfiltered
search, the filtered search with an ``IDSelectorBatch`` alone (the label lookup
included), over-fetch alone (``migrator.filtered_search.over_fetch``, doubling up to every
document) and what ``VectorIndex.search_among`` chooses (bounded over-fetch from a 5%
share, else the selector);
the filter's resolution to ids (``MetadataPostings.select``) is timed on its own and
added to both filtered paths. Ratios are against the unfiltered p50 of the same run.
Results: ``benchmarks/results/filtered_search.{json,md}``.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import faiss
import numpy as np
from _common import latency_summary, machine, now_utc, quick_mode, ratio, write_results

from indexes import EmbedderSpec, Hit, IndexSpec, QueryVectors, VectorIndex
from indexes.allowlist import search_among
from indexes.filters import Range
from migrator.filtered_search import over_fetch
from migrator.metadata_index import MetadataPostings

DIM, K, FP = 384, 10, "f" * 64
SHARES = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001]


def unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    unit_rows: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit_rows


def build(factory: str, n: int) -> VectorIndex:
    spec = IndexSpec(name="bench", embedder=EmbedderSpec(kind="hash", dim=DIM), factory=factory)
    index = VectorIndex(spec, DIM, FP)
    vectors = unit(n, 0)
    faiss.omp_set_num_threads(2)  # building may use both cores; searching uses one
    for start in range(0, n, 10_000):
        chunk = {f"d{i}": vectors[i] for i in range(start, min(n, start + 10_000))}
        index.apply(start + 1, chunk)
    faiss.omp_set_num_threads(1)
    return index


def postings(n: int) -> MetadataPostings:
    rng = random.Random(1)
    table = MetadataPostings()
    for i in range(n):
        table.put(f"d{i}", {"bucket": rng.randrange(1000)})
    return table


def selector_only(index: VectorIndex, q: QueryVectors, allowed: frozenset[str]) -> list[list[Hit]]:
    """The IDSelectorBatch path alone, whatever the share (the label lookup included)."""
    ids = index._faiss.ids
    labels = np.fromiter((ids.label_of(i) for i in allowed if i in ids), dtype=np.int64)
    return search_among(index._faiss, q.vectors, K, labels, index.search_params)


def measure(index: VectorIndex, table: MetadataPostings, share: float, n_q: int) -> dict[str, Any]:
    where = Range("bucket", lt=1000 * share)
    select_ms, allowed = [], frozenset[str]()
    for _ in range(5):
        t0 = time.perf_counter()
        allowed = frozenset(table.select(where))
        select_ms.append((time.perf_counter() - t0) * 1000)
    probe = unit(n_q, 7)
    paths = {
        "unfiltered": lambda q: index.search(q, K),
        "selector": lambda q: selector_only(index, q, allowed),
        "over_fetch": lambda q: over_fetch(index, q, K, allowed),
        "chosen": lambda q: index.search_among(q, K, allowed),
    }
    times: dict[str, list[float]] = {name: [] for name in paths}
    short: dict[str, int] = dict.fromkeys(paths, 0)
    for i, row in enumerate(probe):
        q = QueryVectors(row[None, :], FP)
        names = list(paths)[i % 4 :] + list(paths)[: i % 4]  # rotate who goes first
        for name in names:
            t0 = time.perf_counter()
            hits = paths[name](q)[0]
            times[name].append((time.perf_counter() - t0) * 1000)
            short[name] += name != "unfiltered" and len(hits) < min(K, len(allowed))
    select_p50 = float(np.median(select_ms))
    base = latency_summary(times["unfiltered"])["p50_ms"]
    out: dict[str, Any] = {"share": share, "matching": len(allowed), "select_p50_ms": select_p50}
    for name, ms in times.items():
        summary = latency_summary(ms)
        total = summary["p50_ms"] + (0.0 if name == "unfiltered" else select_p50)
        out[name] = {**summary, "p50_with_select_ms": round(total, 3)}
        out[name]["ratio_p50_vs_unfiltered"] = ratio(total, base)
    out["short_results"] = short
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--factories", nargs="*", default=["Flat", "HNSW32,Flat"])
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    n, n_q = (10_000, 30) if quick else (args.docs, 200)
    started = now_utc()
    table = postings(n)
    runs = []
    for factory in args.factories:
        index = build(factory, n)
        for share in SHARES:
            runs.append({"factory": factory, **measure(index, table, share, n_q)})
            print(runs[-1], flush=True)
    results = {"started": started, "machine": machine(), "docs": n, "k": K, "runs": runs}
    write_results("filtered_search", results, markdown(results))


def markdown(r: dict[str, Any]) -> list[str]:
    lines = [
        f"# Filtered search at {r['docs']:,} documents ({r['started']}, {r['machine']})",
        "",
        "p50 per query in ms (the filter's resolution to ids included in both filtered"
        " paths) and its ratio to the unfiltered p50 of the same run, one FAISS thread.",
        "",
        "| layout | share | matching | resolve ids | unfiltered | IDSelector | ratio |"
        " over-fetch | ratio | chosen | ratio | short (selector / over-fetch / chosen) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["runs"]:
        sel, over, chosen = x["selector"], x["over_fetch"], x["chosen"]
        lines.append(
            f"| {x['factory']} | {x['share']:.1%} | {x['matching']:,} |"
            f" {x['select_p50_ms']:.2f} | {x['unfiltered']['p50_ms']:.2f} |"
            f" {sel['p50_with_select_ms']:.2f} | **{sel['ratio_p50_vs_unfiltered']}** |"
            f" {over['p50_with_select_ms']:.2f} | **{over['ratio_p50_vs_unfiltered']}** |"
            f" {chosen['p50_with_select_ms']:.2f} | **{chosen['ratio_p50_vs_unfiltered']}** |"
            f" {x['short_results']['selector']} / {x['short_results']['over_fetch']}"
            f" / {x['short_results']['chosen']} |"
        )
    return lines


if __name__ == "__main__":
    main()
