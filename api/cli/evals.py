"""``switchover eval-set`` and ``switchover eval``: register eval sets, run and read eval jobs."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from .client import Client
from .options import operator_client, operator_options


@click.group("eval-set")
def eval_set() -> None:
    """Register and list eval sets (seeded samples of BEIR-layout folders)."""


@eval_set.command("add")
@click.argument("name")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sample", type=click.IntRange(1, 20_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@operator_options
def eval_set_add(
    name: str,
    folder: Path,
    sample: int,
    seed: int,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Register FOLDER (corpus.jsonl, queries.jsonl, qrels.tsv?) as eval set NAME."""
    body = {"name": name, "path": str(folder.resolve()), "sample": sample, "seed": seed}
    record = operator_client(url, token, home).request("POST", "/v1/eval-sets", body)
    click.echo(
        f"eval set {record['name']}: {record['sample']} queries (seed {record['seed']}),"
        f" {'labelled' if record['labelled'] else 'exact-search truth'},"
        f" sha256 {record['content_hash'][:16]}"
    )


@eval_set.command("list")
@operator_options
def eval_set_list(url: str, token: str | None, home: Path | None) -> None:
    """Every registered eval set."""
    for r in operator_client(url, token, home).request("GET", "/v1/eval-sets")["eval_sets"]:
        click.echo(f"{r['name']:<16} {r['sample']:>6} queries  seed {r['seed']:<6} {r['path']}")


@click.group("eval")
def eval_group() -> None:
    """Run eval jobs and read their reports."""


@eval_group.command("run")
@click.option("--eval-set", "eval_set_name", required=True)
@click.option("--source", default=None, help="Default: the current migration's source.")
@click.option("--target", default=None, help="Default: the current migration's target.")
@click.option("--limit", type=int, default=None, help="At most this many queries.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write report.json, report.md and report.html here.",
)
@operator_options
def eval_run(
    eval_set_name: str,
    source: str | None,
    target: str | None,
    limit: int | None,
    out: Path | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Run an eval set on two index versions; prints the judgement, writes the reports."""
    client = operator_client(url, token, home)
    options = {"source": source, "target": target, "limit": limit}
    body: dict[str, Any] = {"eval_set": eval_set_name}
    body.update({k: v for k, v in options.items() if v is not None})
    job = client.request("POST", "/v1/evals", body)
    with tqdm(total=job["queries"], unit="query", desc="eval", file=sys.stderr) as bar:
        while True:
            record = client.request("GET", f"/v1/evals/{job['id']}")
            report = record["report"]
            bar.n = report.get("done", len(report.get("queries", [])))
            bar.refresh()
            if report.get("status") != "running":
                break
            time.sleep(0.5)
    _print_eval(record)
    if out is not None:
        _write_reports(client, job["id"], out)


@eval_group.command("show")
@click.argument("run_id", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@operator_options
def eval_show(
    run_id: int, out: Path | None, url: str, token: str | None, home: Path | None
) -> None:
    """One eval run's summary and judgement (and its reports with --out)."""
    client = operator_client(url, token, home)
    _print_eval(client.request("GET", f"/v1/evals/{run_id}"))
    if out is not None:
        _write_reports(client, run_id, out)


@eval_group.command("list")
@operator_options
def eval_list(url: str, token: str | None, home: Path | None) -> None:
    """Eval runs, newest first."""
    for r in operator_client(url, token, home).request("GET", "/v1/evals")["evals"]:
        at = dt.datetime.fromtimestamp(r["at"], tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"{r['id']:>4}  {at}  {r['eval_set']:<14} {r['source']} -> {r['target']:<8}"
            f" {r['origin']:<17} {r['decision'] or '-'}"
        )


def _print_eval(record: dict[str, Any]) -> None:
    report = record["report"]
    if "summary" not in report:
        raise click.ClickException(f"eval run {record['id']}: {report}")
    summary, judgement = report["summary"], report.get("judgement") or {}
    click.echo(
        f"eval run {record['id']}: {record['source']} -> {record['target']}"
        f" on {record['eval_set']} ({summary.get('n', '?')} queries)"
    )
    if judgement:
        click.echo(f"  {judgement['decision'].upper()}: {judgement['reason']}")


def _write_reports(client: Client, run_id: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    record = client.request("GET", f"/v1/evals/{run_id}")
    (out / f"eval-{run_id}.json").write_text(json.dumps(record["report"], indent=2) + "\n")
    for fmt, suffix in (("markdown", "md"), ("html", "html")):
        text = client.request_text("GET", f"/v1/evals/{run_id}?format={fmt}")
        (out / f"eval-{run_id}.{suffix}").write_text(text, encoding="utf-8")
    click.echo(f"  reports: {out}/eval-{run_id}.{{json,md,html}}")
