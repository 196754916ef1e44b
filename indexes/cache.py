"""Embedding cache keyed by (embedder fingerprint, content hash).

Encoding is the slow part of every write, replay and rebuild. Keying vectors by the
fingerprint of the embedder and the hash of the text means a layout-only rebuild or
a log replay never re-encodes text it has seen, while a different model or prompt
(a different fingerprint) can never be served a stale vector. The SQLite-backed
cache lives in ``migrator``; the in-memory one here serves tests and tools.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._checks import check_texts
from .embedder_spec import Embedder


def content_hash(text: str) -> str:
    """sha256 hex of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache(Protocol):
    """Vectors by (fingerprint, content hash); implementations must be thread-safe."""

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes`` (missing hashes are simply absent)."""
        ...

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors by content hash (existing entries may be kept or replaced)."""
        ...


class MemoryEmbeddingCache:
    """A dict-backed, thread-safe :class:`EmbeddingCache`."""

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._vectors)

    def get_many(self, fingerprint: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {h: self._vectors.get((fingerprint, h)) for h in hashes}
        return {h: v for h, v in found.items() if v is not None}

    def put_many(self, fingerprint: str, vectors: Mapping[str, np.ndarray]) -> None:
        frozen = {}
        for h, vec in vectors.items():
            copy = np.array(vec, dtype=np.float32)  # our own copy, immune to caller edits
            copy.flags.writeable = False
            frozen[(fingerprint, h)] = copy
        with self._lock:
            self._vectors.update(frozen)


@dataclass(frozen=True, eq=False)
class CachedEmbedding:
    """Rows for the requested texts and how many texts actually reached the model."""

    vectors: np.ndarray  # (n, dim) float32, row i for texts[i]
    encoded: int  # unique cache misses sent to the model
    hashes: tuple[str, ...] = ()  # the content hash of texts[i]
    fresh: Mapping[str, np.ndarray] | None = None  # the encoded misses by hash (see store)


def embed_documents_cached(
    embedder: Embedder, cache: EmbeddingCache, texts: Sequence[str], *, store: bool = True
) -> CachedEmbedding:
    """Embed ``texts``, encoding only unique cache misses, in one ``embed_documents`` call.

    A cached vector of the wrong shape (a damaged cache) counts as a miss and is
    replaced, so a bad row can never reach an index. ``store=False`` leaves the encoded
    misses (``fresh``) for the caller to put in the cache, in a transaction of its own
    choosing (the write path stores them with the log record, in one commit).
    """
    items = check_texts(texts)
    fingerprint, dim = embedder.fingerprint, embedder.dim
    hashes = tuple(content_hash(t) for t in items)
    text_of = dict(zip(hashes, items, strict=True))  # insertion order: first occurrence
    cached = cache.get_many(fingerprint, list(text_of)) if text_of else {}
    found = {h: v for h, v in cached.items() if np.shape(v) == (dim,)}
    misses = [h for h in text_of if h not in found]
    new: dict[str, np.ndarray] = {}
    if misses:
        fresh = embedder.embed_documents([text_of[h] for h in misses])
        new = dict(zip(misses, fresh, strict=True))
        if store:
            cache.put_many(fingerprint, new)
        if len(misses) == len(items):  # every text new and distinct: the rows as encoded
            rows = np.asarray(fresh, dtype=np.float32).reshape(len(items), dim)
            return CachedEmbedding(rows, len(misses), hashes, new)
        found.update(new)
    if not items:
        return CachedEmbedding(np.empty((0, dim), dtype=np.float32), 0)
    rows = np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
    return CachedEmbedding(rows, len(misses), hashes, new)
