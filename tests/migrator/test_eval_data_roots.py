"""An eval set's path is confined to the configured data roots, after symlinks resolve.

Registering an eval set makes the server read the folder's files, so a path (or a link
inside an allowed folder) that leads anywhere else the server can read is refused with a
422 naming the allowed roots, and nothing is registered.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from migrator import Settings, load_settings
from tests.conftest import OPERATOR, SAMPLE_DIR, hash_settings, open_client


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The one allowed data root, holding a copy of the sample eval set."""
    shutil.copytree(SAMPLE_DIR, tmp_path / "data" / "sample")
    return tmp_path / "data"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A BEIR folder the server can read, outside the data root."""
    return Path(shutil.copytree(SAMPLE_DIR, tmp_path / "secret"))


@pytest.fixture
def settings(tmp_path: Path, root: Path) -> Settings:
    """One allowed data root (the shared ``client`` uses these settings)."""
    return hash_settings(tmp_path / "home", eval_data_roots=(root,))


def register(client: TestClient, path: Path | str) -> Any:
    body = {"name": "evals", "path": str(path), "sample": 20, "seed": 1}
    return client.post("/v1/eval-sets", json=body, headers=OPERATOR)


def assert_refused(client: TestClient, path: Path | str, root: Path) -> None:
    response = register(client, path)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_input"
    assert "outside the eval data roots" in error["message"]
    assert str(root.resolve()) in error["message"], "the message names the allowed roots"
    assert client.get("/v1/eval-sets", headers=OPERATOR).json()["eval_sets"] == []


def test_a_folder_inside_a_data_root_registers(client: TestClient, root: Path) -> None:
    response = register(client, root / "sample")
    assert response.status_code == 201, response.text
    assert response.json()["path"] == str((root / "sample").resolve())


def test_a_symlink_inside_the_root_that_escapes_it_is_refused(
    client: TestClient, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert_refused(client, root / "link", root)


def test_a_file_symlinked_out_of_the_root_is_refused(
    client: TestClient, root: Path, outside: Path
) -> None:
    folder = root / "mixed"
    folder.mkdir()
    (folder / "queries.jsonl").symlink_to(outside / "queries.jsonl")
    assert_refused(client, folder, root)


def test_dot_dot_and_absolute_paths_out_of_the_root_are_refused(
    client: TestClient, root: Path, outside: Path
) -> None:
    assert_refused(client, root / ".." / outside.name, root)
    assert_refused(client, outside, root)
    assert_refused(client, SAMPLE_DIR, root)


def test_the_default_data_root_is_the_homes_data_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(SAMPLE_DIR, home / "data" / "sample")
    settings = hash_settings(home, eval_data_roots=None)  # the tests' helper sets roots
    assert settings.eval_roots == ((home / "data").resolve(),)
    with open_client(settings) as http:
        assert register(http, home / "data" / "sample").status_code == 201
        assert register(http, SAMPLE_DIR).status_code == 422


def test_data_roots_come_from_the_server_table_relative_to_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "switchover.toml").write_text(
        f'[server]\neval_data_roots = ["beir", "{SAMPLE_DIR}"]\n', encoding="utf-8"
    )
    settings: Settings = load_settings(home)
    assert settings.eval_roots == ((home / "beir").resolve(), SAMPLE_DIR.resolve())


@pytest.mark.parametrize("path", ["\x00", "data/\x00x", "/nonexistent/folder", ""])
def test_a_path_that_names_no_allowed_folder_is_a_422(client: TestClient, path: str) -> None:
    response = register(client, path)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["type"] == "invalid_input"
