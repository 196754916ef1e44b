"""Slices over HTTP: eval sets with slice labels and filters, slice plans, a search's slice,
and the status and metrics per slice. Bad input is a 422 that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evals import load_dataset
from evals.sliced import label_documents, write_beir
from tests.api.conftest import service_of
from tests.conftest import OPERATOR, SAMPLE_DIR


@pytest.fixture
def folder(client: TestClient, tmp_path: Path) -> Path:
    """The sample corpus labelled with a synthetic ``lang``, written and as a BEIR folder."""
    sliced = label_documents(load_dataset(SAMPLE_DIR), "lang", ("en", "de"), seed=3)
    docs = [{"id": d.id, "text": d.embedding_text(), "metadata": d.metadata} for d in sliced.corpus]
    assert client.put("/v1/documents", json={"documents": docs}).status_code == 200
    return write_beir(sliced, tmp_path / "sliced")


def register(client: TestClient, path: Path, name: str = "sliced") -> Any:
    body = {"name": name, "path": str(path), "sample": 150, "seed": 1}
    return client.post("/v1/eval-sets", json=body, headers=OPERATOR)


def rewrite_queries(folder: Path, rows: list[dict[str, Any]]) -> Path:
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_an_eval_set_keeps_each_querys_slice_and_filter(client: TestClient, folder: Path) -> None:
    assert register(client, folder).status_code == 201
    record = service_of(client).store.evals.get_set("sliced")
    first = record.queries[0]
    assert first["slice"] == {"lang": first["filter"]["lang"]}
    assert {q["slice"]["lang"] for q in record.queries} == {"en", "de"}


@pytest.mark.parametrize(
    "row",
    [
        {"id": "q001", "text": "lens", "slice": "de"},
        {"id": "q001", "text": "lens", "slice": {"lang": 3}},
        {"id": "q001", "text": "lens", "slice": {"lang": "d e"}},
        {"id": "q001", "text": "lens", "slice": {"a": "1", "b": "2", "c": "3", "d": "4"}},
        {"id": "q001", "text": "lens", "filter": ["lang"]},
        {"id": "q001", "text": "lens", "filter": {"lang": {"in": []}}},
    ],
)
def test_malformed_slice_labels_or_filters_register_nothing(
    client: TestClient, folder: Path, row: dict[str, Any]
) -> None:
    response = register(client, rewrite_queries(folder, [row]))
    assert response.status_code == 422, response.text
    assert "q001" in response.text or "queries.jsonl" in response.text
    assert client.get("/v1/eval-sets", headers=OPERATOR).json()["eval_sets"] == []


def test_too_many_slices_in_an_eval_set_register_nothing(client: TestClient, folder: Path) -> None:
    rows = [{"id": f"q{i}", "text": "lens", "slice": {"tenant": f"t{i}"}} for i in range(65)]
    response = register(client, rewrite_queries(folder, rows))
    assert response.status_code == 422
    assert "at most 64" in response.text
    assert client.get("/v1/eval-sets", headers=OPERATOR).json()["eval_sets"] == []


def start(client: TestClient, slices: Any) -> Any:
    body = {"target": {"name": "v2", "factory": "Flat"}, "eval_set": "sliced", "slices": slices}
    return client.post("/v1/migrations", json=body, headers=OPERATOR)


@pytest.mark.parametrize(
    "slices",
    [
        {"keys": ["lang"]},
        {"keys": ["cookie.lang"]},
        {"keys": [f"metadata.k{i}" for i in range(4)]},
        {"keys": ["metadata.lang"], "on_breach": "everything"},
        {"keys": ["metadata.lang"], "min_samples": "30"},
        ["metadata.lang"],
    ],
)
def test_a_bad_slice_plan_is_a_422_and_creates_no_migration(
    client: TestClient, folder: Path, slices: Any
) -> None:
    assert register(client, folder).status_code == 201
    response = start(client, slices)
    assert response.status_code == 422, response.text
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    assert service_of(client).store.migrations.latest() is None


def test_a_bad_slice_on_a_search_is_a_422(client: TestClient) -> None:
    for bad in [{"lang": 3}, {"lang": "d e"}, "de", {"a": "1", "b": "2", "c": "3", "d": "4"}]:
        response = client.post("/v1/search", json={"query": "lens", "slice": bad})
        assert response.status_code == 422, bad
    batch = {"queries": [{"query": "lens", "slice": {"lang": 3}}]}
    assert client.post("/v1/search/batch", json=batch).status_code == 422


def test_status_and_metrics_show_each_slice(client: TestClient, folder: Path) -> None:
    assert register(client, folder).status_code == 201
    slices = {"keys": ["metadata.lang"], "min_samples": 10, "rolled_back": ["lang=de"]}
    mid = start(client, slices).json()["id"]
    svc = service_of(client)
    for action in ("backfill", "shadow"):
        assert client.post(f"/v1/migrations/{mid}/{action}", headers=OPERATOR).status_code == 200
        svc.wait_backfill()
    for _ in range(6):
        svc.watchdog.tick()
    status = client.get("/v1/migrations/current", headers=OPERATOR).json()
    by_label = {s["label"]: s for s in status["slices"]}
    assert by_label["lang=de"]["rolled_back"] is True
    assert by_label["lang=en"]["judgement"]["n"] >= 10
    metrics = client.get("/metrics").text
    de, en = f'{{migration="{mid}",slice="lang=de"}}', f'{{migration="{mid}",slice="lang=en"}}'
    assert f"switchover_slice_target_share_percent{de} 0.0" in metrics
    assert f"switchover_slice_rolled_back{de} 1.0" in metrics
    assert f"switchover_slice_samples{en}" in metrics
    assert f"switchover_slice_recall_delta{en}" in metrics
    assert f"switchover_slice_judgement{en}" in metrics
    served = client.post("/v1/search", json={"query": "lens", "slice": {"lang": "de"}})
    assert served.status_code == 200
