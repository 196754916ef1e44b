"""Durable file writes: data reaches the disk before anyone may rely on it.

A snapshot is only trusted after a crash if its bytes were on disk before its
folder got its final name, so each file is fsynced as written and directories are
fsynced after entries are added or renamed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class SyncedFile:
    """A new file written piece by piece and hashed as it goes; fsynced on a clean exit.

    ``with SyncedFile(path) as out: out.write(piece) ...`` then ``out.sha256`` is the hex
    digest of everything written (the file must not exist yet).
    """

    def __init__(self, path: Path) -> None:
        self._handle = path.open("xb")
        self._digest = hashlib.sha256()

    def write(self, piece: bytes | memoryview) -> None:
        self._digest.update(piece)
        self._handle.write(piece)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def __enter__(self) -> SyncedFile:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if exc_type is None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
        finally:
            self._handle.close()


def write_synced(path: Path, data: bytes | memoryview) -> str:
    """Write ``data`` to a new file, fsync it, and return its sha256 hex."""
    with SyncedFile(path) as out:
        out.write(data)
    return out.sha256


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (new files, renames) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
