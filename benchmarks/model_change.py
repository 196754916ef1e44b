"""Changing the embedding model: MiniLM -> mpnet and MiniLM -> MiniLM int8, judged by each truth.

Part 1, in this process, on a seeded SQuAD dev subset (passages and the questions whose
passage is in it): every model encodes the passages and the questions through switchover's
own embedders, exact (Flat) search ranks them, and each target is scored against three
truths: the **qrels**, **known-item** queries built from the subset's passages (what an
unlabelled eval set gets), and **MiniLM's own exact top 10** (the biased truth the judge
used to take). For each: both sides' recall@10, the paired delta, the judge's interval and
decision (margin 0.02, the watchdog's look schedule).

Part 2, a real server: the subset on MiniLM (Flat), then a migration to each target:
the re-encoding backfill's docs/s against raw encoding of the same texts in this process
(before and after it, averaged), and, for int8, query latency of pinned searches on v1 and
v2 through the HTTP API, alternating query by query, p50 / p95 and their ratio.

Needs ``make models``. ``--quick``: a smaller subset, results under benchmarks/results/quick.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import (
    SQUAD,
    latency_summary,
    machine,
    now_utc,
    quick_mode,
    ratio,
    write_results,
)

from evals import judge, known_items, load_dataset, look_schedule
from indexes import PACKAGED_MINILM, PACKAGED_MPNET, EmbedderSpec, load_embedder
from tests.server import ServerProcess

MODELS = {
    "minilm": EmbedderSpec(model=PACKAGED_MINILM),
    "minilm-int8": EmbedderSpec(model=PACKAGED_MINILM, backend="onnx-int8"),
    "mpnet": EmbedderSpec(model=PACKAGED_MPNET),
}
TARGETS = ("minilm-int8", "mpnet")
MARGIN = 0.02
K = 10


def subset(passages: int, questions: int, known: int, seed: int) -> dict[str, Any]:
    data = load_dataset(SQUAD)
    docs = random.Random(seed).sample(data.corpus, passages)
    ids = {d.id for d in docs}
    judged = [q for q in data.queries if data.qrels.get(q.id) and set(data.qrels[q.id]) <= ids]
    chosen = random.Random(seed + 1).sample(judged, min(questions, len(judged)))
    items = known_items(docs, known, seed)
    return {
        "docs": docs,
        "texts": [d.embedding_text() for d in docs],
        "questions": chosen,
        "qrels": {q.id: set(data.qrels[q.id]) for q in chosen},
        "known_items": items,
    }


def top_ids(doc_vectors: np.ndarray, query_vectors: np.ndarray, ids: list[str]) -> list[list[str]]:
    scores = query_vectors @ doc_vectors.T
    order = np.argsort(-scores, axis=1)[:, :K]
    return [[ids[j] for j in row] for row in order]


def recall(ranked: list[list[str]], truth: list[set[str]]) -> np.ndarray:
    return np.array([len(set(r) & t) / min(len(t), K) for r, t in zip(ranked, truth, strict=True)])


def verdict(source: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    deltas = target - source
    j = judge(
        deltas,
        margin=MARGIN,
        confidence=0.95,
        min_samples=50,
        max_looks=len(look_schedule(50, len(deltas))),
    )
    return {
        "n": len(deltas),
        "source_recall@10": round(float(source.mean()), 4),
        "target_recall@10": round(float(target.mean()), 4),
        "delta": round(float(deltas.mean()), 4),
        "ci": [round(j.ci_low, 4), round(j.ci_high, 4)],
        "decision": j.decision,
    }


def quality(data: dict[str, Any]) -> dict[str, Any]:
    ids = [d.id for d in data["docs"]]
    questions = [q.text for q in data["questions"]]
    items = data["known_items"]
    ranked: dict[str, dict[str, list[list[str]]]] = {}
    encode: dict[str, float] = {}
    for name, spec in MODELS.items():
        embedder = load_embedder(spec)
        embedder.embed_documents(data["texts"][:8])  # warm-up
        started = time.perf_counter()
        docs = embedder.embed_documents(data["texts"])
        encode[name] = len(ids) / (time.perf_counter() - started)
        ranked[name] = {
            "questions": top_ids(docs, embedder.embed_queries(questions).vectors, ids),
            "known": top_ids(docs, embedder.embed_queries([i.text for i in items]).vectors, ids),
        }
        print(f"{name}: encoded {len(ids)} passages at {encode[name]:.1f} docs/s", flush=True)
    qrels = [data["qrels"][q.id] for q in data["questions"]]
    known = [{i.doc_id} for i in items]
    minilm_top = [set(r) for r in ranked["minilm"]["questions"]]
    rows = {}
    for target in TARGETS:
        rows[target] = {
            "qrels": verdict(
                recall(ranked["minilm"]["questions"], qrels),
                recall(ranked[target]["questions"], qrels),
            ),
            "known-item": verdict(
                recall(ranked["minilm"]["known"], known), recall(ranked[target]["known"], known)
            ),
            "minilm-exact": verdict(
                recall(ranked["minilm"]["questions"], minilm_top),
                recall(ranked[target]["questions"], minilm_top),
            ),
        }
    return {"encode_docs_per_s": {k: round(v, 2) for k, v in encode.items()}, "judged": rows}


class Server:
    def __init__(self, proc: ServerProcess) -> None:
        self.http = httpx.Client(base_url=proc.url, timeout=900)
        self.auth = {"Authorization": f"Bearer {proc.token}"}

    def migrate(self, name: str, spec: EmbedderSpec) -> tuple[int, dict[str, Any]]:
        body = {
            "target": {"name": name, "factory": "Flat", "embedder": spec.to_dict()},
            "shadow_sample": 0.0,
        }
        response = self.http.post("/v1/migrations", json=body, headers=self.auth)
        response.raise_for_status()
        mid = int(response.json()["id"])
        self.http.post(f"/v1/migrations/{mid}/backfill", headers=self.auth).raise_for_status()
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            bf = self.http.get("/v1/migrations/current", headers=self.auth).json()["backfill"]
            if bf["finished"]:
                return mid, bf
            time.sleep(0.2)
        raise RuntimeError("backfill did not finish in 30 minutes")

    def abort(self, mid: int) -> None:
        self.http.post(f"/v1/migrations/{mid}/abort", headers=self.auth).raise_for_status()

    def pinned_ms(self, index: str, query: str) -> float:
        started = time.perf_counter()
        response = self.http.post(f"/v1/indexes/{index}/search", json={"query": query, "k": K})
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000


def raw_docs_per_s(spec: EmbedderSpec, texts: list[str]) -> float:
    """Raw encoding of ``texts``: sentence-transformers' encode for torch, the export for int8."""
    if spec.backend == "torch":
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - slow import

        from indexes import resolve_model_path  # noqa: PLC0415

        model = SentenceTransformer(str(resolve_model_path(spec.model)), device="cpu")
        model.encode(texts[:8], batch_size=32)
        started = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
    else:
        embedder = load_embedder(spec)
        embedder.embed_documents(texts[:8])
        started = time.perf_counter()
        embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def served(data: dict[str, Any], queries: int) -> dict[str, Any]:
    texts = data["texts"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp) / "home") as proc:
        server = Server(proc)
        for start in range(0, len(texts), 64):
            batch = [
                {"id": d.id, "text": t}
                for d, t in zip(
                    data["docs"][start : start + 64], texts[start : start + 64], strict=True
                )
            ]
            server.http.put("/v1/documents", json={"documents": batch}).raise_for_status()
        for n, target in enumerate(("mpnet", "minilm-int8"), start=2):
            spec = MODELS[target]
            before = raw_docs_per_s(spec, texts)
            mid, bf = server.migrate(f"v{n}", spec)
            after = raw_docs_per_s(spec, texts)
            seconds = bf["finished_at"] - bf["started_at"]
            row: dict[str, Any] = {
                "docs": bf["done"],
                "encoded": bf["encoded"],
                "seconds": round(seconds, 2),
                "backfill_docs_per_s": round(bf["done"] / seconds, 2),
                "raw_docs_per_s_before": round(before, 2),
                "raw_docs_per_s_after": round(after, 2),
            }
            row["ratio_backfill_vs_raw"] = ratio(row["backfill_docs_per_s"], (before + after) / 2)
            if target == "minilm-int8":
                row["query_latency"] = latency(server, f"v{n}", data, queries)
            out[target] = row
            server.abort(mid)
            print(f"{target}: {row}", flush=True)
    return out


