"""``switchover migrate``: drive a migration on the running server, phase by phase."""

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
from .options import (
    json_option,
    migration_id_option,
    move_body,
    move_options,
    operator_client,
    operator_options,
    percents,
)

INCONCLUSIVE_HELP = (
    'When the judgement keeps holding, as JSON: {"action": "rollback"|"freeze",'
    ' "deadline_s": 3600, "on_pool_exhausted": true}.'
)


@click.group()
def migrate() -> None:
    """Drive a migration on the running server (operator token required)."""


def _current_id(client: Client, migration_id: int | None) -> int:
    if migration_id is not None:
        return migration_id
    return int(client.request("GET", "/v1/migrations/current")["id"])


def print_status(status: dict[str, Any]) -> None:
    bf = status["backfill"]
    click.echo(
        f"migration {status['id']}: {status['source']} -> {status['target']}  "
        f"phase={status['phase']}  target share={status['target_share']}%"
    )
    if bf.get("started_at"):
        click.echo(
            f"  backfill {bf['done']}/{bf['total']}"
            f"{' finished' if bf['finished'] else ''}"
            f"  {bf.get('docs_per_s', 0)} docs/s  eta {bf.get('eta_s')}s  encoded {bf['encoded']}"
        )
    live = status.get("live")
    if live:
        shadow = live["shadow"]
        click.echo(
            f"  target lag {live['target_lag_records']} records / {live['target_lag_seconds']}s;"
            f" served {live['served']}; errors {live['errors']}"
        )
        click.echo(
            f"  shadow: {shadow['completed']} done, {shadow['dropped']} dropped,"
            f" mean overlap {shadow['mean_overlap']}"
        )


