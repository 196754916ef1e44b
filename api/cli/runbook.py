"""A migration's runbook, written from its own plan (pure: status in, markdown out).

Scope, triggers with the exact thresholds and windows, rollback steps as exact commands,
verification checks with the commands that run them, and a communication template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from migrator.guardrails import Guardrails


def render_runbook(
    status: Mapping[str, Any], indexes: Sequence[Mapping[str, Any]], url: str
) -> str:
    mid, source, target = status["id"], status["source"], status["target"]
    plan = status["plan"]
    rails = Guardrails.from_dict(plan.get("guardrails"))
    by_name = {i["name"]: i for i in indexes}
    cli = f"SWITCHOVER_URL={url} switchover"
    lines = [
        f"# Runbook: migration {mid}, {source} -> {target}",
        "",
        f"Written {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC} from the migration's plan;"
        f" phase now **{status['phase']}**, target share {status['target_share']}%.",
        "",
        "## Scope",
        "",
        "| | source | target |",
        "|---|---|---|",
    ]
    for label, key in (("layout", "factory"), ("metric", "metric")):
        lines.append(
            f"| {label} | `{_spec(by_name, source, key)}` | `{_spec(by_name, target, key)}` |"
        )
    lines += [
        f"| embedder | {_embedder(by_name, source)} | {_embedder(by_name, target)} |",
        f"| fingerprint | `{_short(by_name, source)}` | `{_short(by_name, target)}` |",
        f"| documents | {_get(by_name, source, 'count')} | {_get(by_name, target, 'count')} |",
        "",
        f"Canary steps: {', '.join(f'{s:g}%' for s in plan['canary_steps'])}; shadow sample"
        f" {plan['shadow_sample']:.0%} of live reads; eval set: {plan.get('eval_set') or 'none'}.",
        "Writes go to both indexes until `finalize` or `abort`; a rollback moves reads only.",
        "",
        "## Triggers (the watchdog rolls back on any breach, by itself)",
        "",
        "| guardrail | breach when | window | minimum sample |",
        "|---|---|---|---|",
        f"| recall (eval set) | recall@10 drop credibly larger than {rails.recall.margin:.3f}"
        f" ({rails.recall.confidence:.0%} interval, sequential looks) | up to"
        f" {rails.recall.pool} queries | {rails.recall.min_samples} |",
        f"| live recall (shadow vs exact) | same test on live shadow reads, margin"
        f" {rails.live_recall.margin:.3f} | {rails.live_recall.window_s:.0f} s |"
        f" {rails.live_recall.min_samples} |",
        f"| latency | target p95 above {rails.latency.max_p95_ratio}x the source's |"
        f" {rails.latency.window_s:.0f} s | {rails.latency.min_samples} timings per side |",
        f"| errors | target error rate above {rails.errors.max_rate:.2%} |"
        f" {rails.errors.window_s:.0f} s | {rails.errors.min_samples} requests |",
        f"| lag | target more than {rails.lag.max_records} records or"
        f" {rails.lag.max_seconds:.0f} s behind the log | now | - |",
        f"| overlap | mean shadow overlap@10 below {rails.overlap.min_mean}"
        f" ({_overlap_mode(rails)}) | {rails.overlap.window_s:.0f} s |"
        f" {rails.overlap.min_samples} |",
        "",
        "Too little data is *hold*: it never passes, and advancing needs a passing recall"
        " judgement or an audited `--override`.",
        "",
        "## Roll back (reads to the source at once; writes stay dual)",
        "",
        "```bash",
        f'{cli} migrate rollback --id {mid} --reason "<what you saw>"',
        f"{cli} migrate status",
        "```",
        "",
        "Equivalent HTTP call:",
        "",
        "```bash",
        f"curl -sS -X POST {url}/v1/migrations/{mid}/rollback \\",
        '  -H "Authorization: Bearer $SWITCHOVER_OPERATOR_TOKEN" \\',
        '  -H "Content-Type: application/json" -d \'{"reason": "<what you saw>"}\'',
        "```",
        "",
        f"Afterwards: `{cli} migrate resume --id {mid}` returns to shadow; `{cli} migrate abort"
        f" --id {mid}` drops the target. To rehearse the way back: `{cli} drill`.",
        "",
        "## Verify",
        "",
        "| check | command | expect |",
        "|---|---|---|",
        f"| reads are on the source | `curl -s -X POST {url}/v1/search -H 'Content-Type:"
        f' application/json\' -d \'{{"query": "test", "k": 1}}\'` | `served_by` is'
        f" `{source}` |",
        f"| both indexes follow the log | `{cli} indexes list` | `lag=0` on {source} and"
        f" {target}; equal document counts |",
        f"| the rollback is on record | `{cli} migrate events --id {mid}` | a `rolled_back`"
        " event with its reason and evidence |",
        f"| guardrails | `{cli} migrate status --json` | `guardrails`: no `breach` |",
        f"| the target still takes writes | `curl -s -X POST {url}/v1/indexes/{target}/search"
        " -d ...` with a just-written text | the new document is found |",
        "",
        "## Communication template",
        "",
        "```text",
        f"[switchover] Migration {mid} ({source} -> {target}) rolled back at <time UTC>.",
        "Trigger: <guardrail or operator> - <observed value> vs <threshold>.",
        f"Impact: reads served by {source} since the rollback; no write lost (dual-write on).",
        "Evidence: `switchover migrate events` (eval set hash, interval, fingerprints).",
        "Next step: <resume after fix | abort>; owner: <name>; next update: <time>.",
        "```",
    ]
    return "\n".join(lines) + "\n"


def _overlap_mode(rails: Guardrails) -> str:
    if rails.overlap.enabled is None:
        return "on for a layout-only change, off when the embedder changes"
    return "on" if rails.overlap.enabled else "off"


def _get(by_name: Mapping[str, Mapping[str, Any]], name: str, key: str) -> Any:
    return by_name.get(name, {}).get(key, "?")


def _spec(by_name: Mapping[str, Mapping[str, Any]], name: str, key: str) -> Any:
    return by_name.get(name, {}).get("spec", {}).get(key, "?")


def _embedder(by_name: Mapping[str, Mapping[str, Any]], name: str) -> str:
    emb = by_name.get(name, {}).get("spec", {}).get("embedder", {})
    extra = f", truncate_dim {emb['truncate_dim']}" if emb.get("truncate_dim") else ""
    if emb.get("backend", "torch") != "torch":
        extra += f", backend {emb['backend']}"
    return f"{emb.get('model', '?')}{extra}"


def _short(by_name: Mapping[str, Mapping[str, Any]], name: str) -> str:
    return str(by_name.get(name, {}).get("fingerprint", "?"))[:16]
