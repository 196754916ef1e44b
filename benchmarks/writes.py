"""The write path's own cost per document: ingest time minus the encoder's time, same run.

Every batch of texts is first encoded bare by the hash embedder (384 dimensions, the
model-free embedder, so switchover's own machinery is what is left), then written:

* through the facade, ``Switchover.upsert``, in batches of 256 (the server's default
  ``max_batch``) and of 1,000, each into a fresh home;
* through the HTTP API, ``PUT /v1/documents`` in batches of 1,000, to a real
  ``switchover serve`` child process (the client's JSON encoding included);
* and, as the raw parts, the same rows inserted by plain ``sqlite3`` into a file with the
  same tables and pragmas (WAL, ``synchronous=FULL``: the log row and the document row, one
  transaction per batch), the batch's keys and vectors appended to a plain file by one
  ``write`` and one ``fdatasync`` before that commit (the cached vectors, as the product
  keeps them), and the same vectors added to a bare FAISS ``IndexIDMap2(IndexFlatIP)``, one
  ``add_with_ids`` per batch.

Own cost per document = (ingest seconds - bare encode seconds of the same batches) / docs.
Each document carries a small metadata object (two keys), as real writes do. Periodic
snapshots are deferred (an operator setting) so the write path is measured alone.

Writes ``benchmarks/results/writes.json`` and ``writes.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np
from _common import machine, now_utc, quick_mode, write_results

from indexes import EmbedderSpec, IndexSpec, content_hash, load_embedder
from migrator.service import Switchover
from migrator.settings import Limits, Settings
from migrator.store import DocumentIn, SqliteStore
from tests.server import ServerProcess

DIM = 384
EMBEDDER = EmbedderSpec(kind="hash", dim=DIM)
# every rule of the periodic snapshots deferred, the replay cap too (a snapshot would be due
# every 50,000 records otherwise, and at 1M its writes would be most of what is timed)
DEFERRED = {
    "snapshot_every_records": 10**9,
    "snapshot_interval_seconds": 1e9,
    "snapshot_max_tail_records": 10**9,
}
HTTP_BATCH = 1000
SERVER_TOML = f"""[limits]
max_batch = {HTTP_BATCH}
[snapshots]
every_records = 1000000000
interval_seconds = 1000000000
max_tail_records = 1000000000
[default_index]
name = "v1"
[default_index.embedder]
kind = "hash"
dim = {DIM}
"""


def texts_of(n: int, seed: int) -> list[str]:
    """12 words from an 8,000-word vocabulary (seeded): every text distinct."""
    words = np.random.default_rng(seed).integers(0, 8000, size=(n, 12))
    return [" ".join(f"w{j}" for j in row) for row in words]


def metadata_of(i: int) -> dict[str, Any]:
    return {"source": "bench", "n": i}


def batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(start + size, n))


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """Bare encode seconds and write seconds of the same batches, wall and CPU.

    CPU seconds are those of the process that writes (``cpu``: this one, all threads, or
    the server's), so another process's load on the shared machine weighs on them less
    than on wall time; the bare encode runs here either way.
    """

    def __init__(self, cpu: Callable[[], float] = time.process_time) -> None:
        self.embedder = load_embedder(EMBEDDER)
        self.cpu = cpu
        self.encode_s = self.write_s = self.encode_cpu_s = self.write_cpu_s = 0.0

    def run(self, texts: Sequence[str], write: Callable[[], None]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        self.embedder.embed_documents(list(texts))
        t1, c1, w1 = time.perf_counter(), time.process_time(), self.cpu()
        write()
        self.encode_s += t1 - t0
        self.encode_cpu_s += c1 - c0
        self.write_s += time.perf_counter() - t1
        self.write_cpu_s += self.cpu() - w1

    def result(self, n: int) -> dict[str, Any]:
        return {
            "docs": n,
            "write_s": round(self.write_s, 3),
            "encode_s": round(self.encode_s, 3),
            "write_cpu_s": round(self.write_cpu_s, 3),
            "encode_cpu_s": round(self.encode_cpu_s, 3),
            "docs_per_s": round(n / self.write_s, 1),
            "encode_docs_per_s": round(n / self.encode_s, 1),
            "own_us_per_doc": round((self.write_s - self.encode_s) / n * 1e6, 1),
            "own_cpu_us_per_doc": round((self.write_cpu_s - self.encode_cpu_s) / n * 1e6, 1),
        }


def facade(texts: list[str], batch: int, work: Path) -> dict[str, Any]:
    home = work / f"facade-{batch}"
    settings = Settings(
        home=home,
        default_index=IndexSpec(name="v1", embedder=EMBEDDER),
        limits=Limits(max_batch=max(batch, 256)),
        **DEFERRED,  # type: ignore[arg-type]  # the two float/int snapshot knobs
    )
    svc = Switchover(settings)
    svc.start()
    clock = Clock()
    try:
        for part in batches(len(texts), batch):
            docs = [DocumentIn(f"d{i:08d}", texts[i], metadata_of(i)) for i in part]
            clock.run([texts[i] for i in part], partial(_upsert, svc, docs))
    finally:
        svc.close(snapshot=False)
        shutil.rmtree(home, ignore_errors=True)
    return {"batch": batch, **clock.result(len(texts))}


def _upsert(svc: Switchover, docs: list[DocumentIn]) -> None:
    svc.upsert(docs)


def http(texts: list[str], work: Path) -> dict[str, Any]:
    home = work / "http-home"
    home.mkdir(parents=True)
    (home / "switchover.toml").write_text(SERVER_TOML, encoding="utf-8")
    with ServerProcess(home) as server, httpx.Client(base_url=server.url, timeout=600) as client:
        assert server.proc is not None
        clock = Clock(cpu=partial(server_cpu_s, server.proc.pid))
        for part in batches(len(texts), HTTP_BATCH):
            body = {
                "documents": [
                    {"id": f"d{i:08d}", "text": texts[i], "metadata": metadata_of(i)} for i in part
                ]
            }
            clock.run([texts[i] for i in part], partial(_put, client, body))
    shutil.rmtree(home, ignore_errors=True)
    return {"batch": HTTP_BATCH, **clock.result(len(texts))}


def _put(client: httpx.Client, body: dict[str, Any]) -> None:
    client.put("/v1/documents", json=body).raise_for_status()


def raw_sqlite(texts: list[str], vectors: np.ndarray, work: Path) -> dict[str, Any]:
    """The same rows by plain ``sqlite3`` into the product's own tables (a fresh store's file),
    log and documents, and the cached vectors appended to a plain file: one commit a batch."""
    path = work / "raw.db"
    SqliteStore(path).close()  # the schema, exactly as the product creates it
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    vec_path = work / "raw.vec"
    fd = os.open(vec_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    started = time.perf_counter()
    for part in batches(len(texts), HTTP_BATCH):
        _raw_batch(conn, fd, texts, vectors, part)
    seconds = time.perf_counter() - started
    conn.close()
    os.close(fd)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    vec_path.unlink()
    shutil.rmtree(work / "raw.db-vectors", ignore_errors=True)
    return {
        "batch": HTTP_BATCH,
        "seconds": round(seconds, 3),
        "us_per_doc": round(seconds / len(texts) * 1e6, 1),
    }


def _raw_batch(
    conn: sqlite3.Connection, fd: int, texts: list[str], vectors: np.ndarray, part: range
) -> None:
    now = time.time()
    rows = [
        (f"d{i:08d}", texts[i], json.dumps(metadata_of(i)), content_hash(texts[i])) for i in part
    ]
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO write_log (op, doc_id, text, metadata, content_hash, created_at)"
        " VALUES ('upsert', ?, ?, ?, ?, ?)",
        [(*r, now) for r in rows],
    )
    conn.executemany(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
        [(*r, part[0] + j + 1) for j, r in enumerate(rows)],
    )
    keys = b"".join(bytes.fromhex(r[3]) for r in rows)
    os.write(fd, keys + vectors[part.start : part.stop].tobytes())
    os.fdatasync(fd)
    conn.execute("COMMIT")


def raw_faiss(vectors: np.ndarray) -> dict[str, Any]:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    started = time.perf_counter()
    for part in batches(len(vectors), HTTP_BATCH):
        index.add_with_ids(
            vectors[part.start : part.stop], np.arange(part.start, part.stop, dtype=np.int64)
        )
    seconds = time.perf_counter() - started
    return {
        "batch": HTTP_BATCH,
        "seconds": round(seconds, 3),
        "us_per_doc": round(seconds / len(vectors) * 1e6, 1),
    }


def _row(label: str, r: dict[str, Any]) -> str:
    return (
        f"| {label} | {r['batch']:,} | {r['docs_per_s']:,.0f} | {r['encode_docs_per_s']:,.0f}"
        f" | {r['own_us_per_doc']:.1f} | {r['own_cpu_us_per_doc']:.1f} |"
    )


def markdown(res: dict[str, Any]) -> list[str]:
    n = res["docs"]
    lines = [
        "# The write path's own cost",
        "",
        f"Run {res['when']} on {res['machine']}; `make bench-writes` (benchmarks/writes.py),"
        f" {n:,} documents, hash embedder at {DIM} dimensions, each document with a two-key"
        " metadata object; periodic snapshots deferred. Own cost per document = (write time"
        " - the bare encode time of the same batches, encoded just before each batch is"
        " written) / documents.",
        "",
        "| path | batch | docs/s | bare encode docs/s | own cost us/doc (wall)"
        " | own cost us/doc (CPU of the writing process) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [_row("`Switchover.upsert`", r) for r in res["facade"]]
    if "http" in res:
        lines.append(_row("HTTP `PUT /v1/documents`", res["http"]))
    raw_s, raw_f = res["raw_sqlite"], res["raw_faiss"]
    lines += [
        "",
        "The raw parts, same rows, same run:",
        "",
        "| part | batch | us/doc |",
        "|---|---:|---:|",
        f"| plain `sqlite3`: log + documents rows, one commit a batch (WAL, synchronous=FULL),"
        " the cached vectors appended to a file (one `write` + `fdatasync` a batch, before the"
        f" commit) | {raw_s['batch']:,} | {raw_s['us_per_doc']:.1f} |",
        f"| FAISS `IndexIDMap2(Flat)` `add_with_ids` | {raw_f['batch']:,}"
        f" | {raw_f['us_per_doc']:.1f} |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--facade-batches", default="256,1000")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10,000 documents")
    args = parser.parse_args()
    quick_mode(args.quick)
    n = 10_000 if args.quick else args.docs
    texts = texts_of(n, seed=n)
    vectors = load_embedder(EMBEDDER).embed_documents(texts)
    res: dict[str, Any] = {"when": now_utc(), "machine": machine(), "docs": n, "facade": []}
    work = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    try:
        for batch in (int(b) for b in args.facade_batches.split(",")):
            res["facade"].append(facade(texts, batch, work))
            print(res["facade"][-1], flush=True)
        if not args.no_http:
            res["http"] = http(texts, work)
            print(res["http"], flush=True)
        res["raw_sqlite"] = raw_sqlite(texts, vectors, work)
        res["raw_faiss"] = raw_faiss(vectors)
        print(res["raw_sqlite"], res["raw_faiss"], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results("writes", res, markdown(res))


if __name__ == "__main__":
    main()
