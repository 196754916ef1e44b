"""Model changes end to end on the real models: MiniLM -> mpnet (384 -> 768) and MiniLM ->
MiniLM int8, each through a real server with a live writer: dual-write, a re-encoding
backfill, shadow, the judge, canary, cutover and finalize, and an automatic rollback of a
damaging model change.

The mpnet migration is judged on an **unlabelled** eval set (the SQuAD subset's questions and
passages without qrels): the judge must use known-item truth, pass the upgrade, and agree
with an eval job on the same pair against the qrels; MiniLM's own neighbours would have
scored it as a large loss. Needs ``make models`` (mpnet and the int8 export).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexes import PACKAGED_MPNET
from tests.e2e.test_migration_e2e import (
    Writer,
    cli,
    eval_folder,
    ingest,
    passages,
    status,
    wait_for_judgement,
)
from tests.forms import size
from tests.server import ServerProcess

pytestmark = pytest.mark.slow

MPNET = {"model": PACKAGED_MPNET}
INT8 = {"backend": "onnx-int8"}
BROKEN_INT8 = {"backend": "onnx-int8", "truncate_dim": 8}  # 8 of 384 dimensions: a bad model


def unlabelled(labelled: Path) -> Path:
    """The same questions and passages without qrels.tsv."""
    folder = labelled.parent / f"{labelled.name}-unlabelled"
    folder.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (folder / name).write_bytes((labelled / name).read_bytes())
    return folder


def start(server: ServerProcess, target: str, embedder: dict[str, Any], eval_set: str) -> None:
    cli(
        server,
        "migrate", "start", "--target", target, "--factory", "Flat",
        "--embedder", json.dumps(embedder), "--eval-set", eval_set, "--canary-steps", "50",
    )  # fmt: skip


def eval_job(http: httpx.Client, token: str, eval_set: str) -> dict[str, Any]:
    """An eval job on the live pair, run to its end."""
    headers = {"Authorization": f"Bearer {token}"}
    job = http.post("/v1/evals", json={"eval_set": eval_set}, headers=headers)
    job.raise_for_status()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        record: dict[str, Any] = http.get(f"/v1/evals/{job.json()['id']}", headers=headers).json()
        if record["report"].get("status") not in ("running", None) or "summary" in record["report"]:
            return record
        time.sleep(0.5)
    raise AssertionError("the eval job did not finish")


def finish_rollout(server: ServerProcess, writer: Writer) -> None:
    try:
        cli(server, "migrate", "canary")
        cli(server, "migrate", "cutover")
        time.sleep(1.0)  # writes keep flowing through the cutover
    finally:
        writer.stop.set()
        writer.join()
    cli(server, "migrate", "finalize")
    assert not writer.errors


def no_lost_writes(http: httpx.Client, base: int, writer: Writer, primary: str) -> None:
    health = http.get("/healthz").json()
    indexes = {i["name"]: i for i in http.get("/v1/indexes").json()["indexes"]}
    assert indexes[primary]["role"] == "primary"
    assert health["documents"] == base + len(writer.live)
    assert indexes[primary]["count"] == health["documents"], "served index agrees with the log"
    for doc_id, text in list(writer.live.items())[:30]:
        hits = http.post("/v1/search", json={"query": text, "k": 3}).json()
        assert hits["served_by"] == primary
        assert doc_id in [h["id"] for h in hits["hits"]], doc_id
    for doc_id in list(writer.deleted)[:30]:
        assert http.get(f"/v1/documents/{doc_id}").status_code == 404


def test_minilm_to_mpnet_judged_on_known_items_agrees_with_qrels(tmp_path: Path) -> None:
    docs = passages(size(150, 300))
    with (
        ServerProcess(tmp_path / "home", eval_data_roots=[tmp_path / "eval"]) as server,
        httpx.Client(base_url=server.url, timeout=900) as http,
    ):
        ingest(http, docs)
        labelled = eval_folder(tmp_path / "eval" / "squad", docs)
        cli(server, "eval-set", "add", "squad", str(labelled), "--sample", "1000")
        cli(server, "eval-set", "add", "squad-u", str(unlabelled(labelled)), "--sample", "1000")
        start(server, "v2", MPNET, "squad-u")
        # one write a second from here on: each is encoded by both models (dual-write)
        writer = Writer(server.url, pause=1.0)
        writer.start()
        cli(server, "migrate", "backfill")
        assert status(http, server.token)["backfill"]["finished"]
        cli(server, "migrate", "shadow")
        recall = wait_for_judgement(http, server.token)
        assert recall["detail"].startswith("truth: known-item;"), recall["detail"]
        assert recall["state"] == "ok", recall["detail"]  # not rolled back for ranking otherwise
        judged = status(http, server.token)
        assert judged["phase"] == "shadow"
        assert judged["judgement"]["truth"] == "known-item"

        labels = eval_job(http, server.token, "squad")
        assert "summary" in labels["report"], labels["report"]
        assert labels["report"]["summary"]["truth"] == "qrels"
        assert labels["decision"] == "pass", labels["report"]["judgement"]  # the two agree
        # MiniLM's own top 10 as the truth: the target's recall against it is the overlap
        questions = [json.loads(line)["text"] for line in (labelled / "queries.jsonl").open()]
        overlaps = []
        for question in questions[:100]:
            sides = [
                {
                    h["id"]
                    for h in http.post(f"/v1/indexes/{v}/search", json={"query": question}).json()[
                        "hits"
                    ]
                }
                for v in ("v1", "v2")
            ]
            overlaps.append(len(sides[0] & sides[1]) / 10)
        assert sum(overlaps) / len(overlaps) < 0.9  # a biased truth would call this a loss

        finish_rollout(server, writer)
        no_lost_writes(http, len(docs), writer, "v2")
        v2 = next(i for i in http.get("/v1/indexes").json()["indexes"] if i["name"] == "v2")
        assert v2["dim"] == 768


def test_minilm_to_int8_through_finalize_then_a_damaging_change_rolls_back(
    tmp_path: Path,
) -> None:
    docs = passages(size(120, 200))
    with (
        ServerProcess(tmp_path / "home", eval_data_roots=[tmp_path / "eval"]) as server,
        httpx.Client(base_url=server.url, timeout=900) as http,
    ):
        ingest(http, docs)
        labelled = eval_folder(tmp_path / "eval" / "squad", docs)
        cli(server, "eval-set", "add", "squad", str(labelled), "--sample", "1000")
        cli(server, "eval-set", "add", "squad-u", str(unlabelled(labelled)), "--sample", "1000")
        start(server, "v2", INT8, "squad")
        writer = Writer(server.url, pause=0.25)
        writer.start()
        cli(server, "migrate", "backfill")
        cli(server, "migrate", "shadow")
        recall = wait_for_judgement(http, server.token)
        assert recall["detail"].startswith("truth: qrels;"), recall["detail"]
        assert recall["state"] == "ok", recall["detail"]
        known = eval_job(http, server.token, "squad-u")
        assert "summary" in known["report"], known["report"]
        assert known["report"]["summary"]["truth"] == "known-item"
        assert known["decision"] == "pass", known["report"]["judgement"]
        finish_rollout(server, writer)
        no_lost_writes(http, len(docs), writer, "v2")
        fingerprints = {
            i["name"]: i["fingerprint"] for i in http.get("/v1/indexes").json()["indexes"]
        }
        assert fingerprints["v1"] != fingerprints["v2"]  # int8 vectors never mix with fp32 ones

        start(server, "v3", BROKEN_INT8, "squad")
        cli(server, "migrate", "backfill")
        cli(server, "migrate", "shadow")
        deadline = time.monotonic() + 600
        while status(http, server.token)["phase"] != "rolled_back" and time.monotonic() < deadline:
            time.sleep(0.5)
        current = status(http, server.token)
        assert current["phase"] == "rolled_back"
        events = http.get(
            f"/v1/migrations/{current['id']}/events",
            headers={"Authorization": f"Bearer {server.token}"},
        ).json()["events"]
        rollback = events[-1]
        assert rollback["actor"] == "watchdog"
        assert rollback["metrics"]["recall"]["truth"] == "qrels"
        write = http.put(
            "/v1/documents",
            json={"documents": [{"id": "after-rollback", "text": "a note written after it"}]},
        )
        write.raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            indexes = {i["name"]: i for i in http.get("/v1/indexes").json()["indexes"]}
            if indexes["v3"]["applied_seq"] >= write.json()["seq"]:
                break
            time.sleep(0.2)
        assert indexes["v3"]["applied_seq"] >= write.json()["seq"]  # writes still dual
