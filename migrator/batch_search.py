"""Batch search: many queries in one request, embedded in one call per embedder.

Every query is checked before any work (one bad query refuses the batch), then routed on
its own (its ``routing_key``, else the batch's), all against the same acknowledged
sequence, so read-your-writes holds for each. The queries an index serves are embedded
together: one encoder call per embedder in play (one in a layout-only migration, at most
two in a canary with a new model; a target's call is bounded like a single read's, and
when it fails or hangs its queries go to the source, embedded there in one call too).
Then each query is searched and answered as a single read would be: its own ``k``,
filter, fallback, counters and shadow sample.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial

from indexes import QueryVectors
from indexes.errors import InvalidInputError, SwitchoverError

from .read_path import Embedded, ReadPath, Routed, SearchResult
from .requests import SearchQuery
from .runtime import IndexRuntime
from .slices import check_fields
from .validation import check_query

log = logging.getLogger(__name__)


def search_batch(
    path: ReadPath,
    queries: Sequence[SearchQuery],
    *,
    include_documents: bool = False,
    routing_key: str | None = None,
    after_seq: int | None = None,
) -> list[SearchResult]:
    """One answer per query, in order, each naming the index that served it; every answer
    includes the write ``after_seq`` (read your writes) and all acknowledged before."""
    reads = _checked(path, queries, routing_key, after_seq)
    reads = _embedded(path, reads)
    return [path.answer(read, include_documents) for read in reads]


def _checked(
    path: ReadPath, queries: Sequence[SearchQuery], routing_key: str | None, after: int | None
) -> list[Routed]:
    limit = path.settings.limits.max_search_batch
    if not queries:
        raise InvalidInputError("the batch is empty; send at least one query")
    if len(queries) > limit:
        raise InvalidInputError(f"the batch has {len(queries)} queries; the limit is {limit}")
    checked = []
    for position, q in enumerate(queries):
        try:
            text, k = check_query(q.query, q.k, path.settings.limits)
            fields = check_fields(q.slice_fields, "slice")
            checked.append((text, k, path.selection(q.where), q.routing_key or routing_key, fields))
        except InvalidInputError as exc:
            raise InvalidInputError(f"queries[{position}]: {exc}") from exc
    acked = path.acked_seq(after)
    routed = []
    for text, k, selection, key, fields in checked:
        serve, fallback = path.reads.route(key, acked, fields, selection)
        routed.append(Routed(text, k, selection, serve, fallback))
    return routed


def _embedded(path: ReadPath, reads: list[Routed]) -> list[Routed]:
    """``reads`` with their vectors: the bounded sides first (a failure moves their queries
    to the source), then every index's queries in one call per embedder."""
    out = list(reads)
    for runtime, positions in _groups(out, bounded=True).items():
        try:
            call = partial(_embed, runtime, [out[i].query for i in positions])
            embedded = runtime.bounded.call(call, path.settings.target_timeout_s)
        except SwitchoverError:
            log.warning("index %s failed to embed a batch; the source answers", runtime.name)
            for i in positions:
                path.reads.failed(runtime.name)
                out[i] = _to_fallback(out[i])
            continue
        _attach(out, positions, embedded)
    for runtime, positions in _groups(out, bounded=False).items():
        _attach(out, positions, _embed(runtime, [out[i].query for i in positions]))
    return out


def _groups(reads: list[Routed], *, bounded: bool) -> dict[IndexRuntime, list[int]]:
    """Positions of the reads still to embed, by the index serving them (bounded: those
    with a fallback, whose call may hang; else the rest)."""
    groups: dict[IndexRuntime, list[int]] = {}
    for i, read in enumerate(reads):
        if read.vectors is None and (read.fallback is not None) == bounded:
            groups.setdefault(read.serve, []).append(i)
    return groups


def _embed(runtime: IndexRuntime, texts: list[str]) -> list[Embedded]:
    started = time.perf_counter()
    vectors = runtime.embedder.embed_queries(texts)
    share_ms = (time.perf_counter() - started) * 1000 / len(texts)
    return [
        Embedded(QueryVectors(vectors.vectors[i : i + 1], vectors.fingerprint), share_ms)
        for i in range(len(texts))
    ]


def _attach(reads: list[Routed], positions: list[int], embedded: list[Embedded]) -> None:
    for i, vectors in zip(positions, embedded, strict=True):
        read = reads[i]
        reads[i] = Routed(
            read.query, read.k, read.selection, read.serve, read.fallback, vectors, read.fell_back
        )


def _to_fallback(read: Routed) -> Routed:
    source = read.fallback or read.serve  # only reads with a fallback are grouped as bounded
    return Routed(read.query, read.k, read.selection, source, None, fell_back=True)
