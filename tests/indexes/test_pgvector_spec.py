"""A pgvector version's spec: layouts and knobs are checked before PostgreSQL sees them."""

from __future__ import annotations

import pytest

from indexes import IndexSpec, InvalidInputError, SearchParams
from indexes.pgvector_layout import PgLayout, parse_layout

from .helpers import HASH_SPEC


def pg_spec(factory: str, metric: str = "ip") -> IndexSpec:
    return IndexSpec.from_dict(
        {
            "name": "p1",
            "embedder": HASH_SPEC.to_dict(),
            "factory": factory,
            "metric": metric,
            "backend": "pgvector",
        }
    )


@pytest.mark.parametrize(
    ("factory", "layout"),
    [
        ("flat", PgLayout("flat")),
        ("hnsw", PgLayout("hnsw", m=16, ef_construction=64)),
        ("hnsw()", PgLayout("hnsw")),
        ("hnsw(m=32, ef_construction=128)", PgLayout("hnsw", m=32, ef_construction=128)),
        ("hnsw(ef_construction=200)", PgLayout("hnsw", ef_construction=200)),
        ("ivfflat(lists=100)", PgLayout("ivfflat", lists=100)),
        (" ivfflat( lists = 1 ) ", PgLayout("ivfflat", lists=1)),
    ],
)
def test_a_pgvector_layout_reads_with_pgvectors_defaults(factory: str, layout: PgLayout) -> None:
    assert parse_layout(factory) == layout
    assert pg_spec(factory).backend == "pgvector"


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        ("HNSW32,Flat", "is not one of"),
        ("Flat", "is not one of"),
        ("hnsw(", "is not one of"),
        ("ivfflat", "ivfflat needs lists"),
        ("ivfflat()", "ivfflat needs lists"),
        ("hnsw(lists=4)", "hnsw has no option 'lists'"),
        ("flat(m=4)", "flat has no option 'm'"),
        ("hnsw(m=16, m=8)", "m is given twice"),
        ("hnsw(m=sixteen)", "is not name=integer"),
        ("hnsw(m=-1)", "is not name=integer"),
        ("hnsw(m=1)", "m must be from 2 to 100"),
        ("hnsw(m=101)", "m must be from 2 to 100"),
        ("hnsw(m=40)", "ef_construction (64) must be at least 2 x m (80)"),
        ("hnsw(ef_construction=1001)", "ef_construction must be from 4 to 1000"),
        ("ivfflat(lists=0)", "lists must be from 1 to 32768"),
        ("ivfflat(lists=40000)", "lists must be from 1 to 32768"),
        ("ivfflat(lists=9999999)", "is not name=integer"),
    ],
)
def test_a_bad_pgvector_layout_is_refused_naming_what_is_wrong(factory: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match="pgvector layout") as err:
        pg_spec(factory)
    assert says in str(err.value)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"backend must be one of \['faiss', 'pgvector'\]"):
        IndexSpec(name="p1", backend="qdrant")  # type: ignore[arg-type]  # the point of the test


def test_the_backend_round_trips_and_faiss_stays_the_default() -> None:
    spec = pg_spec("hnsw(m=8, ef_construction=32)", "l2")
    assert IndexSpec.from_dict(spec.to_dict()) == spec
    old = {"name": "v1", "factory": "Flat", "metric": "ip"}  # a catalog row from before
    assert IndexSpec.from_dict(old).backend == "faiss"
    assert IndexSpec(name="v1").to_dict()["backend"] == "faiss"


def test_indexed_layouts_take_at_most_2000_dimensions() -> None:
    pg_spec("flat").validate(4096)  # an exact scan has no index to limit it
    pg_spec("hnsw").validate(2000)
    with pytest.raises(InvalidInputError, match="at most 2000 dimensions"):
        pg_spec("ivfflat(lists=4)").validate(2001)


def test_knobs_beyond_pgvectors_bounds_are_refused() -> None:
    spec = pg_spec("hnsw")
    spec.check_search_params(SearchParams(ef_search=1000, nprobe=32768))
    with pytest.raises(InvalidInputError, match=r"hnsw\.ef_search\) must be from 1 to 1000"):
        spec.check_search_params(SearchParams(ef_search=1001))
    with pytest.raises(InvalidInputError, match=r"ivfflat\.probes\) must be from 1 to 32768"):
        spec.check_search_params(SearchParams(nprobe=32769))
    IndexSpec(name="v1", factory="HNSW32,Flat").check_search_params(SearchParams(ef_search=4096))


def test_exact_layouts_are_known_on_both_backends() -> None:
    assert pg_spec("flat").is_exact
    assert not pg_spec("hnsw").is_exact
    assert IndexSpec(name="v1", factory="Flat").is_exact
    assert not IndexSpec(name="v1", factory="HNSW32,Flat").is_exact
