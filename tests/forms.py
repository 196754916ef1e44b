"""The long tests' two forms: short by default (``make test``, CI), full with
``SWITCHOVER_FULL_TESTS=1`` (``make test-full``, results in
``benchmarks/results/full_tests.md``).

A short form runs the same scenario and the same assertions on less data; a test that has
no short form of its own (the demo on all of SQuAD) is covered in the suite by a smaller
sibling (the demo on the bundled sample) and runs whole only in the full form.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("SWITCHOVER_FULL_TESTS") == "1"

full_only = pytest.mark.skipif(not FULL, reason="the full form only: make test-full")


def size(short: int, full: int) -> int:
    """``short`` in the suite, ``full`` in ``make test-full``."""
    return full if FULL else short
