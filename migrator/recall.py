"""Recall sessions: judge a target against its source on an eval set, look by look.

``RecallSession`` draws the eval set's queries in their stored (seeded) order and judges
at each look of a doubling schedule, so the watchdog can keep drawing while undecided
and stop as soon as the evidence decides. ``PairSearchers`` times both sides on equal
terms; the truth (qrels, known-item or exact search) is chosen by :mod:`migrator.truth`,
and ``exact_truth`` is the exact searcher when both sides share one embedder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from functools import partial
from typing import Any

from evals import EvalRun, Judgement, QueryResult, evaluate, look_schedule, run_to_dict
from evals.harness import Searcher, Truth
from indexes import IndexSpec, QueryVectors, VectorIndex
from indexes.errors import EmbedderError, InvalidInputError

from .eval_scopes import Select, grouped, recall_deltas, scopes_of
from .filtered_search import Selection
from .guardrails import RecallRule
from .runtime import IndexRuntime
from .slice_looks import judge_look
from .slices import SlicePlan
from .store import EvalSetRecord, Store
from .truth import choose_truth
from .views import RecallProgress


class PairSearchers:
    """Source and target searchers, timed on equal terms.

    With one embedder on both sides, ``prime`` embeds a batch of queries once, untimed,
    and both sides time only their index search. With two embedders, each side embeds
    its own query inside its timed call: the new model's cost is part of what is judged.
    """

    def __init__(self, source: IndexRuntime, target: IndexRuntime) -> None:
        self.source, self.target = source, target
        self.shared = source.entry.fingerprint == target.entry.fingerprint
        self._primed: dict[str, QueryVectors] = {}
        self.timings: list[float] = []  # ms of each bounded call since the last prime()

    def prime(self, texts: list[str]) -> None:
        """Embed a batch up front (one model call) when both sides share the embedder."""
        self._primed = {}
        self.timings = []
        if not self.shared or not texts:
            return
        batch = self.source.embedder.embed_queries(texts)
        for i, text in enumerate(texts):
            self._primed[text] = QueryVectors(batch.vectors[i : i + 1], batch.fingerprint)

    def searcher(self, runtime: IndexRuntime, selection: Selection | None = None) -> Searcher:
        """Search ``runtime`` (among the documents ``selection`` selects, when given)."""

        def search(text: str, k: int) -> list[str]:
            vectors = self._primed.get(text)
            return [h.id for h in runtime.search(text, k, vectors=vectors, selection=selection)]

        return search

    def bounded_searcher(
        self, runtime: IndexRuntime, timeout_s: float, selection: Selection | None = None
    ) -> Searcher:
        """``searcher(runtime)`` run on the runtime's bounded workers, waited for at most
        ``timeout_s``: past it the call raises EmbedderError (a hung model never holds
        up the caller). Each call's own duration, timed where it ran, is appended to
        ``timings`` so the hand-off to the worker is not charged to the index."""
        inner = self.searcher(runtime, selection)

        def timed(text: str, k: int) -> tuple[list[str], float]:
            started = time.perf_counter()
            ids = inner(text, k)
            return ids, (time.perf_counter() - started) * 1000

        def search(text: str, k: int) -> list[str]:
            ids, ms = runtime.bounded.call(partial(timed, text, k), timeout_s)
            self.timings.append(ms)
            return ids

        return search


def exact_truth(store: Store, source: IndexRuntime) -> Callable[[Selection | None], Searcher]:
    """Exact search (Flat) with the source's embedder over the live documents, among
    those a query's filter selects (the factory takes the query's selection).

    The source itself when it is already Flat; otherwise a Flat index built from the
    embedding cache (nothing is re-encoded that the source already encoded).
    """
    if source.entry.spec.is_exact:
        return lambda sel: lambda text, k: [h.id for h in source.search(text, k, selection=sel)]
    spec = IndexSpec(
        name=f"{source.name}-exact",
        embedder=source.entry.spec.embedder,
        factory="Flat",
        metric=source.entry.spec.metric,
    )
    flat = VectorIndex(spec, source.entry.dim, source.entry.fingerprint)
    cursor: str | None = None
    while True:
        docs = store.log.scan(cursor, 1024)
        if not docs:
            break
        vectors = source.embed_documents([d.text for d in docs])
        flat.backfill({d.id: vectors[d.content_hash] for d in docs})
        cursor = docs[-1].id

    def scoped(selection: Selection | None) -> Searcher:
        def search(text: str, k: int) -> list[str]:
            vectors = source.embed_query(text)
            if selection is None:
                return [h.id for h in flat.search(vectors, k)[0]]
            return [h.id for h in flat.search_among(vectors, k, selection.allowed())[0]]

        return search

    return scoped


class RecallSession:
    """Incremental, sequential judgement of one migration on one eval set."""

    def __init__(
        self,
        store: Store,
        source: IndexRuntime,
        target: IndexRuntime,
        eval_set: EvalSetRecord,
        rule: RecallRule,
        *,
        k: int = 10,
        target_timeout_s: float | None = None,
        slices: SlicePlan | None = None,
        select: Select | None = None,
    ) -> None:
        self.eval_set = eval_set
        self.rule = rule
        self.k = k
        same_embedder = source.entry.fingerprint == target.entry.fingerprint
        self.truth_plan = choose_truth(store, eval_set, same_embedder)
        self.queries = self.truth_plan.queries[: rule.pool]
        if not self.queries:
            raise InvalidInputError(
                f"eval set {eval_set.name!r} has no queries to judge with"
                f" ({self.truth_plan.detail})"
            )
        start = min(rule.min_samples, len(self.queries))
        self.sizes = look_schedule(start, len(self.queries))
        self._pair = PairSearchers(source, target)
        self._sides = (source, target)
        # With ``target_timeout_s`` (the watchdog's session) each target query is bounded:
        # a hung or too slow target fails the step (EmbedderError) instead of hanging it.
        self._timeout_s = target_timeout_s
        self._bounded = target_timeout_s is not None
        self.slices = slices
        self.scopes = scopes_of(self.queries, slices, select)
        self.excluded: frozenset[str] = frozenset(() if slices is None else slices.rolled_back)
        self.slice_judgements: dict[str, Judgement] = {}
        self._looked = 0  # results judged at the last look
        self._qrels = self.truth_plan.qrels
        self._truth = None if self._qrels is not None else exact_truth(store, source)
        self.source_name, self.target_name = source.name, target.name
        self.fingerprints = {
            source.name: source.entry.fingerprint,
            target.name: target.entry.fingerprint,
        }
        self.results: list[QueryResult] = []
        self.judgement: Judgement | None = None
        self.done = False
        self.retried_steps = 0  # steps run_to_end tried again after a target failure
        self.started_at = time.time()
        self._lock = threading.Lock()

    @property
    def truth(self) -> Truth:
        """The truth this session judges against: qrels, known-item or exact."""
        return self.truth_plan.name

    def step(self, budget: int) -> Judgement | None:
        """Evaluate up to ``budget`` more queries; judge whenever a look size is reached.

        Steps never overlap (one lock). When the target is bounded and a query times out
        or fails, the step raises and keeps none of this batch: the next step draws the
        same queries again.
        """
        with self._lock:
            if self.done:
                return self.judgement
            size = next(s for s in self.sizes if s > len(self.results))
            start = len(self.results)
            end = min(size, start + budget)
            self._pair.prime([q.text for q in self.queries[start:end]])
            self.results.extend(self._evaluate(start, end))
            if len(self.results) >= size:
                self._looked = len(self.results)
                self._decide()
            return self.judgement

    def _evaluate(self, start: int, end: int) -> list[QueryResult]:
        """Queries ``start:end`` on both sides, each within its own filter, in order."""
        placed: dict[int, QueryResult] = {}
        for positions in grouped(self.scopes[start:end]).values():
            selection = self.scopes[start + positions[0]].selection
            before = len(self._pair.timings)
            run = evaluate(
                [self.queries[start + p] for p in positions],
                self._pair.searcher(self._sides[0], selection),
                self._target_searcher(selection),
                qrels=self._qrels,
                truth=None if self._truth is None else self._truth(selection),
                k=self.k,
                truth_name=self.truth,
            )
            results = run.results
            if self._bounded:  # the target's own time, without the hand-off to its worker
                timings = self._pair.timings[before:]
                results = [replace(r, target_ms=ms) for r, ms in zip(results, timings, strict=True)]
            placed.update(zip(positions, results, strict=True))
        return [placed[p] for p in sorted(placed)]

    def _target_searcher(self, selection: Selection | None) -> Searcher:
        if self._timeout_s is None:
            return self._pair.searcher(self._sides[1], selection)
        return self._pair.bounded_searcher(self._sides[1], self._timeout_s, selection)

    def exclude(self, labels: Collection[str]) -> None:
        """Judge on without these slices (their reads went back to the source): the last
        look is judged again without them (no new look is spent)."""
        with self._lock:
            if self.excluded >= frozenset(labels):
                return
            self.excluded = self.excluded | frozenset(labels)
            if self._looked:
                self._decide()

    def _decide(self) -> None:
        """Judge the results of the last look: overall (without excluded slices) and per
        slice (``migrator/slice_looks.py``). Done once the overall judgement decides (or the
        pool runs out) and, with slices, every slice still routed has decided too."""
        look = judge_look(
            [s.label for s in self.scopes[: self._looked]],
            recall_deltas(self.results[: self._looked]),
            self.excluded,
            self.rule,
            self.slices,
            looks=len(self.sizes),
            pool=len(self.queries),
        )
        self.judgement, self.slice_judgements, self.done = look.overall, look.slices, look.done

    def slices_judging(self) -> list[str]:
        """Slices still routed whose own judgement holds (more queries may decide them)."""
        return [
            label
            for label, j in self.slice_judgements.items()
            if j.decision == "hold" and label not in self.excluded
        ]

    @property
    def exhausted(self) -> bool:
        return len(self.results) >= len(self.queries)

    def is_done(self) -> bool:
        return self.done

    def run_to_end(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        attempts: int = 1,
        pause_s: float = 0.0,
    ) -> Judgement | None:
        """Step until the judgement decides or the pool runs out.

        A step that fails with EmbedderError (a bounded target that timed out or failed)
        kept none of its batch, so it is tried again, ``pause_s`` later, up to
        ``attempts`` times in a row: a moment of contention is not a verdict, while a hung
        or broken target fails every try and the last error propagates. ``retried_steps``
        counts the tries that failed and were followed by another.
        """
        failures = 0
        while not self.done:
            try:
                self.step(50)
            except EmbedderError:
                failures += 1
                if failures >= attempts:
                    raise
                self.retried_steps += 1
                time.sleep(pause_s)
                continue
            failures = 0
            if progress is not None:
                progress(len(self.results), len(self.queries))
        return self.judgement

    def run(self) -> EvalRun:
        return EvalRun(k=self.k, results=list(self.results), truth=self.truth)

    def report(self, **meta: Any) -> dict[str, Any]:
        return run_to_dict(
            self.run(),
            judgement=self.judgement,
            meta={
                "at": time.time(),
                "eval_set": self.eval_set.name,
                "eval_set_hash": self.eval_set.content_hash,
                "eval_set_sample": len(self.queries),
                "labelled": self.eval_set.labelled,
                "truth": self.truth,
                "truth_detail": self.truth_plan.detail,
                "source": self.source_name,
                "target": self.target_name,
                "fingerprints": self.fingerprints,
                **self._slice_meta(),
                **meta,
            },
        )

    def _slice_meta(self) -> dict[str, Any]:
        """Each slice's judgement and which were judged without (rolled back)."""
        if self.slices is None:
            return {}
        judged = {label: j.to_dict() for label, j in self.slice_judgements.items()}
        return {"slices": judged, "slices_excluded": sorted(self.excluded)}

    def progress(self) -> RecallProgress:
        return RecallProgress(
            eval_set=self.eval_set.name,
            done=len(self.results),
            pool=len(self.queries),
            finished=self.done,
            judgement=self.judgement,
            truth=self.truth,
            truth_detail=self.truth_plan.detail,
        )
