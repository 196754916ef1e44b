"""Operating commands: runtime config with history, the runbook, the rollback drill, the demo."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import click

from .demo import run_demo
from .drill import run_drill
from .options import operator_client, operator_options
from .runbook import render_runbook

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data" / "sample"


@click.group("config")
def config_group() -> None:
    """Runtime knobs (search parameters, migration plan) with history and one-step revert."""


@config_group.command("show")
@operator_options
def config_show(url: str, token: str | None, home: Path | None) -> None:
    """The knobs in effect now and their version."""
    click.echo(json.dumps(operator_client(url, token, home).request("GET", "/v1/config"), indent=2))


@config_group.command("set")
@click.argument("assignments", nargs=-1, required=True)
@click.option("--reason", default=None, help="Why; kept in the history.")
@operator_options
def config_set(
    assignments: tuple[str, ...],
    reason: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Set knobs: INDEX.ef_search=128, INDEX.nprobe=8, migration.shadow_sample=0.5, ..."""
    body: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        scope, dot, knob = key.partition(".")
        if not sep or not dot or not knob:
            raise click.BadParameter(f"{item!r}: expected SCOPE.KNOB=VALUE", param_hint="SET")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if scope == "migration":
            body.setdefault("migration", {})[knob] = value
        else:
            body.setdefault("indexes", {}).setdefault(scope, {})[knob] = value
    if reason:
        body["reason"] = reason
    result = operator_client(url, token, home).request("PUT", "/v1/config", body)
    click.echo(f"config version {result['version']} in effect")


@config_group.command("history")
@operator_options
def config_history(url: str, token: str | None, home: Path | None) -> None:
    """Every version: when, who, why."""
    for v in operator_client(url, token, home).request("GET", "/v1/config/history")["versions"]:
        at = dt.datetime.fromtimestamp(v["at"], tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{v['version']:>4}  {at}  {v['actor']:<12} {v['reason']}")


@config_group.command("revert")
@click.option("--to", "version", type=int, default=None, help="Default: the previous version.")
@operator_options
def config_revert(version: int | None, url: str, token: str | None, home: Path | None) -> None:
    """Re-apply an earlier version at once (a new version records the revert)."""
    body = {"version": version} if version is not None else {}
    result = operator_client(url, token, home).request("POST", "/v1/config/revert", body)
    click.echo(f"config version {result['version']} in effect")


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the runbook here (default: print it).",
)
@operator_options
def runbook(out: Path | None, url: str, token: str | None, home: Path | None) -> None:
    """Write a markdown runbook for the current migration, from its own plan."""
    client = operator_client(url, token, home)
    status = client.request("GET", "/v1/migrations/current")
    text = render_runbook(status, client.request("GET", "/v1/indexes")["indexes"], url)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"runbook for migration {status['id']} written to {out}")


@click.command()
@click.option("--reads", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@operator_options
def drill(reads: int, as_json: bool, url: str, token: str | None, home: Path | None) -> None:
    """Rehearse a rollback on the live migration (shadow or canary) and time each step."""
    report = run_drill(operator_client(url, token, home), reads=reads)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(
            f"drill on migration {report['migration']} (was {report['prior']['phase']},"
            f" {report['prior']['canary_percent']:g}%)"
        )
        for step in report["steps"]:
            mark = "ok  " if step["ok"] else "FAIL"
            click.echo(
                f"  {mark} {step['seconds'] * 1000:9.1f} ms  {step['name']}: {step['detail']}"
            )
        click.echo(f"time to safety (rollback): {report['time_to_safety_s'] * 1000:.1f} ms")
    if not report["ok"]:
        raise SystemExit(1)


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A BEIR-layout folder (default: the bundled data/sample).",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A new, empty home (default: a temporary folder, removed afterwards).",
)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-report"),
    show_default=True,
    help="Where the reports go.",
)
def demo(data_dir: Path | None, home: Path | None, port: int, report_dir: Path) -> None:
    """Ingest, migrate to a good target (passes, finalized), then a bad one (rolled back)."""
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    folder = data_dir or SAMPLE_DATA
    if not (folder / "queries.jsonl").is_file():
        raise click.ClickException(f"{folder}: no queries.jsonl; pass --data DIR")
    raise SystemExit(run_demo(folder, home, port, report_dir, click.echo))
