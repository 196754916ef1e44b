"""Seeded synthetic data and small builders shared by the indexes tests."""

from __future__ import annotations

import numpy as np

from indexes import (
    EmbedderSpec,
    Hit,
    IndexBackend,
    IndexSpec,
    Metric,
    QueryVectors,
    SearchParams,
    VectorIndex,
)

DIM = 64
FINGERPRINT = "f" * 64
HASH_SPEC = EmbedderSpec(kind="hash", dim=DIM)
# "np" skips polysemous training, which costs ~1 s per IVF-PQ train on this machine
FACTORIES = ["Flat", "HNSW32,Flat", "IVF16,Flat", "IVF16,PQ8x4np"]
EXHAUSTIVE = SearchParams(ef_search=512, nprobe=16)  # HNSW/IVF visit (nearly) everything


def unit_vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``n`` random unit vectors, float32, reproducible from ``seed``."""
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    unit: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit


def make_index(
    factory: str = "Flat",
    metric: Metric = "ip",
    *,
    dim: int = DIM,
    auto_train_size: int | None = None,
    search_params: SearchParams | None = None,
) -> VectorIndex:
    spec = IndexSpec(name="t1", embedder=HASH_SPEC, factory=factory, metric=metric)
    return VectorIndex(spec, dim, FINGERPRINT, search_params, auto_train_size=auto_train_size)


def queries(vectors: np.ndarray, fingerprint: str = FINGERPRINT) -> QueryVectors:
    return QueryVectors(np.atleast_2d(vectors).astype(np.float32), fingerprint)


def doc_ids(n: int, prefix: str = "d") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def ready_index(
    factory: str, n: int = 800, seed: int = 0
) -> tuple[VectorIndex, dict[str, np.ndarray]]:
    """An index holding ``n`` seeded docs (trained if the layout needs it), at seq 1."""
    index = make_index(factory)
    vectors = unit_vectors(n, seed=seed)
    if not index.is_trained:
        index.train(unit_vectors(1000, seed=seed + 1000))
    docs = dict(zip(doc_ids(n), vectors, strict=True))
    index.apply(1, docs)
    return index, docs


def brute_force(docs: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[str]:
    ids = list(docs)
    scores = np.stack([docs[i] for i in ids]) @ query
    return [ids[j] for j in np.argsort(-scores, kind="stable")[:k]]


def hit_ids(hits: list[Hit]) -> list[str]:
    return [h.id for h in hits]


def is_trained(index: IndexBackend) -> bool:
    """``index.is_trained``, read through a call: a test that asserts it false, then trains
    the index, then asserts it true reads a property mypy would keep narrowed to ``False``
    across the calls that change it (and take the second assert as unreachable)."""
    return index.is_trained
