"""Snapshots: self-describing folders an index can be restored from after a restart.

Layout of one snapshot (inside the index's own snapshot folder)::

    000000001234-20250101T120000123456Z/
        index.faiss     the IndexIDMap2 in FAISS's own format (faiss.write_index)
        state.json      the live ids and their int labels (two lists, in the same order),
                        next int, tombstones, buffered ids
        pending.npy     vectors buffered while the layout is untrained
        manifest.json   format, spec, embedder fingerprint, dim, count, applied_seq,
                        search params, created_at and the sha256 of every file above

The folder is written under a ``.tmp-`` name, every file and the folder fsynced, then
renamed into place, so a final name always means a complete snapshot. Loading
checks every checksum and that spec and fingerprint match the index being opened;
a snapshot failing any check is skipped with a warning and the next older one is
tried. No valid snapshot is not an outage: the caller replays the whole write log.

Formats: 2 (written now) keeps the id map as two JSON lists, ``ids`` and ``labels``,
which parse in half the time of format 1's one ``id_to_int`` object (200,000 ids: 0.13
against 0.25 s of CPU, benchmarks/results/restart_profile.md). Format 1 snapshots, in
existing homes, are still read; the next snapshot written is format 2. Code older than
format 2 skips a format-2 snapshot ("not a format-1 manifest") and replays the log.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ._checks import check_int
from .backend import SnapshotBackend
from .durable import SyncedFile, fsync_dir, sha256_file, write_synced
from .errors import SnapshotError, SwitchoverError
from .faiss_index import VectorIndex
from .index_state import IndexState, read_idmap
from .spec import IndexSpec, SearchParams

log = logging.getLogger(__name__)

FORMAT = 2
READABLE_FORMATS = (1, 2)
INDEX_FILE = "index.faiss"
STATE_FILE = "state.json"
PENDING_FILE = "pending.npy"
MANIFEST_FILE = "manifest.json"
_DATA_FILES = (INDEX_FILE, STATE_FILE, PENDING_FILE)
_FINAL_NAME = re.compile(r"^(\d{12})-(\d{8}T\d{12}Z)$")
_TMP_PREFIX = ".tmp-"
_write_lock = threading.Lock()  # one snapshot writer per process: pruning must not race


@dataclass(frozen=True)
class SnapshotInfo:
    path: Path
    applied_seq: int
    count: int
    created_at: str


class _RejectedError(Exception):
    """A snapshot failed a check; the message says which."""


# -- writing -----------------------------------------------------------------------


def write_snapshot(index: SnapshotBackend, directory: Path, keep: int = 2) -> SnapshotInfo:
    """Write a snapshot of ``index`` into ``directory`` and keep the newest ``keep``.

    The FAISS index streams from the index straight into the snapshot's file, hashed as
    it goes (under the index's read lock, which writes wait for), so no second copy of it
    is held in memory. Any filesystem failure raises :class:`SnapshotError` and leaves no
    folder under a final name; failing to prune old snapshots afterwards only logs a
    warning.
    """
    check_int(keep, "keep", 1)
    with _write_lock:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            tmp.mkdir()
            try:
                state, index_sha = _export_into(index, tmp / INDEX_FILE)
                created = datetime.now(UTC)
                final = directory / f"{state.applied_seq:012d}-{created:%Y%m%dT%H%M%S%fZ}"
                if final.exists():
                    raise SnapshotError(f"snapshot {final} already exists")
                _write_files(tmp, state, index_sha, created.isoformat(timespec="microseconds"))
                fsync_dir(tmp)
                tmp.rename(final)
                fsync_dir(directory)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except OSError as exc:
            raise SnapshotError(
                f"cannot write a snapshot of index {index.spec.name!r} in {directory}: {exc}"
            ) from exc
        _prune(directory, keep, final)
    return SnapshotInfo(
        final, state.applied_seq, len(state.id_to_int), created.isoformat(timespec="microseconds")
    )


def _export_into(index: SnapshotBackend, path: Path) -> tuple[IndexState, str]:
    """The index's state, its FAISS index written to the new file ``path`` and fsynced;
    with the file's sha256."""
    with SyncedFile(path) as out:
        state = index.export_state(faiss_sink=out.write)
    return state, out.sha256


def _write_files(folder: Path, state: IndexState, index_sha: str, created_at: str) -> None:
    """The state, the pending buffer and the manifest, next to the index file written."""
    pending_ids = list(state.pending)
    pending = (
        np.stack([state.pending[i] for i in pending_ids])
        if pending_ids
        else np.zeros((0, state.dim), dtype=np.float32)
    )
    buffer = io.BytesIO()
    np.save(buffer, pending.astype(np.float32), allow_pickle=False)
    state_doc = {
        "applied_seq": state.applied_seq,
        "ids": list(state.id_to_int),
        "labels": list(state.id_to_int.values()),
        "next_int": state.next_int,
        "tombstones": state.tombstones,
        "pending_ids": pending_ids,
        "auto_train_size": state.auto_train_size,
    }
    files = {
        INDEX_FILE: index_sha,
        STATE_FILE: write_synced(folder / STATE_FILE, _json_bytes(state_doc, compact=True)),
        PENDING_FILE: write_synced(folder / PENDING_FILE, buffer.getvalue()),
    }
    manifest = {
        "format": FORMAT,
        "spec": state.spec.to_dict(),
        "embedder_fingerprint": state.fingerprint,
        "dim": state.dim,
        "count": len(state.id_to_int),
        "applied_seq": state.applied_seq,
        "search_params": state.search_params.to_dict(),
        "created_at": created_at,
        "files": files,
    }
    write_synced(folder / MANIFEST_FILE, _json_bytes(manifest))


def _json_bytes(value: Any, *, compact: bool = False) -> bytes:
    if compact:  # the state: a million ids, parsed on every start
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    return json.dumps(value, sort_keys=True, indent=1).encode("utf-8")


def _prune(directory: Path, keep: int, current: Path) -> None:
    """Drop snapshots beyond the newest ``keep`` (always keeping ``current``) and tmp leftovers."""
    try:
        older = [p for p in _final_folders(directory) if p != current]
        doomed = older[keep - 1 :] + [
            p for p in directory.iterdir() if p.name.startswith(_TMP_PREFIX)
        ]
        for path in doomed:
            shutil.rmtree(path)
    except OSError:
        log.warning("could not prune old snapshots in %s", directory, exc_info=True)


# -- reading -----------------------------------------------------------------------


def _final_folders(directory: Path) -> list[Path]:
    """Complete snapshot folders, newest (highest sequence, then latest time) first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _FINAL_NAME.match(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def list_snapshots(directory: Path) -> list[SnapshotInfo]:
    """Snapshots with a readable manifest, newest first (contents are not verified)."""
    out = []
    for path in _final_folders(directory):
        try:
            out.append(_info(path, _read_manifest(path)))
        except _RejectedError:
            continue
    return out


def load_latest_snapshot(
    directory: Path, spec: IndexSpec, fingerprint: str
) -> tuple[VectorIndex, SnapshotInfo] | None:
    """The newest snapshot that passes every check, restored; None if there is none."""
    for path in _final_folders(directory):
        try:
            return _load(path, spec, fingerprint)
        except _RejectedError as why:
            log.warning("skipping snapshot %s: %s", path, why)
    return None


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_bytes())
    except (OSError, ValueError) as exc:
        raise _RejectedError(f"unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") not in READABLE_FORMATS:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        readable = ", ".join(map(str, READABLE_FORMATS))
        raise _RejectedError(f"format {found!r} is not one this version reads ({readable})")
    return manifest


def _info(path: Path, manifest: dict[str, Any]) -> SnapshotInfo:
    try:
        return SnapshotInfo(
            path, int(manifest["applied_seq"]), int(manifest["count"]), str(manifest["created_at"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _RejectedError(f"malformed manifest ({exc!r})") from exc


def _load(path: Path, spec: IndexSpec, fingerprint: str) -> tuple[VectorIndex, SnapshotInfo]:
    manifest = _read_manifest(path)
    info = _info(path, manifest)
    _check_identity(manifest, spec, fingerprint)
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != {*_DATA_FILES}:
        raise _RejectedError(f"manifest must list exactly {sorted(_DATA_FILES)}")
    # Three jobs at once: the checksums on one thread, FAISS reading index.faiss on another
    # (hashlib and FAISS's reader both release the GIL), the state parsed (Python) on this
    # one; at 1M documents each takes a second or more. Nothing parsed is used, or
    # returned, before every checksum has matched.
    with ThreadPoolExecutor(2, thread_name_prefix="switchover-snapshot-load") as pool:
        checker = pool.submit(_verify_files, path, files)
        reader = pool.submit(read_idmap, path / INDEX_FILE)
        try:
            try:
                state = _read_state(path, manifest, spec, fingerprint)
            finally:
                wait([reader])  # never leave FAISS reading behind
            index = VectorIndex.from_state(state, idmap=reader.result())
        except (OSError, KeyError, TypeError, ValueError, SwitchoverError) as exc:
            checker.result()  # a checksum mismatch says more than the parse error
            raise _RejectedError(f"unusable contents ({exc})") from exc
        checker.result()
    if (len(index), index.applied_seq, index.dim) != (
        info.count,
        info.applied_seq,
        manifest["dim"],
    ):
        raise _RejectedError("manifest count, applied_seq or dim disagree with the contents")
    return index, info


def _check_identity(manifest: dict[str, Any], spec: IndexSpec, fingerprint: str) -> None:
    """The snapshot is of this spec and embedder."""
    try:
        saved_spec = IndexSpec.from_dict(manifest["spec"])
    except (KeyError, TypeError, SwitchoverError) as exc:
        raise _RejectedError(f"unreadable spec ({exc})") from exc
    if saved_spec != spec:
        raise _RejectedError(f"spec differs (snapshot {saved_spec}, expected {spec})")
    if manifest.get("embedder_fingerprint") != fingerprint:
        saved = str(manifest.get("embedder_fingerprint"))[:12]
        raise _RejectedError(f"embedder fingerprint {saved} is not {fingerprint[:12]}")


def _verify_files(path: Path, files: dict[str, Any]) -> None:
    for name in _DATA_FILES:
        try:
            actual = sha256_file(path / name)
        except OSError as exc:
            raise _RejectedError(f"cannot read {name} ({exc})") from exc
        if actual != files[name]:
            raise _RejectedError(f"checksum mismatch for {name}")


def _read_state(
    path: Path, manifest: dict[str, Any], spec: IndexSpec, fingerprint: str
) -> IndexState:
    doc = json.loads((path / STATE_FILE).read_bytes())
    if not isinstance(doc, dict):
        raise ValueError("the state is not a JSON object")
    pending = np.load(path / PENDING_FILE, allow_pickle=False)
    pending_ids = [str(i) for i in doc["pending_ids"]]
    if len(pending) != len(pending_ids):
        raise ValueError("pending ids and vectors differ in number")
    return IndexState(
        spec=spec,
        dim=int(manifest["dim"]),
        fingerprint=fingerprint,
        applied_seq=int(doc["applied_seq"]),
        search_params=SearchParams.from_dict(manifest.get("search_params")),
        faiss_bytes=np.empty(0, dtype=np.uint8),  # read by read_idmap straight into FAISS
        id_to_int=_id_map(doc) if manifest["format"] >= 2 else _id_map_v1(doc),
        next_int=int(doc["next_int"]),
        tombstones=[int(i) for i in doc["tombstones"]],
        pending=dict(zip(pending_ids, pending, strict=True)),
        auto_train_size=doc.get("auto_train_size"),
    )


def _id_map(doc: dict[str, Any]) -> dict[str, int]:
    """Format 2: ``ids`` and ``labels``, two lists of one length, ids unique strings and
    labels int64 (what the labels are worth is :func:`check_state`'s to judge)."""
    ids, labels = doc["ids"], doc["labels"]
    if not isinstance(ids, list) or not isinstance(labels, list) or len(ids) != len(labels):
        raise ValueError("ids and labels must be two lists of one length")
    if labels and np.asarray(labels).dtype.kind != "i":  # floats, strings, bools, too big
        raise ValueError("labels must be integers")
    if not all(type(i) is str for i in ids):
        raise ValueError("ids must be strings")
    id_to_int = dict(zip(ids, labels, strict=True))
    if len(id_to_int) != len(ids):
        raise ValueError("ids are not unique")
    return id_to_int


def _id_map_v1(doc: dict[str, Any]) -> dict[str, int]:
    """Format 1: one ``id_to_int`` object."""
    return {str(k): int(v) for k, v in doc["id_to_int"].items()}
