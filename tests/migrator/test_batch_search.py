"""Batch search in a canary: each query routed by its own key like a single read, one
encoder call per embedder, and a target that fails its batch hands its queries to the source."""

from __future__ import annotations

from typing import Any

import pytest

from indexes import EmbedderSpec
from indexes.errors import EmbedderError
from migrator import ActionRequest, SearchQuery, Switchover
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill, doc

NEW_MODEL = EmbedderSpec(kind="hash", dim=32)


def canary(service: Switchover, percent: float) -> None:
    service.upsert([doc(i) for i in range(120)])
    mid = service.create_migration(migration("v2", "Flat", embedder=NEW_MODEL), "alice").id
    backfill(service, mid)
    service.migration_action(mid, "shadow", ActionRequest(), "alice")
    service.migration_action(mid, "canary", ActionRequest(percent=percent, override=True), "alice")


def count_calls(service: Switchover, name: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    embedder = service.runtime(name).embedder
    calls: list[int] = []
    original = embedder.embed_queries

    def counting(texts: Any) -> Any:
        calls.append(len(texts))
        return original(texts)

    monkeypatch.setattr(embedder, "embed_queries", counting)
    return calls


def test_each_query_goes_where_its_routing_key_sends_a_single_read(
    service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary(service, 50)
    keys = [f"tenant-{i}" for i in range(24)]
    expected = [service.search("lamp tide", 3, routing_key=key).served_by for key in keys]
    assert set(expected) == {"v1", "v2"}, "a 50% canary sends some keys to each side"
    source_calls = count_calls(service, "v1", monkeypatch)
    target_calls = count_calls(service, "v2", monkeypatch)
    queries = [SearchQuery("lamp tide", 3, routing_key=key) for key in keys]
    results = service.search_batch(queries)
    assert [r.served_by for r in results] == expected
    assert source_calls == [expected.count("v1")], "one encoder call per embedder"
    assert target_calls == [expected.count("v2")]


def test_the_batch_routing_key_applies_to_queries_without_their_own(service: Switchover) -> None:
    canary(service, 50)
    key = next(
        k
        for k in (f"k{i}" for i in range(100))
        if service.search("x", 1, routing_key=k).served_by == "v2"
    )
    other = next(
        k
        for k in (f"k{i}" for i in range(100))
        if service.search("x", 1, routing_key=k).served_by == "v1"
    )
    results = service.search_batch(
        [SearchQuery("lamp"), SearchQuery("lamp", routing_key=other)], routing_key=key
    )
    assert [r.served_by for r in results] == ["v2", "v1"]


def test_a_target_that_fails_to_embed_its_queries_hands_them_to_the_source(
    service: Switchover, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary(service, 99.99)

    def broken(_texts: Any) -> Any:
        raise EmbedderError("target model is down")

    monkeypatch.setattr(service.runtime("v2").embedder, "embed_queries", broken)
    errors_before = service.traffic().errors["v2"]
    keys = [k for k in (f"k{i}" for i in range(50)) if service.reads.route(k)[0].name == "v2"]
    queries = [SearchQuery(f"lamp {i}", 2, routing_key=key) for i, key in enumerate(keys[:5])]
    results = service.search_batch(queries)
    assert [r.served_by for r in results] == ["v1"] * 5
    assert all(r.fallback and len(r.hits) == 2 for r in results)
    assert service.traffic().errors["v2"] == errors_before + 5
