"""The read path: documents by id, routed searches with their fallback, pinned searches.

Read your writes: a read goes to the target only when the target has applied every write
acknowledged before the read began; while it lags, the source (always applied before
the ack) answers, so an acknowledged write is never missing from a search. A target
read is bounded by ``settings.target_timeout_s``; past it, or when it fails, the source
answers that request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict

from indexes import Hit, QueryVectors
from indexes.errors import (
    ConflictError,
    EmbedderError,
    NotFoundError,
    StorageBusyError,
    SwitchoverError,
)

from .filtered_search import Selection
from .reads import ReadRouter, ServedRead
from .registry import IndexRegistry
from .runtime import IndexRuntime
from .settings import Settings
from .slices import check_fields
from .store import Document, Store
from .validation import check_doc_id, check_filter, check_query

log = logging.getLogger(__name__)

# How long a read naming a write (``after_seq``, the token) waits for this replica to have
# applied it (then 503 with Retry-After).
READ_AFTER_WAIT_S = 1.0


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    served_by: str
    documents: dict[str, Document] | None = None
    fallback: bool = False


@dataclass(frozen=True)
class Embedded:
    """A query's vectors, embedded with others in one call, and its share of that call."""

    vectors: QueryVectors
    embed_ms: float


@dataclass(frozen=True)
class Routed:
    """One checked read and where it goes: the index to serve it, the fallback if that fails."""

    query: str
    k: int
    selection: Selection | None
    serve: IndexRuntime
    fallback: IndexRuntime | None
    vectors: Embedded | None = None
    fell_back: bool = False  # already moved to the source (its target failed the batch)


class SearchOptions(TypedDict, total=False):
    """A routed search's options, as :meth:`ReadPath.search` and the facade take them."""

    include_documents: bool
    routing_key: str | None
    where: Mapping[str, Any] | None  # a metadata filter (indexes/filters.py)
    after_seq: int | None  # a write's sequence the answer must include (read your writes)
    slice_fields: Mapping[str, str] | None  # the query's slice (migrator/slices.py)


