"""Evaluation: BEIR-layout datasets, pure retrieval metrics, the harness comparing two searchers,
the paired non-inferiority judgement and reports (knows nothing of HTTP)."""

from .datasets import CorpusDoc, Dataset, Query, load_corpus, load_dataset, load_qrels, load_queries
from .harness import EvalRun, QueryResult, Searcher, evaluate
from .judgement import (
    Decision,
    Judgement,
    judge,
    judge_sequentially,
    look_schedule,
    paired_deltas,
    required_samples,
)
from .known_items import KnownItem, known_items
from .metrics import mean, mrr_at_k, ndcg_at_k, overlap_at_k, recall_at_k
from .report import run_to_dict, to_html, to_markdown

__all__ = [
    "CorpusDoc",
    "Dataset",
    "Decision",
    "EvalRun",
    "Judgement",
    "KnownItem",
    "Query",
    "QueryResult",
    "Searcher",
    "evaluate",
    "judge",
    "judge_sequentially",
    "known_items",
    "load_corpus",
    "load_dataset",
    "load_qrels",
    "load_queries",
    "look_schedule",
    "mean",
    "mrr_at_k",
    "ndcg_at_k",
    "overlap_at_k",
    "paired_deltas",
    "recall_at_k",
    "required_samples",
    "run_to_dict",
    "to_html",
    "to_markdown",
]
