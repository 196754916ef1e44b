"""switchover and its peers side by side in one run: ingest, search, re-embedding, recall@10.

Same SQuAD dev passages, same packaged MiniLM, same seeded questions (each with its qrels),
k = 10 everywhere. The raw baseline is bare ``SentenceTransformer.encode`` plus
``faiss.IndexFlatIP`` in this process. Peers are installed from PyPI into their own
virtualenvs (``peers.py``): embedflow 0.8.0 (its own HTTP server over the baseline's FAISS
index, ``source`` mode; its re-embedding is ``embedflow export-target``) and vecshift 0.4.0
(a migration CLI with no server: ``vecshift apply`` re-embeds a pgvector column in a private
PostgreSQL, through a tiny OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1 serving
the same MiniLM; ``embeddings_server.py``, whose own overhead is reported). The load
average is recorded before and after every part: the machine has 2 cores and is shared.

    python benchmarks/bench_peers.py [--docs 0] [--queries 300] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `switchover serve` sets it

import faiss
import numpy as np
import peers
import peers_report
import vecshift_peer
from _common import SQUAD, machine, now_utc, quick_mode, raw_encode_docs_per_s, raw_model
from _common import write_results as write_result_files
from embeddings_server import EmbeddingsServer
from migration import TARGETS, Server, migrate_and_backfill
from search import (
    BASELINE,
    Search,
    in_process,
    ingest_switchover,
    measure,
    summarise,
    switchover_search,
)

from evals import Dataset, load_dataset
from evals.metrics import recall_at_k
from tests.pgserver import running_server
from tests.server import ServerProcess

TARGET_DIM = 256  # every migration re-embeds with MiniLM truncated to 256 (embedflow: 384)
RAW_SAMPLE = 64  # texts raw-encoded just before and just after each migration: its baseline


class Parts:
    """The load average (1 / 5 / 15 min, /proc/loadavg) before and after each part."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        print(f"{name} ...", flush=True)
        before, started = _loadavg(), time.perf_counter()
        yield
        self.rows.append(
            {"part": name, "load_before": before, "load_after": _loadavg(),
             "seconds": round(time.perf_counter() - started, 1)}
        )  # fmt: skip


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pick(data: Dataset, docs: int, queries: int) -> tuple[list[Any], list[Any]]:
    """A seeded subset of passages (all of them for ``docs`` 0) and seeded questions whose
    relevant passages are all in it."""
    corpus = data.corpus
    if docs and docs < len(corpus):
        keep = set(random.Random(5).sample(range(len(corpus)), docs))  # seeded
        corpus = [d for i, d in enumerate(corpus) if i in keep]
    ids = {d.id for d in corpus}
    judged = [q for q in data.judged_queries() if set(data.qrels[q.id]) <= ids]
    return corpus, random.Random(3).sample(judged, min(queries, len(judged)))


def recording(search: Search, seen: dict[str, Sequence[str]]) -> Search:
    def wrapped(query: str) -> Sequence[str]:
        seen[query] = found = search(query)
        return found

    return wrapped


def recall(found: dict[str, Sequence[str]], queries: Sequence[Any], qrels: Any) -> float:
    values = [recall_at_k(list(found[q.text]), qrels[q.id], 10) for q in queries]
    return round(float(np.mean(values)), 4)


def truncated_in_process(model: Any, vectors: np.ndarray, ids: Sequence[str]) -> Search:
    """The baseline at 256 dimensions: the migrations' target, exact (``IndexFlatIP``)."""
    cut = vectors[:, :TARGET_DIM] / np.linalg.norm(vectors[:, :TARGET_DIM], axis=1, keepdims=True)
    index = faiss.IndexFlatIP(TARGET_DIM)
    index.add(np.asarray(cut, dtype=np.float32))

    def search(query: str) -> list[str]:
        q = model.encode([query], normalize_embeddings=True)[:, :TARGET_DIM]
        _, rows = index.search(q / np.linalg.norm(q, axis=1, keepdims=True), 10)
        return [ids[r] for r in rows[0] if r >= 0]

    return search


def search_part(
    contenders: dict[str, Search], queries: Sequence[Any], rounds: int, qrels: Any
) -> dict[str, Any]:
    seen: dict[str, dict[str, Sequence[str]]] = {name: {} for name in contenders}
    wrapped = {name: recording(s, seen[name]) for name, s in contenders.items()}
    out = summarise(measure(wrapped, [q.text for q in queries], rounds))
    out["recall_at_10"] = {name: recall(seen[name], queries, qrels) for name in contenders}
    return out


def switchover_migration(proc: ServerProcess, queries: Any, qrels: Any) -> dict[str, Any]:
    """Migration to MiniLM ``truncate_dim`` 256 with a backfill, through the HTTP API; then
    every read on the target (canary, then cutover, both with override) for its recall@10."""
    server = Server("switchover", proc)
    wall = time.perf_counter()
    out = migrate_and_backfill(server, TARGETS["reencode"])
    out["wall_seconds"] = round(time.perf_counter() - wall, 3)
    server.act("canary", {"percent": 50, "override": True})
    server.act("cutover", {"override": True})
    found: dict[str, Sequence[str]] = {
        q.text: [h["id"] for h in server.search(q.text)["hits"]] for q in queries
    }
    served = {server.search(queries[0].text)["served_by"]}
    out |= {"recall_at_10_target": recall(found, queries, qrels), "served_by": sorted(served)}
    return out


