"""Decision quality of the recall judgement on real data (SQuAD dev, MiniLM), 20 seeds each.

Per-query recall@10 is computed once for the source (Flat) and for each target layout on
all of SQuAD's questions; then, for each seed, the questions are shuffled and the
sequential judgement draws from that order exactly as the watchdog does (50, 100, 200, ...
up to the pool). Counts of fail / pass / hold per target, with the target's true delta
over all questions, go to ``benchmarks/results/decision_quality.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals import judge_sequentially, load_dataset, recall_at_k  # noqa: E402
from indexes import EmbedderSpec, load_embedder  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SQUAD = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))
SEEDS = 20
POOL = 10_000
MARGIN = 0.02


def per_query_recall(
    index: Any, queries: np.ndarray, ids: list[str], qrels: list[dict[str, int]]
) -> np.ndarray:
    _, found = index.search(queries, 10)
    return np.array(
        [
            recall_at_k([ids[j] for j in row if j >= 0], rel, 10)
            for row, rel in zip(found, qrels, strict=True)
        ]
    )


def first_of(deltas: np.ndarray) -> Callable[[int], np.ndarray]:
    """The judge's draw from one shuffled order: its first ``n`` deltas."""

    def draw(n: int) -> np.ndarray:
        return deltas[:n]

    return draw


def main() -> None:
    started = time.time()
    data = load_dataset(SQUAD)
    embedder = load_embedder(EmbedderSpec())
    docs = embedder.embed_documents([d.embedding_text() for d in data.corpus])
    judged = data.judged_queries()
    queries = embedder.embed_queries([q.text for q in judged]).vectors
    ids = [d.id for d in data.corpus]
    qrels = [data.qrels[q.id] for q in judged]
    dim = docs.shape[1]

    def build(factory: str, **params: int) -> Any:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        index.train(docs)
        index.add(docs)
        for key, value in params.items():
            faiss.ParameterSpace().set_index_parameter(index, key, value)
        return index

    source = per_query_recall(build("Flat"), queries, ids, qrels)
    targets = {
        "A/A: Flat (identical)": build("Flat"),
        "HNSW32,Flat efSearch 64": build("HNSW32,Flat", efSearch=64),
        "IVF64,Flat nprobe 16": build("IVF64,Flat", nprobe=16),
        "IVF64,Flat nprobe 8": build("IVF64,Flat", nprobe=8),
        "IVF64,Flat nprobe 4": build("IVF64,Flat", nprobe=4),
        "IVF64,Flat nprobe 1": build("IVF64,Flat", nprobe=1),
    }
    rows = []
    for name, index in targets.items():
        deltas = per_query_recall(index, queries, ids, qrels) - source
        outcomes = {"fail": 0, "pass": 0, "hold": 0}
        sizes = []
        for seed in range(SEEDS):
            order = np.random.default_rng(seed).permutation(len(deltas))
            shuffled = deltas[order]
            verdict = judge_sequentially(first_of(shuffled), MARGIN, pool=POOL)
            outcomes[verdict.decision] += 1
            sizes.append(verdict.n)
        rows.append(
            {
                "target": name,
                "true_delta": round(float(deltas.mean()), 4),
                "sd": round(float(deltas.std()), 3),
                **outcomes,
                "median_queries_at_decision": int(np.median(sizes)),
            }
        )
        print(rows[-1], flush=True)
    results = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "margin": MARGIN,
        "seeds": SEEDS,
        "pool": POOL,
        "queries": len(judged),
        "source": "Flat",
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "decision_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Decision quality on SQuAD dev (real MiniLM embeddings)",
        "",
        f"Run {results['started']}; `benchmarks/decision_quality.py`. Source `Flat`; margin"
        f" {MARGIN}; {SEEDS} seeds per target, each a different random order of the"
        f" {len(judged)} questions, judged sequentially (50, 100, 200, ... up to {POOL}).",
        "",
        "| target | true recall@10 delta | per-query sd | fail (rolled back) | pass | hold |"
        " median queries at decision |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['target']} | {r['true_delta']:+.4f} | {r['sd']} | {r['fail']} | {r['pass']} |"
        f" {r['hold']} | {r['median_queries_at_decision']} |"
        for r in rows
    ]
    (RESULTS / "decision_quality.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'decision_quality.md'}")


if __name__ == "__main__":
    main()
