"""A target naming a model that cannot be used is a clear 4xx at ``migrate start``.

Unknown names, a model that was never installed, an install missing a file or failing its
checksum, a backend that does not exist, a layout the model's dimension cannot take: each
is refused with a 422 that says what to do, and no migration or index is created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexes.model_catalog import MPNET
from tests.conftest import OPERATOR

pytestmark = pytest.mark.documents(3)


def _start(client: TestClient, embedder: dict[str, object], factory: str = "Flat") -> str:
    body = {"target": {"name": "v2", "factory": factory, "embedder": embedder}}
    response = client.post("/v1/migrations", json=body, headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert client.get("/v1/migrations/current", headers=OPERATOR).status_code == 404
    assert [i["name"] for i in client.get("/v1/indexes").json()["indexes"]] == ["v1"]
    message = response.json()["error"]["message"]
    assert isinstance(message, str)
    return message


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("SWITCHOVER_MODELS_DIR", str(folder))
    return folder


@pytest.mark.usefixtures("models_dir")
def test_an_unknown_packaged_model_is_refused(client: TestClient) -> None:
    message = _start(client, {"model": "packaged:all-MiniLM-L12-v2"})
    assert "unknown packaged model" in message
    assert "packaged:all-mpnet-base-v2" in message


@pytest.mark.usefixtures("models_dir")
def test_a_model_never_installed_says_how_to_install_it(client: TestClient) -> None:
    message = _start(client, {"model": "packaged:all-mpnet-base-v2"})
    assert "is not installed" in message
    assert "switchover models install all-mpnet-base-v2" in message


def test_an_install_missing_a_file_is_refused(client: TestClient, models_dir: Path) -> None:
    folder = models_dir / MPNET.name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    message = _start(client, {"model": "packaged:all-mpnet-base-v2"})
    assert "is damaged" in message
    assert "is missing" in message
    assert "--force" in message


def test_an_install_failing_its_checksum_is_refused(client: TestClient, models_dir: Path) -> None:
    folder = models_dir / MPNET.name
    for rel in MPNET.files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("not the model")
    message = _start(client, {"model": "packaged:all-mpnet-base-v2"})
    assert "fails its sha256 checksum" in message


def test_an_unknown_backend_is_refused(client: TestClient) -> None:
    assert "embedder backend must be one of" in _start(client, {"backend": "tensorrt"})


@pytest.mark.usefixtures("models_dir")
def test_an_int8_export_never_made_says_how_to_make_it(client: TestClient, tmp_path: Path) -> None:
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "config.json").write_text("{}")
    message = _start(client, {"model": str(local), "backend": "onnx-int8"})
    assert "--backend onnx-int8" in message


def test_a_dimension_the_layout_cannot_take_is_refused(client: TestClient) -> None:
    embedder = {"kind": "hash", "dim": 64}
    message = _start(client, embedder, factory="PQ7")  # 64 dimensions do not split in 7
    assert "not buildable at dim 64" in message
