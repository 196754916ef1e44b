"""Evaluation: BEIR-layout datasets and pure retrieval metrics (knows nothing of HTTP)."""

from .datasets import CorpusDoc, Dataset, Query, load_corpus, load_dataset, load_qrels, load_queries
from .metrics import mean, mrr_at_k, ndcg_at_k, overlap_at_k, recall_at_k

__all__ = [
    "CorpusDoc",
    "Dataset",
    "Query",
    "load_corpus",
    "load_dataset",
    "load_qrels",
    "load_queries",
    "mean",
    "mrr_at_k",
    "ndcg_at_k",
    "overlap_at_k",
    "recall_at_k",
]
