"""``switchover.toml`` is checked at start-up: every key known, typed and in its range.

A bad file is a start-up error naming the file, the section and the key, never a server
that starts and then refuses every write (``max_body_bytes = -1``), fails every write
(``max_batch = "x"``) or silently ignores a misspelled key. Types are strict (a bool is
not an integer, a string is not a number); a number key takes an integer or a float.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from api.cli import main
from indexes.errors import InvalidInputError
from migrator import Limits, load_settings

# (file content, what the error must say after "switchover.toml: ")
BAD_FILES = [
    ("[limits]\nmax_body_bytes = -1\n", "[limits] max_body_bytes must be an integer >= 1, got -1"),
    ('[limits]\nmax_batch = "x"\n', "[limits] max_batch must be an integer >= 1, got 'x'"),
    ("[limits]\nmax_k = 0\n", "[limits] max_k must be an integer >= 1, got 0"),
    ("[limits]\nmax_k = true\n", "[limits] max_k must be an integer >= 1, got True"),
    ("[limits]\nmax_k = 10.0\n", "[limits] max_k must be an integer >= 1, got 10.0"),
    ("[limits]\nmax_kk = 10\n", "[limits] unknown key 'max_kk' (did you mean 'max_k'?)"),
    (
        "[server]\ntarget_timeout_second = 2.0\n",
        "[server] unknown key 'target_timeout_second' (did you mean 'target_timeout_seconds'?)",
    ),
    (
        "[server]\ntarget_timeout_seconds = -1\n",
        "[server] target_timeout_seconds must be a number > 0 and <= 600, got -1",
    ),
    (
        "[server]\ntarget_timeout_seconds = 0\n",
        "[server] target_timeout_seconds must be a number > 0 and <= 600, got 0",
    ),
    (
        '[server]\ntarget_timeout_seconds = "2"\n',
        "[server] target_timeout_seconds must be a number > 0 and <= 600, got '2'",
    ),
    (
        "[server]\ntarget_timeout_seconds = nan\n",
        "[server] target_timeout_seconds must be a number > 0 and <= 600, got nan",
    ),
    (
        "[server]\ndb_busy_timeout_seconds = -0.5\n",
        "[server] db_busy_timeout_seconds must be a number from 0 to 600, got -0.5",
    ),
    (
        "[server]\ndb_busy_timeout_seconds = false\n",
        "[server] db_busy_timeout_seconds must be a number from 0 to 600, got False",
    ),
    ("[server]\nport = 0\n", "[server] port must be an integer from 1 to 65535, got 0"),
    ("[server]\nport = 70000\n", "[server] port must be an integer from 1 to 65535, got 70000"),
    ('[server]\nport = "8000"\n', "[server] port must be an integer from 1 to 65535, got '8000'"),
    ("[server]\nhost = 127\n", "[server] host must be a non-empty string, got 127"),
    ('[server]\nhost = ""\n', "[server] host must be a non-empty string, got ''"),
    (
        "[snapshots]\nevery_records = 0\n",
        "[snapshots] every_records must be an integer >= 1, got 0",
    ),
    (
        "[snapshots]\ninterval_seconds = -5\n",
        "[snapshots] interval_seconds must be a number > 0, got -5",
    ),
    (
        "[snapshots]\ninterval_seconds = inf\n",
        "[snapshots] interval_seconds must be a number > 0, got inf",
    ),
    (
        "[snapshots]\ngrowth_fraction = -0.1\n",
        "[snapshots] growth_fraction must be a number >= 0, got -0.1",
    ),
    ('[snapshots]\ngap_factor = "x"\n', "[snapshots] gap_factor must be a number >= 0, got 'x'"),
    ("[snapshots]\nevery = 5\n", "[snapshots] unknown key 'every'"),
    (
        '[default_index]\nfactroy = "Flat"\n',
        "[default_index] index spec: unknown key(s) ['factroy']",
    ),
    ('[default_index]\nmetric = "cos"\n', "[default_index] index metric must be one of"),
    ("[default_index]\nfactory = 3\n", "[default_index] index factory must be a string, got 3"),
    (
        "[default_index.embedder]\ndimm = 8\n",
        "[default_index] embedder spec: unknown key(s) ['dimm']",
    ),
    (
        '[default_index.embedder]\nkind = "hash"\ndim = 0\n',
        "[default_index] embedder dim must be from 1 to 65536, got 0",
    ),
    ("[operators]\nalice = 5\n", "[operators] alice must be a non-empty string, got 5"),
    ('[operators]\nalice = ""\n', "[operators] alice must be a non-empty string, got ''"),
    ("[limit]\nmax_k = 5\n", "unknown section [limit] (did you mean [limits]?)"),
    ("max_k = 5\n", "unknown section [max_k]"),
    ("limits = 5\n", "[limits] must be a table, got 5"),
    ("[server\n", "Expected ']'"),
]


def write_config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "switchover.toml").write_text(text, encoding="utf-8")
    return home


@pytest.mark.parametrize(("text", "expected"), BAD_FILES, ids=[e for _, e in BAD_FILES])
def test_a_bad_config_file_is_a_start_up_error_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    home = write_config(tmp_path / "home", text)
    with pytest.raises(InvalidInputError) as refused:
        load_settings(home)
    assert f"switchover.toml: {expected}" in str(refused.value)


LIMIT_NAMES = [f.name for f in fields(Limits)]


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize("bad", ["0", "-1", '"10"', "true", "1.5", "[1]"])
def test_every_limit_refuses_values_outside_its_range(tmp_path: Path, name: str, bad: str) -> None:
    """Generic over Limits' fields: a limit added later is covered without a new test."""
    home = write_config(tmp_path / "home", f"[limits]\n{name} = {bad}\n")
    with pytest.raises(InvalidInputError, match=rf"\[limits\] {name} must be an integer >= 1"):
        load_settings(home)


