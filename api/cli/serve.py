"""``switchover serve``: the composition root that runs the HTTP service on a home."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import uvicorn

from indexes import use_faiss_threads
from migrator import Settings, check_home, load_settings
from migrator.settings import TOKEN_FILE, describe_database

from ..app import create_app
from ..logs import configure_json_logging


@click.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the database, snapshots and switchover.toml (created if missing).",
)
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option(
    "--database",
    default=None,
    metavar="URL",
    help="postgresql://... to keep the store on PostgreSQL 15+ (default: SQLite in HOME);"
    " also SWITCHOVER_DATABASE_URL or [server] database in switchover.toml.",
)
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
def serve(
    home: Path,
    host: str | None,
    port: int | None,
    database: str | None,
    log_level: str,
    log_format: str,
) -> None:
    """Run the HTTP service on HOME (first start creates index v1: MiniLM, Flat, inner product)."""
    if log_format == "json":
        configure_json_logging(log_level)
    else:
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    _passive_openmp()
    # Concurrency comes from request threads; FAISS's OpenMP threads on top of them
    # oversubscribe a small machine (IVF training went from milliseconds to seconds).
    # In every thread that calls FAISS: OpenMP keeps the count per thread.
    use_faiss_threads(1)
    # A bad switchover.toml, a home in use or a bad database: one line, nothing written
    # (checked before uvicorn starts, whose start-up failures come with a traceback).
    settings = load_settings(home, host=host, port=port, database_url=database)
    check_home(settings)
    settings = _with_operator_token(settings)
    click.echo(
        f"switchover: home {settings.home}, store {_store_name(settings)},"
        f" http://{settings.host}:{settings.port}",
        err=True,
    )
    # JSON: our access line (with request id) replaces uvicorn's, and uvicorn's own loggers
    # propagate to the JSON handler instead of installing theirs.
    extra: dict[str, Any] = (
        {"log_config": None, "access_log": False} if log_format == "json" else {}
    )
    uvicorn.run(create_app(settings), **server_options(settings, log_level), **extra)


def server_options(settings: Settings, log_level: str) -> dict[str, Any]:
    """uvicorn's options: httptools parses HTTP in C and uvloop runs the event loop on libuv
    (both dependencies, named so a missing one fails at start instead of running slower):
    the pure-Python parser and loop cost a search about 40% more of the server's CPU
    outside the route (benchmarks/results/search_profile.md)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": log_level,
        "http": "httptools",
        "loop": "uvloop",
    }


def _store_name(settings: Settings) -> str:
    if settings.database_url is None:
        return f"SQLite {settings.db_path}"
    return f"PostgreSQL {describe_database(settings.database_url)}"


def _passive_openmp() -> None:
    """OpenMP threads that sleep between parallel regions instead of spinning (unless
    OMP_WAIT_POLICY is set). Torch is imported when the model loads, after this, and its
    OpenMP runtime reads the policy then. Spinning threads hold a core after every layer of
    a query's forward pass; on a busy machine (or beside the event loop and the client on a
    small one) the threads wait on each other at every barrier: with 2 cores under a load
    average of 11, a one-query search cost 200 ms of CPU spinning, and 17 ms passive
    (benchmarks/results/search_profile.md).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
