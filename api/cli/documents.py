"""Commands on documents and index versions: ingest, search, indexes list/rebuild/snapshot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from evals.datasets import corpus_doc, iter_jsonl

from .client import Client
from .migrate import print_status
from .options import operator_client, operator_options, percents, url_option


@click.command()
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


@click.command()
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


@click.group()
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
        body["canary_steps"] = percents(canary_steps)
    if shadow_sample is not None:
        body["shadow_sample"] = shadow_sample
    if eval_set:
        body["eval_set"] = eval_set
    client = operator_client(url, token, home)
    print_status(client.request("POST", f"/v1/indexes/{name}/rebuild", body))


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
