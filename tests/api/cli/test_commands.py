"""The command line: every command documents itself and fails with one clean line."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from api.cli import main


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


@pytest.mark.parametrize("path", all_commands(main), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 3, "a summary line beyond the usage"


def test_an_unreachable_server_is_one_clean_line() -> None:
    result = CliRunner().invoke(main, ["search", "hello", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach switchover at http://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_a_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "docs.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{not json\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["ingest", str(bad), "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "docs.jsonl:2: not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_operator_commands_fail_cleanly_when_the_server_is_down() -> None:
    result = CliRunner(env={"SWITCHOVER_OPERATOR_TOKEN": ""}).invoke(
        main, ["migrate", "status", "--url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "cannot reach switchover" in result.output
    assert "Traceback" not in result.output
