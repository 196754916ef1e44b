"""pgvector HNSW vs FAISS HNSW in one run: search p95 and recall@10, as ratios.

Both hold the same seeded vectors (clustered Gaussian, unit length, MiniLM's 384
dimensions, so that neighbours are not all equidistant), both built HNSW with m 16 and
searched with ef_search 40 (each engine's default); recall@10 is against exact numpy
search. pgvector runs on a private PostgreSQL 16 from the ``pgserver`` wheel over a Unix
socket, through :class:`indexes.pgvector.PgvectorIndex` (one query per search, as the
service sends them); FAISS through :class:`indexes.VectorIndex`. Writes the markdown to
``benchmarks/results/pgvector.md``::

    python benchmarks/pgvector_vs_faiss.py --docs 20000 --queries 300
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import faiss
import numpy as np

from indexes import EmbedderSpec, IndexSpec, QueryVectors, SearchParams, VectorIndex
from indexes.pgvector import PgvectorIndex
from indexes.pgvector_pool import open_pool
from tests.pgserver import running_server

FP = "b" * 64
OUT = Path(__file__).parent / "results" / "pgvector.md"


def vectors(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, dim)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + 0.25 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def timed_search(index: object, qs: np.ndarray, k: int) -> tuple[list[list[str]], list[float]]:
    found, ms = [], []
    for q in qs:
        started = time.perf_counter()
        hits = index.search(QueryVectors(q[None, :], FP), k)[0]  # type: ignore[attr-defined]
        ms.append((time.perf_counter() - started) * 1000)
        found.append([h.id for h in hits])
    return found, ms


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / (10 * len(truth))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP's spinning only adds noise
    docs = vectors(args.docs, args.dim, 0)
    qs = vectors(args.queries, args.dim, 1)
    ids = [f"d{i}" for i in range(args.docs)]
    order = np.argsort(-(qs @ docs.T), axis=1)[:, :10]
    truth = [[ids[j] for j in row] for row in order]
    emb = EmbedderSpec(kind="hash", dim=args.dim)
    faiss_ix = VectorIndex(IndexSpec(name="f", embedder=emb, factory="HNSW16,Flat"), args.dim, FP)
    started = time.perf_counter()
    for s in range(0, args.docs, 1000):
        faiss_ix.apply(s + 1, dict(zip(ids[s : s + 1000], docs[s : s + 1000], strict=True)))
    faiss_build = time.perf_counter() - started
    with running_server() as server, server.database() as url:
        pool = open_pool(url)
        spec = IndexSpec(name="p", embedder=emb, factory="hnsw", backend="pgvector")
        pg_ix = PgvectorIndex(pool, "bench", spec, args.dim, FP, SearchParams(ef_search=40))
        started = time.perf_counter()
        for s in range(0, args.docs, 1000):
            pg_ix.apply(s + 1, dict(zip(ids[s : s + 1000], docs[s : s + 1000], strict=True)))
        pg_build = time.perf_counter() - started
        faiss_ix.set_search_params(SearchParams(ef_search=40))
        rows = {}
        for rnd in range(2):  # alternate, so neither side always runs on a warmer machine
            for name, ix in (("faiss", faiss_ix), ("pgvector", pg_ix))[:: 1 if rnd == 0 else -1]:
                found, ms = timed_search(ix, qs, 10)
                rows.setdefault(name, {"ms": [], "recall": recall(found, truth)})["ms"] += ms
        pool.close()
    report(args, rows, faiss_build, pg_build)


def report(args: argparse.Namespace, rows: dict, faiss_build: float, pg_build: float) -> None:
    p = {n: np.percentile(r["ms"], [50, 95]) for n, r in rows.items()}
    lines = [
        "# pgvector HNSW vs FAISS HNSW (one run)",
        "",
        f"{args.docs:,} documents, {args.dim} dimensions (seeded clustered unit vectors),"
        f" {args.queries} queries searched twice per engine (alternating), k 10, HNSW m 16,"
        " ef_search 40, FAISS on one OpenMP thread; recall@10 against exact search."
        " pgvector 0.6 on PostgreSQL 16 from the"
        " pgserver wheel over a Unix socket, same 2-core machine;"
        f" load average at the end {os.getloadavg()[0]:.1f}.",
        "",
        "| engine | p50 ms | p95 ms | recall@10 | load (s, batches of 1,000) |",
        "|---|---|---|---|---|",
    ]
    for name, build in (("faiss", faiss_build), ("pgvector", pg_build)):
        lines.append(
            f"| {name} | {p[name][0]:.2f} | {p[name][1]:.2f} | {rows[name]['recall']:.3f}"
            f" | {build:.1f} |"
        )
    lines += [
        "",
        f"pgvector / FAISS: search p95 {p['pgvector'][1] / p['faiss'][1]:.2f}x, p50"
        f" {p['pgvector'][0] / p['faiss'][0]:.2f}x, recall@10"
        f" {rows['pgvector']['recall'] / rows['faiss']['recall']:.3f}x, load"
        f" {pg_build / faiss_build:.1f}x.",
        "",
        "FAISS is searched in process; a pgvector search is a round trip to PostgreSQL in its"
        " own transaction (set_config of ef_search, then the ORDER BY ... LIMIT query), so its"
        " latency includes that. FAISS's HNSW16 uses efConstruction 40, pgvector's"
        " ef_construction 64.",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
