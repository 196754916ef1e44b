"""``migrate plan``'s backfill estimate against the measured backfill, on SQuAD dev passages.

An in-process service holds SQuAD dev passages (a seeded subset) under a hash-embedder
source, so every text is a cache miss for the real target model. For each target model the
plan is asked first (a timed sample of 128 of the corpus's own texts, after a warm-up),
then the migration is created and its backfill run and timed (``started_at`` to
``finished_at`` as the backfill records them). Results: ``benchmarks/results/plan_estimate.md``.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import SQUAD, machine, now_utc, quick_mode, write_results

from evals import load_dataset
from indexes import PACKAGED_MPNET, EmbedderSpec, IndexSpec
from migrator import (
    ActionRequest,
    DocumentIn,
    MigrationRequest,
    Settings,
    Switchover,
    TargetRequest,
)

TARGETS = {
    "MiniLM fp32 (torch)": EmbedderSpec(),
    "MiniLM int8 (ONNX)": EmbedderSpec(backend="onnx-int8"),
    "all-mpnet-base-v2": EmbedderSpec(model=PACKAGED_MPNET),
}


def one(name: str, spec: EmbedderSpec, texts: list[str], home: Path) -> dict[str, Any]:
    source = IndexSpec(name="v1", embedder=EmbedderSpec(kind="hash", dim=64))
    svc = Switchover(Settings(home=home, default_index=source))
    try:
        docs = [DocumentIn(f"p{i:05d}", t) for i, t in enumerate(texts)]
        for start in range(0, len(docs), 200):
            svc.upsert(docs[start : start + 200])
        target = TargetRequest("v2", "Flat", embedder=spec)
        started = time.perf_counter()
        found = svc.plan_migration(target, sample=128, seed=7)
        plan_s = time.perf_counter() - started
        mid = int(svc.create_migration(MigrationRequest(target), "bench").id)
        svc.migration_action(mid, "backfill", ActionRequest(), "bench")
        bf = svc.wait_backfill(timeout=3600)
        measured = float((bf.finished_at or 0) - (bf.started_at or 0))
    finally:
        svc.close(snapshot=False)
    row = {
        "target": name,
        "documents": found.documents,
        "to_encode": found.to_encode,
        "sample": found.sample,
        "plan_s": round(plan_s, 2),
        "estimate_encode_docs_per_s": found.encode_docs_per_s,
        "estimate_s": found.backfill_s,
        "measured_s": round(measured, 2),
        "measured_docs_per_s": round(bf.total / measured, 1) if measured else None,
        "error": round(found.backfill_s / measured - 1, 3) if measured else None,
        "dim": found.dim,
        "vectors_mb": found.vectors_mb,
        "index_mb": found.index_mb,
        "load_after": os.getloadavg(),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 passages, MiniLM only")
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    corpus = load_dataset(SQUAD).corpus
    count = 300 if quick else min(args.passages, len(corpus))
    texts = [d.embedding_text() for d in random.Random(5).sample(corpus, count)]
    wanted = ["MiniLM fp32 (torch)"] if quick else args.targets.split(",")
    started = now_utc()
    rows = []
    for name in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one(name, TARGETS[name], texts, Path(tmp) / "home"))
        # written after every row: a long run cut short keeps what it measured
        results = {"started": started, "machine": machine(), "passages": count, "rows": rows}
        write_results("plan_estimate", results, _markdown(results))


def _markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        "# `migrate plan`: the backfill estimate against the measured backfill",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench-plan`"
        f" (`benchmarks/plan_estimate.py`). {results['passages']:,} SQuAD dev passages (seeded"
        " subset) under a hash-embedder source, so the target encodes every one. The plan"
        " encodes a seeded sample of 128 of them with the target's model (after a 2-text"
        " warm-up) and scales; then the real backfill runs in the same process and is timed.",
        "",
        "| target model | dim | documents | estimate s | measured s | error | plan's docs/s |"
        " backfill docs/s | plan took s | vectors MB | index MB | load after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["rows"]:
        load = " / ".join(f"{v:.1f}" for v in r["load_after"])
        lines.append(
            f"| {r['target']} | {r['dim']} | {r['documents']:,} | {r['estimate_s']} |"
            f" {r['measured_s']} | {r['error']:+.1%} | {r['estimate_encode_docs_per_s']} |"
            f" {r['measured_docs_per_s']} | {r['plan_s']} | {r['vectors_mb']} | {r['index_mb']} |"
            f" {load} |"
        )
    lines += [
        "",
        "Error is estimate / measured - 1; the goal is within 30%. The machine is shared (2"
        " cores, other sessions running): the load average is part of every number.",
    ]
    return lines


if __name__ == "__main__":
    main()
