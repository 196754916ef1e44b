"""The ``switchover`` command line. Every command but ``serve`` talks to a running server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import faiss
import uvicorn
from tqdm import tqdm

from evals.datasets import corpus_doc, iter_jsonl
from indexes.errors import SwitchoverError

from .client import Client
from .demo import run_demo
from .drill import run_drill
from .homelock import HomeLock
from .runbook import render_runbook
from .settings import TOKEN_ENV, TOKEN_FILE, Settings, load_settings
from .store import SqliteStore

DEFAULT_URL = "http://127.0.0.1:8000"
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "data" / "sample"


class _CleanErrors(click.Group):
    """Domain errors become one clean line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwitchoverError as exc:
            raise click.ClickException(str(exc)) from exc


url_option = click.option(
    "--url",
    envvar="SWITCHOVER_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Base URL of the switchover server (env SWITCHOVER_URL).",
)


@click.group(cls=_CleanErrors)
@click.version_option(package_name="switchover")
def main() -> None:
    """switchover: migrate a vector index with no lost writes and no silent loss of recall."""


@main.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the database, snapshots and switchover.toml (created if missing).",
)
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format",
    default="json",
    show_default=True,
    type=click.Choice(["json", "text"]),
    help="json: one object per line with request id, serving index and migration id.",
)
def serve(home: Path, host: str | None, port: int | None, log_level: str, log_format: str) -> None:
    """Run the HTTP service on HOME (first start creates index v1: MiniLM, Flat, inner product)."""
    from api import create_app  # noqa: PLC0415 - serve is the composition root; api depends on migrator
    from api.logs import configure_json_logging  # noqa: PLC0415 - same

    if log_format == "json":
        configure_json_logging(log_level)
    else:
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    # Concurrency comes from request threads; FAISS's OpenMP threads on top of them
    # oversubscribe a small machine (IVF training went from milliseconds to seconds).
    faiss.omp_set_num_threads(1)
    # A bad switchover.toml, a home in use or a bad database: one line, nothing written.
    settings = load_settings(home, host=host, port=port)
    _check_home(settings)
    settings = _with_operator_token(settings)
    click.echo(
        f"switchover: home {settings.home}, http://{settings.host}:{settings.port}", err=True
    )
    # JSON: our access line (with request id) replaces uvicorn's, and uvicorn's own loggers
    # propagate to the JSON handler instead of installing theirs.
    extra: dict[str, Any] = (
        {"log_config": None, "access_log": False} if log_format == "json" else {}
    )
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=log_level, **extra
    )


def _check_home(settings: Settings) -> None:
    """Refuse in one clean line, before the HTTP server starts: a home in use, a bad database.

    The service takes the home's lock again when the app starts and holds it from then
    on; this check only moves the common refusals ahead of uvicorn's start-up, whose
    failures come with a traceback.
    """
    lock = HomeLock.acquire(settings.home)
    try:
        SqliteStore(settings.db_path, busy_timeout_s=settings.db_busy_timeout_s).close()
    finally:
        lock.release()


def _with_operator_token(settings: Settings) -> Settings:
    """Without any configured token, write a random one to HOME/operator-token (mode 0600)."""
    if settings.operator_tokens:
        return settings
    token_file = settings.home / TOKEN_FILE
    token = secrets.token_urlsafe(32)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    click.echo(f"switchover: operator token written to {token_file}", err=True)
    return replace(settings, operator_tokens={"local": token})


def _operator_token(token: str | None, home: Path | None) -> str | None:
    if token:
        return token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if home is not None and (home / TOKEN_FILE).exists():
        return (home / TOKEN_FILE).read_text(encoding="utf-8").strip()
    return None


def operator_options(func: Any) -> Any:
    """--url, --token and --home (to read HOME/operator-token) for operator commands."""
    func = click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Read the operator token from HOME/operator-token.",
    )(func)
    func = click.option("--token", default=None, help=f"Operator token (or env {TOKEN_ENV}).")(func)
    return url_option(func)


def operator_client(url: str, token: str | None, home: Path | None) -> Client:
    return Client(url, token=_operator_token(token, home))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(1, 1024), default=128, show_default=True)
