"""The home's files are private: the database holds every document and the token's peers.

A new home folder is 0700; ``switchover.db`` and its ``-wal`` and ``-shm`` files are 0600, the
cached vectors' folder ``switchover.db-vectors`` 0700 and its files 0600,
like ``operator-token``, whatever the umask; a database left 0644 by an older version is
tightened at start-up.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator import DocumentIn, Settings, Switchover


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, as a service manager may leave it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_a_new_home_and_its_database_files_are_private(settings: Settings) -> None:
    assert not settings.home.exists()
    svc = Switchover(settings)
    try:
        svc.upsert([DocumentIn("a", "a private text")])
        files = [
            settings.db_path.with_name(settings.db_path.name + s) for s in ("", "-wal", "-shm")
        ]
        assert all(f.exists() for f in files), "WAL mode keeps -wal and -shm while open"
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(settings.home) == 0o700
        vectors = settings.db_path.with_name(settings.db_path.name + "-vectors")
        assert mode(vectors) == 0o700, "the cached vectors' folder, beside the database"
        assert {mode(f) for f in vectors.iterdir()} == {0o600}
    finally:
        svc.close(snapshot=False)


@pytest.mark.usefixtures("open_umask")
def test_a_database_left_world_readable_is_tightened_at_start_up(settings: Settings) -> None:
    Switchover(settings).close(snapshot=False)
    settings.db_path.chmod(0o644)
    svc = Switchover(settings)
    try:
        assert mode(settings.db_path) == 0o600
    finally:
        svc.close(snapshot=False)
