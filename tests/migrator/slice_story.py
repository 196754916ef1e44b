"""The slice-regression story, shared by the fast test (hash embedder, the sample set) and
the slow one (MiniLM, SQuAD): a corpus with a synthetic ``lang`` label, a target whose
vectors are broken for one language's documents only, judged and routed per slice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from evals import Dataset
from evals.sliced import label_documents, write_beir
from migrator import ActionRequest, DocumentIn, Switchover
from tests.conftest import migration
from tests.migrator.test_lifecycle import backfill

LANGS = ("en", "de", "fr")


def load_sliced(
    svc: Switchover, data: Dataset, folder: Path, docs: int | None = None, sample: int = 20_000
) -> Dataset:
    """The labelled corpus written to ``svc``; a seeded ``sample`` of its questions
    registered as eval set ``sliced``."""
    sliced = label_documents(data, "lang", LANGS, seed=3, docs=docs)
    written = [DocumentIn(d.id, d.embedding_text(), d.metadata or {}) for d in sliced.corpus]
    for start in range(0, len(written), 256):  # the write path's batch limit
        svc.upsert(written[start : start + 256])
    write_beir(sliced, folder)
    svc.add_eval_set("sliced", str(folder), sample=min(sample, len(sliced.queries)), seed=1)
    return sliced


def break_slice(svc: Switchover, data: Dataset, target: str, lang: str) -> list[str]:
    """Replace the target's vectors of ``lang``'s documents with seeded random ones."""
    runtime = svc.runtime(target)
    ids = [d.id for d in data.corpus if (d.metadata or {}).get("lang") == lang]
    rng = np.random.default_rng(11)
    noise = rng.standard_normal((len(ids), runtime.entry.dim)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    runtime.index.backfill(dict(zip(ids, noise, strict=True)))
    return ids


def start_backfilled(svc: Switchover, target: str = "v2", **plan: Any) -> int:
    """A migration Flat -> Flat with the source's embedder, judged on ``sliced``, backfilled."""
    plan.setdefault("shadow_sample", 0.0)  # the live-traffic guardrails are not per slice
    mid = int(svc.create_migration(migration(target, "Flat", eval_set="sliced", **plan), "op").id)
    backfill(svc, mid)
    return mid


def advance(svc: Switchover, mid: int, percent: float) -> None:
    """Shadow, then a canary at ``percent`` (an operator's override: nothing judged yet)."""
    svc.migration_action(mid, "shadow", ActionRequest(), "op")
    canary = ActionRequest(percent=percent, override=True, reason="canary before any judgement")
    svc.migration_action(mid, "canary", canary, "op")


def tick_until_slices_decided(svc: Switchover, ticks: int = 200, until: str | None = None) -> None:
    """Tick until the recall session is done (or slice ``until`` is rolled back), or the
    migration leaves the canary."""
    for _ in range(ticks):
        svc.watchdog.tick()
        m = svc.moves.current
        if m is None or m.phase.value != "canary":
            return
        if until is not None and m.plan.slices and until in m.plan.slices.rolled_back:
            return
        session = svc.evidence.fresh_session(m)
        if session is not None and session.done:
            return


def served_by(svc: Switchover, query: str, keys: int, **search: Any) -> Counter[str]:
    """Which index served ``keys`` sticky routing keys' searches of ``query``."""
    return Counter(
        svc.search(query, 5, routing_key=f"user-{i}", **search).served_by for i in range(keys)
    )
