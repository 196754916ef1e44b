"""Eval runs as stored JSON, a markdown summary and a self-contained HTML report.

A report is the plain dict :func:`run_to_dict` returns (valid JSON: NaN is stored as null):

    {"format": "switchover.eval-run/1", "meta": {...}, "summary": EvalRun.summary(),
     "judgement": Judgement.to_dict() | None, "queries": [QueryResult fields, ...]}

``meta`` is free-form and shown as given (eval set name and hash, index names, embedder
fingerprints ...). Four keys are also read: ``eval_set`` titles the report, ``source_index`` and
``target_index`` label the plot's series, and ``at`` (ISO 8601 or epoch seconds) orders runs in
a history. Every piece of text that reaches HTML or markdown goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from .formatting import as_text, esc, num
from .harness import EvalRun
from .judgement import Judgement
from .report_plot import plot_svg

FORMAT = "switchover.eval-run/1"
_LATENCY_ROWS = {"p50_ms": "p50 latency (ms)", "p95_ms": "p95 latency (ms)"}


def run_to_dict(
    run: EvalRun,
    *,
    judgement: Judgement | None = None,
    meta: Mapping[str, Any] | None = None,
    include_queries: bool = True,
) -> dict[str, Any]:
    """The run as a JSON-ready dict; per-query results are kept so a run can be re-judged."""
    report = {
        "format": FORMAT,
        "meta": dict(meta or {}),
        "summary": run.summary(),
        "judgement": judgement.to_dict() if judgement is not None else None,
        "queries": [asdict(result) for result in run.results] if include_queries else [],
    }
    return dict(_json_safe(report))


def to_markdown(report: Mapping[str, Any]) -> str:
    """Metrics per side with deltas, the judgement sentence and the meta, as markdown."""
    summary, meta = report.get("summary") or {}, report.get("meta") or {}
    lines = [f"# {_md(_title(meta))}", "", "| metric | source | target | delta |"]
    lines.append("|---|---:|---:|---:|")
    lines += [f"| {' | '.join(_md(cell) for cell in row)} |" for row in _rows(summary)]
    headline, sentence = _judgement_text(report.get("judgement"))
    lines += ["", f"**{_md(headline)}** {_md(sentence)}", "", _md(_run_text(summary))]
    if meta:
        lines += ["", "## Meta", ""]
        lines += [f"- **{_md(str(key))}**: {_md(as_text(value))}" for key, value in meta.items()]
    return "\n".join(lines) + "\n"


def to_html(
    report: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] = (),
    *,
    metric: str = "recall@10",
) -> str:
    """One self-contained page (inline CSS and SVG, no scripts, no external assets).

    The plot shows ``metric`` per index and the paired delta with its interval across
    ``history`` (earlier reports, ordered by ``meta["at"]``) plus this report.
    """
    summary, meta = report.get("summary") or {}, report.get("meta") or {}
    judgement = report.get("judgement")
    decision = judgement.get("decision", "") if isinstance(judgement, Mapping) else "none"
    headline, sentence = _judgement_text(judgement)
    head = "".join(f"<th>{esc(cell)}</th>" for cell in ("metric", "source", "target", "delta"))
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(summary)
    )
    meta_rows = "".join(
        f"<tr><th>{esc(str(key))}</th><td>{esc(as_text(value))}</td></tr>"
        for key, value in meta.items()
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(_title(meta))}</title><style>{_CSS}</style></head><body>",
            f"<h1>{esc(_title(meta))}</h1>",
            f'<p class="judgement {esc(str(decision))}"><strong>{esc(headline)}</strong> '
            f"{esc(sentence)}</p>",
            f"<p>{esc(_run_text(summary))}</p>",
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
            f"<h2>{esc(metric)} over time</h2>",
            plot_svg(report, history, metric),
            f"<h2>Meta</h2><table>{meta_rows}</table>" if meta else "",
            "</body></html>",
        ]
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:860px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{padding:4px 10px;"
    "border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child{text-align:left}"
    ".judgement{padding:8px 12px;border-left:6px solid #999;background:#f6f6f6}"
    ".judgement.pass{border-color:#55a868}.judgement.fail{border-color:#c44e52}"
    ".judgement.hold{border-color:#dd8452}svg text{font-size:11px}"
    "svg .panel-title{font-weight:600}"
)


def _rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, source, target, delta) per metric, then latency, formatted for display."""
    source, target = summary.get("source") or {}, summary.get("target") or {}
    deltas = summary.get("delta") or {}
    rows = [
        (name, num(source.get(name)), num(target.get(name)), num(delta, signed=True))
        for name, delta in deltas.items()
    ]
    for key, label in _LATENCY_ROWS.items():
        src, tgt = source.get(key), target.get(key)
        change = tgt - src if isinstance(src, float) and isinstance(tgt, float) else None
        rows.append((label, num(src, 2), num(tgt, 2), num(change, 2, signed=True)))
    return rows


def _title(meta: Mapping[str, Any]) -> str:
    name = meta.get("eval_set")
    return f"Eval run: {name}" if name else "Eval run"


def _judgement_text(judgement: Any) -> tuple[str, str]:
    """(headline, sentence) for a stored judgement."""
    if not isinstance(judgement, Mapping):
        return "Judgement: none recorded.", ""
    confidence = judgement.get("confidence")
    level = f"{confidence:.0%}" if isinstance(confidence, float) else "?"
    return f"Judgement: {judgement.get('decision')}.", (
        f"{judgement.get('reason')} ({level} interval, valid over up to "
        f"{judgement.get('max_looks')} looks; margin {num(judgement.get('margin'))})"
    )


def _run_text(summary: Mapping[str, Any]) -> str:
    k = summary.get("k")
    return (
        f"{summary.get('n', 0):,} queries at k = {k}, truth: {summary.get('truth')}; "
        f"mean overlap@{k} between the two rankings {num(summary.get(f'overlap@{k}'))}; "
        f"p95 latency ratio target/source {num(summary.get('p95_ratio'), 2)}."
    )


def _md(text: str) -> str:
    """Markdown-safe cell text: HTML escaped, pipes escaped, one line."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _json_safe(value: Any) -> Any:
    """Plain JSON types only: NaN and infinities become None, numpy scalars Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)
