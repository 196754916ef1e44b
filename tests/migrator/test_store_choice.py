"""Which store a home uses: SQLite unless a PostgreSQL URL is given (flag, environment or
``[server] database``), and a PostgreSQL that is not there stops start-up in one line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from api.cli import main
from indexes.errors import InvalidInputError, StorageError
from migrator import DocumentIn, SqliteStore, Switchover, check_home, load_settings
from migrator.settings import DATABASE_ENV
from migrator.store.postgres import PostgresStore
from tests.conftest import REPO, hash_settings


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "switchover.toml").write_text(text, encoding="utf-8")


def test_a_home_without_a_database_url_keeps_sqlite_and_never_loads_psycopg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert load_settings(tmp_path / "home").database_url is None
    code = (
        "import sys; from pathlib import Path; from migrator import load_settings;"
        " from migrator.stores import open_store;"
        f" open_store(load_settings(Path({str(tmp_path / 'home')!r}))).close();"
        " print(sorted(m for m in sys.modules if m.split('.')[0].startswith('psycopg')))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "home" / "switchover.db").is_file()


def test_the_url_comes_from_the_flag_then_the_environment_then_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    write_toml(home, '[server]\ndatabase = "postgresql://file/db"\n')
    monkeypatch.delenv(DATABASE_ENV, raising=False)
    assert load_settings(home).database_url == "postgresql://file/db"
    monkeypatch.setenv(DATABASE_ENV, "postgres://env/db")
    assert load_settings(home).database_url == "postgres://env/db"
    flagged = load_settings(home, database_url="postgresql://flag/db")
    assert flagged.database_url == "postgresql://flag/db"


def test_a_url_that_is_not_postgresql_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_ENV, "mysql://root:hunter2@db/x")
    with pytest.raises(InvalidInputError, match="must start with postgresql://") as refused:
        load_settings(tmp_path / "home")
    assert "hunter2" not in str(refused.value)
    assert DATABASE_ENV in str(refused.value)


def test_a_service_on_postgresql_keeps_its_documents_for_any_home(
    tmp_path: Path, pg_url: str
) -> None:
    first = Switchover(hash_settings(tmp_path / "a", database_url=pg_url))
    assert isinstance(first.store, PostgresStore)
    first.upsert([DocumentIn("lamp", "a brass lamp by the tide"), DocumentIn("gear", "a gear")])
    first.close()
    # another home (another machine): no snapshot there, the index replays the shared log
    second = Switchover(hash_settings(tmp_path / "b", database_url=pg_url))
    assert second.get("lamp").text == "a brass lamp by the tide"
    assert second.search("brass lamp tide", k=1).hits[0].id == "lamp"
    second.close(snapshot=False)
    assert not (tmp_path / "b" / "switchover.db").exists(), "no SQLite file beside it"


def test_the_default_service_is_on_sqlite(tmp_path: Path) -> None:
    service = Switchover(hash_settings(tmp_path / "home"))
    assert isinstance(service.store, SqliteStore)
    service.close(snapshot=False)


def test_a_postgresql_that_is_not_there_is_refused_before_serving(tmp_path: Path) -> None:
    url = f"postgresql://127.0.0.1:{closed_port()}/switchover"
    with pytest.raises(StorageError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:"):
        check_home(hash_settings(tmp_path / "home", database_url=url))


def test_serve_against_a_closed_port_prints_one_line_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []  # a server that starts anyway returns at once, recorded
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: started.append(app))
    port = closed_port()
    result = CliRunner(env={"SWITCHOVER_OPERATOR_TOKEN": "t", DATABASE_ENV: ""}).invoke(
        main,
        [
            "serve",
            "--home",
            str(tmp_path / "home"),
            "--database",
            f"postgresql://127.0.0.1:{port}/x",
        ],
    )
    assert not started, "the server must not start"
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: cannot connect to PostgreSQL at 127.0.0.1:{port}/x: ")
