"""Per-slice decisions on real data (SQuAD dev, MiniLM): which slices roll back, 20 seeds each.

Every SQuAD passage gets a seeded synthetic ``lang`` (en, de, fr, es) and each question its
passage's language, as its slice and as the filter it is searched with (FAISS with an
``IDSelectorBatch`` of that language's passages, as a filtered read does). Per-query
recall@10 is computed once for the source (Flat) and for each target; then, for each seed,
a different random order of the questions is judged look by look exactly as the watchdog
does (``migrator/slice_looks.py``: the same functions the recall session and the watchdog
call): at 50, 100, 200, ... up to the pool, each slice on its own paired deltas (its own
minimum sample), a failing slice rolled back and judged without, an overall failure
deferred while slices still routed are judging. Results: benchmarks/results/slice_decisions.md.

    python benchmarks/slice_decisions.py [--queries 4000] [--pool 2000] [--seeds 20] [--cache F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals import load_dataset, look_schedule, recall_at_k  # noqa: E402
from evals.sliced import label_documents  # noqa: E402
from indexes import EmbedderSpec, load_embedder  # noqa: E402
from migrator.guardrails import RecallRule  # noqa: E402
from migrator.slice_looks import defers, judge_look  # noqa: E402
from migrator.slices import SlicePlan, breached  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SQUAD = Path(os.environ.get("SWITCHOVER_SQUAD_DIR", REPO.parent / "shared/data/squad-v1.1-dev"))
LANGS = ("en", "de", "fr", "es")
PLAN = SlicePlan.from_dict({"keys": ["metadata.lang"], "min_samples": 30})
RULE = RecallRule(margin=0.02, min_samples=50)


@dataclass
class Outcome:
    rolled_back: list[str] = field(default_factory=list)  # slices, in order
    whole: bool = False  # the whole migration rolled back (an overall failure)
    overall: str = "hold"
    queries: int = 0


def judge_seed(labels: list[str], deltas: np.ndarray, pool: int, seed: int) -> Outcome:
    """One seeded order judged look by look, as the recall session and the watchdog do."""
    order = np.random.default_rng(seed).permutation(len(deltas))[:pool]
    ordered_labels = [labels[i] for i in order]
    ordered = [float(d) for d in deltas[order]]
    sizes = look_schedule(min(RULE.min_samples, pool), pool)
    excluded: set[str] = set()
    out = Outcome()
    for size in sizes:
        args = (ordered_labels[:size], ordered[:size])
        look = judge_look(*args, excluded, RULE, PLAN, looks=len(sizes), pool=pool)
        new = breached(look.slices, tuple(excluded))
        if new:
            out.rolled_back += new
            excluded |= set(new)
            look = judge_look(*args, excluded, RULE, PLAN, looks=len(sizes), pool=pool)
        out.overall, out.queries = look.overall.decision, size
        exhausted = size >= pool
        if look.overall.decision == "fail" and not defers(
            look.overall, look.judging(excluded), exhausted, PLAN
        ):
            out.whole = True
            return out
        if look.done:
            return out
    return out


def search_parameters(selector: Any, params: dict[str, int]) -> Any:
    """FAISS search parameters: among ``selector``'s ids, with ``efSearch`` when given.

    Set attribute by attribute, as FAISS's keyword constructors do (faiss 1.15's stubs
    declare neither those keywords nor ``SearchParametersHNSW``)."""
    if "efSearch" in params:
        out = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # absent from 1.15 stubs
        out.efSearch = params["efSearch"]
    else:
        out = faiss.SearchParameters()
    out.sel = selector
    return out


def filtered_recall(
    index: Any, queries: np.ndarray, labels: list[str], doc_labels: np.ndarray, qrels: list[Any],
    ids: list[str], params: dict[str, int],
) -> np.ndarray:  # fmt: skip
    """recall@10 per query, each searched among its language's passages only."""
    recall = np.zeros(len(queries))
    for lang in LANGS:
        rows = np.array([i for i, q in enumerate(labels) if q == lang])
        if not len(rows):
            continue
        selector = faiss.IDSelectorBatch(np.flatnonzero(doc_labels == lang).astype(np.int64))
        _, found = index.search(queries[rows], 10, params=search_parameters(selector, params))
        for row, hits in zip(rows, found, strict=True):
            recall[row] = recall_at_k([ids[j] for j in hits if j >= 0], qrels[row], 10)
    return recall


def embedded(corpus: list[Any], questions: list[Any], cache: str | None) -> tuple[Any, Any]:
    """MiniLM vectors of the passages and the questions (reused from ``cache``, an .npz)."""
    if cache and Path(cache).is_file():
        saved = np.load(cache)
        return saved["docs"], saved["queries"]
    embedder = load_embedder(EmbedderSpec())
    docs = embedder.embed_documents([d.embedding_text() for d in corpus])
    queries = embedder.embed_queries([q.text for q in questions]).vectors
    if cache:
        np.savez(cache, docs=docs, queries=queries)
    return docs, queries


