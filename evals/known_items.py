"""Known-item queries: labels built from the documents themselves, for unlabelled eval sets.

When the embedding model changes, exact search with either model is a biased truth (the old
model's own neighbours score an equally good new model as a large "drop"). A known-item
query is a sentence taken from a document, and that document is its one relevant answer:
a truth neither model had a hand in. Documents and sentences are drawn with a seed, so the
same folder and seed give the same queries: one sentence from each document first (in a
seeded order), then a second sentence of each, and so on, until ``n``. Telling a small
difference from the margin takes many paired queries (on SQuAD, hundreds to thousands), more
than a small corpus has documents.

A sentence is eligible when it has 6 to 40 words (shorter ones are too vague to point at
one document, longer ones are most of it); a document without one gives a window of 12
words at a seeded position, if it has 6 words at all. The sentence stays in its document
(the indexed text is not changed), so these queries are easier than real questions: a
truth without bias between models, less sensitive than qrels to small differences.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .datasets import CorpusDoc

MIN_WORDS = 6
MAX_WORDS = 40
WINDOW_WORDS = 12
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class KnownItem:
    id: str
    text: str
    doc_id: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "text": self.text, "doc_id": self.doc_id}


def known_items(corpus: Sequence[CorpusDoc], n: int, seed: int) -> list[KnownItem]:
    """Up to ``n`` known-item queries, seeded: a sentence of every document, then a second."""
    rng = random.Random(seed)  # noqa: S311 - seeded sampling, not crypto
    order = list(range(len(corpus)))
    rng.shuffle(order)
    candidates = [(corpus[i].id, candidates_of(corpus[i].text, rng)) for i in order]
    items: list[KnownItem] = []
    for round_ in range(max((len(c) for _, c in candidates), default=0)):
        for doc_id, texts in candidates:
            if len(items) >= n:
                return items
            if round_ < len(texts):
                suffix = "" if round_ == 0 else f"#{round_}"
                items.append(KnownItem(f"known-item:{doc_id}{suffix}", texts[round_], doc_id))
    return items


def candidates_of(text: str, rng: random.Random) -> list[str]:
    """The eligible sentences of ``text`` in a seeded order, or one window of its words."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    eligible = [s for s in sentences if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
    rng.shuffle(eligible)
    if eligible:
        return eligible
    window = query_from(text, rng)
    return [] if window is None else [window]


def query_from(text: str, rng: random.Random) -> str | None:
    """A seeded sentence of ``text`` (or a window of its words); None if it is too short."""
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    eligible = [s for s in sentences if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
    if eligible:
        return rng.choice(eligible)
    words = text.split()
    if len(words) < MIN_WORDS:
        return None
    start = rng.randrange(max(1, len(words) - WINDOW_WORDS + 1))
    return " ".join(words[start : start + WINDOW_WORDS])