@url_option
def ingest(file: Path, batch_size: int, url: str) -> None:
    """Upsert every document of a JSONL file ({"id", "text", "title"?, "metadata"?} per line)."""
    with file.open(encoding="utf-8") as handle:
        total = sum(1 for line in handle if line.strip())
    client = Client(url)
    written, seq = 0, 0
    batch: list[dict[str, Any]] = []
    with tqdm(total=total, unit="doc", desc="ingest", file=sys.stderr) as bar:

        def flush() -> None:
            nonlocal written, seq
            result = client.upsert(batch)
            written += int(result["written"])
            seq = int(result["seq"])
            bar.update(len(batch))
            batch.clear()

        for number, row in iter_jsonl(file):
            doc = corpus_doc(row, f"{file}:{number}")
            metadata = dict(doc.metadata or {})
            if doc.title:
                metadata.setdefault("title", doc.title)
            batch.append({"id": doc.id, "text": doc.embedding_text(), "metadata": metadata})
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    click.echo(f"ingested {written} documents; last sequence {seq}")


@main.command()
@click.argument("query")
@click.option("-k", "--k", "k", type=int, default=10, show_default=True)
@click.option("--show-text/--no-show-text", default=True, show_default=True)
@url_option
def search(query: str, k: int, show_text: bool, url: str) -> None:
    """Search the serving index and print the hits."""
    result = Client(url).search(query, k, include_documents=show_text)
    click.echo(f"served by {result['served_by']}")
    for rank, hit in enumerate(result["hits"], start=1):
        line = f"{rank:>3}. {hit['score']:.4f}  {hit['id']}"
        if show_text and hit.get("text"):
            line += "  " + " ".join(hit["text"].split())[:100]
        click.echo(line)


@main.group()
def indexes() -> None:
    """List index versions, snapshot or rebuild them."""


@indexes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
@url_option
def list_indexes(as_json: bool, url: str) -> None:
    """Each index version: role, layout, documents, applied sequence, lag."""
    result = Client(url).request("GET", "/v1/indexes")
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"log at seq {result['last_seq']}")
    for i in result["indexes"]:
        click.echo(
            f"{i['name']:<12} {i['role']:<8} {i['spec']['factory']:<16} {i['spec']['metric']:<3}"
            f" docs={i['count']:<8} applied={i['applied_seq']:<8} lag={i['lag_records']}"
            f" snapshot={i['last_snapshot_seq']}"
            f" dead={i['stats'].get('dead_vectors', 0)}"
        )


