"""FAISS's thread count reaches every thread that searches or writes, not only the one
that set it (OpenMP keeps the count per thread: request threads used to run at the
runtime's default, one thread per core, and woke a second thread for every search)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import faiss
import pytest

from indexes import InvalidInputError, faiss_threads, use_faiss_threads

from .helpers import make_index, queries, unit_vectors


def in_a_new_thread(work: Callable[[], object]) -> int:
    """Run ``work`` in a fresh thread; FAISS's thread count in that thread afterwards."""
    seen: list[int] = []

    def run() -> None:
        work()
        seen.append(faiss.omp_get_max_threads())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture
def restored() -> Iterator[int]:
    """The runtime's default count in a new thread; the process's count restored after."""
    before = faiss_threads()
    yield in_a_new_thread(lambda: None)
    use_faiss_threads(before)


def test_a_search_in_another_thread_runs_on_the_set_count(restored: int) -> None:
    index = make_index()
    index.apply(1, {"a": unit_vectors(1)[0]})
    wanted = restored + 1  # differs from what a new thread starts with

    use_faiss_threads(wanted)

    assert in_a_new_thread(lambda: index.search(queries(unit_vectors(1)), 1)) == wanted


def test_a_write_in_another_thread_runs_on_the_set_count(restored: int) -> None:
    index = make_index()
    wanted = restored + 1

    use_faiss_threads(wanted)

    assert in_a_new_thread(lambda: index.apply(1, {"a": unit_vectors(1)[0]})) == wanted


def test_without_a_set_count_a_thread_keeps_the_runtime_default(restored: int) -> None:
    index = make_index()
    index.apply(1, {"a": unit_vectors(1)[0]})

    use_faiss_threads(None)

    assert in_a_new_thread(lambda: index.search(queries(unit_vectors(1)), 1)) == restored


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize("count", [0, -1, True, 1.5, "2"])
def test_a_count_that_is_no_positive_integer_is_refused(count: object) -> None:
    with pytest.raises(InvalidInputError, match="positive integer"):
        use_faiss_threads(count)  # type: ignore[arg-type]  # a bad value on purpose


def test_documents_encode_on_every_core_even_where_faiss_runs_on_one() -> None:
    """torch and FAISS share one OpenMP runtime: a thread capped at one thread for FAISS (as
    ``switchover serve`` caps every thread that searches or adds) encodes documents at
    torch's own count, and keeps its cap for the FAISS work after."""
    import torch  # noqa: PLC0415 - the model embedder imports it only when a model loads

    from indexes.st_embedder import DOCUMENT_THREADS, intra_op_threads  # noqa: PLC0415 - imports torch

    seen: list[tuple[int, int]] = []

    def run() -> None:
        faiss.omp_set_num_threads(1)
        with intra_op_threads(DOCUMENT_THREADS):
            during = torch.get_num_threads()
        seen.append((during, faiss.omp_get_max_threads()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [(DOCUMENT_THREADS, 1)]
