"""Durable file writes: data reaches the disk before anyone may rely on it.

A snapshot is only trusted after a crash if its bytes were on disk before its
folder got its final name, so each file is fsynced as written and directories are
fsynced after entries are added or renamed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_synced(path: Path, data: bytes | memoryview) -> str:
    """Write ``data`` to a new file, fsync it, and return its sha256 hex."""
    with path.open("xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return hashlib.sha256(data).hexdigest()


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