@indexes.command("rebuild")
@click.argument("name")
@click.option("--target", "target_name", default=None, help="The new version's name (NAME-r2).")
@click.option("--canary-steps", default=None, help="Comma-separated percents, e.g. 1,5,25,50.")
@click.option("--shadow-sample", type=click.FloatRange(0, 1), default=None)
@click.option("--eval-set", default=None, help="The registered eval set that judges it.")
@operator_options
def rebuild_index(
    name: str,
    target_name: str | None,
    canary_steps: str | None,
    shadow_sample: float | None,
    eval_set: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Rebuild primary NAME without its dead vectors: a migration to the same spec.

    It creates a layout-only migration to a new version with NAME's embedder, factory,
    metric and search parameters; then run it like any other (migrate backfill, shadow,
    canary, cutover, finalize). See dead_vectors in `indexes list`.
    """
    body: dict[str, Any] = {}
    if target_name:
        body["target"] = target_name
    if canary_steps:
        body["canary_steps"] = _percents(canary_steps)
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if eval_set:
        body["eval_set"] = eval_set
    client = operator_client(url, token, home)
    _print_status(client.request("POST", f"/v1/indexes/{name}/rebuild", body))


@indexes.command("snapshot")
@click.argument("name")
@operator_options
def snapshot_index(name: str, url: str, token: str | None, home: Path | None) -> None:
    """Write a snapshot of index NAME now (operator token required)."""
    client = operator_client(url, token, home)
    result = client.request("POST", f"/v1/indexes/{name}/snapshot")
    for snap in result["snapshots"]:
        click.echo(
            f"{snap['index']}: seq {snap['applied_seq']}, {snap['count']} docs -> {snap['path']}"
        )


# -- migrations -----------------------------------------------------------------------------


@main.group()
def migrate() -> None:
    """Drive a migration on the running server (operator token required)."""


def _current_id(client: Client, migration_id: int | None) -> int:
    if migration_id is not None:
        return migration_id
    return int(client.request("GET", "/v1/migrations/current")["id"])


def _print_status(status: dict[str, Any]) -> None:
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
@operator_options
def migrate_start(
    target_name: str,
    factory: str,
    metric: str,
    embedder_json: str | None,
    ef_search: int | None,
    nprobe: int | None,
    canary_steps: str | None,
    shadow_sample: float | None,
    eval_set: str | None,
    guardrails_json: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Create a migration to a new index version; dual-write starts now."""
    target: dict[str, Any] = {"name": target_name, "factory": factory, "metric": metric}
    if embedder_json:
        target["embedder"] = _json_option(embedder_json, "--embedder")
    params = {k: v for k, v in (("ef_search", ef_search), ("nprobe", nprobe)) if v is not None}
    if params:
        target["search_params"] = params
    body: dict[str, Any] = {"target": target}
    if canary_steps:
        body["canary_steps"] = _percents(canary_steps)
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if eval_set:
        body["eval_set"] = eval_set
    if guardrails_json:
        body["guardrails"] = _json_option(guardrails_json, "--guardrails")
    _print_status(operator_client(url, token, home).request("POST", "/v1/migrations", body))


@migrate.command("status")
@click.option("--json", "as_json", is_flag=True)
@operator_options
def migrate_status(as_json: bool, url: str, token: str | None, home: Path | None) -> None:
    """Phase, routed share, backfill progress, lag and shadow statistics."""
    status = operator_client(url, token, home).request("GET", "/v1/migrations/current")
    click.echo(json.dumps(status, indent=2)) if as_json else _print_status(status)


OVERRIDE_HELP = "cutover/canary: advance without a passing recall judgement (audited)."


def _action(name: str, help_text: str) -> None:
    @migrate.command(name, help=help_text)
    @click.option(
        "--id",
        "migration_id",
        type=int,
        default=None,
        help="Migration id (default: the current one).",
    )
    @click.option("--reason", default=None, help="Why; recorded in the audit trail.")
    @click.option("--override", is_flag=True, help=OVERRIDE_HELP)
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
        body: dict[str, Any] = {"reason": reason} if reason else {}
        if override:
            body["override"] = True
        _print_status(client.request("POST", f"/v1/migrations/{mid}/{name}", body))


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
@click.option("--id", "migration_id", type=int, default=None)
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
        _print_status(status)
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
    _print_status(client.request("GET", "/v1/migrations/current"))


@migrate.command("canary")
@click.option("--id", "migration_id", type=int, default=None)
@click.option(
    "--percent",
    type=float,
    default=None,
    help="Share of reads for the target (default: the plan's next step).",
)
@click.option("--reason", default=None)
@click.option("--override", is_flag=True, help=OVERRIDE_HELP)
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
    body: dict[str, Any] = {}
    if percent is not None:
        body["percent"] = percent
    if reason:
        body["reason"] = reason
    if override:
        body["override"] = True
    _print_status(client.request("POST", f"/v1/migrations/{mid}/canary", body))


@migrate.command("plan")
@click.option("--id", "migration_id", type=int, default=None)
@click.option("--shadow-sample", type=click.FloatRange(0, 1), default=None)
@click.option("--canary-steps", default=None, help="Comma-separated percents.")
@operator_options
def migrate_plan(
    migration_id: int | None,
    shadow_sample: float | None,
    canary_steps: str | None,
    url: str,
    token: str | None,
    home: Path | None,
) -> None:
    """Change the live migration's shadow sample or canary steps (audited)."""
    client = operator_client(url, token, home)
    body: dict[str, Any] = {}
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if canary_steps:
        body["canary_steps"] = _percents(canary_steps)
    mid = _current_id(client, migration_id)
    _print_status(client.request("PATCH", f"/v1/migrations/{mid}/plan", body))


def _json_option(text: str, hint: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=hint) from exc


def _percents(text: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",")]
    except ValueError as exc:
        raise click.BadParameter(
            "numbers separated by commas", param_hint="--canary-steps"
        ) from exc


@migrate.command("events")
@click.option("--id", "migration_id", type=int, default=None)
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


# -- eval sets and eval jobs ----------------------------------------------------------------


@main.group("eval-set")
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


@main.group("eval")
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


@main.command()
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


# -- runtime configuration --------------------------------------------------------------------


@main.group("config")
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


# -- runbook and drill --------------------------------------------------------------------------


@main.command()
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


@main.command()
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
