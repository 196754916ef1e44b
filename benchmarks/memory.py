"""Memory per 100,000 vectors: resident-set growth of a process holding one index.

Each layout is measured in a fresh child process: it draws 100,000 random unit vectors
(384-d, MiniLM's width), reads its VmRSS, feeds them through ``VectorIndex.apply`` in
batches of 1,000 (the product's write path: string-id maps, training for IVF), and reads
VmRSS again. The growth is set against the raw vector bytes, 100,000 x 384 x 4 =
153.6 MB, measured in the same child.

Writes ``benchmarks/results/memory.json`` and ``memory.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys
import time
from typing import Any

import faiss
import numpy as np
from _common import machine, now_utc, quick_mode, ratio, rss_mb, write_results

from indexes import IndexSpec, SearchParams, VectorIndex

DIM = 384
LAYOUTS = {
    "Flat": None,
    "HNSW32,Flat": SearchParams(ef_search=64),
    "IVF1024,Flat": SearchParams(nprobe=16),
}


def child(factory: str, n: int) -> dict[str, Any]:
    faiss.omp_set_num_threads(1)  # as the server runs
    vectors = np.random.default_rng(0).standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"doc-{i:08d}" for i in range(n)]
    gc.collect()
    before = rss_mb()
    index = VectorIndex(IndexSpec(name="mem", factory=factory), DIM, "bench", LAYOUTS[factory])
    t0 = time.perf_counter()
    if not index.is_trained:  # as the backfill does: train on a sample first
        index.train(vectors[: index.auto_train_size])
    for seq, start in enumerate(range(0, n, 1000), start=1):
        index.apply(
            seq,
            upserts=dict(
                zip(ids[start : start + 1000], vectors[start : start + 1000], strict=True)
            ),
        )
    build_s = time.perf_counter() - t0
    gc.collect()
    after = rss_mb()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap pages back to the system
    trimmed = rss_mb()
    stats = index.stats()
    if stats["live"] != n or stats["pending"] != 0:
        raise RuntimeError(f"index did not take every vector in: {stats}")
    return {
        "layout": factory,
        "vectors": n,
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "rss_growth_mib": round(after - before, 1),
        "rss_growth_after_malloc_trim_mib": round(trimmed - before, 1),
        "raw_vector_mib": round(vectors.nbytes / 2**20, 1),
        "ratio_growth_vs_raw": ratio((after - before) * 2**20, vectors.nbytes),
        "ratio_trimmed_vs_raw": ratio((trimmed - before) * 2**20, vectors.nbytes),
        "build_s": round(build_s, 2),
    }


def markdown(results: dict[str, Any]) -> list[str]:
    n = results["vectors"]
    lines = [
        "# Memory benchmark",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench` (benchmarks/memory.py)."
        f" Resident-set growth of a fresh process while {n:,} random unit vectors of {DIM}"
        " dimensions go into one `VectorIndex` through `apply` (batches of 1,000, string ids),"
        f" against the raw vector bytes ({n:,} x {DIM} x 4).",
        "",
        "| layout | RSS growth | raw vectors | ratio | after `malloc_trim` | ratio | build |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines.extend(
        f"| {r['layout']} | {r['rss_growth_mib']} MiB | {r['raw_vector_mib']} MiB |"
        f" {r['ratio_growth_vs_raw']} | {r['rss_growth_after_malloc_trim_mib']} MiB |"
        f" {r['ratio_trimmed_vs_raw']} | {r['build_s']} s |"
        for r in results["layouts"]
    )
    lines += [
        "",
        "The growth includes the FAISS index, the string-id maps (about 100 bytes per"
        " document) and whatever the allocator keeps after the batches' temporaries are freed;"
        " the `malloc_trim` column is the same process after glibc returned its free pages, so"
        " the difference between the two is heap the allocator had kept, not live data.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="20,000 vectors")
    args = parser.parse_args()
    n = 20_000 if quick_mode(args.quick) else args.vectors
    if args.child:
        print(json.dumps(child(args.child, n)))
        return
    results: dict[str, Any] = {"started": now_utc(), "machine": machine(), "vectors": n}
    results["layouts"] = []
    for factory in LAYOUTS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", factory, "--vectors", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(row, flush=True)
        results["layouts"].append(row)
    write_results("memory", results, markdown(results))


if __name__ == "__main__":
    main()
