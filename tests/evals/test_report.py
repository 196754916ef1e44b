"""Stored runs: JSON that round-trips, a markdown summary and a self-contained HTML report."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from evals import Query, evaluate, judge, run_to_dict, to_html, to_markdown
from indexes.errors import InvalidInputError

HOSTILE = '<script>alert("x")</script>'


def make_report(lost: float, at: str | None, seed: int = 0, **meta: Any) -> dict[str, Any]:
    """A run of 400 one-relevant-document queries where the target loses a share of them."""
    rng = np.random.default_rng(seed)
    queries = [Query(f"q{i}", f"text {i}") for i in range(400)]
    missed = {q.text for q in queries if rng.random() < lost}
    qrels = {q.id: {f"d{q.id}": 1} for q in queries}

    def source(text: str, k: int) -> list[str]:
        return [f"dq{text.split()[1]}", "other"][:k]

    def target(text: str, k: int) -> list[str]:
        return ["other"] if text in missed else source(text, k)

    run = evaluate(queries, source, target, qrels=qrels)
    meta = {"eval_set": "sample", "source_index": "v1", "target_index": "v2", **meta}
    if at is not None:
        meta["at"] = at
    return run_to_dict(run, judgement=judge(run.deltas(), margin=0.02), meta=meta)


def points(page: str, series: str) -> int:
    return len(re.findall(rf'<circle class="point" data-series="{series}"', page))


def test_a_stored_run_is_strict_json_that_round_trips() -> None:
    report = make_report(0.01, "2025-05-01T10:00:00")
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report
    assert report["format"] == "switchover.eval-run/1"
    assert report["summary"]["n"] == 400
    assert len(report["queries"]) == 400
    assert set(report["queries"][0]) == {
        "query_id", "source", "target", "overlap", "source_ms", "target_ms",
    }  # fmt: skip


def test_nan_metrics_are_stored_as_null() -> None:
    run = evaluate([Query("q1", "a")], lambda _t, _k: ["d"], lambda _t, _k: ["d"], qrels={})
    report = run_to_dict(run)
    json.dumps(report, allow_nan=False)
    assert report["summary"]["source"]["recall@10"] is None
    assert report["judgement"] is None


def test_markdown_has_a_row_per_metric_with_deltas_the_judgement_and_the_meta() -> None:
    report = make_report(0.1, "2025-05-01T10:00:00", eval_set_hash="sha256:abc")
    text = to_markdown(report)
    delta = report["summary"]["delta"]["recall@10"]
    assert "| metric | source | target | delta |" in text
    assert f"| recall@10 | 1.000 | {1 + delta:.3f} | {delta:+.3f} |" in text
    assert "| ndcg@10 |" in text
    assert "| mrr@10 |" in text
    assert "| p95 latency (ms) |" in text
    assert "**Judgement: fail.**" in text
    assert report["judgement"]["reason"] in text
    assert "- **eval_set_hash**: sha256:abc" in text


def test_markdown_escapes_html_and_table_pipes() -> None:
    text = to_markdown(make_report(0.0, None, eval_set=HOSTILE, target_index="a|b"))
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "a\\|b" in text


def test_html_is_one_self_contained_page_with_the_table_and_the_judgement() -> None:
    report = make_report(0.0, "2025-05-01T10:00:00")
    page = to_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for external in ("<script", "<link", "src=", "href=", "url(", "http"):
        assert external not in page
    assert "<td>recall@10</td>" in page
    assert '<p class="judgement pass"><strong>Judgement: pass.</strong>' in page
    assert page.count("<svg") == 1


def test_the_plot_has_one_point_per_run_per_series_with_interval_bars() -> None:
    history = [make_report(loss, f"2025-05-0{day}T10:00:00", seed=day)
               for day, loss in enumerate([0.0, 0.01, 0.02], start=1)]  # fmt: skip
    current = make_report(0.06, "2025-05-04T10:00:00", seed=4)
    page = to_html(current, history)
    for series in ("source", "target", "delta"):
        assert points(page, series) == 4
    assert page.count('<path class="ci" data-series="delta"') == 4
    assert "recall@10 per index" in page
    assert "delta (target - source)" in page  # axis label
    assert "run time (meta.at)" in page
    assert "source: v1" in page  # legend
    assert "-margin (-0.020)" in page


def test_the_current_report_is_plotted_once_even_if_already_in_history() -> None:
    current = make_report(0.0, "2025-05-02T10:00:00")
    page = to_html(current, [make_report(0.0, "2025-05-01T10:00:00"), current])
    assert points(page, "target") == 2


def test_runs_are_plotted_in_time_order() -> None:
    late, early = make_report(0.0, "2025-06-01T00:00:00"), make_report(0.0, "2025-01-01T00:00:00")
    page = to_html(late, [early])
    assert page.index("2025-01-01 00:00") < page.index("2025-06-01 00:00")


def test_hostile_strings_are_escaped_everywhere_in_the_html() -> None:
    report = make_report(0.0, "2025-05-01T10:00:00", eval_set=HOSTILE, source_index=HOSTILE)
    report["meta"][HOSTILE] = {"nested": HOSTILE}
    report["judgement"]["reason"] = HOSTILE
    page = to_html(report, metric=HOSTILE)
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert 'alert("x")' not in page  # quotes are escaped too


def test_an_unreadable_timestamp_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="ISO 8601"):
        to_html(make_report(0.0, "yesterday-ish"))