class ReadPath:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: IndexRegistry,
        reads: ReadRouter,
        acked_seq: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.reads = reads
        self._acked_seq = acked_seq  # the last write acknowledged (the write path's)

    def get(self, doc_id: str) -> Document:
        check_doc_id(doc_id, self.settings.limits)
        doc = self.store.log.document(doc_id)
        if doc is None:
            raise NotFoundError(f"document {doc_id!r} does not exist")
        return doc

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        include_documents: bool = False,
        routing_key: str | None = None,
        where: Mapping[str, Any] | None = None,
        after_seq: int | None = None,
        slice_fields: Mapping[str, str] | None = None,
    ) -> SearchResult:
        """Route and answer one search; ``where`` is a metadata filter (indexes/filters.py),
        ``after_seq`` a write's sequence the answer must include (read your writes),
        ``slice_fields`` the query's slice ({"tenant": "acme"}; migrator/slices.py)."""
        query, k = check_query(query, k, self.settings.limits)
        selection = self.selection(where)
        fields = check_fields(slice_fields)
        acked = self.acked_seq(after_seq)
        serve, fallback = self.reads.route(routing_key, acked, fields, selection)
        return self.answer(Routed(query, k, selection, serve, fallback), include_documents)

    def acked_seq(self, after_seq: int | None = None) -> int:
        """The sequence a read that begins now must include: the last write acknowledged
        here, or a later one the client names (written through another replica)."""
        acked = self._acked_seq()
        if after_seq is None or after_seq <= acked:
            return acked
        last = self.store.log.last_seq()
        if after_seq > last:  # on PostgreSQL every replica sees a write before it is acked
            raise ConflictError(
                f"write {after_seq} is not in the log yet (its last sequence is {last});"
                " retry once it has replicated"
            )
        self._applied_within(self.registry.primary(), after_seq)
        return after_seq

    def _applied_within(self, runtime: IndexRuntime, seq: int) -> None:
        """Have ``runtime`` (the source, which answers while a target lags) apply the log up
        to ``seq``, waiting at most ``READ_AFTER_WAIT_S``; past it, StorageBusyError (503 with
        Retry-After), nothing read. Another replica's write is applied here by this replica's
        applier within moments; this makes a read naming it wait for that, not miss it."""
        if runtime.index.applied_seq >= seq:
            return
        try:
            runtime.bounded.call(partial(runtime.catch_up, self.store), READ_AFTER_WAIT_S)
        except EmbedderError as exc:
            raise StorageBusyError(
                f"this replica has not applied write {seq} yet ({exc}); retry"
            ) from exc

    def answer(self, read: Routed, include_documents: bool = False) -> SearchResult:
        """Search the routed index; a failing or slow target hands the read to the source."""
        serve, fallback = read.serve, read.fallback
        search = partial(
            self._embed_and_search, serve, read.query, read.k, selection=read.selection,
            pre=read.vectors,
        )  # fmt: skip
        used_fallback = read.fell_back
        try:
            if fallback is None:
                hits, vectors, embed_ms, served_ms = search()
            else:  # a side that may fail or hang: bounded, the source answers instead
                # route() checked it holds every acknowledged write: no catch-up here,
                # so a target read does no write work and never waits for apply locks
                hits, vectors, embed_ms, served_ms = serve.bounded.call(
                    partial(search, catch_up=False), self.settings.target_timeout_s
                )
        except SwitchoverError:
            if fallback is None:
                raise
            self.reads.failed(serve.name)
            log.warning(
                "index %s failed a search; %s answers", serve.name, fallback.name, exc_info=True
            )
            serve, used_fallback = fallback, True
            hits, vectors, embed_ms, served_ms = self._embed_and_search(
                serve, read.query, read.k, selection=read.selection
            )
        ids = [h.id for h in hits]
        served = ServedRead(
            read.query, read.k, serve, ids, served_ms, vectors, embed_ms, read.selection
        )
        self.reads.served(served)
        docs = self.store.log.documents(ids) if include_documents else None
        return SearchResult(hits, serve.name, docs, used_fallback)

    def search_pinned(
        self,
        index_name: str,
        query: str,
        k: int = 10,
        *,
        include_documents: bool = False,
        where: Mapping[str, Any] | None = None,
    ) -> SearchResult:
        """Search one named index version, bypassing routing (eval jobs, debugging)."""
        query, k = check_query(query, k, self.settings.limits)
        selection = self.selection(where)
        runtime = self.registry.get(index_name)
        hits = self._search_on(runtime, query, k, selection=selection)
        docs = self.store.log.documents([h.id for h in hits]) if include_documents else None
        return SearchResult(hits, runtime.name, docs)

    def selection(self, where: Mapping[str, Any] | None) -> Selection | None:
        """The parsed, bounded filter and its lazily resolved ids (None: no filter)."""
        parsed = check_filter(where, self.settings.limits)
        return None if parsed is None else Selection(parsed, self.registry.metadata.select)

    def _embed_and_search(
        self,
        runtime: IndexRuntime,
        query: str,
        k: int,
        *,
        catch_up: bool = True,
        selection: Selection | None = None,
        pre: Embedded | None = None,
    ) -> tuple[list[Hit], QueryVectors, float, float]:
        """Hits, the query's vectors (for the shadow side), embedding and total time in ms.

        Timed where it runs, so the latency guardrail compares the indexes' own work, not
        the hand-off to the worker thread that bounds a target's call.
        """
        started = time.perf_counter()
        if pre is not None and pre.vectors.fingerprint == runtime.embedder.fingerprint:
            vectors, embed_ms = pre.vectors, pre.embed_ms  # embedded with its batch
            started -= embed_ms / 1000
        else:
            vectors = runtime.embed_query(query)
            embed_ms = (time.perf_counter() - started) * 1000
        hits = self._search_on(runtime, query, k, vectors, catch_up=catch_up, selection=selection)
        return hits, vectors, embed_ms, (time.perf_counter() - started) * 1000

    def _search_on(
        self,
        runtime: IndexRuntime,
        query: str,
        k: int,
        vectors: QueryVectors | None = None,
        *,
        catch_up: bool = True,
        selection: Selection | None = None,
    ) -> list[Hit]:
        """Search one index, first closing any gap a failed apply left (read your writes)."""
        if catch_up and runtime.index.applied_seq < self.store.log.last_seq():
            runtime.catch_up(self.store)
        return runtime.search(query, k, vectors=vectors, selection=selection)
