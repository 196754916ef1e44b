"""Which truth judges a pair of index versions on an eval set, and the queries it asks.

- The folder's **qrels** when it has them, whatever changes.
- **Exact search with the source's embedder** (Flat) when both sides embed with the same
  fingerprint: a layout change is measured against what the layout could have found.
- **Known-item** queries (sentences taken from the eval set's corpus, each answered by its
  own document) when the embedder changes and there are no qrels: exact search with either
  model would be that model's own neighbours, a truth that scores an equally good new model
  as a large loss (measured on SQuAD: about 28 points). Only items whose document is live
  in the store and still holds the sentence are asked, so a rewritten or deleted document
  cannot count as a miss for both sides.
- Otherwise (the embedder changes, no qrels, no corpus) nothing fair can judge: refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from evals import Query
from evals.harness import Truth
from indexes.errors import InvalidInputError

from .evalsets import queries_of
from .store import EvalSetRecord, Store


@dataclass(frozen=True)
class TruthPlan:
    """The truth's name, the queries it asks, and their labels (None: exact search)."""

    name: Truth
    queries: list[Query]
    qrels: dict[str, dict[str, int]] | None
    detail: str


def unjudgeable(eval_set: EvalSetRecord, same_embedder: bool) -> str | None:
    """Why ``eval_set`` cannot judge a pair fairly, or None when it can."""
    if eval_set.labelled or same_embedder or eval_set.known_items:
        return None
    return (
        f"eval set {eval_set.name!r} has no qrels.tsv and no corpus.jsonl to build known-item"
        " queries from, and the embedder changes: exact search with either model is that"
        " model's own neighbours, not a fair truth. Register an eval set with qrels.tsv or"
        " corpus.jsonl"
    )


def choose_truth(store: Store, eval_set: EvalSetRecord, same_embedder: bool) -> TruthPlan:
    """The truth for this pair (see the module docstring); InvalidInputError when none."""
    if eval_set.labelled:
        return TruthPlan("qrels", queries_of(eval_set), eval_set.qrels, "the folder's qrels.tsv")
    if same_embedder:
        detail = "exact search (Flat) with the source's embedder, shared by both sides"
        return TruthPlan("exact", queries_of(eval_set), None, detail)
    reason = unjudgeable(eval_set, same_embedder)
    if reason is not None:
        raise InvalidInputError(reason)
    items = live_known_items(store, eval_set)
    qrels = {item["id"]: {item["doc_id"]: 1} for item in items}
    queries = [Query(item["id"], item["text"]) for item in items]
    detail = (
        f"known-item: {len(items)} of {len(eval_set.known_items)} sentences taken from the"
        " corpus, each answered by its own document (live and unchanged)"
    )
    return TruthPlan("known-item", queries, qrels, detail)


def live_known_items(store: Store, eval_set: EvalSetRecord) -> list[dict[str, str]]:
    """The eval set's known items whose document is live and still holds the sentence."""
    items = eval_set.known_items
    live: dict[str, str] = {}
    for start in range(0, len(items), _LOOKUP_BATCH):
        ids = [item["doc_id"] for item in items[start : start + _LOOKUP_BATCH]]
        live.update({i: d.text for i, d in store.log.documents(ids).items()})
    return [item for item in items if item["text"] in live.get(item["doc_id"], "")]


_LOOKUP_BATCH = 500  # documents per lookup: well under any database's bound on parameters
