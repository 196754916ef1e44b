"""The harness runs both searchers on the same queries and pairs their metrics per query."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from evals import Query, judge, load_dataset
from evals.harness import Searcher, evaluate
from indexes.errors import InvalidInputError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
QUERIES = [Query("q1", "alpha"), Query("q2", "beta"), Query("q3", "gamma")]
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}}


def fixed(rankings: Mapping[str, Sequence[str]]) -> Searcher:
    """A fake searcher answering each query text with a fixed ranking."""
    return lambda text, k: list(rankings[text])[:k]


SOURCE = fixed({"alpha": ["d1", "x", "y"], "beta": ["d2", "x"], "gamma": ["d3"]})
TARGET = fixed({"alpha": ["x", "y", "d1"], "beta": ["x", "y"], "gamma": ["d3"]})


def test_metrics_are_scored_against_qrels_per_query_and_paired() -> None:
    run = evaluate(QUERIES, SOURCE, TARGET, qrels=QRELS, k=10)
    assert run.truth == "qrels"
    first = run.results[0]
    assert first.query_id == "q1"
    assert first.source == {"recall@10": 1.0, "ndcg@10": 1.0, "mrr@10": 1.0}
    assert first.target["recall@10"] == 1.0
    assert first.target["mrr@10"] == pytest.approx(1 / 3)
    assert first.target["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert run.deltas("recall@10").tolist() == [0.0, -1.0, 0.0]
    assert run.deltas("mrr@10").tolist() == pytest.approx([-2 / 3, -1.0, 0.0])


def test_overlap_compares_the_two_rankings_at_k() -> None:
    run = evaluate(QUERIES, SOURCE, TARGET, qrels=QRELS, k=2)
    assert [r.overlap for r in run.results] == [0.5, 0.5, 0.5]


def test_without_labels_the_exact_searchers_top_k_is_the_truth() -> None:
    exact = fixed({q.text: [f"e{i}" for i in range(10)] for q in QUERIES})
    half = fixed({q.text: [f"e{i}" for i in range(0, 10, 2)] + ["z"] * 5 for q in QUERIES})
    run = evaluate(QUERIES, exact, half, truth=exact, k=10)
    assert run.truth == "exact"
    assert all(r.source["recall@10"] == 1.0 for r in run.results)
    assert all(r.target["recall@10"] == 0.5 for r in run.results)


def test_a_deep_run_also_reports_the_cut_off_ten_against_the_exact_top_ten() -> None:
    exact = fixed({q.text: [f"e{i}" for i in range(100)] for q in QUERIES})
    run = evaluate(QUERIES, exact, exact, truth=exact, k=100)
    assert run.metric_names == [
        "recall@10", "ndcg@10", "mrr@10", "recall@100", "ndcg@100", "mrr@100",
    ]  # fmt: skip
    assert run.results[0].source["recall@10"] == 1.0  # 10 of the exact top 10, not 10 of 100


def test_a_query_without_judgements_scores_nan_and_leaves_the_pairs() -> None:
    run = evaluate(QUERIES, SOURCE, TARGET, qrels={"q1": {"d1": 1}, "q2": {"d2": 0}}, k=10)
    assert math.isnan(run.results[1].source["recall@10"])
    assert math.isnan(run.results[2].target["mrr@10"])
    assert run.deltas("recall@10").tolist() == [0.0]
    assert run.summary()["source"]["recall@10"] == 1.0


def test_an_identical_target_has_zero_deltas_and_full_overlap() -> None:
    run = evaluate(QUERIES, SOURCE, SOURCE, qrels=QRELS, k=1)
    summary = run.summary()
    assert summary["delta"] == {"recall@1": 0.0, "ndcg@1": 0.0, "mrr@1": 0.0}
    assert summary["overlap@1"] == 1.0


def test_the_summary_has_means_latency_percentiles_and_n_per_side() -> None:
    summary = evaluate(QUERIES, SOURCE, TARGET, qrels=QRELS).summary()
    assert summary["n"] == 3
    assert summary["k"] == 10
    assert summary["truth"] == "qrels"
    assert summary["source"]["recall@10"] == 1.0
    assert summary["target"]["recall@10"] == pytest.approx(2 / 3)
    assert summary["delta"]["recall@10"] == pytest.approx(-1 / 3)
    for side in ("source", "target"):
        assert 0 <= summary[side]["p50_ms"] <= summary[side]["p95_ms"]
    assert "overlap@10" in summary
    assert "p95_ratio" in summary


def test_each_searcher_call_is_timed() -> None:
    def slow(text: str, k: int) -> list[str]:
        time.sleep(0.005)
        return SOURCE(text, k)

    run = evaluate(QUERIES[:2], SOURCE, slow, qrels=QRELS)
    assert all(r.target_ms >= 5.0 for r in run.results)
    assert all(r.source_ms < r.target_ms for r in run.results)


def test_progress_is_reported_after_each_query() -> None:
    calls: list[tuple[int, int]] = []
    evaluate(
        QUERIES,
        SOURCE,
        TARGET,
        qrels=QRELS,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_no_queries_make_an_empty_run_that_the_judge_holds() -> None:
    run = evaluate([], SOURCE, TARGET, qrels=QRELS)
    assert run.summary()["n"] == 0
    assert judge(run.deltas(), margin=0.02).decision == "hold"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"qrels": QRELS, "truth": SOURCE}, {"qrels": QRELS, "k": 0}],
    ids=["no truth", "two truths", "k zero"],
)
def test_a_run_without_exactly_one_ground_truth_or_with_bad_k_is_invalid_input(
    kwargs: dict[str, object],
) -> None:
    with pytest.raises(InvalidInputError):
        evaluate(QUERIES, SOURCE, TARGET, **kwargs)  # type: ignore[arg-type]


def test_asking_for_a_metric_the_run_lacks_is_invalid_input() -> None:
    run = evaluate(QUERIES, SOURCE, TARGET, qrels=QRELS, k=5)
    with pytest.raises(InvalidInputError, match="recall@5"):
        run.deltas("recall@10")


def test_a_target_that_finds_nothing_fails_on_the_sample_eval_set() -> None:
    dataset = load_dataset(SAMPLE)
    by_text = {q.text: q.id for q in dataset.queries}

    def oracle(text: str, k: int) -> list[str]:
        return list(dataset.qrels[by_text[text]])[:k]

    run = evaluate(dataset.queries, oracle, lambda _text, _k: [], qrels=dataset.qrels)
    verdict = judge(run.deltas(), margin=0.02)
    assert run.summary()["n"] == 150
    assert verdict.decision == "fail"