@migrate.command("start")
@click.option("--target", "target_name", required=True, help="Name of the new index version.")
@click.option("--factory", required=True, help='FAISS index_factory string, e.g. "HNSW32,Flat".')
@click.option("--metric", type=click.Choice(["ip", "l2"]), default="ip", show_default=True)
@click.option(
    "--embedder",
    "embedder_json",
    default=None,
    help="Embedder spec as JSON (default: the source's, a layout-only migration).",
)
@click.option(
    "--backend",
    type=click.Choice(["faiss", "pgvector"]),
    default="faiss",
    help="Where the version lives; pgvector takes flat, hnsw(m=..) or ivfflat(lists=..).",
)
@click.option("--ef-search", type=int, default=None)
@click.option("--nprobe", type=int, default=None)
@click.option("--canary-steps", default=None, help="Comma-separated percents, e.g. 1,5,25,50.")
@click.option("--shadow-sample", type=click.FloatRange(0, 1), default=None)
@click.option("--eval-set", default=None, help="The registered eval set that judges it.")
@click.option(
    "--guardrails",
    "guardrails_json",
    default=None,
    help='Guardrail overrides as JSON, e.g. \'{"recall": {"margin": 0.03}}\'.',
)
@click.option("--inconclusive", "inconclusive_json", default=None, help=INCONCLUSIVE_HELP)
@operator_options
def migrate_start(
    target_name: str,
    factory: str,
    metric: str,
    embedder_json: str | None,
    backend: str,
    ef_search: int | None,
    nprobe: int | None,
    canary_steps: str | None,
    shadow_sample: float | None,
    eval_set: str | None,
    guardrails_json: str | None,
    inconclusive_json: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Create a migration to a new index version; dual-write starts now."""
    target = _target(target_name, factory, metric, embedder_json, backend, ef_search, nprobe)
    body: dict[str, Any] = {"target": target}
    if canary_steps:
        body["canary_steps"] = percents(canary_steps)
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if eval_set:
        body["eval_set"] = eval_set
    if guardrails_json:
        body["guardrails"] = json_option(guardrails_json, "--guardrails")
    if inconclusive_json:
        body["inconclusive"] = json_option(inconclusive_json, "--inconclusive")
    print_status(operator_client(url, token, home).request("POST", "/v1/migrations", body))


def _target(
    name: str,
    factory: str,
    metric: str,
    embedder_json: str | None,
    backend: str,
    ef_search: int | None,
    nprobe: int | None,
) -> dict[str, Any]:
    target: dict[str, Any] = {"name": name, "factory": factory, "metric": metric}
    if backend != "faiss":
        target["backend"] = backend
    if embedder_json:
        target["embedder"] = json_option(embedder_json, "--embedder")
    params = {k: v for k, v in (("ef_search", ef_search), ("nprobe", nprobe)) if v is not None}
    if params:
        target["search_params"] = params
    return target


@migrate.command("plan")
@click.option("--target", "target_name", required=True, help="Name of the new index version.")
@click.option("--factory", required=True, help='FAISS index_factory string, e.g. "HNSW32,Flat".')
@click.option("--metric", type=click.Choice(["ip", "l2"]), default="ip", show_default=True)
@click.option("--embedder", "embedder_json", default=None, help="Embedder spec as JSON.")
@click.option("--backend", type=click.Choice(["faiss", "pgvector"]), default="faiss")
@click.option("--ef-search", type=int, default=None)
@click.option("--nprobe", type=int, default=None)
@click.option("--sample", type=click.IntRange(1, 4096), default=128, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--eval-set", default=None, help="Are its paired queries enough for the margin?")
@click.option("--guardrails", "guardrails_json", default=None, help="As for start (the margin).")
@click.option("--power", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None)
@click.option("--json", "as_json", is_flag=True)
@operator_options
def migrate_plan(
    target_name: str,
    factory: str,
    metric: str,
    embedder_json: str | None,
    backend: str,
    ef_search: int | None,
    nprobe: int | None,
    sample: int,
    seed: int,
    eval_set: str | None,
    guardrails_json: str | None,
    power: float | None,
    as_json: bool,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Estimate a proposed target's backfill time, memory and vector size, and with
    --eval-set whether its paired queries are enough for the margin; creates nothing."""
    target = _target(target_name, factory, metric, embedder_json, backend, ef_search, nprobe)
    body: dict[str, Any] = {"target": target, "sample": sample, "seed": seed}
    if eval_set is not None:
        body["eval_set"] = eval_set
    if guardrails_json:
        body["guardrails"] = json_option(guardrails_json, "--guardrails")
    if power is not None:
        body["power"] = power
    found = operator_client(url, token, home).request("POST", "/v1/migrations/plan", body)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(
        f"target {found['target']} ({found['dim']}-d, {found['vector_bytes']} bytes a vector):"
        f" {found['documents']} documents, {found['to_encode']} to encode,"
        f" {found['cached']} cached"
    )
    click.echo(
        f"  backfill ~{found['backfill_s']}s: encode {found['encode_s']}s at"
        f" {found['encode_docs_per_s']} docs/s (sample of {found['sample']}),"
        f" index build {found['index_build_s']}s"
    )
    click.echo(f"  memory: vectors {found['vectors_mb']} MB, index ~{found['index_mb']} MB")
    if found.get("eval_power"):
        _echo_power(found["eval_power"])
    for note in found["notes"]:
        click.echo(f"  note: {note}")


def _echo_power(power: dict[str, Any]) -> None:
    click.echo(
        f"  eval set {power['eval_set']} ({power['truth']}): {power['detail']}"
        f" (per-query sd {power['sd']}, {power['sd_source']}; {power['looks']} looks at"
        f" confidence {power['confidence']})"
    )


@migrate.command("status")
@click.option("--json", "as_json", is_flag=True)
@operator_options
def migrate_status(as_json: bool, url: str, token: str | None, home: Path | None) -> None:
    """Phase, routed share, backfill progress, lag and shadow statistics."""
    status = operator_client(url, token, home).request("GET", "/v1/migrations/current")
    click.echo(json.dumps(status, indent=2)) if as_json else print_status(status)


def _action(name: str, help_text: str) -> None:
    @migrate.command(name, help=help_text)
    @move_options
    @operator_options
    def command(
        migration_id: int | None,
        reason: str | None,
        override: bool,
        url: str,
        token: str | None,
        home: Path | None,
    ) -> None:
        client = operator_client(url, token, home)
        mid = _current_id(client, migration_id)
        body = move_body(reason, override)
        print_status(client.request("POST", f"/v1/migrations/{mid}/{name}", body))


for _name, _help in (
    ("shadow", "Start shadow reads on the target (after the backfill)."),
    ("cutover", "Send every read to the target; writes stay dual."),
    ("rollback", "Move every read back to the source now (needs --reason); writes stay dual."),
    ("resume", "Resume a rolled-back migration (back to shadow)."),
    ("finalize", "Make the target the primary, stop dual-write, retire the source."),
    ("abort", "Drop the target and stop dual-write."),
):
    _action(_name, _help)


@migrate.command("backfill")
@migration_id_option
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Show a progress bar until the backfill finishes.",
)
@operator_options
def migrate_backfill(
    migration_id: int | None, wait: bool, url: str, token: str | None, home: Path | None
) -> None:
    """Copy the documents into the target (resumable), with a progress bar."""
    client = operator_client(url, token, home)
    mid = _current_id(client, migration_id)
    status = client.request("POST", f"/v1/migrations/{mid}/backfill", {})
    if not wait:
        print_status(status)
        return
    with tqdm(
        total=max(1, status["backfill"]["total"]), unit="doc", desc="backfill", file=sys.stderr
    ) as bar:
        while True:
            bf = client.request("GET", "/v1/migrations/current")["backfill"]
            bar.total = max(1, bf["total"])
            bar.n = bf["done"]
            bar.refresh()
            if bf.get("error"):
                raise click.ClickException(f"backfill failed: {bf['error']}")
            if bf["finished"]:
                break
            time.sleep(0.5)
    print_status(client.request("GET", "/v1/migrations/current"))


