"""The ``switchover`` command group: every command, and domain errors as one clean line."""

from __future__ import annotations

from typing import Any

import click

from indexes.errors import SwitchoverError

from . import documents, evals, migrate, models, operate, serve


class _CleanErrors(click.Group):
    """Domain errors become one clean line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SwitchoverError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_CleanErrors)
@click.version_option(package_name="switchover")
def main() -> None:
    """switchover: migrate a vector index with no lost writes and no silent loss of recall."""


for _command in (
    serve.serve,
    documents.ingest,
    documents.search,
    documents.indexes,
    migrate.migrate,
    models.models,
    evals.eval_set,
    evals.eval_group,
    operate.config_group,
    operate.runbook,
    operate.drill,
    operate.demo,
):
    main.add_command(_command)
