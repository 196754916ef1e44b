"""Filtered search against brute force on seeded random metadata, at 50% down to 0.1%.

Metadata never lives in a FAISS index, so one index per layout serves every example:
hypothesis draws the documents' metadata (a seed), a selectivity and an extra random
filter; the hits must all satisfy the filter, ``min(k, matching)`` of them must come
back, and on Flat they must be the exact filtered top ``k``.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexes import VectorIndex
from indexes.filters import And, Filter, Range
from migrator.filtered_search import Selection, over_fetch, search_selected
from migrator.metadata_index import MetadataPostings
from tests.indexes.helpers import doc_ids, make_index, queries, unit_vectors
from tests.indexes.test_filters import filters

N = 10_000
K = 10
DOCS = doc_ids(N)
VECTORS = unit_vectors(N, dim=32, seed=0)
PROBE = unit_vectors(5, dim=32, seed=1)
SELECTIVITY = [0.5, 0.1, 0.01, 0.001]


@cache
def index(factory: str) -> VectorIndex:
    built = make_index(factory, dim=32)
    if not built.is_trained:
        built.train(VECTORS[:2000])
    built.apply(1, dict(zip(DOCS, VECTORS, strict=True)))
    return built


@cache
def metadata(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    langs, tenants = ["de", "en", "fr"], ["acme", "globex", "initech", "umbrella"]
    return [
        {
            "bucket": rng.randrange(1000),  # bucket < 1000 * s selects a share s
            "lang": rng.choice(langs),
            "tenant": rng.choice(tenants),
            "year": rng.randrange(-9, 10),
            "tags": rng.sample(["a", "b", "c", "d"], rng.randrange(3)),
        }
        for _ in range(N)
    ]


@cache
def postings(seed: int) -> MetadataPostings:
    table = MetadataPostings()
    for doc_id, m in zip(DOCS, metadata(seed), strict=True):
        table.put(doc_id, m)
    return table


def brute_force(meta: list[dict[str, Any]], where: Filter) -> list[list[str]]:
    """The exact filtered top ``K`` of every probe query, by numpy over the matching rows."""
    keep = np.array([i for i, m in enumerate(meta) if where.matches(m)], dtype=np.int64)
    scores = PROBE @ VECTORS[keep].T
    return [[DOCS[keep[j]] for j in np.argsort(-row, kind="stable")[:K]] for row in scores]


SEEDS = st.integers(0, 3)  # four metadata draws, built once each (10,000 documents apiece)


@given(seed=SEEDS, share=st.sampled_from(SELECTIVITY), extra=filters)
@settings(max_examples=15, deadline=None)
def test_postings_select_exactly_what_the_filter_matches(
    seed: int, share: float, extra: Filter
) -> None:
    meta, table = metadata(seed), postings(seed)
    for where in (extra, And((Range("bucket", lt=1000 * share), extra))):
        assert table.select(where) == {
            d for d, m in zip(DOCS, meta, strict=True) if where.matches(m)
        }


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF64,Flat"])
@given(seed=SEEDS, share=st.sampled_from(SELECTIVITY), extra=filters)
@settings(max_examples=15, deadline=None)
def test_filtered_search_is_exact_with_respect_to_the_filter(
    factory: str, seed: int, share: float, extra: Filter
) -> None:
    meta, table = metadata(seed), postings(seed)
    for where in (Range("bucket", lt=1000 * share), And((Range("bucket", lt=1000 * share), extra))):
        selection = Selection(where, lambda w: frozenset(table.select(w)))
        matching = len(selection.allowed())
        results = search_selected(index(factory), queries(PROBE), K, selection)
        for hits in results:
            ids = [h.id for h in hits]
            assert all(where.matches(meta[int(i[1:])]) for i in ids), "no hit violates it"
            assert len(ids) == min(K, matching), "k hits whenever k documents match"
        if factory == "Flat":
            assert [[h.id for h in hits] for hits in results] == brute_force(meta, where)


@given(seed=SEEDS, share=st.sampled_from(SELECTIVITY))
@settings(max_examples=10, deadline=None)
def test_bounded_over_fetch_equals_exact_filtered_search_on_flat(seed: int, share: float) -> None:
    where = Range("bucket", lt=1000 * share)
    allowed = frozenset(postings(seed).select(where))
    results = over_fetch(index("Flat"), queries(PROBE), K, allowed)
    assert [[h.id for h in hits] for hits in results] == brute_force(metadata(seed), where)
