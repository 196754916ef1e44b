"""``migrate plan``: count and time what a proposed target's backfill would cost; create nothing.

Checks the target as ``migrate start`` does (name, layout, metric, embedder, dimension,
search parameters, backend), then counts the live documents and the embedding cache's
hits for the target's embedder, encodes a seeded sample of the corpus's own texts (cache
misses first, as the backfill encodes them; stratified by length, so the sample's mix of
short and long texts is the corpus's) with the target's embedder after a warm-up,
adds their vectors to an empty index of the target's layout and serializes it. With an
eval set, it also says whether the set has enough paired queries for the recall margin
(:mod:`migrator.eval_power`): the queries the judge would ask this pair (the truth
``migrate start`` would choose) against the number the margin needs, with the per-query
sd of the set's stored runs of the same kind. Nothing is registered, stored or cached:
the estimate itself is :func:`migrator.estimate.estimate`.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from indexes import Embedder, IndexSpec, VectorIndex, load_embedder
from indexes.errors import InvalidInputError
from indexes.faiss_threads import in_this_thread

from .estimate import Measured, MigrationEstimate, estimate
from .eval_power import EvalPower, JudgeSettings, eval_power, measured_sd, run_deltas
from .guardrails import Guardrails
from .registry import IndexRegistry
from .requests import PowerRequest, TargetRequest
from .store import Document, EvalRunRecord, Store
from .truth import choose_truth

MAX_SAMPLE = 4096
WARM_UP = 2  # texts encoded untimed first: the first call pays one-off costs
STORED_RUNS = 50  # the newest stored eval runs read for the per-query sd


class Planner:
    def __init__(self, store: Store, registry: IndexRegistry) -> None:
        self.store = store
        self.registry = registry

    def plan(
        self,
        request: TargetRequest,
        sample: int = 128,
        seed: int = 0,
        power: PowerRequest | None = None,
    ) -> MigrationEstimate:
        """The estimate for migrating the primary to ``request``; InvalidInputError (and the
        embedder's own errors) for a target ``migrate start`` would refuse, NotFoundError
        for an unknown eval set."""
        if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
            raise InvalidInputError(f"sample must be an integer from 1 to {MAX_SAMPLE}")
        source = self.registry.primary()
        spec = request.spec(source.entry.spec.embedder)
        embedder = load_embedder(spec.embedder)
        spec.validate(embedder.dim)
        spec.check_search_params(request.search_params)
        self.registry.backends.check(spec)
        same_embedder = embedder.fingerprint == source.entry.fingerprint
        judged = None if power is None else self._power(power.checked(), same_embedder)
        docs = self._documents()
        cached = self.store.cache.get_many(embedder.fingerprint, [d.content_hash for d in docs])
        misses = [d for d in docs if d.content_hash not in cached]
        chosen = by_length(misses or docs, sample, seed)
        texts = [d.text for d in chosen]
        vectors, encode_s = _timed_encode(embedder, texts)
        add_s, index_bytes, trains = _layout(
            spec, embedder.dim, embedder.fingerprint, chosen, vectors
        )
        measured = Measured(
            documents=len(docs),
            cached=len(docs) - len(misses),
            dim=embedder.dim,
            sample=len(texts),
            encode_s=encode_s,
            add_s=add_s,
            index_bytes=index_bytes,
            trains=trains,
            load_average=round(os.getloadavg()[0], 2),
            cores=os.cpu_count() or 1,
        )
        return estimate(spec.name, embedder.fingerprint, measured, judged)

    def _power(self, request: PowerRequest, same_embedder: bool) -> EvalPower:
        """The eval set's paired queries for this pair vs what the recall margin needs."""
        eval_set = self.store.evals.get_set(request.eval_set)
        rule = Guardrails.from_dict(request.guardrails).recall
        truth = choose_truth(self.store, eval_set, same_embedder)  # refuses an unfair one
        runs = [
            run_deltas(run.report)
            for run in self.store.evals.runs(limit=STORED_RUNS)
            if run.eval_set == eval_set.name and _same_kind(run, truth.name, same_embedder)
        ]
        settings = JudgeSettings(rule.margin, rule.confidence, rule.min_samples, rule.pool)
        return eval_power(
            eval_set.name,
            truth.name,
            len(truth.queries),
            settings,
            measured_sd(runs),
            float(request.power),
        )

    def _documents(self) -> list[Document]:
        docs: list[Document] = []
        cursor: str | None = None
        while batch := self.store.log.scan(cursor, 4096):
            docs.extend(batch)
            cursor = batch[-1].id
        return docs


def _same_kind(run: EvalRunRecord, truth: str, same_embedder: bool) -> bool:
    """A stored run judged by the same truth, with the embedder changing or not as here."""
    meta = run.report.get("meta") or {}
    fingerprints = set((meta.get("fingerprints") or {}).values())
    return meta.get("truth") == truth and (len(fingerprints) == 1) == same_embedder


def by_length(docs: Sequence[Document], n: int, seed: int) -> list[Document]:
    """A seeded sample of ``n`` stratified by text length: the documents sorted by length
    cut into ``n`` strata of (nearly) equal count, one drawn from each.

    An encoder's cost grows with a text's length, so a plain random sample that happens to
    draw longer texts than the corpus's mean scales to a backfill that is too slow (on
    SQuAD, a 128-of-400 sample ran 6.5% longer than the corpus). One draw per quantile
    keeps the sample's length mix the corpus's at any size; the mean cost is still
    unbiased, each stratum being the same share of the corpus.
    """
    ordered = sorted(docs, key=lambda d: (len(d.text), d.id))
    if n >= len(ordered):
        return ordered
    rng = random.Random(seed)  # noqa: S311 - a sample, not security
    cuts = [i * len(ordered) // n for i in range(n + 1)]
    return [ordered[rng.randrange(lo, hi)] for lo, hi in pairwise(cuts)]


def _timed_encode(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """The sample's vectors and the seconds to encode them, timed where and as the backfill
    encodes: on a thread of its own, with the process's FAISS/OpenMP thread count applied
    (torch and FAISS share one OpenMP runtime, whose count is per thread).

    The caller's thread is not the backfill's: torch encoding the same 128 SQuAD passages
    on the main thread took 1.3-1.5x the wall time (and 1.3x the CPU) of a fresh thread in
    alternating runs, which made the plan overestimate the backfill by 25-40%.
    """
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0.0
    found: list[tuple[np.ndarray, float]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            in_this_thread()
            embedder.embed_documents(texts[:WARM_UP])
            started = time.perf_counter()
            vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
            found.append((vectors, time.perf_counter() - started))
        except BaseException as exc:  # re-raised in the caller's thread below
            failed.append(exc)

    worker = threading.Thread(target=run, name="switchover-plan-sample", daemon=True)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return found[0]


def _layout(
    spec: IndexSpec, dim: int, fingerprint: str, docs: Sequence[Document], vectors: np.ndarray
) -> tuple[float, int, bool]:
    """Seconds to add the sample to an empty index of the layout, its serialized bytes, and
    whether the layout trains first (pgvector: not measured here, 0 bytes)."""
    if spec.backend != "faiss" or not docs:
        return 0.0, 0, False
    index = VectorIndex(spec, dim, fingerprint)
    trains = not index.is_trained
    started = time.perf_counter()
    index.backfill({d.id: vectors[i] for i, d in enumerate(docs)})
    add_s = time.perf_counter() - started
    return add_s, len(index.export_state().faiss_bytes), trains
