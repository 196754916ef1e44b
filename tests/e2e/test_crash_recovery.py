"""SIGKILL in the middle of a stream of batch writes loses no acknowledged write.

Real process, real model, real SQLite file: a writer thread streams batches of
upserts, updates and deletes; the server is killed at a random moment, restarted,
and every acknowledged write must be there exactly once, with its newest text.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import httpx
import pytest

from tests.server import ServerProcess

pytestmark = pytest.mark.slow

WORDS = [
    "lighthouse",
    "lamp",
    "harbour",
    "tide",
    "sourdough",
    "yeast",
    "honey",
    "hive",
    "volcano",
    "basalt",
    "chess",
    "bishop",
    "glass",
    "furnace",
    "bicycle",
    "gear",
    "desert",
    "star",
    "delta",
    "silt",
    "typewriter",
    "ribbon",
    "postal",
    "stamp",
]


class Writer(threading.Thread):
    """Streams batches; remembers what was acknowledged and what was in flight when it failed."""

    def __init__(self, url: str, seed: int, start_batch: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.rng = random.Random(seed)
        self.batch_no = start_batch
        self.acked: dict[str, str | None] = {}  # id -> newest acknowledged text (None: deleted)
        self.in_flight: dict[str, str | None] = {}
        self.acked_batches = 0
        self.stop = threading.Event()

    def sentence(self) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(8)) + f" #{self.rng.randrange(10**9)}"

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                self.batch_no += 1
                live = [i for i, t in self.acked.items() if t is not None]
                if live and self.rng.random() < 0.2:
                    doc_id = self.rng.choice(live)
                    self.in_flight = {doc_id: None}
                    try:
                        ok = http.delete(f"/v1/documents/{doc_id}").status_code == 200
                    except httpx.HTTPError:
                        return
                else:
                    batch = {f"doc-{self.batch_no}-{i}": self.sentence() for i in range(8)}
                    for doc_id in self.rng.sample(live, min(2, len(live))):
                        batch[doc_id] = self.sentence()  # updates of earlier documents
                    self.in_flight = dict(batch)
                    body = {"documents": [{"id": k, "text": v} for k, v in batch.items()]}
                    try:
                        ok = http.put("/v1/documents", json=body).status_code == 200
                    except httpx.HTTPError:
                        return
                if not ok:
                    return
                self.acked.update(self.in_flight)
                self.in_flight = {}
                self.acked_batches += 1


def check_invariants(url: str, acked: dict[str, str | None], maybe: dict[str, str | None]) -> int:
    """Every acknowledged write is present with its newest text (the in-flight one may be)."""
    with httpx.Client(base_url=url, timeout=60) as http:
        for doc_id, text in acked.items():
            allowed = {text} | ({maybe[doc_id]} if doc_id in maybe else set())
            response = http.get(f"/v1/documents/{doc_id}")
            assert response.status_code in (200, 404)
            got = response.json()["text"] if response.status_code == 200 else None
            assert got in allowed, f"{doc_id}: got {got!r}, acknowledged {text!r}"
        certain = {i for i, t in acked.items() if t is not None and i not in maybe}
        live = int(http.get("/healthz").json()["documents"])
        assert len(certain) <= live <= len(certain) + len(maybe)
        (index,) = [i for i in http.get("/v1/indexes").json()["indexes"] if i["role"] == "primary"]
        assert index["count"] == live, "index count must equal the live documents"
        assert index["lag_records"] == 0
        # searchable: each document's own text finds it, exactly once
        rng = random.Random(0)
        present = [i for i, t in acked.items() if t is not None and i not in maybe]
        for doc_id in rng.sample(present, min(25, len(present))):
            hits = http.post("/v1/search", json={"query": str(acked[doc_id]), "k": 10}).json()[
                "hits"
            ]
            hit_ids = [h["id"] for h in hits]
            assert len(hit_ids) == len(set(hit_ids)), "duplicate ids in one result list"
            assert doc_id in hit_ids[:3], f"{doc_id} not found by its own text"
        return live


def test_sigkill_during_batch_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = ServerProcess(home)
    acked: dict[str, str | None] = {}
    batch_no = 0
    rng = random.Random(1234)
    try:
        for round_no in range(3):
            server.start()
            if round_no:
                indexes = httpx.get(f"{server.url}/v1/indexes").json()["indexes"]
                assert indexes[0]["encoded_since_start"] == 0, "replay must not re-encode"
            writer = Writer(server.url, seed=round_no, start_batch=batch_no)
            writer.acked = dict(acked)
            writer.start()
            target = rng.randint(6, 14)
            while writer.acked_batches < target and writer.is_alive():
                threading.Event().wait(0.02)
            threading.Event().wait(rng.uniform(0.0, 0.3))  # land somewhere inside a request
            server.kill()
            writer.join(timeout=60)
            assert writer.acked_batches >= target
            batch_no = writer.batch_no + 1
            server.start()
            check_invariants(server.url, writer.acked, writer.in_flight)
            # settle the in-flight document(s) to what the server now says
            with httpx.Client(base_url=server.url) as http:
                for doc_id in writer.in_flight:
                    response = http.get(f"/v1/documents/{doc_id}")
                    writer.acked[doc_id] = (
                        response.json()["text"] if response.status_code == 200 else None
                    )
            acked = dict(writer.acked)
            server.kill()
    finally:
        server.kill()
