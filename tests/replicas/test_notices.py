"""What replicas tell each other through a real PostgreSQL: notices at commit, one leader."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from migrator.replicas import Notice
from migrator.store import DocumentIn
from migrator.store.postgres import PostgresStore
from migrator.store.postgres.notices import PgLeaderLock, PgNotices


class Heard:
    def __init__(self) -> None:
        self.kinds: list[Notice] = []
        self.changed = threading.Condition()

    def __call__(self, kind: Notice) -> None:
        with self.changed:
            self.kinds.append(kind)
            self.changed.notify_all()

    def wait_for(self, kind: Notice, after: int, within_s: float = 2.0) -> None:
        with self.changed:
            heard = self.changed.wait_for(lambda: kind in self.kinds[after:], within_s)
        assert heard, f"no {kind!r} notice within {within_s}s (heard {self.kinds[after:]})"


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url)
    yield opened
    opened.close()


def test_an_append_and_a_state_change_are_heard_once_committed(
    store: PostgresStore, pg_url: str
) -> None:
    heard = Heard()
    notices = PgNotices(pg_url, heard)
    notices.start()
    try:
        heard.wait_for("state", 0)  # a fresh connection looks afresh at once
        mark = len(heard.kinds)
        with store.atomic():
            store.log.append_upserts([DocumentIn("d1", "lamp")])
            time.sleep(0.3)
            assert "log" not in heard.kinds[mark:], "heard before the commit"
        heard.wait_for("log", mark)
        mark = len(heard.kinds)
        store.config.add({"indexes": {}}, "alice", "a change")
        heard.wait_for("state", mark)
    finally:
        notices.stop()


def test_one_lock_holder_at_a_time_and_the_lock_dies_with_its_connection(pg_url: str) -> None:
    first, second = PgLeaderLock(pg_url), PgLeaderLock(pg_url)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.held()
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the leader's session dies
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        assert not first.held()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
