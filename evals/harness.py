"""Compare two searchers on the same queries: paired per-query metrics, overlap and latency.

Ground truth is either labels (``qrels``: a BEIR folder's, or known-item labels built from
its documents, named ``truth_name="known-item"``) or, without labels, an exact searcher
(``truth``, e.g. a Flat index with the source's embedder): at each cut-off ``c`` its top ``c``
documents are the relevant ones, each with relevance 1, so recall@c is the share of the exact
top ``c`` a side found. Every run names the truth it used.

Metrics are computed at the cut-off ``k`` and, when ``k > 10``, also at 10 (the literature's
nDCG@10 and MRR@10), all from the one ranking each searcher returns for ``k``. A query without
any positive judgement scores NaN on both sides and drops out of the paired deltas.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from indexes.errors import InvalidInputError

from .datasets import Query
from .judgement import paired_deltas
from .metrics import mean, mrr_at_k, ndcg_at_k, overlap_at_k, recall_at_k

Searcher = Callable[[str, int], list[str]]  # (query text, k) -> ranked doc ids
Truth = Literal["qrels", "known-item", "exact"]
Side = Literal["source", "target"]
_SCORERS = {"recall": recall_at_k, "ndcg": ndcg_at_k, "mrr": mrr_at_k}


@dataclass(frozen=True)
class QueryResult:
    query_id: str
    source: dict[str, float]  # {"recall@10": ..., "ndcg@10": ..., "mrr@10": ...}
    target: dict[str, float]
    overlap: float  # overlap@k between the two rankings
    source_ms: float
    target_ms: float


@dataclass(frozen=True)
class EvalRun:
    k: int
    results: list[QueryResult]
    truth: Truth

    @property
    def metric_names(self) -> list[str]:
        return metric_names(self.k)

    def summary(self) -> dict[str, Any]:
        """Per side: mean of each metric and p50/p95 latency; paired mean deltas; overlap; n."""
        names = self.metric_names
        sides = {side: self._side_summary(side, names) for side in ("source", "target")}
        source_p95, target_p95 = sides["source"]["p95_ms"], sides["target"]["p95_ms"]
        return {
            "n": len(self.results),
            "k": self.k,
            "truth": self.truth,
            **sides,
            "delta": {name: _mean_or_nan(self.deltas(name)) for name in names},
            f"overlap@{self.k}": mean([r.overlap for r in self.results]),
            "p95_ratio": target_p95 / source_p95 if source_p95 > 0 else math.nan,
        }

    def deltas(self, metric: str = "recall@10") -> npt.NDArray[np.float64]:
        """Paired per-query deltas, target - source, for queries judged on both sides."""
        if metric not in self.metric_names:
            raise InvalidInputError(f"unknown metric {metric!r}; this run has {self.metric_names}")
        return paired_deltas(
            [r.source[metric] for r in self.results], [r.target[metric] for r in self.results]
        )

    def _side_summary(self, side: Side, names: list[str]) -> dict[str, float]:
        scores = [getattr(r, side) for r in self.results]
        latency = [getattr(r, f"{side}_ms") for r in self.results]
        return {
            **{name: mean([s[name] for s in scores]) for name in names},
            "p50_ms": float(np.percentile(latency, 50)) if latency else math.nan,
            "p95_ms": float(np.percentile(latency, 95)) if latency else math.nan,
        }


def cutoffs(k: int) -> list[int]:
    """The cut-offs a run at ``k`` reports: ``k``, and 10 as well when ``k > 10``."""
    return sorted({min(k, 10), k})


def metric_names(k: int) -> list[str]:
    return [f"{name}@{cut}" for cut in cutoffs(k) for name in _SCORERS]


def evaluate(
    queries: Sequence[Query],
    source: Searcher,
    target: Searcher,
    *,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    truth: Searcher | None = None,
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
    truth_name: Truth | None = None,
) -> EvalRun:
    """Run every query on both searchers and score both rankings against the same truth.

    ``truth_name`` names labels that are not a folder's qrels (``"known-item"``)."""
    if k < 1:
        raise InvalidInputError(f"k must be positive, got {k}")
    if (qrels is None) == (truth is None):
        raise InvalidInputError("pass exactly one ground truth: qrels (labels) or truth (exact)")
    results = []
    for done, query in enumerate(queries, start=1):
        relevant = _relevant(query, qrels, truth, k)
        source_ids, source_ms = _timed(source, query.text, k)
        target_ids, target_ms = _timed(target, query.text, k)
        results.append(
            QueryResult(
                query_id=query.id,
                source=_scores(source_ids, relevant),
                target=_scores(target_ids, relevant),
                overlap=overlap_at_k(source_ids, target_ids, k),
                source_ms=source_ms,
                target_ms=target_ms,
            )
        )
        if progress is not None:
            progress(done, len(queries))
    named: Truth = truth_name or ("qrels" if qrels is not None else "exact")
    return EvalRun(k=k, results=results, truth=named)


def _relevant(
    query: Query,
    qrels: Mapping[str, Mapping[str, int]] | None,
    truth: Searcher | None,
    k: int,
) -> dict[int, Mapping[str, int]]:
    """Judgements per cut-off: the query's qrels, or the exact searcher's top ``c``."""
    if qrels is not None:
        judged = qrels.get(query.id, {})
        return dict.fromkeys(cutoffs(k), judged)
    if truth is not None:
        exact = truth(query.text, k)
        return {cut: dict.fromkeys(exact[:cut], 1) for cut in cutoffs(k)}
    raise InvalidInputError("no ground truth: pass qrels or an exact truth searcher")


def _scores(ranked: Sequence[str], relevant: Mapping[int, Mapping[str, int]]) -> dict[str, float]:
    scores = {}
    for cut, judged in relevant.items():
        has_positive = any(score > 0 for score in judged.values())
        for name, scorer in _SCORERS.items():
            scores[f"{name}@{cut}"] = scorer(ranked, judged, cut) if has_positive else math.nan
    return scores


def _timed(searcher: Searcher, text: str, k: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    ranked = searcher(text, k)
    return list(ranked), (time.perf_counter() - started) * 1000


def _mean_or_nan(values: npt.NDArray[np.float64]) -> float:
    return float(np.mean(values)) if values.size else math.nan
