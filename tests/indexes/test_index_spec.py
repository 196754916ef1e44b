"""Index specs: safe names, buildable FAISS layouts, bounded search knobs."""

from __future__ import annotations

from typing import Any

import pytest

from indexes import INDEX_NAME_PATTERN, EmbedderSpec, IndexSpec, InvalidInputError, SearchParams


@pytest.mark.parametrize("name", ["v1", "minilm-hnsw32", "a.b_c-d", "0", "x" * 63])
def test_good_names_are_accepted(name: str) -> None:
    IndexSpec(name=name).validate(8)


@pytest.mark.parametrize("name", ["", "V1", "-v1", ".hidden", "a..b", "a/b", "x" * 64, "v 1"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="index name"):
        IndexSpec(name=name)


def test_the_pattern_is_exported_as_written() -> None:
    assert INDEX_NAME_PATTERN == r"^[a-z0-9][a-z0-9_.-]{0,62}$"


@pytest.mark.parametrize("factory", ["Flat", "HNSW32,Flat", "IVF16,Flat", "IVF16,PQ8x4", "SQ8"])
def test_buildable_factories_validate(factory: str) -> None:
    IndexSpec(name="v1", factory=factory).validate(64)


def test_an_unparsable_factory_reports_faiss_message() -> None:
    with pytest.raises(InvalidInputError, match=r"Flatt.*not buildable at dim 64: .*parse"):
        IndexSpec(name="v1", factory="Flatt").validate(64)


def test_a_factory_that_does_not_fit_the_dim_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not buildable at dim 30"):
        IndexSpec(name="v1", factory="IVF16,PQ8x4").validate(30)


@pytest.mark.parametrize(
    "factory",
    ["HNSW0", "HNSW0,Flat", "PQ1x0", "RR0,Flat", "PCAR0,Flat", "NSG0", "IVF0,Flat", "IVF8,PQ00"],
)
def test_a_factory_with_a_zero_size_is_refused_before_faiss_builds_it(factory: str) -> None:
    """FAISS builds these, then aborts, segfaults, dies on a floating-point error or hangs
    when the index is used: the whole server, from one operator request."""
    with pytest.raises(InvalidInputError, match="must be at least 1"):
        IndexSpec(name="v2", factory=factory).validate(8)


@pytest.mark.parametrize("factory", ["IDMap,Flat", "IDMap2,HNSW32"])
def test_idmap_factories_are_refused(factory: str) -> None:
    with pytest.raises(InvalidInputError, match="IDMap"):
        IndexSpec(name="v1", factory=factory).validate(64)


def test_metric_must_be_ip_or_l2() -> None:
    with pytest.raises(InvalidInputError, match="metric"):
        IndexSpec(name="v1", metric="cosine")  # type: ignore[arg-type]


def test_spec_round_trips_through_a_dict() -> None:
    spec = IndexSpec(
        name="v2", embedder=EmbedderSpec(kind="hash", dim=32), factory="HNSW16,Flat", metric="l2"
    )
    data = spec.to_dict()
    assert data["embedder"]["dim"] == 32
    assert IndexSpec.from_dict(data) == spec


def test_from_dict_needs_a_name_and_refuses_unknown_keys() -> None:
    with pytest.raises(InvalidInputError, match="name"):
        IndexSpec.from_dict({"factory": "Flat"})
    with pytest.raises(InvalidInputError, match=r"unknown key.*'nlist'"):
        IndexSpec.from_dict({"name": "v1", "nlist": 4})
    with pytest.raises(InvalidInputError, match=r"unknown key.*'model_name'"):
        IndexSpec.from_dict({"name": "v1", "embedder": {"model_name": "x"}})


def test_search_params_defaults_and_round_trip() -> None:
    assert SearchParams.from_dict(None) == SearchParams()
    params = SearchParams(ef_search=64, nprobe=8)
    assert SearchParams.from_dict(params.to_dict()) == params


@pytest.mark.parametrize(
    "data",
    [{"ef_search": 0}, {"ef_search": 4097}, {"nprobe": 0}, {"nprobe": 65537}, {"nprobe": 2.0}],
)
def test_search_params_are_bounded(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        SearchParams.from_dict(data)


def test_per_call_params_override_only_what_they_set() -> None:
    runtime = SearchParams(ef_search=64, nprobe=8)
    assert runtime.overridden_by(SearchParams(nprobe=2)) == SearchParams(ef_search=64, nprobe=2)
    assert runtime.overridden_by(None) == runtime
