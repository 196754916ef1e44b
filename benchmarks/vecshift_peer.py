"""vecshift 0.4.0 as a peer: ``vecshift apply`` re-embedding a pgvector column.

vecshift is a migration CLI, not a server: it adds a column next to the old vectors, embeds
every row through an OpenAI-compatible ``/embeddings`` endpoint, and builds the new column's
index. Here the table lives in a private PostgreSQL with pgvector (the ``pgserver`` wheel, as
the tests run it), holds the same passages with the baseline's own MiniLM vectors, and the
endpoint is :mod:`embeddings_server` serving the same MiniLM on 127.0.0.1. Searches are SQL
on the new column (``ORDER BY embedding_v2 <#> q LIMIT 10``): what an application of
vecshift's runs itself, since vecshift has no search server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from embeddings_server import EmbeddingsServer, embed

TABLE = "passages"
NEW_COLUMN = "embedding_v2"


def _vector(row: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in row) + "]"


def load_table(url: str, texts: Sequence[str], ids: Sequence[str], vectors: np.ndarray) -> None:
    """The starting point vecshift migrates from: passages with their current vectors."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        dim = vectors.shape[1]
        conn.execute(
            f"CREATE TABLE {TABLE} (id text PRIMARY KEY, content text NOT NULL,"
            f" embedding vector({dim}))"
        )
        with conn.cursor().copy(f"COPY {TABLE} (id, content, embedding) FROM STDIN") as copy:
            for doc_id, text, row in zip(ids, texts, vectors, strict=True):
                copy.write_row((doc_id, text, _vector(row)))
        conn.execute(f"CREATE INDEX ON {TABLE} USING hnsw (embedding vector_ip_ops)")


def job_yaml(model_spec: str) -> str:
    return (
        "version: 1\nname: peers-bench\nsource:\n  type: pgvector\n  dsn_env: VECSHIFT_DSN\n"
        f"  table: {TABLE}\n  vector_column: embedding\n  text_column: content\n"
        f"target:\n  column: {NEW_COLUMN}\n  vector_type: vector\n  index: hnsw\n"
        f"  metric: inner_product\nmodel: {json.dumps(model_spec)}\n"
    )


def model_spec(url: str, dimensions: int) -> str:
    return f"compat/all-MiniLM-L6-v2,url={url},dims={dimensions},price=0"


def run_apply(
    venv: Path, work: Path, url: str, embeddings: EmbeddingsServer, dimensions: int
) -> dict[str, Any]:
    """``vecshift apply --yes --json``, timed; the arrival time of each progress event kept."""
    home = work / "vecshift"
    home.mkdir()
    (home / "vecshift.yaml").write_text(job_yaml(model_spec(embeddings.url, dimensions)))
    command = [str(venv / "bin" / "vecshift"), "--no-env-file", "apply", "--yes", "--json"]
    env = {**os.environ, "VECSHIFT_DSN": url, "PYTHONPATH": "", "NO_COLOR": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    events = [_event(line, started) for line in proc.stdout]
    code = proc.wait(timeout=3600)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"vecshift apply exited {code}: {events[-5:]}")
    return {"command": " ".join(command[1:]), "seconds": seconds, "events": events}


def _event(line: str, started: float) -> dict[str, Any]:
    at = round(time.perf_counter() - started, 3)
    try:
        return {"at_s": at, **json.loads(line)}
    except ValueError:
        return {"at_s": at, "text": line.strip()}


def phases(events: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """When the first and last batch were written and the index build began and ended."""
    batches = [e["at_s"] for e in events if _kind(e) == "batch"]
    index = [e["at_s"] for e in events if _kind(e) == "index"]
    return {
        "first_batch_s": batches[0] if batches else None,
        "last_batch_s": batches[-1] if batches else None,
        "index_start_s": index[0] if index else None,
        "index_end_s": index[-1] if len(index) > 1 else None,
    }


def _kind(event: dict[str, Any]) -> str:
    return str(event.get("event") or event.get("kind") or event.get("type") or "")


def rows_migrated(url: str) -> int:
    with psycopg.connect(url) as conn:
        query = f"SELECT count({NEW_COLUMN}) FROM {TABLE}"  # noqa: S608 - constants
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def sql_search(url: str, model: Any, dimensions: int) -> tuple[Callable[[str], list[str]], Any]:
    """Top 10 by inner product on the new column, through its HNSW index (default ef 40)."""
    conn = psycopg.connect(url, autocommit=True)

    def search(query: str) -> list[str]:
        q = _vector(embed(model, [query], dimensions)[0])
        rows = conn.execute(
            f"SELECT id FROM {TABLE} ORDER BY {NEW_COLUMN} <#> %s::vector LIMIT 10",  # noqa: S608 - constants
            (q,),
        ).fetchall()
        return [r[0] for r in rows]

    return search, conn.close


def version(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import vecshift; print(vecshift.__version__)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return out.stdout.strip() or "unknown"
