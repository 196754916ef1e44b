"""What the commands share: the --url and operator options, the operator client, value parsers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from migrator.settings import TOKEN_ENV, TOKEN_FILE

from .client import Client

DEFAULT_URL = "http://127.0.0.1:8000"

url_option = click.option(
    "--url",
    envvar="SWITCHOVER_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Base URL of the switchover server (env SWITCHOVER_URL).",
)


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


def migration_id_option(func: Any) -> Any:
    """--id: which migration (default: the current one)."""
    return click.option(
        "--id",
        "migration_id",
        type=int,
        default=None,
        help="Migration id (default: the current one).",
    )(func)


OVERRIDE_HELP = "cutover/canary: advance without a passing recall judgement (audited)."


def move_options(func: Any) -> Any:
    """--id, --reason and --override: which migration a move is for, and what the audit
    trail records with it."""
    func = click.option("--override", is_flag=True, help=OVERRIDE_HELP)(func)
    func = click.option("--reason", default=None, help="Why; recorded in the audit trail.")(func)
    return migration_id_option(func)


def move_body(reason: str | None, override: bool, **knobs: object) -> dict[str, Any]:
    """A move's request body: the knobs given, the reason if any, ``override`` if set."""
    body: dict[str, Any] = {k: v for k, v in knobs.items() if v is not None}
    if reason:
        body["reason"] = reason
    if override:
        body["override"] = True
    return body


def operator_client(url: str, token: str | None, home: Path | None) -> Client:
    return Client(url, token=_operator_token(token, home))


def json_option(text: str, hint: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=hint) from exc


def percents(text: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",")]
    except ValueError as exc:
        raise click.BadParameter(
            "numbers separated by commas", param_hint="--canary-steps"
        ) from exc
