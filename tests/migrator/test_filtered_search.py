"""Filtered search through the facade: the filter follows every write, routes like any
read, and the shadow side judges the same filtered question."""

from __future__ import annotations

from dataclasses import replace

import pytest

from indexes.errors import InvalidInputError
from indexes.filters import parse_filter
from migrator import ActionRequest, DocumentIn, Switchover
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill, doc

LANGS = ["de", "en", "fr", "it"]


def tagged(i: int, lang: str | None = None) -> DocumentIn:
    plain = doc(i)
    return replace(plain, metadata={"lang": lang or LANGS[i % 4], "n": i})


def write(service: Switchover, n: int) -> None:
    for start in range(0, n, 200):
        service.upsert([tagged(i) for i in range(start, min(n, start + 200))])


def test_every_hit_matches_and_k_come_back_under_a_selective_filter(service: Switchover) -> None:
    write(service, 400)
    result = service.search("lamp tide gear", 10, where={"n": {"lt": 40}, "lang": "de"})
    assert len(result.hits) == 10
    assert all(int(h.id[1:]) < 40 and int(h.id[1:]) % 4 == 0 for h in result.hits)
    few = service.search("lamp tide gear", 10, where={"n": {"in": [3, 7, 390]}})
    assert sorted(h.id for h in few.hits) == ["d0003", "d0007", "d0390"]
    assert service.search("lamp", 5, where={"lang": "xx"}).hits == []


def test_a_filter_sees_a_write_as_soon_as_it_is_acknowledged(service: Switchover) -> None:
    service.upsert([tagged(i) for i in range(50)])
    service.upsert([tagged(1, "xx")])
    assert [h.id for h in service.search("lamp", 5, where={"lang": "xx"}).hits] == ["d0001"]
    service.upsert([tagged(1, "de")])  # moved out of the slice again
    assert service.search("lamp", 5, where={"lang": "xx"}).hits == []
    service.upsert([tagged(2, "xx")])
    service.delete("d0002")
    assert service.search("lamp", 5, where={"lang": "xx"}).hits == []


def test_a_pinned_search_takes_the_filter_too(service: Switchover) -> None:
    service.upsert([tagged(i) for i in range(40)])
    hits = service.search_pinned("v1", "lamp", 20, where={"not": {"lang": {"in": LANGS[1:]}}}).hits
    assert len(hits) == 10
    assert all(int(h.id[1:]) % 4 == 0 for h in hits)


def test_a_malformed_filter_is_refused_before_anything_runs(service: Switchover) -> None:
    service.upsert([tagged(i) for i in range(5)])
    served_before = service.traffic().served
    with pytest.raises(InvalidInputError, match=r"filter\.lang\.in: 'in' takes a non-empty"):
        service.search("lamp", 5, where={"lang": {"in": []}})
    deep: dict[str, object] = {"lang": "de"}
    for _ in range(8):
        deep = {"not": deep}
    with pytest.raises(InvalidInputError, match="deeper than 8"):
        service.search("lamp", 5, where=deep)
    with pytest.raises(InvalidInputError, match="more than 1024 values"):
        service.search("lamp", 5, where={"n": {"in": list(range(1025))}})
    assert service.traffic().served == served_before


def test_the_shadow_side_runs_the_same_filter(service: Switchover) -> None:
    write(service, 300)
    mid = service.create_migration(migration("v2", "Flat", shadow_sample=1.0), "alice").id
    backfill(service, mid)
    service.migration_action(mid, "shadow", ActionRequest(), "alice")
    service.reads.start()
    for i in range(10):
        hits = service.search(f"lamp tide document {i}", 5, where={"n": {"gte": 290}}).hits
        assert all(int(h.id[1:]) >= 290 for h in hits)
    service.reads.shadow.drain()
    reads = service.store.shadow.recent(mid)
    assert len(reads) == 10
    assert all(r.overlap == 1.0 for r in reads), "the same vectors, the same filter: one answer"


def test_a_repeated_filter_is_resolved_once_until_the_next_write(service: Switchover) -> None:
    write(service, 20)
    metadata = service.registry.metadata
    first = metadata.select(parse_filter({"n": {"lt": 5}}))
    assert metadata.select(parse_filter({"n": {"lt": 5}})) is first
    service.upsert([tagged(3, "xx")])
    assert metadata.select(parse_filter({"n": {"lt": 5}})) is not first
    assert metadata.select(parse_filter({"n": 1})) != metadata.select(parse_filter({"n": True}))
