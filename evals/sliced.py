"""Synthetic slices on a real dataset: a label per document, carried by its questions.

For judging per slice where a dataset has no natural one (SQuAD has no language or
tenant): each document gets a seeded label (``{"lang": "de"}``) in its metadata, and each
question the label of its relevant document, as its slice and as the filter its client
would search with. ``write_beir`` writes the result as a BEIR folder an eval set can be
registered from.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .datasets import Dataset


def label_documents(
    dataset: Dataset, key: str, values: Sequence[str], seed: int, docs: int | None = None
) -> Dataset:
    """The first ``docs`` documents (all by default), each labelled ``{key: value}`` with a
    seeded draw from ``values``; the judged questions on them carry that label as their
    slice and as their filter."""
    rng = random.Random(seed)  # noqa: S311 - seeded labelling, not security
    corpus = dataset.corpus if docs is None else dataset.corpus[:docs]
    labels = {d.id: rng.choice(list(values)) for d in corpus}
    labelled = [replace(d, metadata={**(d.metadata or {}), key: labels[d.id]}) for d in corpus]
    queries = []
    for q in dataset.judged_queries():
        relevant = [doc for doc, score in dataset.qrels[q.id].items() if score > 0]
        if relevant and all(doc in labels for doc in relevant):
            value = labels[relevant[0]]
            queries.append(replace(q, filter={key: value}, slice={key: value}))
    qrels = {q.id: dataset.qrels[q.id] for q in queries}
    return Dataset(labelled, queries, qrels)


def write_beir(dataset: Dataset, folder: Path) -> Path:
    """``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv`` of ``dataset`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for d in dataset.corpus:
            row = {"id": d.id, "title": d.title, "text": d.text, "metadata": d.metadata or {}}
            out.write(json.dumps(row) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for q in dataset.queries:
            out.write(json.dumps(q.to_dict()) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{s}" for q, docs in dataset.qrels.items() for d, s in docs.items()]
    (folder / "qrels.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
