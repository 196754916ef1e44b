"""Through the HTTP API, the default index reaches exact-search recall on SQuAD.

The SQuAD v1.1 dev passages (title + text) are ingested with the real MiniLM
model; a seeded sample of 1,000 questions is searched over HTTP. An independent
exact-search reference on this machine gives recall@10 = 0.921.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from evals import load_dataset, mean, recall_at_k
from tests.conftest import squad_dir
from tests.server import ServerProcess

pytestmark = pytest.mark.slow


def test_squad_recall_at_10_through_http(tmp_path: Path) -> None:
    data = load_dataset(squad_dir())
    queries = data.sample_queries(1000, seed=7)
    with (
        ServerProcess(tmp_path / "home") as server,
        httpx.Client(base_url=server.url, timeout=600) as http,
    ):
        for start in range(0, len(data.corpus), 128):
            batch = [
                {"id": d.id, "text": d.embedding_text(), "metadata": {"title": d.title}}
                for d in data.corpus[start : start + 128]
            ]
            assert http.put("/v1/documents", json={"documents": batch}).status_code == 200
        recalls = []
        for query in queries:
            hits = http.post("/v1/search", json={"query": query.text, "k": 10}).json()["hits"]
            recalls.append(recall_at_k([h["id"] for h in hits], data.qrels[query.id], 10))
        (index,) = http.get("/v1/indexes").json()["indexes"]
    assert index["count"] == len(data.corpus) == 2067
    recall = mean(recalls)
    print(f"SQuAD recall@10 over {len(queries)} questions: {recall:.4f}")
    assert recall >= 0.91
