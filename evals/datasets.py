"""BEIR-layout datasets: ``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv``.

``corpus.jsonl`` rows are ``{"id", "text", "title"?, "metadata"?}``; ``queries.jsonl``
rows ``{"id", "text", "filter"?, "slice"?}``: ``filter`` a metadata filter the query is
searched with (indexes/filters.py), ``slice`` its slice label as fields, e.g.
``{"lang": "de"}`` (judged per slice; migrator/slices.py); ``qrels.tsv`` has the header
``query-id corpus-id score``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexes.errors import InvalidInputError


@dataclass(frozen=True)
class CorpusDoc:
    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] | None = None

    def embedding_text(self) -> str:
        """What gets embedded and stored: the title (when there is one) above the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    filter: dict[str, Any] | None = None  # searched with this metadata filter
    slice: dict[str, str] | None = None  # its slice label: {"lang": "de"}

    def to_dict(self) -> dict[str, Any]:
        """The stored form: id and text, and the filter and slice when it has them."""
        row: dict[str, Any] = {"id": self.id, "text": self.text}
        if self.filter is not None:
            row["filter"] = self.filter
        if self.slice is not None:
            row["slice"] = self.slice
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any], where: str) -> Query:
        """A query row; InvalidInputError names a missing field or a wrong type."""
        qid, text = row.get("id", row.get("_id")), row.get("text")
        if not isinstance(qid, str) or not isinstance(text, str):
            raise InvalidInputError(f"{where}: needs string fields 'id' and 'text'")
        where_filter, label = row.get("filter"), row.get("slice")
        if where_filter is not None and not isinstance(where_filter, dict):
            raise InvalidInputError(f"{where}: 'filter' must be an object (a metadata filter)")
        if label is not None and not (
            isinstance(label, dict)
            and label
            and all(isinstance(k, str) and isinstance(v, str) for k, v in label.items())
        ):
            raise InvalidInputError(
                f'{where}: \'slice\' must be an object of string fields, e.g. {{"lang": "de"}}'
            )
        return cls(qid, text, where_filter, label)


@dataclass(frozen=True)
class Dataset:
    corpus: list[CorpusDoc]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}

    def judged_queries(self) -> list[Query]:
        return [q for q in self.queries if any(s > 0 for s in self.qrels.get(q.id, {}).values())]

    def answered_within(self, doc_ids: Collection[str]) -> Dataset:
        """The documents ``doc_ids`` names and the queries whose every qrel lies among them
        (a subset that keeps its questions answerable: nothing relevant is left out)."""
        ids = set(doc_ids)
        queries = [q for q in self.queries if q.id in self.qrels and set(self.qrels[q.id]) <= ids]
        return Dataset(
            [d for d in self.corpus if d.id in ids],
            queries,
            {q.id: self.qrels[q.id] for q in queries},
        )

    def sample_queries(self, n: int, seed: int) -> list[Query]:
        """A seeded sample of ``n`` judged queries (all of them if fewer), in sampled order."""
        judged = self.judged_queries()
        if n >= len(judged):
            return judged
        return random.Random(seed).sample(judged, n)  # noqa: S311 - seeded sampling


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; InvalidInputError names a bad line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path}:{number}: expected a JSON object")
            yield number, row


def corpus_doc(row: dict[str, Any], where: str) -> CorpusDoc:
    doc_id, text = row.get("id", row.get("_id")), row.get("text")
    if not isinstance(doc_id, str) or not isinstance(text, str):
        raise InvalidInputError(f"{where}: needs string fields 'id' and 'text'")
    title = row.get("title") or ""
    metadata = row.get("metadata")
    if not isinstance(title, str) or not (metadata is None or isinstance(metadata, dict)):
        raise InvalidInputError(f"{where}: 'title' must be a string and 'metadata' an object")
    return CorpusDoc(doc_id, text, title, metadata)


def load_corpus(path: Path) -> list[CorpusDoc]:
    return [corpus_doc(row, f"{path}:{n}") for n, row in iter_jsonl(path)]


def load_queries(path: Path) -> list[Query]:
    return [Query.from_row(row, f"{path}:{number}") for number, row in iter_jsonl(path)]


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t")[:3] != ["query-id", "corpus-id", "score"]:
        raise InvalidInputError(f"{path}: first line must be 'query-id<TAB>corpus-id<TAB>score'")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
        except (IndexError, ValueError) as exc:
            raise InvalidInputError(
                f"{path}:{number}: expected query-id, corpus-id, score"
            ) from exc
    return qrels


def load_dataset(folder: Path) -> Dataset:
    """Load a BEIR-layout folder; a missing file is a clear InvalidInputError."""
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / name).is_file():
            raise InvalidInputError(f"{folder}: missing {name} (BEIR layout expected)")
    return Dataset(
        corpus=load_corpus(folder / "corpus.jsonl"),
        queries=load_queries(folder / "queries.jsonl"),
        qrels=load_qrels(folder / "qrels.tsv"),
    )
