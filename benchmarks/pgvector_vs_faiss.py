"""pgvector HNSW vs FAISS HNSW in one run: search p95 and recall@10, as ratios.

Both hold the same seeded vectors (clustered Gaussian, unit length, MiniLM's 384
dimensions, so that neighbours are not all equidistant), both built HNSW with m 16 and
searched at each ``--ef`` ef_search (40 is each engine's default); recall@10 is against
exact numpy search. pgvector runs on a private PostgreSQL 16 from the ``pgserver`` wheel over a Unix
socket, through :class:`indexes.pgvector.PgvectorIndex` (one query per search, as the
service sends them); FAISS through :class:`indexes.VectorIndex`. Writes the markdown to
``benchmarks/results/pgvector.md``::

    python benchmarks/pgvector_vs_faiss.py --docs 100000 --queries 300 --ef 40 100 200
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

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
    unit: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


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
    parser.add_argument("--ef", type=int, nargs="+", default=[40], help="ef_search values")
    args = parser.parse_args()
    if not (1 <= args.docs <= 200_000 and 1 <= args.queries <= 2000 and len(args.ef) <= 5):
        parser.error("bounded: --docs up to 200,000, --queries up to 2,000, 5 --ef values")
    load_start = os.getloadavg()
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
        rows: dict[int, dict[str, dict[str, Any]]] = {}
        for ef in args.ef:
            for ix in (faiss_ix, pg_ix):
                ix.set_search_params(SearchParams(ef_search=ef))
            rows[ef] = compare(faiss_ix, pg_ix, qs, truth)
        pool.close()
    report(args, rows, faiss_build, pg_build, load_start)


def compare(
    faiss_ix: object, pg_ix: object, qs: np.ndarray, truth: list[list[str]]
) -> dict[str, dict[str, Any]]:
    """Both engines at their current ef_search, twice each, alternating (so neither side
    always runs on a warmer machine)."""
    rows: dict[str, dict[str, Any]] = {}  # engine -> {"ms": [...], "recall": ...}
    for rnd in range(2):
        for name, ix in (("faiss", faiss_ix), ("pgvector", pg_ix))[:: 1 if rnd == 0 else -1]:
            found, ms = timed_search(ix, qs, 10)
            rows.setdefault(name, {"ms": [], "recall": recall(found, truth)})["ms"] += ms
    return rows


def report(
    args: argparse.Namespace,
    rows: dict[int, dict[str, dict[str, Any]]],  # ef_search -> compare()'s rows
    faiss_build: float,
    pg_build: float,
    load_start: tuple[float, float, float],
) -> None:
    lines = [
        "# pgvector HNSW vs FAISS HNSW (one run)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {args.docs:,} documents,"
        f" {args.dim} dimensions (seeded clustered unit vectors), {args.queries} queries"
        " searched twice per engine and ef_search (alternating), k 10, HNSW m 16, FAISS on"
        " one OpenMP thread; recall@10 against exact search (numpy, all documents). pgvector"
        " 0.6 on PostgreSQL 16 from the pgserver wheel over a Unix socket, same 2-core"
        f" machine (shared with other work); load average (1 / 5 / 15 min) at the start"
        f" {_loads(load_start)}, at the end {_loads(os.getloadavg())}."
        f" `python benchmarks/pgvector_vs_faiss.py --docs {args.docs} --queries"
        f" {args.queries} --ef {' '.join(map(str, args.ef))}`.",
        "",
        "| ef_search | engine | p50 ms | p95 ms | recall@10 |",
        "|---|---|---|---|---|",
    ]
    ratios = []
    for ef, engines in rows.items():
        p = {n: np.percentile(r["ms"], [50, 95]) for n, r in engines.items()}
        lines.extend(
            f"| {ef} | {name} | {p[name][0]:.2f} | {p[name][1]:.2f}"
            f" | {engines[name]['recall']:.3f} |"
            for name in ("faiss", "pgvector")
        )
        ratios.append(
            f"| {ef} | {p['pgvector'][1] / p['faiss'][1]:.1f}x"
            f" | {p['pgvector'][0] / p['faiss'][0]:.1f}x"
            f" | {engines['pgvector']['recall'] / engines['faiss']['recall']:.3f}x |"
        )
    lines += [
        "",
        "pgvector / FAISS, same run:",
        "",
        "| ef_search | search p95 | search p50 | recall@10 |",
        "|---|---|---|---|",
        *ratios,
        "",
        f"Load (inserts in batches of 1,000 through each index's `apply`, the HNSW graph built"
        f" as rows arrive): FAISS {faiss_build:.1f} s, pgvector {pg_build:.1f} s"
        f" ({pg_build / faiss_build:.1f}x).",
        "",
        "FAISS is searched in process; a pgvector search is a round trip to PostgreSQL in its"
        " own transaction (set_config of ef_search, then the ORDER BY ... LIMIT query), so its"
        " latency includes that. FAISS's HNSW16 uses efConstruction 40, pgvector's"
        " ef_construction 64 (so pgvector's graph is built with a wider search; part of its"
        " recall edge at equal ef_search). The synthetic clustered vectors are hard for any"
        " graph at low ef_search; the ratios between the engines on the same vectors are the"
        " point, not the absolute recall.",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def _loads(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
