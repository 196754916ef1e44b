"""Eval sets: a seeded sample of a BEIR-layout folder's queries, fixed at registration.

The sampled queries (and their judgements, when the folder has ``qrels.tsv``) are stored
with the sha256 of the folder's files, so a judgement can always say exactly what judged
it. A folder without qrels but with ``corpus.jsonl`` also gets seeded known-item queries
(sentences of its documents, each answered by its own document; :mod:`evals.known_items`),
the truth when the embedder changes (:mod:`migrator.truth`).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path

from evals import Query, known_items, load_corpus, load_qrels, load_queries
from indexes import INDEX_NAME_PATTERN
from indexes.errors import InvalidInputError
from indexes.filters import parse_filter

from .slices import MAX_SLICES, check_fields
from .store import EvalSetRecord

MAX_SAMPLE = 20_000
FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


def folder_hash(folder: Path) -> str:
    """sha256 over the BEIR files present in ``folder`` (name and bytes)."""
    digest = hashlib.sha256()
    for name in FILES:
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def confined_folder(path: str, roots: Sequence[Path]) -> Path:
    """``path`` resolved (symlinks followed), if it and its BEIR files lie in ``roots``.

    Registering reads the folder's files on the server, so a path, or a link inside an
    allowed folder, that leads anywhere else is refused (InvalidInputError, a 422) with
    the allowed roots named. The resolved paths are what is read afterwards.
    """
    allowed = ", ".join(str(r) for r in roots) or "none configured"
    try:
        folder = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL byte
        raise InvalidInputError(f"{path}: not a folder with queries.jsonl (BEIR layout)") from None
    files = [folder / n for n in FILES if (folder / n).exists()]
    for real in [folder, *(f.resolve() for f in files)]:
        if not any(real.is_relative_to(root) for root in roots):
            raise InvalidInputError(
                f"{path}: {real} is outside the eval data roots ({allowed});"
                " set [server] eval_data_roots in switchover.toml to allow another folder"
            )
    return folder


def build_eval_set(
    name: str, path: str, sample: int, seed: int, roots: Sequence[Path]
) -> EvalSetRecord:
    """Validate and sample; the record the store keeps (nothing is written here).

    ``roots``: the resolved folders the eval set's files must lie in (see
    :func:`confined_folder`)."""
    if not isinstance(name, str) or not re.fullmatch(INDEX_NAME_PATTERN, name):
        raise InvalidInputError(f"eval set name must match {INDEX_NAME_PATTERN}")
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
        raise InvalidInputError(f"sample must be an integer from 1 to {MAX_SAMPLE}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInputError("seed must be an integer")
    folder = confined_folder(path, roots)
    if not folder.is_dir() or not (folder / "queries.jsonl").is_file():
        raise InvalidInputError(f"{path}: not a folder with queries.jsonl (BEIR layout)")
    queries = load_queries(folder / "queries.jsonl")
    check_query_scopes(queries, str(folder / "queries.jsonl"))
    labelled = (folder / "qrels.tsv").is_file()
    qrels = load_qrels(folder / "qrels.tsv") if labelled else {}
    pool = [q for q in queries if q.id in qrels] if labelled else queries
    if not pool:
        raise InvalidInputError(f"{path}: no {'judged ' if labelled else ''}queries")
    chosen = pool if sample >= len(pool) else random.Random(seed).sample(pool, sample)  # noqa: S311 - seeded sampling
    return EvalSetRecord(
        name=name,
        path=str(folder),
        sample=len(chosen),
        seed=seed,
        content_hash=folder_hash(folder),
        labelled=labelled,
        queries=[q.to_dict() for q in chosen],
        qrels={q.id: qrels[q.id] for q in chosen} if labelled else {},
        created_at=time.time(),
        known_items=[] if labelled else _known_items(folder, sample, seed),
    )


def _known_items(folder: Path, sample: int, seed: int) -> list[dict[str, str]]:
    """Seeded known-item queries from the folder's corpus ([] without ``corpus.jsonl``)."""
    corpus = folder / "corpus.jsonl"
    if not corpus.is_file():
        return []
    return [item.to_dict() for item in known_items(load_corpus(corpus), sample, seed)]


def queries_of(record: EvalSetRecord) -> list[Query]:
    return [Query(q["id"], q["text"], q.get("filter"), q.get("slice")) for q in record.queries]


def check_query_scopes(queries: Sequence[Query], where: str) -> None:
    """Every query's filter parses and its slice label is well formed; at most
    ``MAX_SLICES`` distinct slices (InvalidInputError names the first bad query)."""
    labels = set()
    for q in queries:
        try:
            if q.filter is not None:
                parse_filter(q.filter)
            fields = check_fields(q.slice)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: query {q.id!r}: {exc}") from exc
        if fields is not None:
            labels.add(tuple(sorted(fields.items())))
    if len(labels) > MAX_SLICES:
        raise InvalidInputError(
            f"{where}: {len(labels)} distinct slices; an eval set may name at most {MAX_SLICES}"
        )
