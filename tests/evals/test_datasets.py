"""A dataset cut down to some of its documents keeps only questions it can still answer."""

from __future__ import annotations

from evals import CorpusDoc, Dataset, Query


def three_docs() -> Dataset:
    corpus = [CorpusDoc("a", "alpha"), CorpusDoc("b", "beta"), CorpusDoc("c", "gamma")]
    queries = [Query("q1", "one"), Query("q2", "two"), Query("q3", "three"), Query("q4", "none")]
    qrels = {"q1": {"a": 1}, "q2": {"a": 1, "b": 1}, "q3": {"c": 1}}
    return Dataset(corpus, queries, qrels)


def test_a_subset_keeps_the_questions_whose_every_answer_it_holds() -> None:
    cut = three_docs().answered_within(["b", "a"])
    assert [d.id for d in cut.corpus] == ["a", "b"]  # the dataset's order, not the argument's
    assert [q.id for q in cut.queries] == ["q1", "q2"]
    assert cut.qrels == {"q1": {"a": 1}, "q2": {"a": 1, "b": 1}}


def test_a_question_with_one_answer_outside_the_subset_is_dropped() -> None:
    cut = three_docs().answered_within(["a", "c"])
    assert [q.id for q in cut.queries] == ["q1", "q3"]  # q2 also needs b; q4 has no qrels


def test_the_whole_corpus_keeps_every_judged_question() -> None:
    data = three_docs()
    whole = data.answered_within([d.id for d in data.corpus])
    assert whole.corpus == data.corpus
    assert [q.id for q in whole.queries] == ["q1", "q2", "q3"]