def test_a_valid_file_sets_every_key_and_numbers_may_be_integers(tmp_path: Path) -> None:
    limits = "".join(f"{name} = {7 + i}\n" for i, name in enumerate(LIMIT_NAMES))
    home = write_config(
        tmp_path / "home",
        '[server]\nhost = "127.0.0.2"\nport = 9000\ntarget_timeout_seconds = 3\n'
        "db_busy_timeout_seconds = 0\n"
        f"[limits]\n{limits}"
        "[snapshots]\nevery_records = 10\ninterval_seconds = 2.5\ngrowth_fraction = 0\n"
        "gap_factor = 1\n"
        '[default_index]\nname = "base"\nfactory = "HNSW32,Flat"\n'
        '[default_index.embedder]\nkind = "hash"\ndim = 32\n'
        '[operators]\nalice = "a-token"\n',
    )
    s = load_settings(home)
    assert (s.host, s.port) == ("127.0.0.2", 9000)
    assert (s.target_timeout_s, s.db_busy_timeout_s) == (3.0, 0.0)
    assert isinstance(s.target_timeout_s, float)
    assert [getattr(s.limits, n) for n in LIMIT_NAMES] == [7 + i for i in range(len(LIMIT_NAMES))]
    assert (s.snapshot_every_records, s.snapshot_interval_seconds) == (10, 2.5)
    assert (s.snapshot_growth_fraction, s.snapshot_gap_factor) == (0.0, 1.0)
    assert (s.default_index.name, s.default_index.factory) == ("base", "HNSW32,Flat")
    assert s.default_index.embedder.dim == 32
    assert s.operator_tokens["alice"] == "a-token"
    assert not math.isnan(s.snapshot_interval_seconds)


def test_serve_with_a_bad_config_prints_one_line_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []  # a server that starts anyway returns at once, recorded
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: started.append(app))
    home = write_config(tmp_path / "home", '[limits]\nmax_batch = "x"\n')
    result = CliRunner().invoke(main, ["serve", "--home", str(home)])
    assert not started, "the server must not start"
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"Error: {home}/switchover.toml: [limits] max_batch must be an integer >= 1, got 'x'"
    ]
    assert not (home / "switchover.db").exists(), "nothing was opened or created"
    assert not (home / "operator-token").exists()
