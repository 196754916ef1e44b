"""``switchover migrate plan`` on a real server with MiniLM: counts, sizes, and nothing created."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from evals import load_dataset
from tests.conftest import SAMPLE_DIR
from tests.e2e.test_migration_e2e import cli
from tests.server import ServerProcess

pytestmark = pytest.mark.slow


def test_migrate_plan_estimates_a_model_change_and_creates_nothing(tmp_path: Path) -> None:
    docs = [{"id": d.id, "text": d.embedding_text()} for d in load_dataset(SAMPLE_DIR).corpus]
    with (
        ServerProcess(tmp_path / "home", eval_data_roots=[SAMPLE_DIR]) as server,
        httpx.Client(base_url=server.url, timeout=300) as http,
    ):
        http.put("/v1/documents", json={"documents": docs}).raise_for_status()
        eval_set = {"name": "sample", "path": str(SAMPLE_DIR), "sample": 150, "seed": 1}
        auth = server.operator_header
        http.post("/v1/eval-sets", json=eval_set, headers=auth).raise_for_status()
        layout = json.loads(
            cli(server, "migrate", "plan", "--target", "v2", "--factory", "HNSW32,Flat", "--json")
        )
        assert (layout["to_encode"], layout["cached"], layout["dim"]) == (0, len(docs), 384)
        int8 = '{"backend": "onnx-int8"}'
        text = cli(
            server,
            "migrate",
            "plan",
            "--target",
            "v2",
            "--factory",
            "Flat",
            "--embedder",
            int8,
            "--eval-set",
            "sample",
            "--guardrails",
            '{"recall": {"margin": 0.05}}',
        )
        assert f"{len(docs)} documents, {len(docs)} to encode, 0 cached" in text
        assert "backfill ~" in text
        assert "1536 bytes a vector" in text
        assert "eval set sample (qrels): 150 paired queries;" in text
        assert "within a 0.050 margin with power 80%: too few" in text
        assert "per-query sd 0.3, default 0.3" in text
        refused = http.post(
            "/v1/migrations/plan",
            json={"target": {"name": "v2", "factory": "PQ7"}},
            headers=server.operator_header,
        )
        assert refused.status_code == 422
        assert "not buildable at dim 384" in refused.text
        assert http.get("/v1/migrations/current", headers=server.operator_header).status_code == 404
        assert [i["name"] for i in http.get("/v1/indexes").json()["indexes"]] == ["v1"]
