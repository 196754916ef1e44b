"""One process per home: an exclusive ``flock`` on ``HOME/switchover.lock``.

A second server on the same home would keep its own routing, phase and index state in
memory while sharing the write log, so it would serve stale routing and accept changes
on indexes the first has retired. The lock is held from start-up to ``release()``; the
kernel drops it when the holder's process ends, so a SIGKILL never leaves a stale lock.
The file records the holder's pid, for the refusal message only (never to decide).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from indexes.errors import ConflictError

LOCK_FILE = "switchover.lock"


class HomeLock:
    """An exclusive lock on a home folder, held until :meth:`release`."""

    def __init__(self, home: Path, fd: int) -> None:
        self.home = home
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, home: Path) -> HomeLock:
        """Lock ``home`` (created 0700 if missing); ConflictError if another holds it."""
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A new open file description per call: a second lock in this very process
        # conflicts too (flock locks belong to the description, not the process).
        fd = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise ConflictError(
                f"{home} is in use by another switchover process (pid {holder});"
                " stop it first, or give this one another --home"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(home, fd)

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays: removing it would race a new holder."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _read_pid(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return text if text.isdigit() else "unknown"