def vecshift_part(
    work: Path, scratch: Path, model: Any, corpus: Any, vectors: np.ndarray, queries: Any,
    qrels: Any,
) -> dict[str, Any]:  # fmt: skip
    venv = peers.peer_venv("vecshift", scratch)
    texts, ids = [d.embedding_text() for d in corpus], [d.id for d in corpus]
    with (
        running_server(power_safe=True) as pg,
        pg.database() as url,
        EmbeddingsServer(model) as embeddings,
    ):
        vecshift_peer.load_table(url, texts, ids, vectors)
        run = vecshift_peer.run_apply(venv, work, url, embeddings, TARGET_DIM)
        out: dict[str, Any] = {
            "version": vecshift_peer.version(venv),
            "command": run["command"],
            "seconds": round(run["seconds"], 3),
            "phases": vecshift_peer.phases(run["events"]),
            "rows": vecshift_peer.rows_migrated(url),
            "embeddings_server": embeddings.counters.as_dict(),
            "result": run["events"][-1],
        }
        search, close = vecshift_peer.sql_search(url, model, TARGET_DIM)
        try:
            base = truncated_in_process(model, vectors, ids)
            out["sql_search"] = search_part(
                {BASELINE: base, "vecshift-sql": search}, queries, 1, qrels
            )
        finally:
            close()
    return out


def embedflow_export(work: Path, scratch: Path, docs: int) -> dict[str, Any]:
    out = peers.embedflow_export_target(work, scratch)
    first, second = (r["seconds"] for r in out["runs"])
    out["docs"] = docs
    out["seconds"], out["fixed_seconds"] = round(first, 3), round(second, 3)
    out["docs_per_s"] = round(docs / first, 2)
    out["docs_per_s_without_fixed"] = round(docs / (first - second), 2) if first > second else None
    return out


def bracketed(model: Any, texts: Sequence[str], fn: Callable[[], dict[str, Any]]) -> Any:
    """``fn()`` with raw encode docs/s of the same first texts measured just before and just
    after it: on a shared machine the load drifts, so each migration gets its own baseline."""
    before = raw_encode_docs_per_s(model, texts[:RAW_SAMPLE])
    out = fn()
    after = raw_encode_docs_per_s(model, texts[:RAW_SAMPLE])
    out["raw_encode_docs_per_s"] = [round(before, 2), round(after, 2)]
    return out


def run(args: argparse.Namespace, results: dict[str, Any], parts: Parts) -> None:
    data = load_dataset(SQUAD)
    corpus, queries = pick(data, args.docs, args.queries)
    texts, ids = [d.embedding_text() for d in corpus], [d.id for d in corpus]
    results |= {"docs": len(texts), "queries": len(queries)}
    faiss.omp_set_num_threads(1)  # as `switchover serve` runs FAISS
    with tempfile.TemporaryDirectory(prefix="switchover-bench-peers-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        model = raw_model()
        model.encode(texts[:16], batch_size=32)  # warm-up
        with parts.part("raw encode (the baseline's vectors)"):
            started = time.perf_counter()
            vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
            seconds = time.perf_counter() - started
            results["raw_encode_docs_per_s"] = round(len(texts) / seconds, 2)
        server = ServerProcess(work / "switchover-home").start()
        stack.callback(server.stop)
        with parts.part("switchover ingest (HTTP, batches of 128)"):
            rate = ingest_switchover(server.url, texts, ids)
            results["switchover_ingest_docs_per_s"] = round(rate, 2)
        contenders: dict[str, Search] = {BASELINE: in_process(model, vectors, ids)}
        contenders["switchover"], close = switchover_search(server.url)
        stack.callback(close)
        with parts.part("embedflow start (its server over the baseline's FAISS index)"):
            started = time.perf_counter()
            search, close_embedflow, notes = peers.start_embedflow(
                work, texts, ids, vectors, args.scratch
            )
            results["embedflow_start_seconds"] = round(time.perf_counter() - started, 2)
            results["notes"] = notes
        contenders["embedflow"] = search
        try:
            with parts.part("search, interleaved query by query"):
                results["search"] = search_part(contenders, queries, args.rounds, data.qrels)
        finally:
            close_embedflow()
        with parts.part("switchover migration (MiniLM -> MiniLM truncate_dim 256, backfill)"):
            results["switchover_migration"] = bracketed(
                model, texts, lambda: switchover_migration(server, queries, data.qrels)
            )
        with parts.part("embedflow export-target (full target backfill + index)"):
            results["embedflow_export"] = bracketed(
                model, texts, lambda: embedflow_export(work, args.scratch, len(texts))
            )
        with parts.part("vecshift apply (pgvector column, MiniLM via /v1/embeddings, dims 256)"):
            results["vecshift"] = bracketed(
                model,
                texts,
                lambda: vecshift_part(
                    work, args.scratch, model, corpus, vectors, queries, data.qrels
                ),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=0, help="passages (0: all of SQuAD dev)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()) / "switchover-bench-peers",
        help="where the peers' virtualenvs are made (kept between runs)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="200 passages, 40 queries, 1 round")
    args = parser.parse_args()
    if quick_mode(args.quick):
        args.docs, args.queries, args.rounds = 200, 40, 1
    started = time.time()
    results: dict[str, Any] = {
        "started": now_utc(), "machine": machine(), "quick": args.quick,
        "args": f"--docs {args.docs} --queries {args.queries} --rounds {args.rounds}",
    }  # fmt: skip
    parts = Parts()
    run(args, results, parts)
    results["parts"], results["minutes"] = parts.rows, round((time.time() - started) / 60, 1)
    results["versions"] = peers_report.versions(args.scratch)
    lines = peers_report.markdown(results)
    write_result_files("peers", results, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
