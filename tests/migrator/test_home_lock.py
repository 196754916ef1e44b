"""One server per home: a second ``Switchover`` on a home that is in use refuses to open.

Two processes on one home would each keep their own routing and index state in memory
while sharing the log: the second serves stale routing and keeps accepting changes on
an index the first has retired. The facade holds an exclusive lock on
``HOME/switchover.lock`` from start-up to ``close()``; the OS drops it when the holder
dies, so a crash never leaves the home locked.
"""

from __future__ import annotations

import os

import pytest

from indexes.errors import ConflictError
from migrator import DocumentIn, Settings, Switchover


def test_a_second_service_on_a_home_in_use_is_refused_naming_the_home_and_holder(
    settings: Settings,
) -> None:
    first = Switchover(settings)
    try:
        with pytest.raises(ConflictError) as refused:
            Switchover(settings)
        message = str(refused.value)
        assert str(settings.home) in message
        assert f"pid {os.getpid()}" in message
        first.upsert([DocumentIn("a", "still the only writer")])  # the holder is unaffected
        assert first.get("a").text == "still the only writer"
    finally:
        first.close(snapshot=False)


def test_the_home_opens_again_once_the_holder_has_closed(settings: Settings) -> None:
    first = Switchover(settings)
    first.upsert([DocumentIn("a", "written by the first")])
    first.close(snapshot=False)
    second = Switchover(settings)
    try:
        assert second.get("a").text == "written by the first"
    finally:
        second.close(snapshot=False)


def test_a_refused_start_leaves_the_home_to_its_holder(settings: Settings) -> None:
    first = Switchover(settings)
    try:
        for _ in range(2):
            with pytest.raises(ConflictError):
                Switchover(settings)
    finally:
        first.close(snapshot=False)
    Switchover(settings).close(snapshot=False)  # and the refusals did not keep it locked
