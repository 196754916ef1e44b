"""A database that is not switchover's (corrupted, foreign, or from a newer version).

Start-up refuses it with one message that names the file and says what to do, instead
of a raw sqlite3 traceback; ``switchover serve`` prints it as one line and exits 1.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from api.cli import main
from indexes.errors import StorageError
from migrator import DocumentIn, Settings, Switchover


@pytest.fixture
def written_home(settings: Settings) -> Settings:
    svc = Switchover(settings)
    svc.upsert([DocumentIn("a", "a document that must not be lost")])
    svc.close(snapshot=False)
    return settings


def corrupt_header(db: Path) -> None:
    """Overwrite the header once every page is in the file (as after a clean stop)."""
    with sqlite3.connect(db) as checkpoint:
        checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * 25)  # the first 100 bytes: SQLite's header


def test_a_corrupted_header_fails_start_up_with_a_clear_message(written_home: Settings) -> None:
    corrupt_header(written_home.db_path)
    for _ in range(2):  # and the refused start left the home unlocked
        with pytest.raises(StorageError) as refused:
            Switchover(written_home)
        message = str(refused.value)
        assert message.startswith(
            f"{written_home.db_path} is not a switchover database or is corrupted: "
        )
        assert message.endswith("; restore it from a backup")


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    with sqlite3.connect(settings.db_path) as other:
        other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(StorageError, match="is not a switchover database or is corrupted"):
        Switchover(settings)
    with sqlite3.connect(settings.db_path) as other:
        tables = {r[0] for r in other.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"invoices"}, "nothing was added to it"


def test_a_database_from_a_newer_schema_is_refused(written_home: Settings) -> None:
    with sqlite3.connect(written_home.db_path) as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('switchover', 'm999_from_the_future', '2030-01-01')"
        )
    with pytest.raises(StorageError) as refused:
        Switchover(written_home)
    message = str(refused.value)
    assert f"{written_home.db_path} was written by a newer switchover" in message
    assert "m999_from_the_future" in message


def test_serve_on_a_corrupted_database_prints_one_line_and_exits_non_zero(
    written_home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []  # a server that starts anyway returns at once, recorded
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: started.append(app))
    corrupt_header(written_home.db_path)
    result = CliRunner(env={"SWITCHOVER_OPERATOR_TOKEN": "t"}).invoke(
        main, ["serve", "--home", str(written_home.home)]
    )
    assert not started, "the server must not start"
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {written_home.db_path} is not a switchover database")
