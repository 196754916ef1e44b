"""``POST /v1/migrations/plan`` (``switchover migrate plan``): a proposed target's backfill,
estimated from a timed sample of the corpus's own texts, and nothing created.

The estimate's accuracy against a measured backfill is a benchmark
(benchmarks/results/plan_estimate.md); here: what it counts, that it checks the target as
a start does, and that it changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexes.model_catalog import MPNET
from migrator.estimate import Measured, estimate
from tests.conftest import OPERATOR, SAMPLE_DIR

pytestmark = pytest.mark.documents(40)

NEW_MODEL = {"kind": "hash", "dim": 96}


def plan(client: TestClient, status: int = 200, **target: Any) -> dict[str, Any]:
    body = {"target": {"name": "v2", "factory": "Flat", **target}, "sample": 16, "seed": 3}
    response = client.post("/v1/migrations/plan", json=body, headers=OPERATOR)
    assert response.status_code == status, response.text
    return dict(response.json())


def nothing_created(client: TestClient, cached_before: dict[str, Any]) -> None:
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    indexes = client.get("/v1/indexes").json()["indexes"]
    assert [i["name"] for i in indexes] == ["v1"]
    assert client.get("/healthz").json() == cached_before


def test_a_new_model_re_encodes_every_document_and_says_what_it_costs(client: TestClient) -> None:
    before = client.get("/healthz").json()
    found = plan(client, embedder=NEW_MODEL)
    assert (found["documents"], found["to_encode"], found["cached"]) == (40, 40, 0)
    assert (found["dim"], found["vector_bytes"]) == (96, 384)
    assert found["sample"] == 16
    assert found["encode_docs_per_s"] > 0
    assert found["backfill_s"] == pytest.approx(
        found["encode_s"] + found["index_build_s"], abs=0.02
    )
    assert found["vectors_mb"] == pytest.approx(40 * 96 * 4 / 1e6, abs=1e-3)
    assert found["index_mb"] > 0
    nothing_created(client, before)


def test_with_an_eval_set_it_says_whether_its_paired_queries_are_enough(
    client: TestClient,
) -> None:
    eval_set = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 120, "seed": 1}
    assert client.post("/v1/eval-sets", json=eval_set, headers=OPERATOR).status_code == 201
    assert plan(client, embedder=NEW_MODEL)["eval_power"] is None
    body = {
        "target": {"name": "v2", "embedder": NEW_MODEL},
        "sample": 4,
        "eval_set": "sample",
        "guardrails": {"recall": {"margin": 0.05}},
        "power": 0.9,
    }
    response = client.post("/v1/migrations/plan", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    power = response.json()["eval_power"]
    assert (power["truth"], power["queries"], power["margin"], power["power"]) == (
        "qrels",
        120,
        0.05,
        0.9,
    )
    assert power["needed"] > 120
    assert power["enough"] is False
    assert "too few" in power["detail"]


@pytest.mark.parametrize(
    ("extra", "status", "says"),
    [
        ({"eval_set": "nope"}, 404, "nope"),
        ({"guardrails": {"recall": {"margin": 0.05}}}, 422, "guardrails: only with an eval_set"),
        ({"power": 0.9}, 422, "power: only with an eval_set"),
        ({"eval_set": "nope", "power": 1.0}, 422, "power"),
    ],
)
def test_a_bad_eval_set_question_is_refused(
    client: TestClient, extra: dict[str, Any], status: int, says: str
) -> None:
    body = {"target": {"name": "v2", "embedder": NEW_MODEL}, "sample": 4, **extra}
    response = client.post("/v1/migrations/plan", json=body, headers=OPERATOR)
    assert response.status_code == status, response.text
    assert says in response.text


def test_a_layout_change_finds_every_text_cached(client: TestClient) -> None:
    found = plan(client, factory="HNSW32,Flat")
    assert (found["to_encode"], found["cached"], found["encode_s"]) == (0, 40, 0)
    assert "nothing is re-encoded" in found["notes"][0]


def test_a_trained_layout_says_its_training_is_not_included(client: TestClient) -> None:
    found = plan(client, factory="IVF4,Flat", embedder=NEW_MODEL)
    assert any("training time is not included" in n for n in found["notes"])


def test_a_plan_changes_nothing_and_a_start_after_it_still_works(client: TestClient) -> None:
    plan(client, embedder=NEW_MODEL)
    body = {"target": {"name": "v2", "factory": "Flat", "embedder": NEW_MODEL}}
    assert client.post("/v1/migrations", json=body, headers=OPERATOR).status_code == 201


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ({"embedder": {"model": "packaged:all-MiniLM-L12-v2"}}, "unknown packaged model"),
        ({"embedder": {"kind": "hash", "dim": 64}, "factory": "PQ7"}, "not buildable at dim 64"),
        ({"factory": "NoSuchLayout"}, ""),
        ({"metric": "cosine"}, "metric"),
        ({"name": "bad name!"}, "name"),
    ],
)
def test_a_target_a_start_would_refuse_is_refused_by_the_plan_too(
    client: TestClient,
    target: dict[str, Any],
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHOVER_MODELS_DIR", str(tmp_path / "models"))
    before = client.get("/healthz").json()
    found = plan(client, 422, **target)
    assert says in found["error"]["message"]
    nothing_created(client, before)


def test_a_damaged_model_install_is_refused_by_the_plan(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "models" / MPNET.name
    monkeypatch.setenv("SWITCHOVER_MODELS_DIR", str(tmp_path / "models"))
    for rel in MPNET.files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("not the model")
    found = plan(client, 422, embedder={"model": "packaged:all-mpnet-base-v2"})
    assert "fails its sha256 checksum" in found["error"]["message"]


@pytest.mark.parametrize("sample", [0, 5000, "8", True])
def test_a_bad_sample_is_refused(client: TestClient, sample: object) -> None:
    body = {"target": {"name": "v2"}, "sample": sample}
    response = client.post("/v1/migrations/plan", json=body, headers=OPERATOR)
    assert response.status_code == 422, response.text


def test_the_estimate_scales_the_sample_to_the_corpus() -> None:
    measured = Measured(
        documents=1000,
        cached=200,
        dim=768,
        sample=100,
        encode_s=2.0,
        add_s=0.01,
        index_bytes=300_000,
        trains=False,
    )
    found = estimate("v2", "fp", measured)
    assert found.encode_docs_per_s == 50.0
    assert found.encode_s == 16.0  # 800 misses at 50 docs/s
    assert found.index_build_s == 0.1
    assert found.backfill_s == 16.1
    assert found.vectors_mb == pytest.approx(3.072)
    assert found.index_mb == 3.0
    assert found.notes == ()


def test_a_sample_timed_on_a_busy_machine_says_so() -> None:
    busy = Measured(
        documents=10,
        cached=0,
        dim=8,
        sample=10,
        encode_s=1.0,
        add_s=0.0,
        index_bytes=1,
        trains=False,
        load_average=5.5,
        cores=2,
    )
    found = estimate("v2", "fp", busy)
    assert found.load_average == 5.5
    assert found.notes == (
        "timed at load average 5.5 on 2 cores: the backfill's rate moves with the machine's load",
    )
    assert estimate("v2", "fp", replace(busy, load_average=1.9)).notes == ()