def build(docs: np.ndarray, factory: str) -> Any:
    index = faiss.index_factory(docs.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    index.train(docs)
    index.add(docs)
    return index


def broken(
    docs: np.ndarray, doc_labels: np.ndarray, lang: str, sigma: float | None, keep: int = 0
) -> np.ndarray:
    """The target's vectors: ``lang``'s passages replaced by random ones (sigma None), with
    Gaussian noise of ``sigma`` per dimension, or (``keep``) cut to their first ``keep``
    dimensions (the rest zero); renormalized."""
    rng = np.random.default_rng(11)
    out = docs.copy()
    rows = np.flatnonzero(doc_labels == lang)
    noise = rng.standard_normal((len(rows), docs.shape[1])).astype(np.float32)
    if keep:
        out[np.ix_(rows, np.arange(keep, docs.shape[1]))] = 0.0
    else:
        out[rows] = noise if sigma is None else out[rows] + sigma * noise
    out[rows] /= np.linalg.norm(out[rows], axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cache", default=None, help="an .npz to keep the vectors in")
    args = parser.parse_args()
    started = time.time()
    sliced = label_documents(load_dataset(SQUAD), "lang", LANGS, seed=3)
    rng = np.random.default_rng(5)
    picked = rng.choice(len(sliced.queries), min(args.queries, len(sliced.queries)), replace=False)
    questions = [sliced.queries[i] for i in sorted(picked)]
    docs, queries = embedded(sliced.corpus, questions, args.cache)
    embedded_s = time.time() - started
    ids = [d.id for d in sliced.corpus]
    doc_labels = np.array([(d.metadata or {})["lang"] for d in sliced.corpus])
    labels = [(q.slice or {})["lang"] for q in questions]
    qrels = [sliced.qrels[q.id] for q in questions]

    def recall(index: Any, **params: int) -> np.ndarray:
        return filtered_recall(index, queries, labels, doc_labels, qrels, ids, params)

    source = recall(build(docs, "Flat"))
    noisy, randomised = (broken(docs, doc_labels, "de", s) for s in (0.05, None))
    cut = broken(docs, doc_labels, "de", None, keep=48)
    targets = {
        "A/A: Flat (identical)": recall(build(docs, "Flat")),
        "A/A': HNSW32 efSearch 128": recall(build(docs, "HNSW32,Flat"), efSearch=128),
        "lang=de noisy (Gaussian 0.05/dim)": recall(build(noisy, "Flat")),
        "lang=de cut to 48 of 384 dims": recall(build(cut, "Flat")),
        "lang=de broken (random vectors)": recall(build(randomised, "Flat")),
    }
    rows = [summarise(name, t - source, labels, args) for name, t in targets.items()]
    write(rows, args, started, embedded_s, len(sliced.corpus), len(questions))


def summarise(name: str, deltas: np.ndarray, labels: list[str], args: Any) -> dict[str, Any]:
    sliced = [f"lang={lang}" for lang in labels]  # the labels a plan keyed metadata.lang gives
    outcomes = [judge_seed(sliced, deltas, args.pool, seed) for seed in range(args.seeds)]
    per_slice = {
        lang: round(float(deltas[[i for i, q in enumerate(labels) if q == lang]].mean()), 4)
        for lang in LANGS
    }
    row = {
        "target": name,
        "true_delta": round(float(deltas.mean()), 4),
        "true_delta_by_slice": per_slice,
        "seeds_with_a_slice_rolled_back": sum(1 for o in outcomes if o.rolled_back),
        "rolled_back_by_slice": {
            f"lang={lang}": sum(f"lang={lang}" in o.rolled_back for o in outcomes) for lang in LANGS
        },
        "whole_rollbacks": sum(o.whole for o in outcomes),
        "overall": {d: sum(o.overall == d for o in outcomes) for d in ("pass", "hold", "fail")},
        "median_queries": int(np.median([o.queries for o in outcomes])),
    }
    print(row, flush=True)
    return row


def write(
    rows: list[dict[str, Any]], args: Any, started: float, embedded_s: float, docs: int, qs: int
) -> None:
    results = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "embedding_seconds": round(embedded_s, 1),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "documents": docs,
        "questions": qs,
        "pool": args.pool,
        "seeds": args.seeds,
        "margin": RULE.margin,
        "slice_min_samples": PLAN.min_samples,
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "slice_decisions.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Per-slice decisions on SQuAD dev (real MiniLM embeddings, synthetic lang)",
        "",
        f"Run {results['started']} (`make bench-slices`, `benchmarks/slice_decisions.py`), load"
        f" average {' '.join(results['loadavg'])}, {results['seconds']} s. {docs} passages, each"
        f" with a seeded `lang` of {', '.join(LANGS)}; {qs} questions, each searched within its"
        f" passage's language. Source `Flat`; margin {RULE.margin}; slice minimum"
        f" {PLAN.min_samples} pairs, `on_breach: slice`; {args.seeds} seeds per target, each a"
        f" different order of the questions, judged look by look (50, 100, ... up to"
        f" {args.pool}) with the functions the watchdog uses (`migrator/slice_looks.py`).",
        "",
        "| target | true delta | by slice (en / de / fr / es) | seeds with a slice rolled back |"
        " rolled back: en / de / fr / es | whole rollbacks | overall pass / hold / fail |"
        " median queries |",
        "|---|---:|---|---:|---|---:|---|---:|",
    ]
    for r in rows:
        by = " / ".join(f"{v:+.3f}" for v in r["true_delta_by_slice"].values())
        rb = " / ".join(str(v) for v in r["rolled_back_by_slice"].values())
        o = r["overall"]
        lines.append(
            f"| {r['target']} | {r['true_delta']:+.4f} | {by} |"
            f" {r['seeds_with_a_slice_rolled_back']} of {args.seeds} | {rb} |"
            f" {r['whole_rollbacks']} | {o['pass']} / {o['hold']} / {o['fail']} |"
            f" {r['median_queries']} |"
        )
    (RESULTS / "slice_decisions.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'slice_decisions.md'}")


if __name__ == "__main__":
    main()