@migrate.command("canary")
@move_options
@click.option(
    "--percent",
    type=float,
    default=None,
    help="Share of reads for the target (default: the plan's next step).",
)
@operator_options
def migrate_canary(
    migration_id: int | None,
    percent: float | None,
    reason: str | None,
    override: bool,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Route a sticky share of reads to the target (needs a passing judgement)."""
    client = operator_client(url, token, home)
    mid = _current_id(client, migration_id)
    body = move_body(reason, override, percent=percent)
    print_status(client.request("POST", f"/v1/migrations/{mid}/canary", body))


@migrate.command("edit-plan")
@migration_id_option
@click.option("--shadow-sample", type=click.FloatRange(0, 1), default=None)
@click.option("--canary-steps", default=None, help="Comma-separated percents.")
@click.option("--inconclusive", "inconclusive_json", default=None, help=INCONCLUSIVE_HELP)
@operator_options
def migrate_edit_plan(
    migration_id: int | None,
    shadow_sample: float | None,
    canary_steps: str | None,
    inconclusive_json: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Change the live migration's shadow sample, canary steps or inconclusive policy
    (audited)."""
    client = operator_client(url, token, home)
    body: dict[str, Any] = {}
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if canary_steps:
        body["canary_steps"] = percents(canary_steps)
    if inconclusive_json:
        body["inconclusive"] = json_option(inconclusive_json, "--inconclusive")
    mid = _current_id(client, migration_id)
    print_status(client.request("PATCH", f"/v1/migrations/{mid}/plan", body))


@migrate.command("events")
@migration_id_option
@operator_options
def migrate_events(
    migration_id: int | None, url: str, token: str | None, home: Path | None
) -> None:
    """The audit trail of a migration."""
    client = operator_client(url, token, home)
    mid = _current_id(client, migration_id)
    for e in client.request("GET", f"/v1/migrations/{mid}/events")["events"]:
        at = dt.datetime.fromtimestamp(e["at"], tz=dt.UTC).strftime("%H:%M:%S")
        click.echo(
            f"{at}  {e['from_phase'] or '-':>11} -> {e['to_phase']:<11} {e['canary_percent']:>5}%"
            f"  {e['actor']}: {e['reason']}"
        )
