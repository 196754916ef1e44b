"""FAISS's OpenMP thread count, for every thread that calls FAISS, not only the one that set it.

OpenMP keeps the count per calling thread: ``faiss.omp_set_num_threads`` in the main thread
leaves every other thread (the server's request threads, write threads, the applier) at
the runtime's default of one thread per core, so each of their searches woke a second
OpenMP thread and waited for it at the region's end. :func:`use_faiss_threads` sets the
count for the process; :class:`~indexes.VectorIndex` calls :func:`in_this_thread` before
its FAISS work, which applies the count once per thread (a thread-local check after that).
"""

from __future__ import annotations

import threading

import faiss

from .errors import InvalidInputError

__all__ = ["faiss_threads", "in_this_thread", "use_faiss_threads"]

_wanted: list[int | None] = [None]  # None: the OpenMP runtime's default, untouched
_applied = threading.local()  # .count: what this thread last set


def use_faiss_threads(count: int | None) -> None:
    """Run every FAISS call of this process on ``count`` OpenMP threads (None: leave the
    runtime's default to threads that have not applied a count yet)."""
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise InvalidInputError(f"FAISS threads must be a positive integer, got {count!r}")
    _wanted[0] = count
    in_this_thread()


def faiss_threads() -> int | None:
    """The count :func:`use_faiss_threads` set (None: none was)."""
    return _wanted[0]


def in_this_thread() -> None:
    """Apply the process's count to the calling thread, if it has not applied it yet."""
    count = _wanted[0]
    if count is not None and getattr(_applied, "count", None) != count:
        faiss.omp_set_num_threads(count)
        _applied.count = count
