"""Eval sets and eval jobs over HTTP: registered, run in the background, reported three ways."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evals import load_dataset
from tests.api.conftest import service_of
from tests.conftest import OPERATOR, SAMPLE_DIR


@pytest.fixture(autouse=True)
def _sample_corpus(client: TestClient) -> None:
    """The sample eval set's own corpus, so its questions have their answers indexed."""
    data = load_dataset(SAMPLE_DIR)
    docs = [{"id": d.id, "text": d.embedding_text()} for d in data.corpus]
    assert client.put("/v1/documents", json={"documents": docs}).status_code == 200


def register(client: TestClient, **body: Any) -> Any:
    payload = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 100, "seed": 3, **body}
    return client.post("/v1/eval-sets", json=payload, headers=OPERATOR)


def test_an_eval_set_is_a_seeded_sample_with_its_hash(client: TestClient) -> None:
    response = register(client)
    assert response.status_code == 201
    record = response.json()
    assert record["sample"] == 100
    assert record["labelled"] is True
    assert len(record["content_hash"]) == 64
    listed = client.get("/v1/eval-sets", headers=OPERATOR).json()["eval_sets"]
    assert [r["name"] for r in listed] == ["sample"]
    assert register(client).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"path": "/nonexistent/folder"},
        {"name": "../escape"},
        {"name": "Bad Name"},
        {"sample": 0},
        {"sample": "ten"},
        {"seed": 1.5},
    ],
)
def test_bad_eval_sets_are_4xx_and_register_nothing(client: TestClient, body: Any) -> None:
    response = register(client, **body)
    assert response.status_code == 422
    assert client.get("/v1/eval-sets", headers=OPERATOR).json()["eval_sets"] == []


def test_eval_routes_need_the_operator_token(client: TestClient) -> None:
    assert client.get("/v1/eval-sets").status_code == 401
    assert client.post("/v1/evals", json={"eval_set": "x"}).status_code == 401


def test_an_eval_job_runs_in_the_background_and_reports_three_ways(client: TestClient) -> None:
    register(client)
    target = {"target": {"name": "v2", "factory": "HNSW32,Flat"}}
    mid = client.post("/v1/migrations", json=target, headers=OPERATOR).json()["id"]
    client.post(f"/v1/migrations/{mid}/backfill", headers=OPERATOR)
    service_of(client).wait_backfill()
    job = client.post("/v1/evals", json={"eval_set": "sample"}, headers=OPERATOR)
    assert job.status_code == 202
    assert (job.json()["source"], job.json()["target"]) == ("v1", "v2")
    run_id = job.json()["id"]
    deadline = time.monotonic() + 60
    record = client.get(f"/v1/evals/{run_id}", headers=OPERATOR).json()
    while record["report"].get("status") == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        record = client.get(f"/v1/evals/{run_id}", headers=OPERATOR).json()
    assert record["decision"] in ("pass", "hold")
    assert record["migration_id"] == mid
    report = record["report"]
    assert report["meta"]["eval_set_hash"] == register(client, name="other").json()["content_hash"]
    assert report["summary"]["n"] >= 50
    markdown = client.get(f"/v1/evals/{run_id}?format=markdown", headers=OPERATOR)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "recall@10" in markdown.text
    html = client.get(f"/v1/evals/{run_id}?format=html", headers=OPERATOR)
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text
    listed = client.get("/v1/evals", headers=OPERATOR).json()["evals"]
    assert listed[0]["id"] == run_id


@pytest.mark.parametrize(
    "body",
    [
        {"eval_set": "missing"},
        {"eval_set": "sample", "source": "nope", "target": "v1"},
        {"eval_set": "sample"},  # no migration: source and target must be named
        {"eval_set": "sample", "source": "v1", "target": "v1", "limit": 0},
    ],
)
def test_bad_eval_jobs_are_4xx(client: TestClient, body: Any) -> None:
    register(client)
    response = client.post("/v1/evals", json=body, headers=OPERATOR)
    assert 400 <= response.status_code < 500
