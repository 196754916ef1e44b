"""``migrate plan``'s backfill estimate against the measured backfill, on SQuAD dev passages.

An in-process service holds SQuAD dev passages (a seeded subset) under a hash-embedder
source, so every text is a cache miss for the real target model. For each target model the
plan is asked first (a timed sample of 128 of the corpus's own texts, stratified by length,
after a warm-up), then the migration is created and its backfill run and timed
(``started_at`` to ``finished_at`` as the backfill records them). all-mpnet-base-v2 (about
5x MiniLM's compute) runs on the first ``--mpnet-passages`` of the subset. The 1-minute
load average is recorded when the plan starts, when the backfill starts and when it ends.
Results: ``benchmarks/results/plan_estimate.md``.
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


MPNET = "all-mpnet-base-v2"

# Earlier runs of this script, kept for comparison: (what the plan did then, its rows as
# (target, documents, estimate s, measured s, error, plan's docs/s, backfill docs/s)).
BEFORE = [
    (
        "2026-12-02 15:01 UTC, load 10-16: a plain random sample, timed on the caller's thread",
        [
            ("MiniLM int8 (ONNX)", 400, 89.62, 75.66, 0.185, 4.5, 5.3),
            ("MiniLM fp32 (torch)", 400, 226.96, 111.65, 1.033, 1.8, 3.6),
        ],
    ),
    (
        "2026-12-02 19:01 UTC, load 3-6: stratified by length, timed on the caller's thread",
        [
            ("MiniLM fp32 (torch)", 400, 60.18, 42.85, 0.404, 6.6, 9.3),
            ("MiniLM int8 (ONNX)", 400, 42.25, 43.3, -0.024, 9.5, 9.2),
            ("all-mpnet-base-v2", 300, 345.64, 298.51, 0.158, 0.9, 1.0),
            ("MiniLM fp32 (torch)", 400, 59.59, 47.58, 0.252, 6.7, 8.4),
            ("MiniLM int8 (ONNX)", 400, 71.05, 54.16, 0.312, 5.6, 7.4),
            ("all-mpnet-base-v2", 300, 305.08, 222.02, 0.374, 1.0, 1.4),
        ],
    ),
    (
        "2026-12-02 19:29 UTC, load 5-9: stratified, timed on a thread of its own (as now)",
        [
            ("MiniLM fp32 (torch)", 400, 59.88, 67.07, -0.107, 6.7, 6.0),
            ("MiniLM int8 (ONNX)", 400, 51.37, 47.22, 0.088, 7.8, 8.5),
            ("all-mpnet-base-v2", 300, 245.85, 400.6, -0.386, 1.2, 0.7),
            ("MiniLM fp32 (torch)", 400, 92.97, 92.56, 0.004, 4.3, 4.3),
            ("MiniLM int8 (ONNX)", 400, 65.04, 60.08, 0.083, 6.2, 6.7),
        ],
    ),
]
BEFORE_KEYS = ("target", "documents", "estimate_s", "measured_s", "error", "plan_rate", "rate")


def one(name: str, spec: EmbedderSpec, texts: list[str], home: Path) -> dict[str, Any]:
    source = IndexSpec(name="v1", embedder=EmbedderSpec(kind="hash", dim=64))
    svc = Switchover(Settings(home=home, default_index=source))
    try:
        docs = [DocumentIn(f"p{i:05d}", t) for i, t in enumerate(texts)]
        for start in range(0, len(docs), 200):
            svc.upsert(docs[start : start + 200])
        target = TargetRequest("v2", "Flat", embedder=spec)
        loads = [os.getloadavg()[0]]
        started = time.perf_counter()
        found = svc.plan_migration(target, sample=128, seed=7)
        plan_s = time.perf_counter() - started
        mid = int(svc.create_migration(MigrationRequest(target), "bench").id)
        loads.append(os.getloadavg()[0])
        svc.migration_action(mid, "backfill", ActionRequest(), "bench")
        bf = svc.wait_backfill(timeout=3600)
        loads.append(os.getloadavg()[0])
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
        "backfill_encoded": bf.encoded,
        "error": round(found.backfill_s / measured - 1, 3) if measured else None,
        "dim": found.dim,
        "vectors_mb": found.vectors_mb,
        "index_mb": found.index_mb,
        "load_plan_backfill_end": [round(v, 1) for v in loads],
        "load_after": os.getloadavg(),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 passages, MiniLM only")
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--mpnet-passages", type=int, default=300)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--repeats", type=int, default=1, help="rounds over the targets")
    args = parser.parse_args()
    quick = quick_mode(args.quick)
    corpus = load_dataset(SQUAD).corpus
    count = 300 if quick else min(args.passages, len(corpus))
    texts = [d.embedding_text() for d in random.Random(5).sample(corpus, count)]
    wanted = ["MiniLM fp32 (torch)"] if quick else args.targets.split(",")
    started = now_utc()
    rows = []
    for _ in range(max(1, args.repeats)):
        for name in wanted:
            subset = texts[: args.mpnet_passages] if name == MPNET else texts
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(one(name, TARGETS[name], subset, Path(tmp) / "home"))
            # written after every row: a long run cut short keeps what it measured
            results = {
                "started": started,
                "machine": machine(),
                "passages": count,
                "mpnet_passages": args.mpnet_passages,
                "rows": rows,
                "earlier_runs": [
                    {"run": run, "rows": [dict(zip(BEFORE_KEYS, r, strict=True)) for r in rows]}
                    for run, rows in BEFORE
                ],
            }
            write_results("plan_estimate", results, _markdown(results))


def _markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        "# `migrate plan`: the backfill estimate against the measured backfill",
        "",
        f"Run {results['started']} on {results['machine']}; `make bench-plan`"
        f" (`benchmarks/plan_estimate.py`). {results['passages']:,} SQuAD dev passages (seeded"
        f" subset; all-mpnet-base-v2 on the first {results['mpnet_passages']:,}) under a"
        " hash-embedder source, so the target encodes every one. The plan encodes a seeded"
        " sample of 128 of them, stratified by length (one from each of 128 length quantiles),"
        " with the target's model after a 2-text warm-up, and scales; then the real backfill"
        " runs in the same process and is timed.",
        "",
        "| target model | dim | documents | estimate s | measured s | error | plan's docs/s |"
        " backfill docs/s | plan took s | vectors MB | index MB |"
        " load (1 min) at plan / backfill start / end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["rows"]:
        load = " / ".join(f"{v:.1f}" for v in r["load_plan_backfill_end"])
        lines.append(
            f"| {r['target']} | {r['dim']} | {r['documents']:,} | {r['estimate_s']} |"
            f" {r['measured_s']} | {r['error']:+.1%} | {r['estimate_encode_docs_per_s']} |"
            f" {r['measured_docs_per_s']} | {r['plan_s']} | {r['vectors_mb']} | {r['index_mb']} |"
            f" {load} |"
        )
    errors = [abs(r["error"]) for r in results["rows"]]
    within = sum(e <= 0.3 for e in errors)
    lines += [
        "",
        f"Within 30% in {within} of {len(errors)} rows; the largest error"
        f" {max(errors):.1%}. Error is estimate / measured - 1. The machine is shared (2"
        " cores, other sessions running): the load average is part of every number.",
        "",
        "The sample is timed where and as the backfill encodes: on a thread of its own, with"
        " the process's FAISS/OpenMP thread count applied. Timed on the caller's (here the"
        " main) thread, torch encoded the same 128 passages in 1.3-1.5x the wall time of a"
        " fresh thread, in alternating runs; ONNX int8 showed no such gap.",
        "",
        "## Earlier runs",
    ]
    for run in results["earlier_runs"]:
        lines += [
            "",
            f"{run['run']}:",
            "",
            "| target model | documents | estimate s | measured s | error | plan's docs/s |"
            " backfill docs/s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {b['target']} | {b['documents']} | {b['estimate_s']} | {b['measured_s']} |"
            f" {b['error']:+.1%} | {b['plan_rate']} | {b['rate']} |"
            for b in run["rows"]
        ]
    return lines


if __name__ == "__main__":
    main()