def latency(server: Server, target: str, data: dict[str, Any], queries: int) -> dict[str, Any]:
    texts = [q.text for q in data["questions"]][:queries]
    for text in texts[:10]:  # warm-up both
        server.pinned_ms("v1", text)
        server.pinned_ms(target, text)
    fp32: list[float] = []
    int8: list[float] = []
    for i, text in enumerate(texts):  # alternate which goes first
        pair = [("v1", fp32), (target, int8)]
        for index, sink in pair if i % 2 == 0 else reversed(pair):
            sink.append(server.pinned_ms(index, text))
    a, b = latency_summary(fp32), latency_summary(int8)
    return {
        "fp32": a,
        "int8": b,
        "p50_ratio": ratio(b["p50_ms"], a["p50_ms"]),
        "p95_ratio": ratio(b["p95_ms"], a["p95_ms"]),
    }


def markdown(results: dict[str, Any]) -> list[str]:
    p = results["params"]
    lines = [
        "# Changing the embedding model: MiniLM -> mpnet and MiniLM -> MiniLM int8",
        "",
        f"Run {results['at']} on {results['machine']}. SQuAD dev subset: {p['passages']}"
        f" passages (seed {p['seed']}), {results['questions']} of their questions,"
        f" {results['known_items']} known-item queries from the passages. Margin {MARGIN}.",
        "",
        "## recall@10 and the judgement, by truth (in-process, exact search)",
        "",
        "| target | truth | n | MiniLM | target | paired delta | interval | decision |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, rows in results["quality"]["judged"].items():
        for truth, r in rows.items():
            lines.append(
                f"| {target} | {truth} | {r['n']} | {r['source_recall@10']:.3f} |"
                f" {r['target_recall@10']:.3f} | {r['delta']:+.4f} |"
                f" [{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}] | {r['decision']} |"
            )
    enc = results["quality"]["encode_docs_per_s"]
    lines += [
        "",
        "`minilm-exact` is the old judge's truth without qrels: MiniLM's own exact top 10."
        " Its delta minus the qrels delta is the bias of that truth against a model change.",
        "",
        "## Encoding speed (in-process, switchover's embedders, one pass each)",
        "",
        "| model | docs/s | vs MiniLM fp32 |",
        "|---|---|---|",
    ]
    lines += [f"| {m} | {v} | {ratio(v, enc['minilm'])} |" for m, v in enc.items()]
    srv = results.get("served") or {}
    if srv:
        lines += [
            "",
            "## Through a real server",
            "",
            "| target | re-encoding backfill docs/s | raw encode docs/s (before / after) | ratio |",
            "|---|---|---|---|",
        ]
        for target, r in srv.items():
            lines.append(
                f"| {target} | {r['backfill_docs_per_s']} | {r['raw_docs_per_s_before']} /"
                f" {r['raw_docs_per_s_after']} | {r['ratio_backfill_vs_raw']} |"
            )
        lat = srv.get("minilm-int8", {}).get("query_latency")
        if lat:
            lines += [
                "",
                f"Pinned searches through the HTTP API ({lat['fp32']['n']} queries each,"
                " alternating): MiniLM fp32 p50 / p95"
                f" {lat['fp32']['p50_ms']} / {lat['fp32']['p95_ms']} ms, int8"
                f" {lat['int8']['p50_ms']} / {lat['int8']['p95_ms']} ms: ratio"
                f" **{lat['p50_ratio']} / {lat['p95_ratio']}**.",
            ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--known-items", type=int, default=1500)
    parser.add_argument("--queries", type=int, default=300, help="HTTP latency queries")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-server", action="store_true", help="part 1 only")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.passages, args.questions, args.queries, args.known_items = 80, 100, 40, 200
    data = subset(args.passages, args.questions, args.known_items, args.seed)
    results: dict[str, Any] = {
        "at": now_utc(),
        "machine": machine(),
        "params": {"passages": args.passages, "seed": args.seed},
        "questions": len(data["questions"]),
        "known_items": len(data["known_items"]),
        "quality": quality(data),
    }
    if not args.no_server:
        results["served"] = served(data, args.queries)
    write_results("model_change", results, markdown(results))


if __name__ == "__main__":
    main()
