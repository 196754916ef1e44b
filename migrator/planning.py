"""``migrate plan``: count and time what a proposed target's backfill would cost; create nothing.

Checks the target as ``migrate start`` does (name, layout, metric, embedder, dimension,
search parameters, backend), then counts the live documents and the embedding cache's
hits for the target's embedder, encodes a seeded sample of the corpus's own texts (cache
misses first, as the backfill encodes them) with the target's embedder after a warm-up,
adds their vectors to an empty index of the target's layout and serializes it. Nothing is
registered, stored or cached: the estimate itself is :func:`migrator.estimate.estimate`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import numpy as np

from indexes import Embedder, IndexSpec, VectorIndex, load_embedder
from indexes.errors import InvalidInputError

from .estimate import Measured, MigrationEstimate, estimate
from .registry import IndexRegistry
from .requests import TargetRequest
from .store import Document, Store

MAX_SAMPLE = 4096
WARM_UP = 2  # texts encoded untimed first: the first call pays one-off costs


class Planner:
    def __init__(self, store: Store, registry: IndexRegistry) -> None:
        self.store = store
        self.registry = registry

    def plan(self, request: TargetRequest, sample: int = 128, seed: int = 0) -> MigrationEstimate:
        """The estimate for migrating the primary to ``request``; InvalidInputError (and the
        embedder's own errors) for a target ``migrate start`` would refuse."""
        if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
            raise InvalidInputError(f"sample must be an integer from 1 to {MAX_SAMPLE}")
        source = self.registry.primary()
        spec = request.spec(source.entry.spec.embedder)
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        spec.check_search_params(request.search_params)
        self.registry.backends.check(spec)
        docs = self._documents()
        cached = self.store.cache.get_many(embedder.fingerprint, [d.content_hash for d in docs])
        misses = [d for d in docs if d.content_hash not in cached]
        chosen = _seeded(misses or docs, sample, seed)
        texts = [d.text for d in chosen]
        vectors, encode_s = _timed_encode(embedder, texts)
        add_s, index_bytes, trains = _layout(
            spec, embedder.dim, embedder.fingerprint, chosen, vectors
        )
        measured = Measured(
            documents=len(docs),
            cached=len(docs) - len(misses),
            dim=embedder.dim,
            sample=len(texts),
            encode_s=encode_s,
            add_s=add_s,
            index_bytes=index_bytes,
            trains=trains,
        )
        return estimate(spec.name, embedder.fingerprint, measured)

    def _documents(self) -> list[Document]:
        docs: list[Document] = []
        cursor: str | None = None
        while batch := self.store.log.scan(cursor, 4096):
            docs.extend(batch)
            cursor = batch[-1].id
        return docs


def _seeded(docs: Sequence[Document], n: int, seed: int) -> list[Document]:
    return random.Random(seed).sample(list(docs), min(n, len(docs)))  # noqa: S311 - a sample, not security


def _timed_encode(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0.0
    embedder.embed_documents(texts[:WARM_UP])
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    return vectors, time.perf_counter() - started


def _layout(
    spec: IndexSpec, dim: int, fingerprint: str, docs: Sequence[Document], vectors: np.ndarray
) -> tuple[float, int, bool]:
    """Seconds to add the sample to an empty index of the layout, its serialized bytes, and
    whether the layout trains first (pgvector: not measured here, 0 bytes)."""
    if spec.backend != "faiss" or not docs:
        return 0.0, 0, False
    index = VectorIndex(spec, dim, fingerprint)
    trains = not index.is_trained
    started = time.perf_counter()
    index.backfill({d.id: vectors[i] for i, d in enumerate(docs)})
    add_s = time.perf_counter() - started
    return add_s, len(index.export_state().faiss_bytes), trains
