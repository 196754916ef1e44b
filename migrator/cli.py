"""The ``switchover`` command line. Every command but ``serve`` talks to a running server."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from evals.datasets import corpus_doc, iter_jsonl
from indexes.errors import SwitchoverError

from .client import Client
from .settings import TOKEN_ENV, TOKEN_FILE, load_settings

DEFAULT_URL = "http://127.0.0.1:8000"


class _CleanErrors(click.Group):
    """Domain errors become one clean line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwitchoverError as exc:
            raise click.ClickException(str(exc)) from exc


url_option = click.option(
    "--url", envvar="SWITCHOVER_URL", default=DEFAULT_URL, show_default=True,
    help="Base URL of the switchover server (env SWITCHOVER_URL).",
)


@click.group(cls=_CleanErrors)
@click.version_option(package_name="switchover")
def main() -> None:
    """switchover: migrate a vector index with no lost writes and no silent loss of recall."""


@main.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the database, snapshots and switchover.toml (created if missing).")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(home: Path, host: str | None, port: int | None, log_level: str) -> None:
    """Run the HTTP service on HOME (first start creates index v1: MiniLM, Flat, inner product)."""
    import uvicorn

    from api import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    home.mkdir(parents=True, exist_ok=True)
    _ensure_operator_token(home)
    settings = load_settings(home, host=host, port=port)
    click.echo(f"switchover: home {settings.home}, http://{settings.host}:{settings.port}", err=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)


def _ensure_operator_token(home: Path) -> None:
    """Without any configured token, write a random one to HOME/operator-token (mode 0600)."""
    token_file = home / TOKEN_FILE
    config = home / "switchover.toml"
    if os.environ.get(TOKEN_ENV) or token_file.exists():
        return
    if config.exists() and "[operators]" in config.read_text(encoding="utf-8"):
        return
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    click.echo(f"switchover: operator token written to {token_file}", err=True)


def _operator_token(token: str | None, home: Path | None) -> str | None:
    if token:
        return token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    if home is not None and (home / TOKEN_FILE).exists():
        return (home / TOKEN_FILE).read_text(encoding="utf-8").strip()
    return None


token_options = [
    click.option("--token", default=None, help=f"Operator token (or env {TOKEN_ENV})."),
    click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Read the operator token from HOME/operator-token."),
]


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(1, 1024), default=64, show_default=True)
@url_option
def ingest(file: Path, batch_size: int, url: str) -> None:
    """Upsert every document of a JSONL file ({"id", "text", "title"?, "metadata"?} per line)."""
    from tqdm import tqdm

    total = sum(1 for line in file.open(encoding="utf-8") if line.strip())
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
    """List index versions or snapshot them."""


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
        )


@indexes.command("snapshot")
@click.argument("name")
@url_option
@token_options[0]
@token_options[1]
def snapshot_index(name: str, url: str, token: str | None, home: Path | None) -> None:
    """Write a snapshot of index NAME now (operator token required)."""
    client = Client(url, token=_operator_token(token, home))
    result = client.request("POST", f"/v1/indexes/{name}/snapshot")
    for snap in result["snapshots"]:
        click.echo(f"{snap['index']}: seq {snap['applied_seq']}, {snap['count']} docs -> {snap['path']}")
