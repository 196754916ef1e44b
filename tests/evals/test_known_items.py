"""Known-item queries: a seeded sentence of a document, answered by that document."""

from __future__ import annotations

import random

from evals import CorpusDoc, known_items, load_corpus
from evals.known_items import MAX_WORDS, MIN_WORDS, query_from
from tests.conftest import SAMPLE_DIR

CORPUS = load_corpus(SAMPLE_DIR / "corpus.jsonl")


def test_each_query_is_a_sentence_of_its_own_document() -> None:
    items = known_items(CORPUS, 40, seed=3)
    by_id = {d.id: d for d in CORPUS}
    assert len(items) == 40
    assert len({i.doc_id for i in items}) == 40  # one query per document
    for item in items:
        assert item.text in by_id[item.doc_id].text
        assert MIN_WORDS <= len(item.text.split()) <= MAX_WORDS
        assert item.id == f"known-item:{item.doc_id}"


def test_past_one_per_document_further_sentences_of_each_are_asked() -> None:
    first = known_items(CORPUS, len(CORPUS), seed=3)
    more = known_items(CORPUS, 2 * len(CORPUS), seed=3)
    assert more[: len(CORPUS)] == first  # a larger n only adds queries
    extra = more[len(CORPUS) :]
    assert extra
    assert all(i.id == f"known-item:{i.doc_id}#1" for i in extra)
    assert len({i.text for i in more}) == len(more)  # never the same sentence twice
    by_id = {d.id: d for d in CORPUS}
    assert all(i.text in by_id[i.doc_id].text for i in extra)


def test_the_same_seed_gives_the_same_queries_and_another_seed_others() -> None:
    assert known_items(CORPUS, 20, seed=5) == known_items(CORPUS, 20, seed=5)
    assert known_items(CORPUS, 20, seed=5) != known_items(CORPUS, 20, seed=6)


def test_a_document_too_short_gives_no_query() -> None:
    docs = [*CORPUS[:3], CorpusDoc("tiny", "Too short.")]
    assert {i.doc_id for i in known_items(docs, 100, seed=1)} == {d.id for d in CORPUS[:3]}


def test_a_document_without_a_usable_sentence_gives_a_window_of_its_words() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    query = query_from(text.replace(" ", ", ") + "; and so on", random.Random(0))
    assert query is not None
    assert query in text.replace(" ", ", ") + "; and so on"
    assert query_from("far too short", random.Random(0)) is None
