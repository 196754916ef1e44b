"""The fakes that inject faults, and the checks every fault test ends with.

Faults are real objects, not mocks: an embedder wrapper that raises, hangs on an Event
or sleeps; a second SQLite connection (in another process) holding the write lock; a
file write that fails with ENOSPC. ``assert_converged`` is the recovery every test ends
on: no index lags the log, and every index holds exactly the live documents, each with
the vector of its newest text.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi.testclient import TestClient

from indexes import Embedder, EmbedderSpec, QueryVectors
from indexes.errors import EmbedderError
from migrator import ActionRequest, DocumentIn, Switchover
from tests.conftest import migration

NEW_MODEL = EmbedderSpec(kind="hash", dim=48)  # the target's "new model": another fingerprint
HANG_LIMIT_S = 60.0  # a hang ends by itself after this, so a broken test cannot hang CI

Mode = Literal["ok", "raise", "hang", "slow"]


class FaultyEmbedder:
    """Wraps an embedder; ``mode`` makes every call succeed, raise, hang or run slow.

    A hang lasts until ``heal()`` (or HANG_LIMIT_S); ``hung`` counts calls stuck in it.
    """

    def __init__(self, inner: Embedder, *, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.spec = inner.spec
        self.mode: Mode = "ok"
        self.delay_s = delay_s
        self.calls = 0
        self.hung = 0
        self._left: int | None = None  # calls the fault still applies to (None: all)
        self._released = threading.Event()
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    @property
    def dim(self) -> int:
        return self.inner.dim

    def fail(self, mode: Mode, delay_s: float | None = None, times: int | None = None) -> None:
        """Every call from now on fails in ``mode``; with ``times``, only the next that many
        calls do, and the ones after them succeed."""
        self._released.clear()
        self.mode = mode
        self._left = times
        if delay_s is not None:
            self.delay_s = delay_s

    def heal(self) -> None:
        self.mode = "ok"
        self._released.set()

    def _fault(self) -> None:
        with self._lock:
            self.calls += 1
            mode = self.mode
            if self._left is not None:
                self._left -= 1
                if self._left <= 0:
                    self.mode, self._left = "ok", None
        if mode == "raise":
            raise EmbedderError("the target's model is down (injected fault)")
        if mode == "hang":
            with self._lock:
                self.hung += 1
            try:
                self._released.wait(HANG_LIMIT_S)
            finally:
                with self._lock:
                    self.hung -= 1
        elif mode == "slow":
            self._released.wait(self.delay_s)  # heal() cuts it short

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self._fault()
        return self.inner.embed_documents(texts)

    def embed_queries(self, texts: Sequence[str]) -> QueryVectors:
        self._fault()
        return self.inner.embed_queries(texts)


def text_of(i: int, version: int = 0) -> str:
    """Unique text per (id, version), so a document's own text finds exactly it."""
    return f"document {i} revision {version} about topic{i % 7} and item{i}x{version}"


def docs(ids: range, version: int = 0) -> list[DocumentIn]:
    return [DocumentIn(f"d{i:04d}", text_of(i, version)) for i in ids]


def eval_set_of_the_corpus(folder: Path, n: int = 60) -> Path:
    """A labelled BEIR folder over the fixture's documents: query i finds d{i}."""
    folder.mkdir()
    with (folder / "corpus.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"d{i:04d}", "text": text_of(i)}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"q{i}", "text": text_of(i)}) + "\n")
    rows = ["query-id\tcorpus-id\tscore"] + [f"q{i}\td{i:04d}\t1" for i in range(n)]
    (folder / "qrels.tsv").write_text("\n".join(rows) + "\n")
    return folder


def put_body(ids: range, version: int = 0) -> dict[str, Any]:
    return {"documents": [{"id": d.id, "text": d.text} for d in docs(ids, version)]}


def timed_searches(client: TestClient, n: int = 40) -> tuple[dict[str, int], float]:
    """(answers per serving index, slowest answer in seconds) over ``n`` routing keys."""
    served: dict[str, int] = {}
    slowest = 0.0
    for i in range(n):
        started = time.perf_counter()
        response = client.post(
            "/v1/search", json={"query": text_of(i), "k": 3}, headers={"X-Routing-Key": f"k{i}"}
        )
        slowest = max(slowest, time.perf_counter() - started)
        assert response.status_code == 200, response.text
        name = response.json()["served_by"]
        assert response.headers["X-Served-By"] == name
        served[name] = served.get(name, 0) + 1
    return served, slowest


def start_canary(
    svc: Switchover,
    percent: float = 50.0,
    *,
    factory: str = "Flat",
    embedder: EmbedderSpec | None = NEW_MODEL,
    **plan: Any,
) -> tuple[int, FaultyEmbedder]:
    """Migrate v1 -> v2 up to a canary; returns its id and v2's (faultable) embedder.

    ``embedder`` None keeps the source's model (a layout change); v2's runtime still gets
    its own wrapper, so a fault there never touches the source.
    """
    mid = int(svc.create_migration(migration("v2", factory, embedder=embedder, **plan), "op").id)
    svc.migration_action(mid, "backfill", ActionRequest(), "op")
    svc.wait_backfill()
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    svc.migration_action(mid, "canary", ActionRequest(percent=percent, override=True), "op")
    target = svc.runtime("v2")
    faulty = FaultyEmbedder(target.embedder)
    target.embedder = faulty
    return mid, faulty


def lags(svc: Switchover) -> dict[str, int]:
    return {runtime.name: runtime.lag(svc.store)[0] for runtime in svc.registry.all()}


def wait_until_caught_up(svc: Switchover, timeout_s: float = 10.0) -> None:
    """Let the applier (or one pass of it) bring every index to the end of the log."""
    deadline = time.monotonic() + timeout_s
    while any(lags(svc).values()):
        if time.monotonic() > deadline:
            raise AssertionError(f"indexes still lag the log: {lags(svc)}")
        svc.registry.catch_up_all()
        time.sleep(0.01)


def assert_converged(svc: Switchover, names: Sequence[str] = ("v1", "v2")) -> None:
    """No lag; each index holds exactly the live documents, each with its newest text."""
    wait_until_caught_up(svc)
    live = svc.store.log.documents(sorted(svc.store.log.document_ids()))
    for name in names:
        runtime = svc.runtime(name)
        assert runtime.index.applied_seq == svc.store.log.last_seq(), name
        assert runtime.index.ids() == set(live), f"{name} does not hold exactly the live documents"
        ids = sorted(live)
        queries = runtime.embedder.embed_queries([live[i].text for i in ids])
        results = runtime.index.search(queries, 1)
        for doc_id, hits in zip(ids, results, strict=True):
            assert hits[0].id == doc_id, f"{name}: {doc_id} is not found by its newest text"
            assert hits[0].score > 0.999, f"{name}: {doc_id} holds an older text's vector"
