"""Through the HTTP API, the default index reaches exact-search recall on SQuAD.

SQuAD v1.1 dev passages (title + text) are ingested over HTTP with the real MiniLM model,
and a seeded sample of their questions is searched over HTTP. The reference is exact
search computed here, in the test process, with the same model over the same passages:
the served ``Flat`` index must reach it (up to a rounding of vector maths between two
processes). The short form takes a seeded 500-passage subset and 500 of its questions;
``make test-full`` takes all 2,067 passages and 1,000 questions (recall@10 about 0.92).
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import numpy as np
import pytest

from evals import Dataset, load_dataset, mean, recall_at_k
from indexes import EmbedderSpec, load_embedder
from tests.conftest import squad_dir
from tests.forms import size
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

PASSAGES = size(500, 2067)
QUESTIONS = size(500, 1000)


def subset(data: Dataset, n: int) -> Dataset:
    """``n`` seeded passages and the questions whose every answer is among them."""
    corpus = data.corpus if n >= len(data.corpus) else random.Random(7).sample(data.corpus, n)
    return data.answered_within([d.id for d in corpus])


def exact_recall(data: Dataset, questions: list[str], ids: list[str]) -> float:
    """Recall@10 of exact inner-product search with MiniLM, in this process."""
    embedder = load_embedder(EmbedderSpec())
    docs = embedder.embed_documents([d.embedding_text() for d in data.corpus])
    queries = embedder.embed_queries(questions).vectors
    top = np.argsort(-(queries @ docs.T), axis=1)[:, :10]
    ranked = [[data.corpus[j].id for j in row] for row in top]
    return mean([recall_at_k(r, data.qrels[q], 10) for r, q in zip(ranked, ids, strict=True)])


def test_squad_recall_at_10_through_http(tmp_path: Path) -> None:
    data = subset(load_dataset(squad_dir()), PASSAGES)
    queries = data.sample_queries(QUESTIONS, seed=7)
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
    assert index["count"] == len(data.corpus) == PASSAGES
    recall = mean(recalls)
    reference = exact_recall(data, [q.text for q in queries], [q.id for q in queries])
    print(f"SQuAD recall@10, {len(queries)} questions: HTTP {recall:.4f}, exact {reference:.4f}")
    assert recall >= reference - 0.002
    assert reference >= 0.9  # MiniLM on SQuAD: a broken embedder or corpus would fall far below
